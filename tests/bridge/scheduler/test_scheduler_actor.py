"""The scheduler actor over a real store, with trio's MockClock as the clock (jumped to
skip ahead; it also runs at real speed so the store's worker threads can answer) and a
stand-in router at the far end that makes "threads" and stores the prompt in the inbox,
as the real router's ``StartSession`` does."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import actors
from actors.testing import open_test_system
from bridge.discord.errors import HTTPError
from bridge.scheduler.actor import (
    POLL_INTERVAL,
    ReloadSchedule,
    RunTaskNow,
    SchedulerConfig,
    scheduler_actor,
)
from bridge.sessions.messages import SessionOpened, StartSession, StopTurn
from bridge.store import (
    Database,
    InboxItem,
    InboxState,
    NotificationState,
    RunOutcome,
    SessionRecord,
)
from bridge.store.actor import STORE_MAILBOX, store_actor, store_call

BASE = 1_800_000_000.0
"""Wall-clock seconds at trio time 0."""
MAIN = 500
OWNER = 7
WAIT = 30.0  # real seconds (the clock runs at real speed between jumps)


@attrs.define
class World:
    clock: trio.testing.MockClock
    store: actors.Ref[Any]
    start_scheduler: Callable[[], Any]
    started: list[StartSession]
    posted: list[tuple[int, str]]
    session_messages: list[tuple[int, Any]]
    fail_starts: list[bool]
    scheduler: actors.Ref[Any] = None  # type: ignore[assignment]  # set by each test

    def now(self) -> float:
        return BASE + trio.current_time()

    async def db(self, fn: Callable[[Database], Any]) -> Any:
        return await store_call(self.store, fn, timeout=WAIT)

    async def until(self, check: Callable[[], Any]) -> None:
        """Wait (real time, bounded) until ``check()`` is true; store reads allowed."""
        with trio.fail_after(WAIT * 4):
            while True:
                result = check()
                if hasattr(result, "__await__"):
                    result = await result
                if result:
                    return
                await trio.sleep(0.01)

    async def finish(self, thread_id: int) -> None:
        """The session finished the run's turn: its inbox message is DONE."""
        await self.db(
            lambda db: db.inbox_set_state(
                [i.message_id for i in db.inbox(thread_id)], InboxState.DONE
            )
        )

    async def runs(self, task_id: int) -> list[Any]:
        return list(reversed(await self.db(lambda db: db.runs(task_id))))


async def _router(
    ctx: actors.Context[Any],
    store: actors.Ref[Any],
    sessions: actors.SupervisorRef,
    started: list[StartSession],
    fail: list[bool],
) -> None:
    ids = itertools.count(9000)
    async for msg in ctx.mailbox:
        if not isinstance(msg, StartSession):
            continue
        started.append(msg)
        if fail and fail[0]:
            msg.fail(HTTPError(status=403, code=50013, message="Missing Permissions", route="x"))
            continue
        thread_id = msg.thread_id or next(ids)
        message_id = next(ids)
        record = SessionRecord(thread_id=thread_id, channel_id=MAIN, working_dir=msg.working_dir)
        item = InboxItem(
            message_id=message_id, thread_id=thread_id, author_id=OWNER, content=msg.prompt
        )

        def put(db: Database, record: SessionRecord = record, item: InboxItem = item) -> None:
            if db.get_session(record.thread_id) is None:
                db.put_session(record)
            db.inbox_add(item)

        await store_call(store, put, timeout=WAIT)
        if sessions.child(thread_id) is None:
            await sessions.start_child(thread_id, id=thread_id)
        msg.reply(SessionOpened(thread_id=thread_id, message_id=message_id))


async def _session(ctx: actors.Context[Any], log: list[Any], thread_id: int) -> None:
    async for msg in ctx.mailbox:
        log.append((thread_id, msg))


