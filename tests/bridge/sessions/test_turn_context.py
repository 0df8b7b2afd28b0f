"""turn_context.py: resumed turns hear what changed about other sessions and the lounge."""

from __future__ import annotations

from bridge.sessions.system_prompt import ActiveSession, LoungeEntry
from bridge.sessions.turn_context import context_update, seen_at_start

ME = 1


def _session(thread: int, status: str = "running", activity: str = "") -> ActiveSession:
    return ActiveSession(
        thread_id=thread, title=f"t{thread}", working_dir="/repo", status=status, activity=activity
    )


def _line(at: float, text: str, thread: int | None = 2) -> LoungeEntry:
    return LoungeEntry(author=f"thread {thread}", text=text, created_at=at, thread_id=thread)


def test_nothing_changed_means_no_block() -> None:
    others = [_session(2)]
    lounge = [_line(10.0, "starting the migration")]
    seen = seen_at_start(ME, others, lounge)
    block, again = context_update(thread_id=ME, others=others, lounge=lounge, seen=seen)
    assert block is None
    assert again == seen


def test_only_new_lounge_lines_and_changed_sessions_are_sent() -> None:
    seen = seen_at_start(ME, [_session(2)], [_line(10.0, "old news")])
    others = [_session(2, activity="Bash: pytest"), _session(3)]
    lounge = [_line(10.0, "old news"), _line(20.0, "done with the db", thread=3)]
    block, seen2 = context_update(thread_id=ME, others=others, lounge=lounge, seen=seen)
    assert block is not None
    assert block.startswith("<bridge-update>")
    assert block.endswith("</bridge-update>")
    assert "not from the user" in block
    assert '- thread 2 "t2" (running, doing: Bash: pytest)' in block
    assert '- thread 3 "t3" (running)' in block
    assert "done with the db" in block
    assert "old news" not in block  # already known
    # Sent once: the next turn, with nothing new, gets nothing.
    block3, _ = context_update(thread_id=ME, others=others, lounge=lounge, seen=seen2)
    assert block3 is None


def test_own_lines_are_not_news_and_an_empty_registry_is_said_once() -> None:
    seen = seen_at_start(ME, [_session(2)], [])
    lounge = [_line(5.0, "session started", thread=ME)]
    block, seen2 = context_update(thread_id=ME, others=[], lounge=lounge, seen=seen)
    assert block is not None
    assert "none besides you" in block
    assert "session started" not in block
    block2, _ = context_update(thread_id=ME, others=[], lounge=lounge, seen=seen2)
    assert block2 is None


def test_after_a_restart_everything_current_is_sent_once() -> None:
    others = [_session(2)]
    lounge = [_line(float(i), f"line {i}") for i in range(15)]
    block, seen = context_update(thread_id=ME, others=others, lounge=lounge, seen=None)
    assert block is not None
    assert "line 14" in block
    assert "line 4" not in block  # the ten most recent, as in the system prompt
    assert context_update(thread_id=ME, others=others, lounge=lounge, seen=seen)[0] is None
