"""When a task is due: a fixed interval from an anchor, or a cron expression in a time zone.

Both answer one question, :meth:`next_after`: the first due time strictly after ``t``. The
answer depends only on the schedule and ``t``, never on when a run ended, so runs do not
drift (A1). Times are seconds since the epoch (wall clock), passed in: nothing here reads
a clock.

Cron expressions are the standard five fields (minute hour day-of-month month
day-of-week), read by ``croniter`` (a maintained library, not a parser of ours); the
time zone is an IANA name read by :mod:`zoneinfo`, so "9:00 every weekday" stays 9:00
across daylight-saving changes.
"""

from __future__ import annotations

import datetime
import math
import zoneinfo
from typing import Final

import attrs
from croniter import croniter

__all__ = [
    "MAX_INTERVAL_SECONDS",
    "MIN_INTERVAL_SECONDS",
    "CronSchedule",
    "IntervalSchedule",
    "Schedule",
    "ScheduleError",
    "make_schedule",
    "parse_timezone",
]

MIN_INTERVAL_SECONDS: Final = 2.0
"""Shorter intervals would start a run before the last one could have begun."""
MAX_INTERVAL_SECONDS: Final = 366 * 24 * 3600.0
"""A year: longer periods are better said with cron."""
_CRON_FIELDS: Final = 5
_TIMEZONE_MAX: Final = 64
"""The longest IANA zone names are about 30 characters."""


@attrs.frozen
class ScheduleError(ValueError):
    """A schedule field is malformed: ``field`` names it, ``message`` says what to send."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@attrs.frozen(kw_only=True)
class IntervalSchedule:
    """Due at ``anchor + k * interval`` for every whole ``k``."""

    interval: float
    anchor: float

    def next_after(self, t: float) -> float:
        periods = math.floor((t - self.anchor) / self.interval) + 1
        # Float rounding can land a hair at or before t; step a whole period more if so.
        # Always anchor + k * interval, so the same slot is the same float every time.
        while self.anchor + periods * self.interval <= t:
            periods += 1
        return self.anchor + periods * self.interval


@attrs.frozen(kw_only=True)
class CronSchedule:
    """Due whenever the five-field cron ``expression`` matches, read in ``timezone``."""

    expression: str
    timezone: str

    def next_after(self, t: float) -> float:
        zone = zoneinfo.ZoneInfo(self.timezone)
        start = datetime.datetime.fromtimestamp(t, zone)
        return float(croniter(self.expression, start).get_next(float))


Schedule = IntervalSchedule | CronSchedule


def parse_timezone(name: str) -> str:
    """``name`` if it is a known IANA time zone, else :class:`ScheduleError`."""
    if not name or len(name) > _TIMEZONE_MAX or not name.isascii():
        raise ScheduleError("timezone", f"must be an IANA time zone name, got {name[:80]!r}")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            "timezone", f"{name!r} is not a known time zone; use a name like Europe/Paris or UTC"
        ) from None
    return name


def make_schedule(
    *, interval: float | None, cron: str | None, timezone: str, anchor: float
) -> Schedule:
    """The schedule of a task: exactly one of ``interval`` (seconds) and ``cron``.

    Raises:
        ScheduleError: neither or both given, an interval out of range, a cron expression
            that is not five valid fields, or an unknown time zone.
    """
    if (interval is None) == (cron is None):
        raise ScheduleError("interval_seconds", "give exactly one of interval_seconds and cron")
    if interval is not None:
        if not math.isfinite(interval) or not (
            MIN_INTERVAL_SECONDS <= interval <= MAX_INTERVAL_SECONDS
        ):
            raise ScheduleError(
                "interval_seconds",
                f"must be from {MIN_INTERVAL_SECONDS:g} to {MAX_INTERVAL_SECONDS:g} seconds, "
                f"got {interval!r}",
            )
        return IntervalSchedule(interval=float(interval), anchor=anchor)
    assert cron is not None
    if len(cron.split()) != _CRON_FIELDS or not cron.isascii() or not croniter.is_valid(cron):
        raise ScheduleError(
            "cron",
            f"must be five cron fields (minute hour day month weekday), got {cron[:80]!r}",
        )
    return CronSchedule(expression=cron, timezone=parse_timezone(timezone))