@asynccontextmanager
async def open_world(tmp_path: Path, clock: trio.testing.MockClock) -> AsyncIterator[World]:
    async with open_test_system() as system:
        store = await system.spawn(store_actor, tmp_path / "db", mailbox=STORE_MAILBOX)
        session_messages: list[tuple[int, Any]] = []
        sessions = await system.start_supervisor(
            actors.SupervisorSpec(
                dynamic=actors.ChildSpec(_session, args=(session_messages,)), max_restarts=100
            )
        )
        started: list[StartSession] = []
        fail: list[bool] = [False]
        router = await system.spawn(_router, store, sessions, started, fail)
        posted: list[tuple[int, str]] = []

        async def post(channel_id: int, text: str) -> None:
            posted.append((channel_id, text))

        config = SchedulerConfig(
            channel_id=MAIN, author_id=OWNER, wall_clock=lambda: BASE + trio.current_time()
        )

        async def start_scheduler() -> actors.Ref[Any]:
            return await system.spawn(scheduler_actor, store, router, sessions, post, config)

        yield World(clock, store, start_scheduler, started, posted, session_messages, fail)


async def _add_task(world: World, **fields: Any) -> int:
    now = world.now()
    values = {
        "name": "tick",
        "prompt": "say tick",
        "working_dir": "/",
        "timeout_seconds": 1000.0,
        "interval_seconds": 60.0,
        "anchor_at": now,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    task = await world.db(lambda db: db.task_add(**values))
    return int(task.id)


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(rate=1.0)


async def test_runs_follow_the_grid_not_the_end_of_the_last_run(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with open_world(tmp_path, clock) as world:
        anchor = world.now()
        task_id = await _add_task(world, anchor_at=anchor)
        world.scheduler = await world.start_scheduler()
        await world.until(lambda: world.db(lambda db: db.task_get(task_id).next_run_at))
        clock.jump(60)
        await world.until(lambda: len(world.started) == 1)
        assert world.started[0].prompt == "say tick"
        assert world.started[0].origin == "schedule"
        # The scheduler records the run's thread next; jumping the clock while that store
        # call is in flight would time it out (its limit is on this clock), so wait for it.
        await world.until(lambda: _thread_recorded(world, task_id, 9000))
        # The run ends late, 45 s after its slot: the next one is still anchor + 120.
        clock.jump(45)
        await world.finish(9000)
        await world.until(lambda: _outcomes(world, task_id, [RunOutcome.DONE]))
        clock.jump(15)
        await world.until(lambda: len(world.started) == 2)
        runs = await world.runs(task_id)
        assert [r.due_at for r in runs] == [anchor + 60, anchor + 120]
        assert runs[0].outcome is RunOutcome.DONE


async def _thread_recorded(world: World, task_id: int, thread_id: int) -> bool:
    return [r.thread_id for r in await world.runs(task_id)] == [thread_id]


async def _outcomes(world: World, task_id: int, expected: list[RunOutcome]) -> bool:
    return [r.outcome for r in await world.runs(task_id)] == expected


async def test_a_run_still_going_is_not_started_again_and_the_skip_is_noted(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with open_world(tmp_path, clock) as world:
        task_id = await _add_task(world)
        world.scheduler = await world.start_scheduler()
        await world.until(lambda: world.db(lambda db: db.task_get(task_id).next_run_at))
        clock.jump(60)
        await world.until(lambda: len(world.started) == 1)
        clock.jump(60)
        await world.until(
            lambda: _outcomes(world, task_id, [RunOutcome.RUNNING, RunOutcome.SKIPPED])
        )
        assert len(world.started) == 1
        # A manual run while it still goes is skipped too.
        world.scheduler.tell(RunTaskNow(task_id=task_id))
        await world.until(
            lambda: _outcomes(
                world, task_id, [RunOutcome.RUNNING, RunOutcome.SKIPPED, RunOutcome.SKIPPED]
            )
        )
        assert len(world.started) == 1


async def test_a_run_past_its_timeout_is_stopped_and_reported_in_its_thread(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with open_world(tmp_path, clock) as world:
        task_id = await _add_task(world, timeout_seconds=30.0)
        world.scheduler = await world.start_scheduler()
        await world.until(lambda: world.db(lambda db: db.task_get(task_id).next_run_at))
        clock.jump(60)
        await world.until(lambda: len(world.started) == 1)
        await world.until(lambda: _outcomes(world, task_id, [RunOutcome.RUNNING]))
        clock.jump(31 + POLL_INTERVAL)
        await world.until(lambda: _outcomes(world, task_id, [RunOutcome.TIMED_OUT]))
        await world.until(lambda: any(isinstance(m, StopTurn) for _, m in world.session_messages))
        await world.until(lambda: any("took longer than 30 s" in t for _, t in world.posted))
        [(thread, _)] = [p for p in world.posted if "took longer" in p[1]]
        assert thread == 9000
        # The schedule goes on.
        clock.jump(60)
        await world.until(lambda: len(world.started) == 2)


async def test_a_run_that_cannot_start_is_reported_and_the_schedule_goes_on(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with open_world(tmp_path, clock) as world:
        task_id = await _add_task(world)
        world.fail_starts[0] = True
        world.scheduler = await world.start_scheduler()
        await world.until(lambda: world.db(lambda db: db.task_get(task_id).next_run_at))
        clock.jump(60)
        await world.until(lambda: _outcomes(world, task_id, [RunOutcome.FAILED]))
        await world.until(lambda: any("could not start" in t for _, t in world.posted))
        assert [c for c, t in world.posted if "could not start" in t] == [MAIN]
        world.fail_starts[0] = False
        clock.jump(60)
        await world.until(
            lambda: _outcomes(world, task_id, [RunOutcome.FAILED, RunOutcome.RUNNING])
        )


async def test_after_downtime_a_missed_task_runs_once(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with open_world(tmp_path, clock) as world:
        now = world.now()
        # The bridge was down for ten periods: the stored next slot is long past.
        task_id = await _add_task(
            world, anchor_at=now - 3600, next_run_at=now - 600, interval_seconds=60.0
        )
        world.scheduler = await world.start_scheduler()
        await world.until(lambda: len(world.started) == 1)
        await world.until(lambda: _outcomes(world, task_id, [RunOutcome.RUNNING]))
        [run] = await world.runs(task_id)
        assert run.due_at == now - 600
        task = await world.db(lambda db: db.task_get(task_id))
        assert now < task.next_run_at <= now + 60
        assert "late" in world.started[0].intro
        await trio.testing.wait_all_tasks_blocked()
        assert len(world.started) == 1


async def test_notifications_are_delivered_once_and_a_late_one_says_so(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with open_world(tmp_path, clock) as world:
        now = world.now()
        late_id = (await world.db(lambda db: db.notification_add("missed", 42, now - 120, now))).id
        soon_id = (await world.db(lambda db: db.notification_add("soon", 43, now + 30, now))).id
        world.scheduler = await world.start_scheduler()
        await world.until(lambda: world.posted)
        assert world.posted[0][0] == 42
        assert world.posted[0][1].startswith("missed")
        assert "late" in world.posted[0][1]
        clock.jump(30)
        await world.until(lambda: len(world.posted) == 2)
        assert world.posted[1] == (43, "soon")
        await world.until(
            lambda: world.db(
                lambda db: db.notification_get(soon_id).state is NotificationState.SENT
            )
        )
        late = await world.db(lambda db: db.notification_get(late_id))
        assert (late.state, late.late) == (NotificationState.SENT, True)
        # A restart of the scheduler does not send them again.
        await world.scheduler.stop()
        world.scheduler = await world.start_scheduler()
        world.scheduler.tell(ReloadSchedule())
        clock.jump(60)
        await world.until(lambda: world.db(lambda db: len(db.notifications()) == 2))
        assert len(world.posted) == 2
