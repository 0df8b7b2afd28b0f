"""The store actor over a real SQLite file: calls run in order, errors reach the caller."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

import actors
from actors.testing import open_test_system
from bridge.store import Database, InboxItem, InboxState, SessionRecord, SessionStatus
from bridge.store.actor import STORE_MAILBOX, store_actor, store_call

# Real worker threads run here, so these tests use the real clock (an autojump clock
# would leap to the ask deadline while a thread works) with generous timeouts.
TIMEOUT = 30.0


async def test_calls_reach_the_database_and_persist(tmp_path: Path) -> None:
    path = tmp_path / "ccbridge.db"
    async with open_test_system() as system:
        store = await system.spawn(store_actor, path, name="store", mailbox=STORE_MAILBOX)
        record = SessionRecord(thread_id=7, channel_id=1, working_dir="/repo")
        await store_call(store, lambda db: db.put_session(record), timeout=TIMEOUT)
        got = await store_call(store, lambda db: db.get_session(7), timeout=TIMEOUT)
        assert got == record
        await store.stop()
    # The actor closed its connection; the data is on disk for the next process.
    reopened = Database.open(path)
    try:
        assert reopened.get_session(7) == record
        assert reopened.journal_mode == "wal"
    finally:
        reopened.close()


async def test_an_error_in_fn_goes_to_the_caller_and_the_store_carries_on(
    tmp_path: Path,
) -> None:
    async with open_test_system() as system:
        store = await system.spawn(store_actor, tmp_path / "db.sqlite", mailbox=STORE_MAILBOX)
        with pytest.raises(KeyError, match="no session for thread 99"):
            await store_call(
                store, lambda db: db.update_session(99, 0.0, title="x"), timeout=TIMEOUT
            )
        assert store.alive
        assert await store_call(store, lambda db: db.sessions(), timeout=TIMEOUT) == []


async def test_concurrent_callers_are_served_one_at_a_time(tmp_path: Path) -> None:
    # 200 concurrent inbox_add calls, 100 of them redeliveries: without a single owner,
    # interleaved check-then-insert calls would corrupt the count.
    results: list[bool] = []
    async with open_test_system() as system:
        store = await system.spawn(store_actor, tmp_path / "db.sqlite", mailbox=STORE_MAILBOX)

        async def add(message_id: int) -> None:
            item = InboxItem(message_id=message_id, thread_id=1, author_id=2, content="hi")
            results.append(await store_call(store, lambda db: db.inbox_add(item), timeout=TIMEOUT))

        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:
                for i in range(200):
                    nursery.start_soon(add, i % 100)
        pending = await store_call(store, lambda db: db.inbox(1), timeout=TIMEOUT)
    assert results.count(True) == 100
    assert results.count(False) == 100
    assert [item.message_id for item in pending] == list(range(100))


async def test_a_bad_path_fails_the_spawn(tmp_path: Path) -> None:
    async with open_test_system() as system:
        with pytest.raises(actors.SpawnError):
            await system.spawn(store_actor, tmp_path / "missing-dir" / "db.sqlite")


async def test_calls_after_stop_raise_actor_stopped(tmp_path: Path) -> None:
    async with open_test_system() as system:
        store = await system.spawn(store_actor, tmp_path / "db.sqlite", mailbox=STORE_MAILBOX)
        await store.stop()
        with pytest.raises(actors.ActorStopped):
            await store_call(store, lambda db: db.sessions(SessionStatus.RUNNING), timeout=TIMEOUT)


def test_lounge_prune_keeps_the_newest(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite")
    try:
        for i in range(10):
            db.lounge_add("a", f"line {i}", float(i))
        assert db.lounge_prune(3) == 7
        assert [line.text for line in db.lounge_recent(10)] == ["line 7", "line 8", "line 9"]
    finally:
        db.close()


def test_threads_with_unfinished_inbox(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite")
    try:
        for message_id, thread_id in [(1, 10), (2, 10), (3, 20), (4, 30)]:
            db.inbox_add(
                InboxItem(message_id=message_id, thread_id=thread_id, author_id=5, content="x")
            )
        db.inbox_set_state([3], InboxState.DONE)
        db.inbox_set_state([4], InboxState.DELIVERED)
        assert db.threads_with_unfinished_inbox() == [10, 30]
    finally:
        db.close()
