"""Session files: location (cwd mangling) and reading, over files the real CLI wrote."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

from protocol.claude.sessions import (
    MAX_MANGLED_LENGTH,
    mangle_cwd,
    session_messages,
    session_path,
    summarize_session,
)
from tests.support.fake_claude import FIXTURES, stdout_lines


def _session_lines(name: str) -> list[str]:
    return (FIXTURES / f"{name}.session.jsonl").read_text().splitlines()


def test_mangling_replaces_every_non_alphanumeric() -> None:
    assert mangle_cwd("/x/my_repo") == "-x-my-repo"
    assert mangle_cwd("/r/.claude/worktrees/flagwt") == "-r--claude-worktrees-flagwt"
    assert mangle_cwd("/tmp/ccbridge-record/work") == "-tmp-ccbridge-record-work"


def test_long_names_are_cut_with_a_hash_suffix() -> None:
    long_path = "/" + "a" * 300
    mangled = mangle_cwd(long_path)
    assert mangled.startswith("-" + "a" * (MAX_MANGLED_LENGTH - 1) + "-")
    assert mangled != mangle_cwd("/" + "a" * 301)


def test_session_path_matches_where_the_cli_wrote_it() -> None:
    # After /compact the CLI tells the model where the transcript is: the real path.
    compacted = b"\n".join(stdout_lines("compact")).decode()
    init = json.loads(stdout_lines("compact")[0])
    path = session_path(
        PurePosixPath("/tmp/ccbridge-record/home/.claude"),
        "/tmp/ccbridge-record/work",
        init["session_id"],
    )
    assert str(path) in compacted


def test_messages_of_a_tool_session() -> None:
    messages = session_messages(_session_lines("bash_allow"))
    assert [(m.role, m.text) for m in messages] == [
        ("user", "RUNTOUCH please"),
        ("assistant", "Touched the file."),
    ]
    assert all(m.timestamp is not None for m in messages)


def test_thinking_and_text_lines_of_one_reply_are_one_message() -> None:
    messages = session_messages(_session_lines("text_thinking"))
    assert [(m.role, m.text) for m in messages] == [
        ("user", "What is the answer?"),
        ("assistant", "The answer is 42."),
    ]


def test_summary_of_a_session() -> None:
    summary = summarize_session("sid", _session_lines("interrupt"))
    assert summary.cwd == "/tmp/ccbridge-record/work"
    assert summary.started_at is not None
    assert summary.last_activity is not None
    assert summary.started_at <= summary.last_activity
    assert summary.title in {"are you still there?", "SLOWTEXT please"}
    assert summary.message_count >= 2


def test_torn_and_junk_lines_are_skipped() -> None:
    lines = [*_session_lines("bash_allow"), '{"type": "user", "mess', "[1,2]", ""]
    assert [m.text for m in session_messages(lines)] == ["RUNTOUCH please", "Touched the file."]
    assert session_messages([]) == []
    assert summarize_session("s", []).title == "(untitled session)"
