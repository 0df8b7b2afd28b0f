"""The session's side of usage-limit parking: the time from the store, the notices."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from bridge.config import Config
from bridge.sessions import machine as sm
from bridge.sessions.usage_parked import park_at_usage_limit, parked_text, resumed_text
from bridge.store import Database
from bridge.usage_limit import until_text


def _config() -> Config:
    # Only the two usage-limit fields are read.
    fields = {a.name: None for a in attrs.fields(Config) if a.default is attrs.NOTHING}
    return Config(**fields, usage_limit_retry_seconds=60.0, usage_limit_stagger_seconds=5.0)


async def test_a_reported_reset_is_the_time_shown_and_said_to_be_the_reset(
    tmp_path: Path,
) -> None:
    db = Database.open(tmp_path / "db.sqlite")

    async def store(fn: Callable[[Database], Any]) -> Any:
        return fn(db)

    now = 1_767_200_000.0
    reported = await park_at_usage_limit(store, _config(), 1, now + 400.0, now)
    assert reported == sm.UsageLimited(resume_in=400.0, until=until_text(now + 400), reported=True)
    # The next one parked waits after it, staggered, and says it is a retry of our own.
    retried = await park_at_usage_limit(store, _config(), 2, None, now)
    assert retried == sm.UsageLimited(resume_in=405.0, until=until_text(now + 405), reported=False)
    assert db.usage_parked_until(2) == now + 405.0


def test_the_notices() -> None:
    assert parked_text("15:20 UTC", reported=True) == (
        "⏸️ Paused until 15:20 UTC, when the usage limit resets. Messages sent here are kept "
        "and go with the resumed turn."
    )
    assert parked_text("15:20 UTC", reported=False) == (
        "⏸️ Paused: the account hit its usage limit; trying again at 15:20 UTC. Messages "
        "sent here are kept and go with the resumed turn."
    )
    assert resumed_text() == "▶️ Usage limit: trying again now."
