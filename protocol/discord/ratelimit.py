"""REST rate limits as a sans-IO machine: it says "send now" or "wait until T".

Theory of operation
-------------------
Discord limits requests per *bucket*. A bucket is identified by the hash in the
``X-RateLimit-Bucket`` response header plus the request's major parameters (channel, guild,
webhook+token; see :mod:`.routes`); several routes may share a hash, and a hash may change
between requests on one route (message deletes move between sub-buckets by message age).
Until a route has answered once, its bucket is unknown and we let requests through: the
first response teaches us (hikari's "unknown bucket").

Per bucket we keep ``limit``, ``remaining`` and ``reset_at`` (``now`` + the
``X-RateLimit-Reset-After`` seconds: the relative header, so clock skew with Discord does
not matter), and the number of requests in flight, which ``remaining`` does not yet count.

In front of all buckets (docs ``topics/rate-limits.mdx``; research §2):

* the global limit, 50 requests per second per bot, enforced ahead of time (neither
  discord.py nor hikari does; they only react to a global 429), and paused entirely after a
  429 with ``global: true``. Interaction callbacks are exempt. Discord counts a request
  when it *processes* it, at some unknown moment between our send and its response; two
  bursts a second apart by our send times can land within one second on Discord's clock
  (over real sockets: dozens of global 429s a minute at full load). So each globally
  limited request holds a slot from its send until ``global_period`` after its response
  (or after we gave up on it): then no ``global_limit + 1`` requests can ever be processed
  within one period, whatever the delays. While every slot waits for a response, the
  answer is ``WaitUntil(inf)``: ask again after the next ``release``/``abandon``.
* the reaction rule: reaction routes are spaced at least 0.25 s apart per channel, whatever
  the headers advertise (they are known to be wrong, discord/discord-api-docs#182, #2886).
* the invalid-request budget: Cloudflare bans an IP for a while after 10,000 responses with
  status 401, 403 or 429 in 10 minutes. We count them (a 429 with scope ``shared`` does not
  count, per the docs) and stop sending at a guard line below the ban line.

A 429 body is ``{message, retry_after (float seconds), global, code?}`` plus the
``X-RateLimit-Scope`` header (``user``, ``global`` or ``shared``). We wait ``retry_after``
(the body's float, not the ``Retry-After`` header, which is rounded) and retry a bounded
number of times. A 429 that is not Discord JSON comes from Cloudflare: give up and say so.

*Persistent* requests (``acquire(..., persistent=True)``: the driver uses it for message
creates, edits and everything else whose loss a user would see) never give up on a 429, a
5xx or a connection error: they wait as long as Discord asks (``retry_after``, however
long), back off with jitter on 5xx and connection errors, and after a Cloudflare block ask
again once every :data:`CLOUDFLARE_RETRY` seconds. Only an answer that retrying cannot
change (a 4xx other than 429, or success) ends them.

Discord rounds ``Reset-After`` and ``retry_after`` to the millisecond, and the response
reaches us a little after Discord computed them; a request sent exactly at the computed
reset can land a hair early and get a 429. Every reset we compute is therefore
:data:`RESET_MARGIN` later than the headers say.

Retries: a 5xx (Discord's fault) or a connection error (no response at all: report it with
:meth:`RateLimiter.connection_failed`) is retried after an exponential backoff with jitter
from the ``random.Random`` given to the constructor (so many clients, and our own queued
requests, do not retry in step), a bounded number of times. Creates carry a nonce, so a
retry of a request that did reach Discord does not duplicate it.

Every ``WaitUntil`` deadline is later than the ``now`` it answers, so a driver that sleeps
until it and asks again always makes progress (time tests and deadlines use one
expression, ``stamp + period``, so float rounding cannot disagree with itself).

Using it (the driver in ``bridge/discord/rest.py``)::

    while True:
        decision = limiter.acquire(route, now(), attempt=attempt)
        if isinstance(decision, WaitUntil):
            sleep until decision.deadline; continue
        response = send(decision.ticket.route)          # on cancel/error: limiter.abandon()
        outcome = limiter.release(decision.ticket, ResponseInfo(...), now())
        (on a connection error: outcome = limiter.connection_failed(ticket, now()))
        if isinstance(outcome, RetryAt): sleep until outcome.deadline; attempt += 1; continue
        if isinstance(outcome, GiveUp): raise outcome.error
        return response                                  # Done
"""

