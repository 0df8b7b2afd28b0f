"""How faithful the local server is: limits, deadlines and timings, in one frozen value.

Tests pick a preset (:meth:`Realism.faithful`, :meth:`Realism.off`, :meth:`Realism.strict`)
and override single fields with :func:`attrs.evolve`.
"""

from __future__ import annotations

import attrs

# Intent bits (Discord docs, developers/events/gateway.mdx "List of Intents").
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
GUILD_MESSAGE_TYPING = 1 << 11
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
# Every bit Discord defines today (bits 17-19 and 22-23 are unassigned); other bits give 4013.
KNOWN_INTENTS = 0b11001100011111111111111111
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


@attrs.frozen(kw_only=True)
class RouteLimit:
    """One per-route bucket: ``limit`` requests per ``window`` seconds per major parameter."""

    limit: int
    """Requests allowed in one window."""
    window: float
    """Seconds from the first request of a window until it resets (X-RateLimit-Reset-After)."""


@attrs.frozen(kw_only=True)
class Realism:
    """Which of Discord's limits the server enforces, and with what numbers."""

    rate_limits: bool = True
    """Per-route buckets and the global limit; off means no 429s except injected ones."""
    global_per_second: int = 50
    """Discord's global budget per bot token (docs, topics/rate-limits.mdx "Global Rate Limit")."""
    reaction_interval: float = 0.25
    """Real pacing of reaction calls per channel (discord-api-docs#182: ~1 per 0.25 s)."""
    bucket_scale: float = 1.0
    """Multiplies every bucket's limit (rounded down, at least 1); ``strict`` uses a small value."""
    interaction_deadline: float | None = 3.0
    """Seconds to send the initial interaction response; later gives 10062. None: no deadline."""
    interaction_token_ttl: float | None = 15 * 60.0
    """Seconds an interaction token works on webhook routes; None: forever."""
    enforce_documented_limits: bool = True
    """Reject bodies over Discord's documented limits (2000 characters, embed totals, ...)."""
    heartbeat_interval: float = 41.25
    """Seconds sent in HELLO (Discord sends 41250 ms)."""
    heartbeat_grace: float = 1.5
    """A connection silent for ``heartbeat_interval * heartbeat_grace`` is closed as a zombie."""
    gateway_send_limit: int = 120
    """Client payloads allowed per ``gateway_send_window`` before close 4008 (gateway.mdx)."""
    gateway_send_window: float = 60.0
    identify_interval: float = 5.0
    """max_concurrency 1: a second IDENTIFY within this many seconds gets op 9 (gateway.mdx)."""
    session_start_total: int = 1000
    """session_start_limit.total in /gateway/bot; each IDENTIFY uses one."""
    privileged_intents_enabled: int = PRIVILEGED_INTENTS
    """Privileged intents switched on "in the developer portal"; others give close 4014."""
    resume_window: float | None = 180.0
    """Seconds a disconnected session stays resumable; Discord says "a few minutes"
    (gateway.mdx "Initiating a Disconnect"). None: forever."""
    replay_buffer: int = 1000
    """Dispatches kept per session for RESUME; a resume from further back gets op 9 false."""
    outbox_size: int = 10_000
    """Payloads queued per connection; a client that falls further behind is disconnected
    (its session stays resumable)."""
    split_zlib_frames: bool = False
    """Send each zlib-stream message in two WebSocket frames, to test client buffering."""

    @classmethod
    def faithful(cls) -> Realism:
        """Discord's documented and observed numbers (the default)."""
        return cls()

    @classmethod
    def off(cls) -> Realism:
        """No rate limits, pacing or deadlines: for tests about something else."""
        return cls(
            rate_limits=False,
            reaction_interval=0.0,
            interaction_deadline=None,
            interaction_token_ttl=None,
            identify_interval=0.0,
        )

    @classmethod
    def strict(cls) -> Realism:
        """Faithful, but every bucket allows one request a window: 429s come quickly."""
        return cls(bucket_scale=0.0)

    def scaled(self, limit: RouteLimit) -> RouteLimit:
        """The bucket as enforced under :attr:`bucket_scale`."""
        return RouteLimit(limit=max(1, int(limit.limit * self.bucket_scale)), window=limit.window)
