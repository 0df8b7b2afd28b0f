"""The scheduler machine under random timelines: no drift, once after downtime, no overlap.

A timeline is a list of steps a driver could take: wake at the armed timer (maybe late),
end the running run, ask for a manual run, or go down for a while and restart (a fresh
machine fed the last saved slot, as the actor does from the store). After every step the
orders are checked against the schedule itself.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.scheduler import (
    LATE_AFTER,
    ArmTimer,
    CronSchedule,
    Deliver,
    IntervalSchedule,
    NotificationSet,
    RunEnded,
    RunRequested,
    RunSkipped,
    SaveNextRun,
    Schedule,
    SchedulerMachine,
    StartRun,
    TaskSet,
    TimerFired,
)

START = 1_700_000_000.0
TASK = 1

schedules = st.one_of(
    st.builds(
        IntervalSchedule,
        interval=st.floats(min_value=2.0, max_value=3600.0, allow_nan=False),
        anchor=st.floats(min_value=START - 10_000, max_value=START, allow_nan=False),
    ),
    st.builds(
        CronSchedule,
        expression=st.sampled_from(["* * * * *", "*/5 * * * *", "0 * * * *", "30 2 * * 1-5"]),
        timezone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]),
    ),
)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("wake"), st.floats(min_value=0.0, max_value=3.0)),
        st.tuples(st.just("end"), st.just(0.0)),
        st.tuples(st.just("run_now"), st.floats(min_value=0.0, max_value=60.0)),
        st.tuples(st.just("down"), st.floats(min_value=1.0, max_value=30 * 24 * 3600.0)),
    ),
    max_size=60,
)


def _on_schedule(schedule: Schedule, t: float) -> bool:
    return schedule.next_after(t - 1e-3) == t


class _Driver:
    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.now = START
        self.machine = SchedulerMachine()
        self.saved: float | None = None
        self.armed: float | None = None
        self.running = False
        self.delivered: dict[int, tuple[float, bool]] = {}

    def feed(self, event: Any) -> list[Any]:
        actions = self.machine.handle(event, self.now)
        assert isinstance(actions[-1], ArmTimer)
        assert [a for a in actions if isinstance(a, ArmTimer)] == [actions[-1]]
        starts = [a for a in actions if isinstance(a, StartRun)]
        assert len(starts) <= 1, "a task starts at most once per decision (once after downtime)"
        for action in actions:
            self.check(action, event)
        self.armed = actions[-1].at
        return actions

    def check(self, action: Any, event: Any) -> None:
        match action:
            case StartRun(due_at=due, manual=manual, late_by=late_by):
                assert not self.running, "a run started while the previous one was going"
                self.running = True
                assert due <= self.now
                assert late_by == (self.now - due)
                if manual:
                    assert isinstance(event, RunRequested)
                else:
                    # No drift: the run is for exactly the slot saved before, on the grid.
                    assert due == self.saved
                    assert _on_schedule(self.schedule, due)
            case RunSkipped(due_at=due):
                assert self.running, "a slot was skipped although nothing was running"
                if not isinstance(event, RunRequested):
                    assert due == self.saved
            case SaveNextRun(next_due=next_due):
                # The next slot is the schedule's first after now: missed slots collapse.
                assert next_due == self.schedule.next_after(self.now)
                assert next_due > self.now
                self.saved = next_due
            case Deliver(notification_id=nid, due_at=due, late=late):
                assert nid not in self.delivered, "a notification was delivered twice"
                assert due <= self.now
                assert late == (self.now - due > LATE_AFTER)
                self.delivered[nid] = (due, late)
            case ArmTimer(at=at):
                assert at is not None
                assert at == min([self.saved, *self.pending_notifications()])

    def pending_notifications(self) -> list[float]:
        snapshot: Any = self.machine.snapshot()
        return list(snapshot["notifications"].values())


@given(schedule=schedules, timeline=steps, notify_offsets=st.lists(st.floats(0, 1e6), max_size=5))
def test_runs_follow_the_schedule_once_without_overlap(
    schedule: Schedule, timeline: list[tuple[str, float]], notify_offsets: list[float]
) -> None:
    driver = _Driver(schedule)
    driver.feed(TaskSet(task_id=TASK, schedule=schedule, enabled=True))
    notifications = {i: START + offset for i, offset in enumerate(notify_offsets)}
    for nid, due in notifications.items():
        driver.feed(NotificationSet(notification_id=nid, due_at=due))
    for kind, amount in timeline:
        if kind == "wake":
            assert driver.armed is not None
            driver.now = max(driver.now, driver.armed) + amount
            driver.feed(TimerFired())
        elif kind == "end":
            if driver.running:
                driver.running = False
                driver.feed(RunEnded(task_id=TASK))
        elif kind == "run_now":
            driver.now += amount
            driver.feed(RunRequested(task_id=TASK))
        else:
            # Downtime: the process is gone; the new one knows only what the store kept.
            driver.now += amount
            driver.machine = SchedulerMachine()
            driver.running = False
            driver.feed(
                TaskSet(task_id=TASK, schedule=schedule, enabled=True, next_due=driver.saved)
            )
            for nid, due in notifications.items():
                if nid not in driver.delivered:
                    driver.feed(NotificationSet(notification_id=nid, due_at=due))
    # Every notification due by now went out exactly once.
    assert {n for n, due in notifications.items() if due <= driver.now} == set(driver.delivered)


@given(schedule=schedules, offset=st.floats(min_value=0, max_value=1e7))
def test_next_after_is_on_the_schedule_and_strictly_later(
    schedule: Schedule, offset: float
) -> None:
    t = START + offset
    due = schedule.next_after(t)
    assert due > t
    assert _on_schedule(schedule, due)
    # Nothing on the schedule lies strictly between t and due.
    assert schedule.next_after(t + (due - t) / 2) == due


def test_a_disabled_task_is_never_started() -> None:
    machine = SchedulerMachine()
    schedule = IntervalSchedule(interval=10.0, anchor=START)
    machine.handle(TaskSet(task_id=TASK, schedule=schedule, enabled=False), START)
    actions = machine.handle(TimerFired(), START + 1000)
    assert not [a for a in actions if isinstance(a, StartRun)]
    assert actions[-1] == ArmTimer(at=None)
