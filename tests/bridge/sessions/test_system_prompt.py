"""The appended system prompt names the worktree rule, the other sessions and the lounge."""

from __future__ import annotations

from pathlib import Path

from bridge.sessions.presentation.system_prompt import (
    LOUNGE_LINES_SHOWN,
    ActiveSession,
    LoungeEntry,
    build_appended_prompt,
)


def _build(**overrides: object) -> str:
    args: dict[str, object] = {
        "thread_id": 11,
        "working_dir": "/repo",
        "worktree_base_dir": Path("/wt"),
        "others": [],
        "lounge": [],
        "api_url": "http://127.0.0.1:8765",
    }
    args.update(overrides)
    return build_appended_prompt(**args)  # type: ignore[arg-type]


def test_worktree_rule_names_this_threads_worktree() -> None:
    text = _build()
    assert "git worktree add /wt/wt-11 -b session/11" in text
    assert "Discord thread 11" in text


def test_lists_other_sessions_but_not_itself() -> None:
    others = [
        ActiveSession(thread_id=11, title="me", working_dir="/repo", status="running"),
        ActiveSession(
            thread_id=12,
            title="fix login",
            working_dir="/repo",
            status="running",
            activity="Bash: pytest",
        ),
    ]
    text = _build(others=others)
    assert 'thread 12 "fix login" in /repo (running, doing: Bash: pytest)' in text
    assert '"me"' not in text


def test_no_other_sessions_says_so() -> None:
    assert "none besides you" in _build()


def test_lounge_shows_recent_lines_and_marks_own() -> None:
    lounge = [
        LoungeEntry(author=f"s{n}", text=f"line {n}", created_at=3600.0 * n, thread_id=n)
        for n in range(LOUNGE_LINES_SHOWN + 3)
    ]
    text = _build(lounge=lounge)
    assert "line 0" not in text
    assert "line 2" not in text
    assert f"line {LOUNGE_LINES_SHOWN + 2}" in text
    assert "[11:00 UTC] s11 [this thread]: line 11" in text
    assert "`mcp__ccbridge__lounge_post` tool" in text


def test_the_bridge_tools_are_named_instead_of_curl_lines() -> None:
    text = _build()
    for tool in ("notify", "schedule_notification", "spawn_session", "lounge_read"):
        assert f"mcp__ccbridge__{tool}" in text
    assert "curl" not in text
    assert "8765" not in text  # the session's URL (its credential) is not shown


def test_without_an_api_no_tools_are_offered() -> None:
    assert "mcp__ccbridge" not in _build(api_url=None)


def test_empty_lounge_invites_first_post() -> None:
    assert "be the first" in _build()
