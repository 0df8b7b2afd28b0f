"""Charging a turn's cost and announcing budgets: the store does the bookkeeping and the
decision in one call (``Database.spend``, deciding with :mod:`bridge.budget`); this is
the session's side of it, kept out of the session actor."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from bridge.budget import PARK_OFFERS, Limits, Scope, notice_text
from bridge.sessions.presentation.render import MessagePayload
from bridge.store import Database
from protocol.claude import events as ev
from protocol.discord import models as m

__all__ = [
    "BUDGET_PREFIX",
    "budget_custom_id",
    "parked_payload",
    "parse_budget_custom_id",
    "record_spending",
]

log = logging.getLogger(__name__)


async def record_spending(
    store: Callable[[Callable[[Database], Any]], Awaitable[Any]],
    limits: Limits,
    thread_id: int,
    session_id: str | None,
    user_id: int | None,
    result: ev.Result,
    now: float,
) -> tuple[list[str], tuple[Scope, ...]]:
    """Record ``result``'s cost; the notices to post in the thread (maybe none), and the
    budgets used up for this thread (the session parks when the turn ends)."""
    reported = result.total_cost_usd
    if reported is None:
        return [], ()
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
    return [notice_text(n) for n in decision.notices], decision.over


BUDGET_PREFIX: Final = "ccb:mgmt:budget:"
"""``ccb:mgmt:budget:<thread_id>:<cents>``: an approver's "continue with +$N"."""


def budget_custom_id(thread_id: int, extra_usd: float) -> str:
    return f"{BUDGET_PREFIX}{thread_id}:{round(extra_usd * 100)}"


def parse_budget_custom_id(custom_id: str) -> tuple[int, float] | None:
    """``(thread_id, extra_usd)`` of a "continue" button, or ``None`` (junk included)."""
    if not custom_id.startswith(BUDGET_PREFIX):
        return None
    thread, sep, cents = custom_id[len(BUDGET_PREFIX) :].partition(":")
    if not sep or not thread.isascii() or not cents.isascii():
        return None
    if not thread.isdigit() or not cents.isdigit() or len(thread) > 19 or len(cents) > 9:
        return None
    if not 0 < int(thread) < 2**63 or int(cents) == 0:
        return None
    return int(thread), int(cents) / 100


def parked_payload(thread_id: int, why: str) -> MessagePayload:
    """The parking notice, with a "continue with +$N" button per offer for approvers."""
    buttons: list[m.Component] = [
        m.Button(
            style=m.ButtonStyle.PRIMARY,
            label=f"Continue with +${extra:g}",
            custom_id=budget_custom_id(thread_id, extra),
        )
        for extra in PARK_OFFERS
    ]
    return MessagePayload(
        content=(
            f"⏸️ Paused: {why}. Messages sent here are kept; an approver can let the "
            "session continue."
        ),
        components=(m.ActionRow(components=buttons),),
    )
