"""REST rate-limit bookkeeping for the client: when may a request go, what did a response say.

Theory of operation
-------------------
Three limits sit in front of every request (shared/research/discord-protocol.md §2):

* **Per-route buckets.** A request is counted under ``bucket_key`` (route + major
  parameter) until a response names the bucket (``X-RateLimit-Bucket``); from then on every
  route with that hash shares one state per major parameter. A bucket state is
  ``remaining`` requests until ``reset_at``; ``X-RateLimit-Reset-After`` is read relative to
  when the *response* arrived, which can only make us later than the server, never earlier.
* **The global budget**: 50 requests per second per bot, a sliding window here. The server
  counts arrival times and we count send times, so the window is stretched by a margin.
  Interaction callbacks and interaction-token webhook routes are outside it.
* **Reaction pacing**: one reaction call per channel per 0.25 s whatever the headers say
  (discord-api-docs#182).

A 429 tells us how long to wait (``retry_after`` from the body, the float Discord means,
discord-api-docs#7394): a global one pauses every globally limited request, any other one
that bucket. 401, 403 and 429 (except ``scope: shared``) count as invalid requests, which
Discord bans at 10,000 per 10 minutes.

Nothing here sleeps or reads a clock: ``now`` is a parameter (trio's clock in the client).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, Final

import attrs

from bridge.discord._routes import CompiledRoute

__all__ = ["INVALID_WINDOW", "RateLimitVerdict", "RestLimits"]

GLOBAL_PER_SECOND: Final = 50
"""Discord's global budget per bot token (docs topics/rate-limits.mdx "Global Rate Limit")."""
GLOBAL_MARGIN: Final = 0.1
"""Seconds added to the 1 s global window: our send times and the server's arrival times
differ by network jitter, and a 429 costs more than 10% of the budget."""
REACTION_INTERVAL: Final = 0.25
"""Observed real pacing of reaction calls per channel (discord-api-docs#182, #2886)."""
RESET_MARGIN: Final = 0.01
"""Seconds added to every reset time we are told: Discord (and the local server) round
``Reset-After`` and ``retry_after`` to milliseconds, and a request that lands a fraction of
a millisecond before the window ends is refused."""
INVALID_WINDOW: Final = 600.0
"""Discord's invalid-request ban counts 401/403/429 over 10 minutes."""


@attrs.define
class _Bucket:
    limit: int
    remaining: int
    reset_at: float


@attrs.frozen
class RateLimitVerdict:
    """What a response means for the request."""

    retry_after: float | None = None
    """Set for a 429: wait this long, then send the request again."""
    is_global: bool = False
    scope: str | None = None


class RestLimits:
    def __init__(
        self,
        *,
        global_per_second: int = GLOBAL_PER_SECOND,
        global_margin: float = GLOBAL_MARGIN,
        reaction_interval: float = REACTION_INTERVAL,
    ) -> None:
        self.global_per_second = global_per_second
        self.global_window = 1.0 + global_margin
        self.reaction_interval = reaction_interval
        self._hashes: dict[str, str] = {}
        """route key -> bucket hash learned from X-RateLimit-Bucket."""
        self._buckets: dict[str, _Bucket] = {}
        self._global_sent: deque[float] = deque()
        self._global_until = -math.inf
        self._reaction_next: dict[str, float] = {}
        self._invalid: deque[float] = deque()

    def lane(self, route: CompiledRoute) -> str:
        """The bucket state this request counts against. The client sends one request per
        lane at a time, so requests in one channel keep their order and every response
        describes all our requests on the bucket."""
        return self._state_key(route)

    def _state_key(self, route: CompiledRoute) -> str:
        if route.route.reaction:
            return route.bucket_key
        bucket_hash = self._hashes.get(route.key)
        return f"{bucket_hash}|{route.major}" if bucket_hash else route.bucket_key

    def ready_at(self, route: CompiledRoute, now: float) -> float:
        """The earliest time (>= ``now``) the request may be sent."""
        at = now
        bucket = self._buckets.get(self._state_key(route))
        if bucket is not None and bucket.remaining <= 0 and bucket.reset_at > now:
            at = bucket.reset_at
        if route.route.reaction:
            at = max(at, self._reaction_next.get(route.major, now))
        if route.route.counts_global:
            at = max(at, self._global_ready_at(now))
        return at

    def _global_ready_at(self, now: float) -> float:
        sent = self._global_sent
        while sent and sent[0] <= now - self.global_window:
            sent.popleft()
        at = self._global_until
        if len(sent) >= self.global_per_second:
            at = max(at, sent[len(sent) - self.global_per_second] + self.global_window)
        return max(at, now)

    def on_send(self, route: CompiledRoute, now: float) -> None:
        """Count a request that goes out at ``now`` (call only when ``ready_at <= now``)."""
        bucket = self._buckets.get(self._state_key(route))
        if bucket is not None:
            if bucket.reset_at <= now:
                bucket.remaining = bucket.limit
            bucket.remaining -= 1
        if route.route.reaction:
            self._reaction_next[route.major] = now + self.reaction_interval
        if route.route.counts_global:
            self._global_sent.append(now)

    def on_response(
        self,
        route: CompiledRoute,
        status: int,
        headers: Mapping[str, str],
        body: Any,
        now: float,
    ) -> RateLimitVerdict:
        """Learn from a response's headers; for a 429 say how long to wait."""
        bucket_hash = headers.get("x-ratelimit-bucket")
        if bucket_hash and not route.route.reaction:
            self._hashes[route.key] = bucket_hash
        limit = _number(headers.get("x-ratelimit-limit"))
        remaining = _number(headers.get("x-ratelimit-remaining"))
        reset_after = _number(headers.get("x-ratelimit-reset-after"))
        if limit is not None and remaining is not None and reset_after is not None:
            # The client keeps one request in flight per lane (see :meth:`lane`), so the
            # response describes every request we made on this bucket: take it as it is.
            self._buckets[self.lane(route)] = _Bucket(
                int(limit), int(remaining), now + reset_after + RESET_MARGIN
            )
        if status in (401, 403):
            self._invalid.append(now)
        if status != 429:
            return RateLimitVerdict()
        scope = headers.get("x-ratelimit-scope")
        is_global = headers.get("x-ratelimit-global", "").lower() == "true"
        retry_after = None
        if isinstance(body, dict):
            is_global = is_global or bool(body.get("global"))
            retry_after = _number(body.get("retry_after"))
        if retry_after is None:
            retry_after = _number(headers.get("retry-after")) or 1.0
        wait = retry_after + RESET_MARGIN
        if scope != "shared":
            self._invalid.append(now)
        if is_global:
            self._global_until = max(self._global_until, now + wait)
        else:
            key = self._state_key(route)
            bucket = self._buckets.setdefault(key, _Bucket(1, 0, now + wait))
            bucket.remaining = 0
            bucket.reset_at = max(bucket.reset_at, now + wait)
        return RateLimitVerdict(retry_after=retry_after, is_global=is_global, scope=scope)

    def invalid_requests(self, now: float) -> int:
        """401/403/429 responses in the last 10 minutes."""
        while self._invalid and self._invalid[0] <= now - INVALID_WINDOW:
            self._invalid.popleft()
        return len(self._invalid)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None
