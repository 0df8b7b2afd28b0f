"""The scheduler actor: reads the store, feeds :class:`SchedulerMachine`, performs its orders.

It makes no scheduling decision itself. It

* loads tasks and pending notifications from the store at start (runs a previous process
  left ``running`` become ``interrupted``; their sessions resume by A4) and again on
  :class:`ReloadSchedule`, which the API sends after every change;
* sleeps until the machine's :class:`ArmTimer` (at most :data:`MAX_SLEEP` seconds, so a
  wall-clock jump is noticed), then feeds :class:`TimerFired` with the wall-clock time;
* starts a run by asking the router to :class:`~bridge.sessions.messages.StartSession`,
  the path a person's message takes, so a run queues for a concurrency slot like any
  session; a run is over when the inbox message carrying its prompt is finished, or when
  its timeout passes (the session is told ``StopTurn`` and the thread says why);
* records every run, skip and failure in ``task_runs``; reports a run that could not start
  in the task's thread (or the main channel) and carries on: no failure stops it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any, Final

import attrs
import trio

import actors
from bridge.scheduler._machine import (
    ArmTimer,
    Deliver,
    Event,
    NotificationRemoved,
    NotificationSet,
    RunEnded,
    RunRequested,
    RunSkipped,
    SaveNextRun,
    SchedulerMachine,
    StartRun,
    TaskRemoved,
    TaskSet,
    TimerFired,
)
from bridge.scheduler._schedule import ScheduleError, make_schedule
from bridge.sessions.coordinator import ChannelPoster
from bridge.sessions.messages import SessionOpened, StartSession, StopTurn
from bridge.sessions.presentation.render import quiet
from bridge.sessions.router import RouterMessage
from bridge.store import (
    Database,
    InboxState,
    NotificationState,
    RunOutcome,
    TaskRecord,
)
from bridge.store.actor import StoreMessage, store_call

__all__ = [
    "MAX_SLEEP",
    "POLL_INTERVAL",
    "ReloadSchedule",
    "RunTaskNow",
    "SchedulerConfig",
    "scheduler_actor",
]

log = logging.getLogger(__name__)

MAX_SLEEP: Final = 60.0
"""Longest sleep between checks: a wall-clock jump is noticed within this."""
POLL_INTERVAL: Final = 2.0
"""How often running runs are checked for their end (one store read for all of them)."""
STORE_TIMEOUT: Final = 30.0
START_TIMEOUT: Final = 120.0
"""Seconds a run's thread may take to be made (Discord may rate-limit thread creation)."""


@attrs.frozen(kw_only=True)
class ReloadSchedule:
    """Tasks or notifications changed in the store: read them again."""


@attrs.frozen(kw_only=True)
class RunTaskNow:
    task_id: int


@attrs.frozen(kw_only=True)
class SchedulerConfig:
    channel_id: int
    """The main channel: failures of runs without a thread of their own are told here."""
    author_id: int
    """Who a run's ``StopTurn`` (timeout) is sent as: the owner the runs act for."""
    wall_clock: Callable[[], float] = time.time
    """Seconds since the epoch; tests derive it from trio's clock."""


@attrs.frozen
class _Wake:
    pass


@attrs.frozen
class _Poll:
    pass


@attrs.frozen
class _RunOpened:
    run_id: int
    task_id: int
    result: Any
    """A :class:`SessionOpened`, or the exception the ask raised."""


SchedulerMessage = ReloadSchedule | RunTaskNow | _Wake | _Poll | _RunOpened
"""Everything the scheduler actor takes (the underscored ones it sends itself)."""


@attrs.define
class _Active:
    task_id: int
    thread_id: int
    message_id: int
    deadline: float
    """trio time at which the run times out."""


async def scheduler_actor(
    ctx: actors.Context[SchedulerMessage],
    store: actors.Ref[StoreMessage],
    router: actors.Ref[RouterMessage],
    sessions: actors.SupervisorRef,
    post: ChannelPoster,
    config: SchedulerConfig,
) -> None:
    """Run scheduled tasks and notifications until stopped (see the module docstring)."""
    driver = _Driver(ctx, store, router, sessions, post, config)
    await driver.load()
    ctx.started()
    ctx.start_timer(POLL_INTERVAL, _Poll())
    async for msg in ctx.mailbox:
        try:
            match msg:
                case ReloadSchedule():
                    await driver.load()
                case RunTaskNow(task_id=task_id):
                    await driver.feed(RunRequested(task_id=task_id))
                case _Wake():
                    await driver.feed(TimerFired())
                case _Poll():
                    await driver.poll()
                case _RunOpened():
                    await driver.opened(msg)
                case _:
                    log.warning("scheduler: ignoring unexpected message %r", msg)
        except (actors.ActorsError, TimeoutError):
            # The store or a peer is slow or restarting: this step is retried by the next
            # wake or poll; the scheduler itself goes on.
            log.exception("scheduler: could not handle %r; carrying on", msg)


