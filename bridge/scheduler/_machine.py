"""The scheduler's decisions, sans IO: facts and the time in, orders out.

Theory of operation
-------------------
The machine knows, per task, its :class:`~bridge.scheduler._schedule.Schedule`, whether
it is enabled, when it is next due, and whether a run of it is in progress; and, per
scheduled notification, when it is due. It reads no clock: every call passes ``now``
(seconds since the epoch). After each event it looks at everything due at ``now`` and
answers with orders (:class:`StartRun`, :class:`RunSkipped`, :class:`SaveNextRun`,
:class:`Deliver`) followed by one :class:`ArmTimer` for the next thing due, which the
driver turns into a :class:`TimerFired` at that time.

The rules (A1, R3, R4):

* **No drift.** A task due at ``d`` is next due at ``schedule.next_after(now)``: the
  schedule's own grid, not "``now`` plus the interval" and not "when the run ended".
* **No overlap.** A task due while its previous run is still going is not started; the
  slot is reported as :class:`RunSkipped` (the driver notes it) and the task moves to its
  next slot.
* **Once after downtime.** Due times that passed while nothing ran (the bridge was down,
  or the timer woke late) collapse into one run: the task starts once, with ``late_by``
  saying how late, and its next slot is the first one after ``now``.
* **Notifications** are delivered once each, marked ``late`` when ``now`` is more than
  :data:`LATE_AFTER` seconds past their due time.
* A manual "run now" starts a run at once unless one is in progress; it does not move
  the task's next slot.
"""

from __future__ import annotations

from typing import Final

import attrs

from bridge.scheduler._schedule import Schedule

__all__ = [
    "LATE_AFTER",
    "Action",
    "ArmTimer",
    "Deliver",
    "Event",
    "NotificationRemoved",
    "NotificationSet",
    "RunEnded",
    "RunRequested",
    "RunSkipped",
    "SaveNextRun",
    "SchedulerMachine",
    "StartRun",
    "TaskRemoved",
    "TaskSet",
    "TimerFired",
]

LATE_AFTER: Final = 5.0
"""Seconds past its due time after which a run or notification counts as late (the
driver's own wake-up takes milliseconds, so only downtime or a stalled loop gets here)."""


# --- events -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TaskSet:
    """A task was added or changed. ``next_due`` is the stored next slot, or ``None`` to
    compute it from the schedule (a new task, or a changed schedule)."""

    task_id: int
    schedule: Schedule
    enabled: bool
    next_due: float | None = None


@attrs.frozen(kw_only=True)
class TaskRemoved:
    task_id: int


@attrs.frozen(kw_only=True)
class RunEnded:
    """The task's run finished (whatever the outcome): it may be started again."""

    task_id: int


@attrs.frozen(kw_only=True)
class RunRequested:
    """Run the task now (``/api/tasks/{id}`` with ``run_now``, or a slash command)."""

    task_id: int


@attrs.frozen(kw_only=True)
class NotificationSet:
    notification_id: int
    due_at: float


@attrs.frozen(kw_only=True)
class NotificationRemoved:
    notification_id: int


@attrs.frozen(kw_only=True)
class TimerFired:
    """The time of the last :class:`ArmTimer` came (or the driver woke to re-check)."""


Event = (
    TaskSet | TaskRemoved | RunEnded | RunRequested | NotificationSet | NotificationRemoved
) | TimerFired


# --- actions ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StartRun:
    task_id: int
    due_at: float
    """The slot this run is for (``now`` for a manual run)."""
    late_by: float
    """Seconds between ``due_at`` and the decision; large after downtime."""
    manual: bool = False


@attrs.frozen(kw_only=True)
class RunSkipped:
    """A slot came while the task's previous run was still going: not started."""

    task_id: int
    due_at: float


@attrs.frozen(kw_only=True)
class SaveNextRun:
    """Persist the task's next slot, so a restart continues the same grid."""

    task_id: int
    next_due: float


@attrs.frozen(kw_only=True)
class Deliver:
    notification_id: int
    due_at: float
    late: bool


@attrs.frozen(kw_only=True)
class ArmTimer:
    """Wake the machine with :class:`TimerFired` at ``at`` (``None``: nothing is due)."""

    at: float | None


Action = StartRun | RunSkipped | SaveNextRun | Deliver | ArmTimer


@attrs.define
class _Task:
    schedule: Schedule
    enabled: bool
    next_due: float
    running: bool = False


class SchedulerMachine:
    """See the module docstring. One entry point: :meth:`handle`."""

    def __init__(self) -> None:
        self._tasks: dict[int, _Task] = {}
        self._notifications: dict[int, float] = {}

    def handle(self, event: Event, now: float) -> list[Action]:
        """Apply ``event`` at ``now``; return the orders, ending with one :class:`ArmTimer`."""
        actions: list[Action] = []
        match event:
            case TaskSet(task_id=task_id, schedule=schedule, enabled=enabled, next_due=next_due):
                old = self._tasks.get(task_id)
                if next_due is None:
                    next_due = schedule.next_after(now)
                    actions.append(SaveNextRun(task_id=task_id, next_due=next_due))
                self._tasks[task_id] = _Task(
                    schedule, enabled, next_due, running=old.running if old else False
                )
            case TaskRemoved(task_id=task_id):
                self._tasks.pop(task_id, None)
            case RunEnded(task_id=task_id):
                if task_id in self._tasks:
                    self._tasks[task_id].running = False
            case RunRequested(task_id=task_id):
                task = self._tasks.get(task_id)
                if task is not None:
                    if task.running:
                        actions.append(RunSkipped(task_id=task_id, due_at=now))
                    else:
                        task.running = True
                        actions.append(
                            StartRun(task_id=task_id, due_at=now, late_by=0.0, manual=True)
                        )
            case NotificationSet(notification_id=nid, due_at=due_at):
                self._notifications[nid] = due_at
            case NotificationRemoved(notification_id=nid):
                self._notifications.pop(nid, None)
            case TimerFired():
                pass
        actions.extend(self._due(now))
        actions.append(ArmTimer(at=self._next_wake()))
        return actions

    def snapshot(self) -> dict[str, object]:
        """For tests: each task's next slot and running flag, each notification's due."""
        return {
            "tasks": {
                tid: (t.next_due, t.enabled, t.running) for tid, t in sorted(self._tasks.items())
            },
            "notifications": dict(sorted(self._notifications.items())),
        }

    def _due(self, now: float) -> list[Action]:
        actions: list[Action] = []
        for task_id, task in sorted(self._tasks.items()):
            if not task.enabled or task.next_due > now:
                continue
            due = task.next_due
            if task.running:
                actions.append(RunSkipped(task_id=task_id, due_at=due))
            else:
                task.running = True
                actions.append(StartRun(task_id=task_id, due_at=due, late_by=now - due))
            # Every slot up to now is covered by this one decision: once after downtime.
            task.next_due = task.schedule.next_after(now)
            actions.append(SaveNextRun(task_id=task_id, next_due=task.next_due))
        for nid, due in sorted(self._notifications.items(), key=lambda item: (item[1], item[0])):
            if due <= now:
                del self._notifications[nid]
                actions.append(
                    Deliver(notification_id=nid, due_at=due, late=now - due > LATE_AFTER)
                )
        return actions

    def _next_wake(self) -> float | None:
        times = [t.next_due for t in self._tasks.values() if t.enabled]
        times.extend(self._notifications.values())
        return min(times) if times else None
