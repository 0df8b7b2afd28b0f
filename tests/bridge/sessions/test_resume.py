"""The resume-at-start policy (A4): which sessions continue, and why."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bridge.sessions.resume import (
    ResumeFacts,
    recorded_messages,
    resume_facts,
    sessions_to_resume,
)
from bridge.store import Database, InboxItem, SessionRecord, SessionStatus
from protocol.claude.sessions import SessionMessage


def test_a_mark_keeps_its_reason_and_unfinished_messages_resume_as_a_crash() -> None:
    facts = ResumeFacts(marked=((5, "shutdown"), (3, None)), unfinished=(9, 5))
    assert sessions_to_resume(facts) == [(3, "crash"), (5, "shutdown"), (9, "crash")]


@given(
    marked=st.dictionaries(st.integers(1, 50), st.sampled_from([None, "shutdown", "crash"])),
    unfinished=st.sets(st.integers(1, 50)),
)
def test_every_marked_or_unfinished_session_resumes_once(
    marked: dict[int, str | None], unfinished: set[int]
) -> None:
    facts = ResumeFacts(marked=tuple(marked.items()), unfinished=tuple(sorted(unfinished)))
    decided = sessions_to_resume(facts)
    threads = [tid for tid, _ in decided]
    assert threads == sorted(set(marked) | unfinished)
    for tid, reason in decided:
        assert reason == (marked.get(tid) or "crash")


def _session(db: Database, tid: int, status: SessionStatus) -> None:
    db.put_session(
        SessionRecord(
            thread_id=tid, channel_id=tid, working_dir="/w", created_at=1.0, updated_at=1.0
        )
    )
    db.update_session(tid, 1.0, status=status)


def test_the_store_answers_with_cut_off_sessions_marked_as_crashes(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite")
    _session(db, 1, SessionStatus.RUNNING)  # cut off by a crash
    _session(db, 2, SessionStatus.IDLE)
    db.update_session(2, 1.0, resume_reason="shutdown")
    _session(db, 3, SessionStatus.IDLE)  # a message stored just before a crash
    db.inbox_add(InboxItem(message_id=30, thread_id=3, author_id=1, content="hi", received_at=1.0))
    _session(db, 4, SessionStatus.IDLE)  # nothing to do
    facts = resume_facts(db, 2.0)
    assert sessions_to_resume(facts) == [(1, "crash"), (2, "shutdown"), (3, "crash")]
    record = db.get_session(1)
    assert record is not None
    assert record.status is SessionStatus.IDLE


def _said(role: str, text: str, n: int) -> SessionMessage:
    return SessionMessage(role=role, text=text, uuid=f"u{n}")


def test_a_cut_off_turn_the_cli_recorded_is_not_sent_again() -> None:
    conversation = [
        _said("user", "hello", 1),
        _said("assistant", "hi", 2),
        _said("user", "fix the tests\n\nand the docs\nnotes.md: ...", 3),
        _said("assistant", "Looking at the tests", 4),
    ]
    cut_off = [(10, "fix the tests"), (11, ""), (12, "and the docs")]
    assert recorded_messages(cut_off, conversation) == (10, 11, 12)


def test_a_cut_off_turn_counts_as_recorded_only_when_it_is_the_last_user_message() -> None:
    conversation = [_said("user", "yes please deploy", 1), _said("assistant", "done", 2)]
    # The CLI never wrote the cut-off "yes": the last user message is an older turn's.
    assert recorded_messages([(20, "yes")], conversation) == ()
    assert recorded_messages([(20, "deploy")], conversation) == ()
    assert recorded_messages([(21, "  ")], [_said("user", "  ", 1)]) == ()  # nothing to match
    assert recorded_messages([(20, "hello")], []) == ()
    assert recorded_messages([(20, "hello")], [_said("assistant", "hello", 1)]) == ()


def test_a_session_parked_at_the_usage_limit_is_started_to_try_again(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite")
    _session(db, 6, SessionStatus.PARKED)
    db.usage_park(6, now=1.0, resets_at=None, retry_seconds=60.0, stagger_seconds=2.0)
    _session(db, 7, SessionStatus.PARKED)  # over a budget: an approver starts it
    _session(db, 8, SessionStatus.IDLE)  # resumed already (its row stays for the strikes)
    db.usage_park(8, now=1.0, resets_at=None, retry_seconds=60.0, stagger_seconds=2.0)
    db.usage_resumed(8)
    facts = resume_facts(db, 2.0)
    assert facts.usage_parked == (6,)
    assert sessions_to_resume(facts) == [(6, "usage-limit")]