class _Driver:
    def __init__(
        self,
        ctx: actors.Context[SchedulerMessage],
        store: actors.Ref[StoreMessage],
        router: actors.Ref[RouterMessage],
        sessions: actors.SupervisorRef,
        post: ChannelPoster,
        config: SchedulerConfig,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.router = router
        self.sessions = sessions
        self.post = post
        self.config = config
        self.machine = SchedulerMachine()
        self.tasks: dict[int, TaskRecord] = {}
        self.notifications: set[int] = set()
        self.active: dict[int, _Active] = {}
        self.timer: actors.TimerHandle | None = None
        self.first_load = True

    async def _db(self, fn: Callable[[Database], Any]) -> Any:
        return await store_call(self.store, fn, timeout=STORE_TIMEOUT)

    async def load(self) -> None:
        now = self.config.wall_clock()
        first = self.first_load

        def read(db: Database) -> tuple[list[TaskRecord], list[int], dict[int, float]]:
            if first:
                db.runs_interrupt_running(now)
            pending = db.notifications(NotificationState.PENDING)
            return db.tasks(), [n.id for n in pending], {n.id: n.due_at for n in pending}

        tasks, pending, due = await self._db(read)
        self.first_load = False
        events: list[Event] = []
        fresh = {t.id: t for t in tasks}
        for task_id in set(self.tasks) - set(fresh):
            events.append(TaskRemoved(task_id=task_id))
        for task in tasks:
            try:
                schedule = make_schedule(
                    interval=task.interval_seconds,
                    cron=task.cron,
                    timezone=task.timezone,
                    anchor=task.anchor_at,
                )
            except ScheduleError as exc:
                # The API validates schedules; a bad row is someone editing the file.
                log.error("scheduler: task %s has a bad schedule (%s); not scheduled", task.id, exc)
                events.append(TaskRemoved(task_id=task.id))
                continue
            events.append(
                TaskSet(
                    task_id=task.id,
                    schedule=schedule,
                    enabled=task.enabled,
                    next_due=task.next_run_at,
                )
            )
        self.tasks = fresh
        for nid in self.notifications - set(pending):
            events.append(NotificationRemoved(notification_id=nid))
        for nid in set(pending) - self.notifications:
            events.append(NotificationSet(notification_id=nid, due_at=due[nid]))
        self.notifications = set(pending)
        for event in events:
            await self.feed(event)
        if not events:
            await self.feed(TimerFired())

    async def feed(self, event: Event) -> None:
        for action in self.machine.handle(event, self.config.wall_clock()):
            await self.perform(action)

    async def perform(self, action: Any) -> None:
        match action:
            case StartRun():
                await self.start_run(action)
            case RunSkipped(task_id=task_id, due_at=due_at):
                now = self.config.wall_clock()  # here: the store runs fn in a worker thread
                await self._db(
                    lambda db: db.run_add(
                        task_id,
                        due_at,
                        now,
                        RunOutcome.SKIPPED,
                        "the previous run was still going",
                    )
                )
                log.info("scheduler: task %s slot at %s skipped: still running", task_id, due_at)
            case SaveNextRun(task_id=task_id, next_due=next_due):
                now = self.config.wall_clock()
                await self._db(lambda db: db.task_update(task_id, now, next_run_at=next_due))
            case Deliver(notification_id=nid, due_at=due_at, late=late):
                self.notifications.discard(nid)
                self.ctx.nursery.start_soon(self.deliver, nid, due_at, late)
            case ArmTimer(at=at):
                if self.timer is not None:
                    self.timer.cancel()
                delay = MAX_SLEEP if at is None else at - self.config.wall_clock()
                self.timer = self.ctx.send_after(min(max(delay, 0.0), MAX_SLEEP), _Wake())

    async def start_run(self, action: StartRun) -> None:
        task = self.tasks.get(action.task_id)
        if task is None:
            return
        now = self.config.wall_clock()
        run = await self._db(lambda db: db.run_add(task.id, action.due_at, now))
        how = "run now" if action.manual else "scheduled run"
        late = f", {_duration(action.late_by)} late" if action.late_by > 5.0 else ""
        intro = quiet(f"🗓️ Task **{task.name}**: {how} #{run.id}{late}")
        own_thread = task.thread_id if task.thread_mode == "own" else None
        self.ctx.ask_into(
            self.router,
            StartSession(
                title=task.name,
                prompt=task.prompt,
                intro=intro,
                working_dir=task.working_dir,
                model=task.model,
                origin="schedule",
                thread_id=own_thread,
            ),
            timeout=START_TIMEOUT,
            map=lambda result: _RunOpened(run.id, task.id, result),
        )

    async def opened(self, msg: _RunOpened) -> None:
        task = self.tasks.get(msg.task_id)
        if not isinstance(msg.result, SessionOpened):
            detail = f"could not start: {msg.result}"
            now = self.config.wall_clock()
            await self._db(
                lambda db: db.run_update(
                    msg.run_id, outcome=RunOutcome.FAILED, ended_at=now, detail=detail
                )
            )
            name = task.name if task is not None else f"#{msg.task_id}"
            where = (
                task.thread_id
                if task is not None and task.thread_mode == "own" and task.thread_id
                else self.config.channel_id
            )
            self.ctx.nursery.start_soon(
                self._say,
                where,
                quiet(f"⚠️ Task **{name}** run #{msg.run_id} {detail}. The schedule goes on."),
            )
            await self.feed(RunEnded(task_id=msg.task_id))
            return
        opened = msg.result
        await self._db(
            lambda db: db.run_update(
                msg.run_id, thread_id=opened.thread_id, message_id=opened.message_id
            )
        )
        if task is not None and task.thread_mode == "own" and task.thread_id is None:
            now = self.config.wall_clock()
            updated = await self._db(
                lambda db: db.task_update(task.id, now, thread_id=opened.thread_id)
            )
            if updated is not None:
                self.tasks[task.id] = updated
        timeout = task.timeout_seconds if task is not None else math.inf
        self.active[msg.run_id] = _Active(
            task_id=msg.task_id,
            thread_id=opened.thread_id,
            message_id=opened.message_id,
            deadline=trio.current_time() + timeout,
        )

    async def poll(self) -> None:
        if not self.active:
            return
        watched = {run_id: (a.thread_id, a.message_id) for run_id, a in self.active.items()}

        def finished(db: Database) -> set[int]:
            done = set()
            for run_id, (thread_id, message_id) in watched.items():
                ended = db.inbox(thread_id, InboxState.DONE, InboxState.REJECTED)
                if any(item.message_id == message_id for item in ended):
                    done.add(run_id)
            return done

        done = await self._db(finished)
        now = trio.current_time()
        for run_id in list(self.active):
            active = self.active[run_id]
            if run_id in done:
                await self.end_run(run_id, RunOutcome.DONE, "")
            elif now >= active.deadline:
                await self.time_out(run_id, active)

    async def time_out(self, run_id: int, active: _Active) -> None:
        task = self.tasks.get(active.task_id)
        limit = _duration(task.timeout_seconds) if task is not None else "its timeout"
        session = self.sessions.child(active.thread_id)
        if session is not None:
            session.tell(StopTurn(requested_by=self.config.author_id))
        self.ctx.nursery.start_soon(
            self._say,
            active.thread_id,
            f"⏱️ This scheduled run took longer than {limit}, so it was stopped. "
            "The task's schedule goes on.",
        )
        await self.end_run(run_id, RunOutcome.TIMED_OUT, f"stopped after {limit}")

    async def end_run(self, run_id: int, outcome: RunOutcome, detail: str) -> None:
        active = self.active.pop(run_id)
        now = self.config.wall_clock()
        await self._db(
            lambda db: db.run_update(run_id, outcome=outcome, ended_at=now, detail=detail)
        )
        await self.feed(RunEnded(task_id=active.task_id))

    async def deliver(self, nid: int, due_at: float, late: bool) -> None:
        record = await self._db(lambda db: db.notification_get(nid))
        if record is None or record.state is not NotificationState.PENDING:
            return  # cancelled meanwhile
        text = quiet(record.message)
        if late:
            text = f"{text}\n-# ⏰ late: this was due <t:{int(due_at)}:f>"
        try:
            await self.post(record.channel_id, text)
        except Exception as exc:
            log.error("scheduler: notification %s could not be posted: %s", nid, exc)
            state = NotificationState.FAILED
        else:
            state = NotificationState.SENT
        now = self.config.wall_clock()
        await self._db(lambda db: db.notification_mark(nid, state, now, late=late))

    async def _say(self, channel_id: int, text: str) -> None:
        try:
            await self.post(channel_id, text)
        except Exception as exc:
            log.error("scheduler: could not post %r to %s: %s", text, channel_id, exc)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
