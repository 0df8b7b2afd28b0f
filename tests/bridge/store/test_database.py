"""The database on a real SQLite file: migrations, sessions, inbox, prompts, lounge."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from bridge.store import (
    MIGRATIONS,
    Database,
    InboxItem,
    InboxState,
    PromptRecord,
    PromptState,
    SessionRecord,
    SessionStatus,
    migrate,
)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database.open(tmp_path / "ccbridge.db")
    yield database
    database.close()


def _session(thread_id: int, **kw: object) -> SessionRecord:
    return SessionRecord(
        thread_id=thread_id, channel_id=1, working_dir="/repo", created_at=thread_id, **kw
    )


def test_opens_in_wal_mode_at_latest_version(db: Database, tmp_path: Path) -> None:
    assert db.journal_mode == "wal"
    raw = sqlite3.connect(tmp_path / "ccbridge.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_reopening_keeps_data_and_does_not_remigrate(tmp_path: Path) -> None:
    first = Database.open(tmp_path / "x.db")
    first.put_session(_session(10, session_id="abc"))
    first.close()
    second = Database.open(tmp_path / "x.db")
    record = second.get_session(10)
    assert record is not None
    assert record.session_id == "abc"
    second.close()


def test_failed_migration_leaves_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = sqlite3.connect(tmp_path / "y.db", isolation_level=None)
    db = sqlite_utils.Database(conn)

    def broken(database: sqlite_utils.Database) -> None:
        database["half"].create({"a": int})
        raise ValueError("boom")

    monkeypatch.setattr("bridge.store._schema.MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises(ValueError, match="boom"):
        migrate(db)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert "half" not in db.table_names()


def test_newer_database_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "z.db", isolation_level=None)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this ccbridge knows"):
        Database.open(tmp_path / "z.db")


def test_session_update_and_listing(db: Database) -> None:
    db.put_session(_session(1))
    db.put_session(_session(2, status=SessionStatus.RUNNING))
    updated = db.update_session(1, now=50.0, status=SessionStatus.QUEUED, session_id="s1")
    assert updated.status is SessionStatus.QUEUED
    assert updated.session_id == "s1"
    assert updated.updated_at == 50.0
    assert [s.thread_id for s in db.sessions()] == [1, 2]
    assert [s.thread_id for s in db.sessions(SessionStatus.RUNNING)] == [2]
    with pytest.raises(KeyError, match="no session"):
        db.update_session(99, now=1.0, status=SessionStatus.IDLE)
    with pytest.raises(KeyError, match="unknown session fields"):
        db.update_session(1, now=1.0, colour="red")


def test_mark_active_for_resume(db: Database) -> None:
    db.put_session(_session(1, status=SessionStatus.RUNNING))
    db.put_session(_session(2, status=SessionStatus.QUEUED))
    db.put_session(_session(3, status=SessionStatus.IDLE))
    assert sorted(db.mark_active_for_resume("shutdown", now=9.0)) == [1, 2]
    to_resume = db.sessions_to_resume()
    assert sorted(s.thread_id for s in to_resume) == [1, 2]
    assert {s.resume_reason for s in to_resume} == {"shutdown"}
    assert all(s.status is SessionStatus.IDLE for s in to_resume)
    db.update_session(1, now=10.0, resume_reason=None)
    assert [s.thread_id for s in db.sessions_to_resume()] == [2]


def test_inbox_dedupes_and_keeps_order(db: Database) -> None:
    def item(mid: int, at: float) -> InboxItem:
        return InboxItem(
            message_id=mid,
            thread_id=7,
            author_id=5,
            content=f"m{mid}",
            attachments=({"filename": "a.txt"},),
            received_at=at,
        )

    assert db.inbox_add(item(30, 3.0))
    assert db.inbox_add(item(20, 2.0))
    assert not db.inbox_add(item(20, 2.0))
    assert [i.message_id for i in db.inbox(7)] == [20, 30]
    assert db.inbox(7)[0].attachments == ({"filename": "a.txt"},)
    db.inbox_set_state([20], InboxState.DELIVERED)
    db.inbox_set_state([30], InboxState.DONE)
    assert [i.message_id for i in db.inbox(7)] == [20]
    assert [i.message_id for i in db.inbox(7, InboxState.DONE)] == [30]


def test_prompt_resolves_at_most_once(db: Database) -> None:
    prompt = PromptRecord(
        prompt_id="p1",
        thread_id=7,
        kind="permission",
        payload={"tool_name": "Bash", "input": {"command": "ls"}},
        created_at=1.0,
        expires_at=121.0,
        request_id="req-1",
    )
    db.prompt_add(prompt)
    db.prompt_set_message("p1", 555)
    assert [p.prompt_id for p in db.prompts_pending(7)] == ["p1"]
    resolved = db.prompt_resolve("p1", PromptState.ANSWERED, {"behavior": "allow"}, 5)
    assert resolved is not None
    assert resolved.answer == {"behavior": "allow"}
    assert resolved.answered_by == 5
    assert resolved.message_id == 555
    # The expiry timer firing after the click changes nothing.
    assert db.prompt_resolve("p1", PromptState.EXPIRED) is None
    assert db.prompt_get("p1").state is PromptState.ANSWERED
    assert db.prompts_pending() == []


def test_lounge_recent_is_oldest_first(db: Database) -> None:
    for n in range(5):
        db.lounge_add("session-7", f"line {n}", now=float(n), thread_id=7)
    assert [line.text for line in db.lounge_recent(3)] == ["line 2", "line 3", "line 4"]


def test_catch_up_cursors_only_move_forward(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "c.db")
    try:
        assert db.cursor_get(7) is None
        db.cursor_advance(7, 100, 1.0)
        db.cursor_advance(7, 90, 2.0)  # a late or repeated message
        assert db.cursor_get(7) == 100
        db.cursor_advance(7, 120, 3.0)
        assert db.cursor_get(7) == 120
        assert db.cursor_get(8) is None
    finally:
        db.close()


def test_the_newest_inbox_message_and_states_by_id(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "i.db")
    try:
        assert db.inbox_last_id(5) is None
        for mid in (11, 13, 12):
            db.inbox_add(InboxItem(message_id=mid, thread_id=5, author_id=1, content="x"))
        db.inbox_set_state([11], InboxState.DONE)
        assert db.inbox_last_id(5) == 13
        assert db.inbox_states([11, 12, 99]) == {11: InboxState.DONE, 12: InboxState.PENDING}
        assert db.inbox_states([]) == {}
    finally:
        db.close()
