"""Budgets in USD: what a turn cost, and when a thread is told (pure; no IO, no clock).

Theory of operation
-------------------
Every ``result`` reports ``total_cost_usd``. With the pinned CLI (2.1.330) that figure is
the *session's* running total, not the turn's: a ``--resume`` restores the session's cost
so far, even when other sessions ran in the same directory in between (measured against
the scripted model server: 0.42, then 0.84, then 1.26 for three turns of one session,
with another session's turn between the first two). So a turn costs the reported total
minus the last total recorded for the same Claude session id (:func:`turn_cost`). A total
lower than the last one (the CLI lost the restored figure) counts in full: the turn cost
at least that, and under-counting money is the worse mistake. The first turn seen of a
session counts its whole total; for a session imported from the terminal that includes
what it cost there before.

Three optional limits apply (:class:`Limits`): per thread (all time), per user per day,
and for all sessions per day. Days are UTC days. A turn's cost is charged to its thread,
to the author of the last message the turn answered, and to the day.
:func:`assess` decides, from the totals after the turn and the levels already announced,
which notices to give: at :data:`WARN_AT` (80 %) of a limit the thread is told once, at
100 % once more. A scope (one thread, one user's day, one day) is announced at each level
at most once, whichever thread crossed it; a turn that jumps past both levels gets only
the 100 % notice (both are marked). A turn after which a budget is used up (``over``)
parks its session when it ends (``bridge.sessions.machine``, state ``PARKED``) until an
approver lets it continue with +$N: those dollars are added to what this thread may spend
beyond each budget.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from typing import Final

import attrs

__all__ = [
    "LEVELS",
    "PARK_OFFERS",
    "WARN_AT",
    "Assessment",
    "Limits",
    "Notice",
    "Scope",
    "Totals",
    "assess",
    "notice_text",
    "over_text",
    "turn_cost",
]

WARN_AT: Final = 0.8
"""The share of a limit at which the thread is told first (issue 13)."""
LEVELS: Final = (WARN_AT, 1.0)
"""The shares of a limit announced, each once per scope."""


class Scope(enum.StrEnum):
    THREAD = "thread"
    """One thread, all time (BUDGET_THREAD_USD)."""
    USER_DAY = "user"
    """One user, one UTC day (BUDGET_USER_DAILY_USD)."""
    ALL_DAY = "all"
    """Every session, one UTC day (BUDGET_DAILY_USD)."""


@attrs.frozen(kw_only=True)
class Limits:
    """The configured limits in USD; ``None``: no limit of that kind."""

    thread_usd: float | None = None
    user_daily_usd: float | None = None
    daily_usd: float | None = None

    def of(self, scope: Scope) -> float | None:
        return {
            Scope.THREAD: self.thread_usd,
            Scope.USER_DAY: self.user_daily_usd,
            Scope.ALL_DAY: self.daily_usd,
        }[scope]


@attrs.frozen(kw_only=True)
class Totals:
    """What has been spent, in USD, per scope (this turn included)."""

    thread: float = 0.0
    user_day: float = 0.0
    all_day: float = 0.0

    def of(self, scope: Scope) -> float:
        return {
            Scope.THREAD: self.thread,
            Scope.USER_DAY: self.user_day,
            Scope.ALL_DAY: self.all_day,
        }[scope]


@attrs.frozen(kw_only=True)
class Notice:
    """Tell the thread: ``scope`` is at ``level`` (0.8 or 1.0) of its limit."""

    scope: Scope
    level: float
    spent: float
    limit: float


@attrs.frozen(kw_only=True)
class Assessment:
    notices: tuple[Notice, ...] = ()
    """What to tell the thread now, at most one per scope."""
    mark: tuple[tuple[Scope, float], ...] = ()
    """The ``(scope, level)`` pairs announced now: never announced again."""
    over: tuple[Scope, ...] = ()
    """The scopes whose limit (plus what approvers allowed this thread) is used up: the
    session parks when the turn ends."""


def turn_cost(previous_total: float | None, reported_total: float | None) -> float:
    """What one turn cost, from the session's reported running total (see the module
    docstring). Junk (negative, NaN, infinite, missing) counts as nothing."""
    if reported_total is None or not math.isfinite(reported_total) or reported_total <= 0:
        return 0.0
    if previous_total is None or not math.isfinite(previous_total):
        return reported_total
    if reported_total < previous_total:
        return reported_total
    return reported_total - previous_total


def assess(
    limits: Limits,
    totals: Totals,
    announced: Iterable[tuple[Scope, float]],
    allowed_extra: float = 0.0,
) -> Assessment:
    """The notices due, given the totals after a turn and the ``(scope, level)`` pairs
    already announced for these scopes (this thread, this user's day, this day), and
    which budgets are used up for this thread: ``allowed_extra`` is what approvers let
    this thread spend beyond any of them ("continue with +$N")."""
    done = set(announced)
    notices: list[Notice] = []
    mark: list[tuple[Scope, float]] = []
    over: list[Scope] = []
    for scope in Scope:
        limit = limits.of(scope)
        if limit is None:
            continue
        spent = totals.of(scope)
        if spent >= limit + max(0.0, allowed_extra):
            over.append(scope)
        reached = [level for level in LEVELS if spent >= level * limit]
        new = [level for level in reached if (scope, level) not in done]
        if not new:
            continue
        mark.extend((scope, level) for level in new)
        notices.append(Notice(scope=scope, level=max(new), spent=spent, limit=limit))
    return Assessment(notices=tuple(notices), mark=tuple(mark), over=tuple(over))


_WHAT: Final = {
    Scope.THREAD: "this thread's budget",
    Scope.USER_DAY: "your daily budget",
    Scope.ALL_DAY: "today's budget for all sessions",
}


PARK_OFFERS: Final = (1.0, 5.0, 20.0)
"""The "continue with +$N" buttons offered to approvers."""


def over_text(over: Iterable[Scope]) -> str:
    """Why a session parks: the budgets used up, in words."""
    return " and ".join(_WHAT[s] for s in over) + " is used up"


def notice_text(notice: Notice) -> str:
    """The line posted in the thread."""
    what = _WHAT[notice.scope]
    spent = f"${notice.spent:.2f} of ${notice.limit:.2f}"
    if notice.level >= 1.0:
        return f"-# 💸 {spent}: {what} is used up."
    return f"-# 💰 {spent}: {what} is {int(notice.level * 100)} % used."
