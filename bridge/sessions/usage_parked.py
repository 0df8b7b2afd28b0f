"""The session's side of parking at the account's usage limit (issue 13), kept out of
the session actor: ask the store for the time to try again (decided there, with
:func:`bridge.usage_limit.resume_at`, in one call) and word the notices."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bridge.config import Config
from bridge.sessions import machine as sm
from bridge.store import Database
from bridge.usage_limit import until_text

__all__ = ["park_at_usage_limit", "parked_text", "resumed_text"]


async def park_at_usage_limit(
    store: Callable[[Callable[[Database], Any]], Awaitable[Any]],
    config: Config,
    thread_id: int,
    resets_at: float | None,
    now: float,
) -> sm.UsageLimited:
    """Record the parking; the machine's input saying when it tries again."""

    def park(db: Database) -> float:
        return db.usage_park(
            thread_id,
            now=now,
            resets_at=resets_at,
            retry_seconds=config.usage_limit_retry_seconds,
            stagger_seconds=config.usage_limit_stagger_seconds,
        )

    at: float = await store(park)
    reported = resets_at is not None and resets_at > now
    return sm.UsageLimited(resume_in=at - now, until=until_text(at), reported=reported)


def parked_text(until: str, *, reported: bool) -> str:
    why = (
        f"⏸️ Paused until {until}, when the usage limit resets."
        if reported
        else f"⏸️ Paused: the account hit its usage limit; trying again at {until}."
    )
    return f"{why} Messages sent here are kept and go with the resumed turn."


def resumed_text() -> str:
    return "▶️ Usage limit: trying again now."