from __future__ import annotations

import collections
import itertools
import json
import math
import random
from collections import deque
from collections.abc import Mapping
from typing import Final

import attrs

from protocol.discord.routes import CompiledRoute

__all__ = [
    "CLOUDFLARE_RETRY",
    "GLOBAL_LIMIT",
    "GLOBAL_PERIOD",
    "INVALID_REQUEST_LIMIT",
    "INVALID_REQUEST_WINDOW",
    "REACTION_INTERVAL",
    "RESET_MARGIN",
    "BucketState",
    "CloudflareBlockedError",
    "ConnectionRetriesExhausted",
    "Done",
    "GiveUp",
    "RateLimitSnapshot",
    "RateLimitedError",
    "RateLimiter",
    "ResponseInfo",
    "RetryAt",
    "SendNow",
    "Ticket",
    "WaitUntil",
]

GLOBAL_LIMIT: Final = 50
GLOBAL_PERIOD: Final = 1.0
"""50 requests per second per bot (rate-limits.mdx "Global Rate Limit")."""
REACTION_INTERVAL: Final = 0.25
"""One reaction call per channel per 0.25 s (the real limit; headers advertise 1/1 s)."""
INVALID_REQUEST_LIMIT: Final = 10_000
INVALID_REQUEST_WINDOW: Final = 600.0
"""10,000 responses with 401/403/429 in 10 minutes -> temporary Cloudflare IP ban."""
_SERVER_ERRORS: Final = frozenset({500, 502, 503, 504})
RESET_MARGIN: Final = 0.01
"""Seconds added to every reset time from Discord's millisecond-rounded headers (measured:
without it, responses timed to the millisecond drew occasional 429s from the local server)."""
RETRY_BASE: Final = 1.0
RETRY_CAP: Final = 16.0
"""5xx / connection-error backoff: ``min(cap, base * 2**attempt)`` scaled by a random factor
in [0.5, 1.0): about 0.75, 1.5, 3, 6 s."""
CLOUDFLARE_RETRY: Final = 60.0
"""Seconds between attempts of a persistent request while Cloudflare blocks the IP: a block
lasts about an hour (rate-limits.mdx "Invalid Request Limit"), and every attempt during it
is one more invalid request."""


# ---------------------------------------------------------------------------------------------
# Values in and out
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Ticket:
    """Permission for one attempt of one request; give it back to ``release``/``abandon``."""

    id: int
    route: CompiledRoute
    attempt: int
    bucket_key: str
    global_limited: bool
    persistent: bool = False
    """Retry 429s, 5xx and connection errors for as long as it takes (never ``GiveUp``)."""


@attrs.frozen(kw_only=True)
class SendNow:
    ticket: Ticket


@attrs.frozen(kw_only=True)
class WaitUntil:
    """Ask again at ``deadline`` (the driver's clock, like every ``now`` given to us)."""

    deadline: float
    reason: str


@attrs.frozen(kw_only=True)
class ResponseInfo:
    """What the driver saw: status, headers (any case) and the body bytes or text."""

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes | str | None = None


@attrs.frozen(kw_only=True)
class Done:
    """Hand the response to the caller (success or an error status that retrying won't fix)."""

    status: int


@attrs.frozen(kw_only=True)
class RetryAt:
    """Send the same request again (``acquire`` with ``attempt + 1``) at ``deadline``."""

    deadline: float
    reason: str


