"""The store's spending tables (budgets, ``/usage``).

``spending`` has one row per turn that reported a cost: its thread, Claude session id,
the user it is charged to, its UTC day, what the turn cost and the session's running
total the CLI reported (the next turn's cost is counted from it; see
:mod:`bridge.budget`). ``budget_marks`` remembers which budget levels were
announced, so a thread is told once, across restarts too. :class:`SpendingTables` is
mixed into :class:`~bridge.store.Database`: only the store actor calls it, one call at
a time, so recording a turn and deciding its notices is one step nobody interleaves.
"""

from __future__ import annotations

import time

import attrs
import sqlite_utils

from bridge.budget import Assessment, Limits, Scope, Totals, assess, turn_cost

__all__ = ["SpendingTables", "UsageReport", "migrate_spending", "utc_day"]


def utc_day(now: float) -> str:
    """``YYYY-MM-DD`` of the UTC day ``now`` (seconds since the epoch) falls in."""
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def migrate_spending(db: sqlite_utils.Database) -> None:
    db.table("spending").create(
        {
            "id": int,
            "thread_id": int,
            "session_id": str,
            "user_id": int,
            "day": str,
            "cost_usd": float,
            "session_total_usd": float,
            "at": float,
        },
        pk="id",
        not_null={"thread_id", "day", "cost_usd", "at"},
    )
    db.table("spending").create_index(["day"])
    db.table("spending").create_index(["thread_id"])
    db.table("spending").create_index(["session_id"])
    db.table("budget_allowances").create(
        {"id": int, "thread_id": int, "extra_usd": float, "approved_by": int, "at": float},
        pk="id",
        not_null={"thread_id", "extra_usd", "at"},
    )
    db.table("budget_marks").create(
        {"scope": str, "key": str, "day": str, "level": float, "at": float},
        pk=("scope", "key", "day", "level"),
        not_null={"at"},
    )


@attrs.frozen(kw_only=True)
class UsageReport:
    """Spending of one UTC day, most expensive first."""

    day: str
    total: float
    by_user: tuple[tuple[int | None, float], ...]
    by_thread: tuple[tuple[int, float], ...]


def _mark_key(scope: Scope, thread_id: int, user_id: int | None, day: str) -> tuple[str, str]:
    """``(key, day)`` of a scope's marks: a thread's budget is not per day."""
    if scope is Scope.THREAD:
        return str(thread_id), ""
    if scope is Scope.USER_DAY:
        return str(user_id), day
    return "", day


class SpendingTables:
    """The methods on :class:`~bridge.store.Database` for the tables above."""

    _db: sqlite_utils.Database

    def _sum(self, where: str, args: list[object]) -> float:
        row = self._db.execute(
            f"select coalesce(sum(cost_usd), 0) from spending where {where}", args
        )
        return float(row.fetchone()[0])

    def spend(
        self,
        *,
        thread_id: int,
        session_id: str | None,
        user_id: int | None,
        reported_total: float | None,
        limits: Limits,
        now: float,
    ) -> tuple[float, Assessment]:
        """Record a turn's ``result`` and decide its budget notices; returns the turn's
        cost and what to tell the thread (already marked as told)."""
        previous = None
        if session_id:
            row = self._db.execute(
                "select session_total_usd from spending where session_id = ? "
                "order by id desc limit 1",
                [session_id],
            ).fetchone()
            previous = float(row[0]) if row and row[0] is not None else None
        cost = turn_cost(previous, reported_total)
        day = utc_day(now)
        if reported_total is not None and cost > 0:
            self._db.table("spending").insert(
                {
                    "thread_id": thread_id,
                    "session_id": session_id,
                    "user_id": user_id,
                    "day": day,
                    "cost_usd": cost,
                    "session_total_usd": reported_total,
                    "at": now,
                }
            )
        totals = Totals(
            thread=self._sum("thread_id = ?", [thread_id]),
            user_day=self._sum("user_id = ? and day = ?", [user_id, day])
            if user_id is not None
            else 0.0,
            all_day=self._sum("day = ?", [day]),
        )
        announced: list[tuple[Scope, float]] = []
        for scope in Scope:
            key, mark_day = _mark_key(scope, thread_id, user_id, day)
            rows = self._db.execute(
                "select level from budget_marks where scope = ? and key = ? and day = ?",
                [scope.value, key, mark_day],
            ).fetchall()
            announced.extend((scope, float(level)) for (level,) in rows)
        decision = assess(limits, totals, announced, self.budget_allowed(thread_id))
        for scope, level in decision.mark:
            key, mark_day = _mark_key(scope, thread_id, user_id, day)
            self._db.execute(
                "insert or ignore into budget_marks (scope, key, day, level, at) "
                "values (?, ?, ?, ?, ?)",
                [scope.value, key, mark_day, level, now],
            )
        return cost, decision

    def usage(self, day: str, *, top: int = 10) -> UsageReport:
        """What ``day`` cost in all, per user and per thread (the ``top`` of each)."""
        by_user = self._db.execute(
            "select user_id, sum(cost_usd) as c from spending where day = ? "
            "group by user_id order by c desc limit ?",
            [day, top],
        ).fetchall()
        by_thread = self._db.execute(
            "select thread_id, sum(cost_usd) as c from spending where day = ? "
            "group by thread_id order by c desc limit ?",
            [day, top],
        ).fetchall()
        return UsageReport(
            day=day,
            total=self._sum("day = ?", [day]),
            by_user=tuple((None if u is None else int(u), float(c)) for u, c in by_user),
            by_thread=tuple((int(t), float(c)) for t, c in by_thread),
        )

    def budget_allow(self, thread_id: int, extra_usd: float, approved_by: int, now: float) -> float:
        """An approver lets a thread spend ``extra_usd`` more; returns its allowance now."""
        self._db.table("budget_allowances").insert(
            {"thread_id": thread_id, "extra_usd": extra_usd, "approved_by": approved_by, "at": now}
        )
        return self.budget_allowed(thread_id)

    def budget_allowed(self, thread_id: int) -> float:
        """All that approvers let this thread spend beyond the budgets."""
        row = self._db.execute(
            "select coalesce(sum(extra_usd), 0) from budget_allowances where thread_id = ?",
            [thread_id],
        ).fetchone()
        return float(row[0])

    def thread_spent(self, thread_id: int) -> float:
        """All a thread has cost."""
        return self._sum("thread_id = ?", [thread_id])
