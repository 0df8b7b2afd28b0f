"""Gateway pacing: the per-connection send limit, identify spacing and reconnect backoff.

All three take ``now`` (seconds on the driver's monotonic clock) and, where random, a
``random.Random``: none of them sleeps or reads a clock, so tests drive them directly.
"""

from __future__ import annotations

import math
import random
from collections import deque

from protocol.discord.gateway_codes import IDENTIFY_INTERVAL, SEND_LIMIT, SEND_WINDOW

__all__ = ["Backoff", "IdentifyPacer", "SendLimiter", "heartbeat_reserve"]


def heartbeat_reserve(heartbeat_interval: float, window: float = SEND_WINDOW) -> int:
    """How many of the window's sends to keep for heartbeats: every beat that can fall in
    one window, plus two for heartbeats the server asks for (op 1). hikari keeps 3 of 120."""
    return math.ceil(window / heartbeat_interval) + 2


class SendLimiter:
    """A sliding-window limit of ``limit`` sends per ``window`` seconds on one connection.

    The last ``reserve`` slots of every window are for priority sends (heartbeats), so
    ordinary sends can never starve them: an ordinary send is allowed while fewer than
    ``limit - reserve`` sends happened in the last ``window`` seconds; a priority send while
    fewer than ``limit``. Exceeding 120/60 s makes Discord close with 4008.
    """

    def __init__(
        self, *, limit: int = SEND_LIMIT, window: float = SEND_WINDOW, reserve: int = 3
    ) -> None:
        if not 0 <= reserve < limit:
            raise ValueError(f"reserve must be in [0, {limit}), got {reserve}")
        self.limit = limit
        self.window = window
        self.reserve = reserve
        self._sent: deque[float] = deque()

    def set_reserve(self, reserve: int) -> None:
        """Change the priority reserve (once HELLO tells us the heartbeat interval)."""
        self.reserve = max(0, min(reserve, self.limit - 1))

    def reset(self) -> None:
        """Forget all sends: the limit is per connection."""
        self._sent.clear()

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()

    def _capacity(self, priority: bool) -> int:
        return self.limit if priority else self.limit - self.reserve

    def next_free(self, now: float, *, priority: bool = False) -> float:
        """The earliest time (>= ``now``) at which a send of this kind will be allowed."""
        self._expire(now)
        capacity = self._capacity(priority)
        if len(self._sent) < capacity:
            return now
        # The send that must leave the window is the one ``capacity`` places from the end.
        return self._sent[len(self._sent) - capacity] + self.window

    def try_acquire(self, now: float, *, priority: bool = False) -> bool:
        """Record a send at ``now`` if allowed; return whether it was."""
        if self.next_free(now, priority=priority) > now:
            return False
        self._sent.append(now)
        return True

    def sent_in_window(self, now: float) -> int:
        self._expire(now)
        return len(self._sent)


class IdentifyPacer:
    """Never two IDENTIFYs within ``interval`` seconds (5 s: identify rate limit with
    max_concurrency 1; going over gives op 9 and burns one of 1000 daily session starts)."""

    def __init__(self, *, interval: float = IDENTIFY_INTERVAL) -> None:
        self.interval = interval
        self.last: float | None = None

    def earliest(self, now: float) -> float:
        """When the next IDENTIFY may be sent (``now`` if already allowed)."""
        if self.last is None:
            return now
        return max(now, self.last + self.interval)

    def record(self, now: float) -> None:
        """Note an IDENTIFY sent at ``now``.

        Raises:
            ValueError: it is too early (a bug in the caller, which must ask ``earliest``).
        """
        if self.earliest(now) > now:
            raise ValueError(
                f"IDENTIFY at {now:.3f} is within {self.interval} s of the last one at "
                f"{self.last:.3f}; wait until {self.earliest(now):.3f}"
            )
        self.last = now

    def answered(self, now: float) -> None:
        """Note that the last IDENTIFY was answered (READY, op 9, or its connection ended)
        at ``now``: the interval counts from here too.

        Discord counts an IDENTIFY when it *processes* it, at some moment between our send
        and its answer. Spacing our sends 5 s apart lets the next one be processed less
        than 5 s after the last (its answer was slow, the next one fast), and Discord then
        answers op 9. Counting from the answer means Discord's two moments are always at
        least ``interval`` apart, whatever the delays."""
        if self.last is not None:
            self.last = max(self.last, now)


class Backoff:
    """Exponential backoff with jitter for reconnects that keep failing.

    The first attempt after a success goes at once (Discord asks for prompt resumes); the
    n-th consecutive one (n >= 2) waits ``min(cap, base * factor**(n-2))`` scaled by a
    random factor in [0.5, 1.0) (jitter, so many clients do not reconnect in step). hikari
    uses factor 1.85 capped at 60 s.
    """

    def __init__(
        self,
        rng: random.Random,
        *,
        base: float = 1.0,
        factor: float = 1.85,
        cap: float = 60.0,
    ) -> None:
        self._rng = rng
        self.base = base
        self.factor = factor
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        """Count a failure and return how long to wait before the next attempt."""
        self.failures += 1
        if self.failures == 1:
            return 0.0
        ceiling = min(self.cap, self.base * self.factor ** (self.failures - 2))
        return ceiling * (0.5 + self._rng.random() / 2)

    def reset(self) -> None:
        self.failures = 0
