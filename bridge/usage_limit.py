"""When a session parked at the account's usage limit tries again (issue 13): pure.

The store calls :func:`resume_at` inside the one call that records the parking, so two
sessions parking at the same moment still get distinct, ordered times.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Final

__all__ = ["GROWTH_CAP", "resume_at", "retry_interval", "until_text"]

GROWTH_CAP: Final = 8
"""Without a reported reset, each consecutive hit doubles the wait, up to this many times
``USAGE_LIMIT_RETRY_SECONDS``: a session that keeps hitting the limit is never looped
tight, and never waits absurdly long either."""


def retry_interval(retry_seconds: float, strikes: int) -> float:
    """The wait after ``strikes`` earlier hits in a row (0 for the first)."""
    return retry_seconds * min(1 << min(max(strikes, 0), 16), GROWTH_CAP)


def resume_at(
    *,
    now: float,
    resets_at: float | None,
    strikes: int,
    retry_seconds: float,
    stagger_seconds: float,
    waiting: Iterable[float],
) -> float:
    """The time (epoch seconds) this session tries again.

    ``resets_at`` is the reset the CLI reported (``None``: not known, wait the retry
    interval). ``waiting`` are the times other parked sessions already wait for: this one
    goes at least ``stagger_seconds`` after the last of them, so sessions resume in the
    order they were parked and never in the same second.
    """
    base = now + retry_interval(retry_seconds, strikes)
    if resets_at is not None and resets_at > now:
        base = resets_at
    latest = max(waiting, default=None)
    if latest is not None:
        base = max(base, latest + stagger_seconds)
    return base


def until_text(at: float) -> str:
    """``15:20 UTC`` (``15:20:05 UTC`` when not on a whole minute)."""
    moment = time.gmtime(round(at))
    fmt = "%H:%M UTC" if moment.tm_sec == 0 else "%H:%M:%S UTC"
    return time.strftime(fmt, moment)
