"""Send budget, identify pacing and backoff, driven with explicit times."""

from __future__ import annotations

import random

import pytest

from protocol.discord.pacing import Backoff, IdentifyPacer, SendLimiter, heartbeat_reserve


def test_send_limiter_window_and_reserve() -> None:
    limiter = SendLimiter(limit=10, window=60.0, reserve=2)
    for i in range(8):
        assert limiter.try_acquire(float(i))
    assert not limiter.try_acquire(8.0)  # ordinary sends stop at limit - reserve
    assert limiter.next_free(8.0) == 60.0  # when the send at t=0 leaves the window
    assert limiter.try_acquire(8.0, priority=True)
    assert limiter.try_acquire(8.0, priority=True)
    assert not limiter.try_acquire(8.0, priority=True)
    assert limiter.next_free(8.0, priority=True) == 60.0
    assert limiter.sent_in_window(59.9) == 10
    assert limiter.try_acquire(60.0, priority=True)
    # After the window slides past, ordinary sends may go again.
    # At 61 the window holds 2..7, 8, 8, 60 (9 sends); two must leave: 2 and 3, at 63.
    assert limiter.next_free(61.0) == 63.0


def test_send_limiter_reset_and_validation() -> None:
    limiter = SendLimiter(limit=3, window=1.0, reserve=1)
    assert limiter.try_acquire(0.0)
    assert limiter.try_acquire(0.0)
    assert not limiter.try_acquire(0.0)
    limiter.reset()
    assert limiter.try_acquire(0.0)
    with pytest.raises(ValueError, match="reserve"):
        SendLimiter(limit=3, reserve=3)


def test_heartbeat_reserve() -> None:
    assert heartbeat_reserve(41.25) == 4  # two beats per minute at most, plus two requests
    assert heartbeat_reserve(60.0) == 3


def test_identify_pacer() -> None:
    pacer = IdentifyPacer()
    assert pacer.earliest(100.0) == 100.0
    pacer.record(100.0)
    assert pacer.earliest(101.0) == 105.0
    with pytest.raises(ValueError, match=r"within 5\.0 s"):
        pacer.record(104.9)
    pacer.record(105.0)


def test_backoff_grows_with_jitter_and_caps() -> None:
    backoff = Backoff(random.Random(3), base=1.0, factor=2.0, cap=8.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays[0] == 0.0
    for n, delay in enumerate(delays[1:], start=2):
        ceiling = min(8.0, 2.0 ** (n - 2))
        assert ceiling / 2 <= delay < ceiling
    backoff.reset()
    assert backoff.next_delay() == 0.0
