"""Scheduled work (A1, R3, R4): tasks that start Claude sessions on a schedule, and
scheduled notifications.

:mod:`._schedule` says when something is due, :mod:`._machine` decides what to do at a
given time (sans IO, property-tested), and :mod:`.actor` is the thin driver that reads
the store, feeds the machine and performs its orders.
"""

from bridge.scheduler._machine import (
    LATE_AFTER,
    ArmTimer,
    Deliver,
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
from bridge.scheduler._schedule import (
    MAX_INTERVAL_SECONDS,
    MIN_INTERVAL_SECONDS,
    CronSchedule,
    IntervalSchedule,
    Schedule,
    ScheduleError,
    make_schedule,
    parse_timezone,
)

__all__ = [
    "LATE_AFTER",
    "MAX_INTERVAL_SECONDS",
    "MIN_INTERVAL_SECONDS",
    "ArmTimer",
    "CronSchedule",
    "Deliver",
    "IntervalSchedule",
    "NotificationRemoved",
    "NotificationSet",
    "RunEnded",
    "RunRequested",
    "RunSkipped",
    "SaveNextRun",
    "Schedule",
    "ScheduleError",
    "SchedulerMachine",
    "StartRun",
    "TaskRemoved",
    "TaskSet",
    "TimerFired",
    "make_schedule",
    "parse_timezone",
]
