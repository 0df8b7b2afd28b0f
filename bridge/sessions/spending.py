"""Charging a turn's cost and announcing budgets: the store does the bookkeeping and the
decision in one call (``Database.spend``, deciding with :mod:`bridge.budget`); this is
the session's side of it, kept out of the session actor."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bridge.budget import Limits, notice_text
from bridge.store import Database
from protocol.claude import events as ev

__all__ = ["record_spending"]

log = logging.getLogger(__name__)


async def record_spending(
    store: Callable[[Callable[[Database], Any]], Awaitable[Any]],
    limits: Limits,
    thread_id: int,
    session_id: str | None,
    user_id: int | None,
    result: ev.Result,
    now: float,
) -> list[str]:
    """Record ``result``'s cost; the notices to post in the thread (maybe none)."""
    reported = result.total_cost_usd
    if reported is None:
        return []
    sid = session_id or result.session_id or None

    def spend(db: Database) -> Any:
        return db.spend(
            thread_id=thread_id,
            session_id=sid,
            user_id=user_id,
            reported_total=reported,
            limits=limits,
            now=now,
        )

    cost, decision = await store(spend)
    log.debug("thread %s: turn cost $%.4f", thread_id, cost)
    return [notice_text(n) for n in decision.notices]