@attrs.define(auto_exc=True, kw_only=True)
class RateLimitedError(Exception):
    """Discord kept answering 429, or asked for a wait longer than we accept."""

    route: str
    retry_after: float
    scope: str
    is_global: bool
    attempts: int

    def __str__(self) -> str:
        which = "the global limit" if self.is_global else f"the {self.scope} limit"
        return (
            f"{self.route} is rate limited by {which}: Discord asks to retry after "
            f"{self.retry_after:.2f} s, after {self.attempts} attempt(s); giving up instead "
            "of waiting (a long wait usually means a daily limit, e.g. command creation)"
        )


@attrs.define(auto_exc=True, kw_only=True)
class CloudflareBlockedError(Exception):
    """A 429 that is not Discord's JSON: Cloudflare is refusing this IP (the network's
    verdict, not a bucket we can wait out)."""

    route: str
    status: int
    invalid_requests: int

    def __str__(self) -> str:
        return (
            f"{self.route} got an HTTP {self.status} that is not Discord JSON: Cloudflare is "
            f"blocking this IP (usually after 10,000 invalid requests in 10 minutes; we "
            f"counted {self.invalid_requests}). Stop sending for a while and look for a "
            "request that keeps failing with 401/403/429"
        )


@attrs.define(auto_exc=True, kw_only=True)
class ConnectionRetriesExhausted(Exception):
    """A request got no response (connection refused, reset, timed out) ``attempts`` times:
    the network's or Discord's fault, not a bucket we can wait out."""

    route: str
    attempts: int
    detail: str

    def __str__(self) -> str:
        return (
            f"{self.route} got no response {self.attempts} time(s) (last: {self.detail}); "
            "giving up: check the network and https://discordstatus.com"
        )


@attrs.frozen(kw_only=True)
class GiveUp:
    error: RateLimitedError | CloudflareBlockedError | ConnectionRetriesExhausted


@attrs.define(kw_only=True)
class BucketState:
    limit: int | None = None
    remaining: int | None = None
    """As of the last response; requests still in flight are not counted in it."""
    reset_at: float | None = None


@attrs.frozen(kw_only=True)
class RateLimitSnapshot:
    buckets: dict[str, BucketState]
    in_flight: dict[str, int]
    """Requests sent and not yet answered, per bucket key."""
    route_hashes: dict[str, str]
    global_paused_until: float | None
    global_sent_last_second: int
    """Global slots held: requests in flight plus those answered within the last period."""
    invalid_requests: int


# ---------------------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------------------


