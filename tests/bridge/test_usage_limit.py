"""When a session parked at the usage limit tries again (bridge.usage_limit), and the
store's one-call parking that decides it (issue 13)."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bridge.store import Database
from bridge.usage_limit import GROWTH_CAP, resume_at, retry_interval, until_text


def test_the_retry_interval_doubles_per_hit_and_is_capped() -> None:
    assert [retry_interval(300.0, n) for n in range(5)] == [300, 600, 1200, 2400, 2400]
    assert retry_interval(300.0, 10_000) == 300 * GROWTH_CAP


def test_a_reported_reset_wins_over_the_retry_interval_and_the_stagger_orders() -> None:
    common = {"strikes": 0, "retry_seconds": 300.0, "stagger_seconds": 2.0}
    assert resume_at(now=100.0, resets_at=5000.0, waiting=(), **common) == 5000.0
    assert resume_at(now=100.0, resets_at=50.0, waiting=(), **common) == 400.0  # past: ignored
    assert resume_at(now=100.0, resets_at=5000.0, waiting=(5000.0,), **common) == 5002.0
    assert resume_at(now=101.0, resets_at=None, waiting=(400.0,), **common) == 402.0


def test_until_text_shows_seconds_only_off_the_minute() -> None:
    assert until_text(1767200400.0) == "17:00 UTC"
    assert until_text(1767200405.0) == "17:00:05 UTC"


@given(
    parks=st.lists(
        st.tuples(st.floats(0, 100), st.none() | st.floats(0, 2000)), min_size=1, max_size=8
    ),
    retry=st.floats(0.5, 600),
    stagger=st.floats(0.5, 10),
)
def test_sessions_resume_in_the_order_they_parked_staggered(
    parks: list[tuple[float, float | None]], retry: float, stagger: float
) -> None:
    db = Database.open(":memory:")
    now = 1_000.0
    times = []
    for thread, (step, resets) in enumerate(parks, start=1):
        now += step
        at = db.usage_park(
            thread,
            now=now,
            resets_at=None if resets is None else now + resets,
            retry_seconds=retry,
            stagger_seconds=stagger,
        )
        assert at > now  # never at once: the limit was just hit
        assert db.usage_parked_until(thread) == at
        times.append(at)
    for earlier, later in itertools.pairwise(times):
        assert later >= earlier + stagger - 1e-9


def test_a_session_parked_again_waits_longer_until_a_turn_gets_through(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite")
    park = {"resets_at": None, "retry_seconds": 10.0, "stagger_seconds": 2.0}
    assert db.usage_park(7, now=0.0, **park) == 10.0
    db.usage_resumed(7)
    assert db.usage_parked_until(7) is None
    assert db.usage_park(7, now=10.0, **park) == 30.0  # twice the wait
    db.usage_resumed(7)
    db.usage_cleared(7)
    assert db.usage_park(7, now=40.0, **park) == 50.0
