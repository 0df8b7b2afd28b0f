"""Server-side rate limits: per-route buckets, the global budget and reaction pacing.

Theory of operation
-------------------
Discord groups routes into buckets. Each bucket has a hash (sent as ``X-RateLimit-Bucket``)
that leaves out the *major parameter* (``channel_id``, ``guild_id`` or ``webhook_id`` +
token), and the limit is counted per (hash, major) pair (docs, topics/rate-limits.mdx).
We keep a fixed window per pair: it opens on its first request and lasts ``window``
seconds; ``X-RateLimit-Reset-After`` is the time left in it. All reaction routes share one
bucket whose window is the observed 0.25 s per channel (discord-api-docs#182), and the
headers tell that truth. Over all of it sits a sliding one-second global budget per bot
token, which interaction callbacks and webhook-token routes do not count against (docs,
receiving-and-responding.mdx "Endpoints").

Nothing here sleeps or reads a clock: ``now`` is a parameter.
"""

from __future__ import annotations

import hashlib
from collections import deque

import attrs

from ._config import Realism, RouteLimit


@attrs.frozen
class Bucket:
    """A named bucket shared by one or more routes."""

    name: str
    limit: RouteLimit

    @property
    def hash(self) -> str:
        """An opaque 32-hex id like Discord's; stable per bucket name."""
        return hashlib.sha256(self.name.encode()).hexdigest()[:32]


@attrs.frozen
class Verdict:
    """What the limiter decided for one request."""

    allowed: bool
    headers: dict[str, str]
    """``X-RateLimit-*`` headers to send with the response."""
    retry_after: float = 0.0
    scope: str | None = None
    """``user`` or ``global`` on a 429."""

    @property
    def is_global(self) -> bool:
        return self.scope == "global"


class RateLimiter:
    """Counts requests per (bucket, major parameter) and per token; decides 429s."""

    def __init__(self, realism: Realism, wall_offset: float) -> None:
        self.realism = realism
        self.wall_offset = wall_offset
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._global: dict[str, deque[float]] = {}

    def check(
        self,
        bucket: Bucket | None,
        major: str,
        token: str | None,
        now: float,
        *,
        counts_global: bool,
    ) -> Verdict:
        """Count one request and say whether it may proceed.

        Args:
            bucket: the route's bucket, or None for routes with only the global limit.
            major: the major parameter value(s) joined, "" if none.
            token: the bot token for the global budget, or None when not counted.
            now: ``trio.current_time()``.
            counts_global: False for interaction callbacks and webhook-token routes.
        """
        if not self.realism.rate_limits:
            return Verdict(True, {})
        if counts_global and token is not None:
            window = self._global.setdefault(token, deque())
            # Evict with the same expression the retry uses, so float rounding can never
            # keep an entry whose retry_after would come out as 0.
            while window and window[0] + 1.0 - now <= 0:
                window.popleft()
            if len(window) >= self.realism.global_per_second:
                retry = window[0] + 1.0 - now
                return Verdict(False, {"X-RateLimit-Global": "true"}, retry, "global")
            window.append(now)
        if bucket is None:
            return Verdict(True, {})
        limit = self.realism.scaled(bucket.limit)
        key = (bucket.hash, major)
        start, count = self._windows.get(key, (now, 0))
        if now >= start + limit.window:
            start, count = now, 0
        reset_after = start + limit.window - now
        headers = {
            "X-RateLimit-Limit": str(limit.limit),
            "X-RateLimit-Reset": f"{start + limit.window + self.wall_offset:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket.hash,
        }
        if count >= limit.limit:
            self._windows[key] = (start, count)
            return Verdict(False, {**headers, "X-RateLimit-Remaining": "0"}, reset_after, "user")
        self._windows[key] = (start, count + 1)
        return Verdict(True, {**headers, "X-RateLimit-Remaining": str(limit.limit - count - 1)})