class RateLimiter:
    """All REST rate-limit decisions for one bot token (see the module docstring).

    Args:
        global_limit / global_period: the ahead-of-time global budget.
        reaction_interval: minimum spacing of reaction calls per channel.
        invalid_guard: stop sending once this many 401/403/429 happened within
            ``invalid_window`` seconds (below Discord's 10,000 ban line).
        max_retries: retries after a 429 or 5xx before giving up.
        max_connection_retries: retries after connection errors before giving up.
        max_wait: a 429 asking for a longer wait gives up at once.
        rng: jitter for retry backoff. None: no jitter (every delay at 0.75 of its ceiling;
            for tests that want round numbers, not for production).
        retry_base / retry_cap: the 5xx and connection-error backoff (see
            :data:`RETRY_BASE`).

    ``max_retries``, ``max_connection_retries`` and ``max_wait`` do not apply to persistent
    requests.
    """

    def __init__(
        self,
        *,
        global_limit: int = GLOBAL_LIMIT,
        global_period: float = GLOBAL_PERIOD,
        reaction_interval: float = REACTION_INTERVAL,
        invalid_guard: int = INVALID_REQUEST_LIMIT * 9 // 10,
        invalid_window: float = INVALID_REQUEST_WINDOW,
        max_retries: int = 3,
        max_connection_retries: int = 4,
        max_wait: float = 300.0,
        rng: random.Random | None = None,
        retry_base: float = RETRY_BASE,
        retry_cap: float = RETRY_CAP,
    ) -> None:
        self.global_limit = global_limit
        self.global_period = global_period
        self.reaction_interval = reaction_interval
        self.invalid_guard = invalid_guard
        self.invalid_window = invalid_window
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.max_connection_retries = max_connection_retries
        self._rng = rng
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self._ids = itertools.count(1)
        self._hashes: dict[str, str] = {}
        self._buckets: dict[str, BucketState] = {}
        # In flight per (route key, major), not per bucket: a route's bucket may be learned
        # or change hash while its requests are out, and the count must follow it.
        self._in_flight: collections.Counter[tuple[str, str]] = collections.Counter()
        self._global_in_flight = 0
        self._global_done: deque[float] = deque()
        """When each recently answered globally limited request was answered."""
        self._open: set[int] = set()
        """Tickets granted and not yet released or abandoned."""
        self._global_paused_until: float | None = None
        self._reactions: dict[str, float] = {}
        self._invalid: deque[float] = deque()
        self.generation = 0
        """Counts the slot releases (``abandon``, ``release``, ``connection_failed``): only
        they can make a refused request allowed sooner than its ``WaitUntil`` deadline, so
        a driver may keep a refusal until that deadline while this number is unchanged."""

    # -- asking ----------------------------------------------------------------------------

    def acquire(
        self, route: CompiledRoute, now: float, *, attempt: int = 0, persistent: bool = False
    ) -> SendNow | WaitUntil:
        """May this request go now? If yes the grant is recorded (budget spent).
        ``persistent``: its outcome is never ``GiveUp`` (see the module docstring)."""
        key = self._bucket_key(route)
        bucket = self._buckets.get(key)
        waits: list[tuple[float, str]] = []
        global_limited = route.route.global_limited
        if global_limited:
            paused = self._global_paused_until
            if paused is not None and now < paused:
                waits.append((paused, "global rate limit (429 with global: true)"))
            self._expire_global(now)
            if self._global_in_flight + len(self._global_done) >= self.global_limit:
                # A slot frees one period after the oldest response; if every slot waits
                # for a response, only a release or abandon frees one.
                free_at = (
                    self._global_free_at(self._global_done[0]) if self._global_done else math.inf
                )
                waits.append((free_at, "global budget of 50 requests/s (by response time)"))
        if bucket is not None:
            if bucket.reset_at is not None and now >= bucket.reset_at:
                bucket.remaining, bucket.reset_at = bucket.limit, None
            in_flight = self._in_flight_for(key, route.major)
            if bucket.remaining is not None and bucket.remaining - in_flight <= 0:
                # Reset unknown (a response without Reset-After): try again shortly.
                at = bucket.reset_at if bucket.reset_at is not None else now + 1.0
                waits.append((at, f"bucket {key} exhausted"))
        channel = route.channel_id
        if route.route.reaction and channel is not None:
            last = self._reactions.get(channel)
            if last is not None and now < last + self.reaction_interval:
                waits.append((last + self.reaction_interval, "reaction pacing (0.25 s/channel)"))
        self._expire_invalid(now)
        if self._invalid and len(self._invalid) >= self.invalid_guard:
            waits.append(
                (
                    self._invalid[0] + self.invalid_window,
                    f"{len(self._invalid)} invalid requests in 10 minutes (ban line 10,000)",
                )
            )
        if waits:
            deadline, reason = max(waits)
            # Never "wait until now" (or earlier): a driver would ask again at once, forever.
            return WaitUntil(deadline=max(deadline, math.nextafter(now, math.inf)), reason=reason)
        if global_limited:
            self._global_in_flight += 1
        if route.route.reaction and channel is not None:
            self._reactions[channel] = now
        self._buckets.setdefault(key, BucketState())
        self._in_flight[(route.route_key, route.major)] += 1
        ticket = Ticket(
            id=next(self._ids),
            route=route,
            attempt=attempt,
            bucket_key=key,
            global_limited=global_limited,
            persistent=persistent,
        )
        self._open.add(ticket.id)
        return SendNow(ticket=ticket)

    def abandon(self, ticket: Ticket, now: float) -> None:
        """The request got no response (cancelled, network error): free its slot. Its
        global slot is held one more period: it may have reached Discord. Idempotent."""
        if ticket.id not in self._open:
            return
        self._open.discard(ticket.id)
        slot = (ticket.route.route_key, ticket.route.major)
        if self._in_flight[slot] > 1:
            self._in_flight[slot] -= 1
        else:
            # No zero entries: ``_in_flight_for`` scans them all, and a run touches one
            # (route, channel) pair per thread and route, so they would pile up.
            self._in_flight.pop(slot, None)
        self.generation += 1
        if ticket.global_limited:
            self._global_in_flight -= 1
            self._global_done.append(now)

    def connection_failed(self, ticket: Ticket, now: float, detail: str = "") -> RetryAt | GiveUp:
        """The request got no response (refused, reset, timed out): free its slot and say
        whether to retry (after a backoff with jitter) or give up."""
        self.abandon(ticket, now)
        if ticket.attempt >= self.max_connection_retries and not ticket.persistent:
            return GiveUp(
                error=ConnectionRetriesExhausted(
                    route=ticket.route.route.name, attempts=ticket.attempt + 1, detail=detail
                )
            )
        return RetryAt(
            deadline=now + self.retry_delay(ticket.attempt),
            reason=f"no response ({detail or 'connection error'})",
        )

    def retry_delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt + 1`` of a 5xx or a connection error."""
        # The exponent is capped: a persistent request may retry thousands of times.
        ceiling: float = min(self.retry_cap, self.retry_base * 2 ** min(attempt, 64))
        jitter = self._rng.random() if self._rng is not None else 0.5
        return ceiling * (0.5 + jitter / 2)

    # -- learning --------------------------------------------------------------------------

    def release(
        self, ticket: Ticket, response: ResponseInfo, now: float
    ) -> Done | RetryAt | GiveUp:
        """Learn from a response and say what to do with it."""
        self.abandon(ticket, now)
        headers = {k.lower(): v for k, v in response.headers.items()}
        route = ticket.route
        if route.route.reaction and route.channel_id is not None:
            # Discord spaces reactions by when it processed them, which is some time after
            # we sent: count the 0.25 s from the response too, or the next reaction can
            # arrive a few milliseconds early and draw a 429.
            channel = route.channel_id
            self._reactions[channel] = max(self._reactions.get(channel, now), now)
        key = self._learn(route, headers, now)
        status = response.status
        if status == 429:
            return self._on_429(ticket, key, headers, response.body, now)
        if status in (401, 403):
            self._invalid.append(now)
        if (status in _SERVER_ERRORS and ticket.attempt < self.max_retries) or (
            ticket.persistent and status >= 500
        ):
            return RetryAt(
                deadline=now + self.retry_delay(ticket.attempt),
                reason=f"HTTP {status} from Discord",
            )
        return Done(status=status)

    def _learn(self, route: CompiledRoute, headers: dict[str, str], now: float) -> str:
        bucket_hash = headers.get("x-ratelimit-bucket")
        if bucket_hash:
            self._hashes[route.route_key] = bucket_hash
        key = self._bucket_key(route)
        bucket = self._buckets.setdefault(key, BucketState())
        limit = _int(headers.get("x-ratelimit-limit"))
        remaining = _int(headers.get("x-ratelimit-remaining"))
        reset_after = _float(headers.get("x-ratelimit-reset-after"))
        if limit is not None:
            bucket.limit = limit
        if remaining is not None:
            bucket.remaining = remaining
        if reset_after is not None:
            bucket.reset_at = now + reset_after + RESET_MARGIN
        return key

    def _on_429(
        self,
        ticket: Ticket,
        key: str,
        headers: dict[str, str],
        body: bytes | str | None,
        now: float,
    ) -> RetryAt | GiveUp:
        name = ticket.route.route.name
        parsed = _json_object(body)
        retry_after = _float(parsed.get("retry_after")) if parsed is not None else None
        if parsed is None or retry_after is None:
            self._invalid.append(now)
            if ticket.persistent:
                return RetryAt(
                    deadline=now + max(CLOUDFLARE_RETRY, self.retry_delay(ticket.attempt)),
                    reason=f"429 from Cloudflare (not Discord JSON) on {name}",
                )
            return GiveUp(
                error=CloudflareBlockedError(
                    route=name, status=429, invalid_requests=self.invalid_request_count(now)
                )
            )
        is_global = bool(parsed.get("global")) or headers.get("x-ratelimit-global") == "true"
        scope = headers.get("x-ratelimit-scope") or ("global" if is_global else "user")
        if scope != "shared":
            # Shared-resource 429s are not our fault and do not count towards the ban line.
            self._invalid.append(now)
        wait_until = now + retry_after + RESET_MARGIN
        if is_global:
            self._global_paused_until = max(self._global_paused_until or now, wait_until)
        else:
            bucket = self._buckets.setdefault(key, BucketState())
            bucket.remaining = 0
            bucket.reset_at = max(bucket.reset_at or now, wait_until)
        gives_up = retry_after > self.max_wait or ticket.attempt >= self.max_retries
        if gives_up and not ticket.persistent:
            return GiveUp(
                error=RateLimitedError(
                    route=name,
                    retry_after=retry_after,
                    scope=scope,
                    is_global=is_global,
                    attempts=ticket.attempt + 1,
                )
            )
        return RetryAt(deadline=wait_until, reason=f"429 ({scope}) on {name}")

    # -- bookkeeping -----------------------------------------------------------------------

    def _bucket_key(self, route: CompiledRoute) -> str:
        return f"{self._hashes.get(route.route_key, route.route_key)}|{route.major}"

    def _in_flight_for(self, key: str, major: str) -> int:
        return sum(
            count
            for (route_key, route_major), count in self._in_flight.items()
            if route_major == major and f"{self._hashes.get(route_key, route_key)}|{major}" == key
        )

    # Expiry tests use the same expression as the deadlines (stamp + period <= now), so a
    # driver woken at a deadline always finds the slot free.

    def _global_free_at(self, answered_at: float) -> float:
        # RESET_MARGIN here too: Discord's one-second window is on its clock, and a slot
        # freed exactly at the edge by ours can land a hair inside it (the property test
        # against a fake Discord found such a float edge).
        return answered_at + self.global_period + RESET_MARGIN

    def _expire_global(self, now: float) -> None:
        done = self._global_done
        while done and self._global_free_at(done[0]) <= now:
            done.popleft()

    def _expire_invalid(self, now: float) -> None:
        while self._invalid and self._invalid[0] + self.invalid_window <= now:
            self._invalid.popleft()

    def invalid_below_at(self, threshold: int, now: float) -> float:
        """When fewer than ``threshold`` invalid requests will be in the window (``now`` if
        already; later ones can only push it back)."""
        self._expire_invalid(now)
        over = len(self._invalid) - threshold
        if threshold <= 0 or over < 0:
            return now
        return self._invalid[over] + self.invalid_window

    def invalid_request_count(self, now: float) -> int:
        """401/403/429 responses (shared-scope 429s excluded) in the last 10 minutes."""
        self._expire_invalid(now)
        return len(self._invalid)

    def snapshot(self, now: float) -> RateLimitSnapshot:
        self._expire_global(now)
        return RateLimitSnapshot(
            buckets={k: attrs.evolve(v) for k, v in self._buckets.items()},
            in_flight={k: self._in_flight_for(k, k.split("|", 1)[1]) for k in self._buckets},
            route_hashes=dict(self._hashes),
            global_paused_until=self._global_paused_until,
            global_sent_last_second=self._global_in_flight + len(self._global_done),
            invalid_requests=self.invalid_request_count(now),
        )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]  # any object: float() raising is the answer
    except (TypeError, ValueError):
        return None


def _json_object(body: bytes | str | None) -> dict[str, object] | None:
    if body is None:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
