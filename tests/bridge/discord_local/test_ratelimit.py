"""Property tests of the server's rate limiter (sans-IO: ``now`` is a parameter)."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.discord_local import Realism, RouteLimit
from bridge.discord_local._ratelimit import Bucket, RateLimiter

BUCKET = Bucket("test", RouteLimit(limit=3, window=2.0))
times = st.lists(
    st.floats(min_value=0, max_value=20, allow_nan=False), min_size=1, max_size=80
).map(sorted)
majors = st.sampled_from(["1", "2"])


@given(times, st.lists(majors, min_size=80, max_size=80))
def test_buckets_match_a_fixed_window_model(when: list[float], who: list[str]) -> None:
    """Per major parameter: a window opens at its first request and allows 3 in 2 s."""
    limiter = RateLimiter(Realism.faithful(), wall_offset=0.0)
    model: dict[str, tuple[float, int]] = {}
    for now, major in zip(when, who, strict=False):
        start, count = model.get(major, (now, 0))
        if now >= start + 2.0:
            start, count = now, 0
        expect_allowed = count < 3
        model[major] = (start, count + 1 if expect_allowed else count)

        verdict = limiter.check(BUCKET, major, None, now, counts_global=False)
        assert verdict.allowed == expect_allowed
        assert verdict.headers["X-RateLimit-Bucket"] == BUCKET.hash
        reset_after = float(verdict.headers["X-RateLimit-Reset-After"])
        assert reset_after == pytest.approx(start + 2.0 - now, abs=1e-3)
        if expect_allowed:
            assert verdict.headers["X-RateLimit-Remaining"] == str(3 - count - 1)
        else:
            assert verdict.scope == "user"
            # retry_after is exactly the wait until the window resets.
            assert verdict.retry_after == pytest.approx(start + 2.0 - now)


@given(times)
def test_the_global_budget_holds_in_every_sliding_second(when: list[float]) -> None:
    realism = attrs.evolve(Realism.faithful(), global_per_second=5)
    limiter = RateLimiter(realism, wall_offset=0.0)
    allowed = []
    for now in when:
        verdict = limiter.check(None, "", "token", now, counts_global=True)
        if verdict.allowed:
            allowed.append(now)
        else:
            assert verdict.is_global
            assert 0 < verdict.retry_after <= 1.0
    for start in allowed:
        assert len([t for t in allowed if start <= t < start + 1.0]) <= 5
    # Requests 0.25 s apart (4 per second, under the budget of 5) are never refused.
    spaced = RateLimiter(realism, wall_offset=0.0)
    assert all(spaced.check(None, "", "t", i * 0.25, counts_global=True).allowed for i in range(50))


@given(times)
def test_limits_off_allows_everything(when: list[float]) -> None:
    limiter = RateLimiter(Realism.off(), wall_offset=0.0)
    assert all(limiter.check(BUCKET, "1", "token", now, counts_global=True).allowed for now in when)
