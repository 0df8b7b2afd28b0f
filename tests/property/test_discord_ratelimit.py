"""The REST rate limiter against a fake Discord that enforces real limits (stateful).

The fake server keeps a fixed-window bucket per route and major parameter (its own limit
and window, drawn at random, reported in X-RateLimit-* headers), the global 50 requests/s,
and the 0.25 s per-channel reaction rule; it answers 429 with Discord's body when a limit is
broken. Requests are processed when sent; responses come back later, in order per bucket.

Properties:
* the client never breaks the global budget nor the reaction rule (it enforces both ahead
  of time, so neither 429 ever happens);
* once a bucket has answered once, the client never gets a 429 from it;
* every submitted request is eventually sent and answered (nothing waits forever).
"""

from __future__ import annotations

import json
import math
from collections import deque

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from protocol.discord import routes
from protocol.discord.ratelimit import (
    Done,
    GiveUp,
    RateLimiter,
    ResponseInfo,
    RetryAt,
    SendNow,
    Ticket,
    WaitUntil,
)

ROUTE_CHOICES = [
    routes.CREATE_MESSAGE.compile(channel_id=1),
    routes.CREATE_MESSAGE.compile(channel_id=2),
    routes.EDIT_MESSAGE.compile(channel_id=1, message_id=5),
    routes.ADD_OWN_REACTION.compile(channel_id=1, message_id=5, emoji_name="👍"),
    routes.DELETE_OWN_REACTION.compile(channel_id=1, message_id=5, emoji_name="👍"),
    routes.ADD_OWN_REACTION.compile(channel_id=2, message_id=6, emoji_name="👀"),
    routes.CREATE_INTERACTION_RESPONSE.compile(interaction_id=9, interaction_token="tok"),
]


@attrs.define
class ServerBucket:
    limit: int
    window: float
    count: int = 0
    reset_at: float = 0.0


@attrs.define
class Request:
    route: routes.CompiledRoute
    attempt: int = 0
    not_before: float = 0.0
    refused: tuple[int, float] | None = None
    """The limiter's generation and the deadline of its last refusal."""


class RateLimiterAgainstFakeDiscord(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.limiter = RateLimiter()
        self.now = 0.0
        self.limits: dict[str, tuple[int, float]] = {}
        self.buckets: dict[str, ServerBucket] = {}
        self.global_sent: deque[float] = deque()
        self.reaction_last: dict[str, float] = {}
        self.queue: list[Request] = []
        self.in_flight: dict[str, deque[tuple[Ticket, ResponseInfo]]] = {}
        self.answered_buckets: set[str] = set()
        self.submitted = 0
        self.finished = 0

    @initialize(
        limits=st.lists(
            st.tuples(st.integers(1, 5), st.sampled_from([0.5, 1.0, 2.0, 5.0])),
            min_size=len(ROUTE_CHOICES),
            max_size=len(ROUTE_CHOICES),
        )
    )
    def configure(self, limits: list[tuple[int, float]]) -> None:
        for route, limit in zip(ROUTE_CHOICES, limits, strict=True):
            self.limits[f"{route.route_key}|{route.major}"] = limit

    # -- the fake server -------------------------------------------------------------------

    def _server(self, route: routes.CompiledRoute) -> ResponseInfo:
        key = f"{route.route_key}|{route.major}"
        if route.route.global_limited:
            while self.global_sent and self.global_sent[0] <= self.now - 1.0:
                self.global_sent.popleft()
            if len(self.global_sent) >= 50:
                raise AssertionError("the client broke the global 50/s budget")
            self.global_sent.append(self.now)
        if route.route.reaction:
            channel = route.channel_id
            assert channel is not None
            last = self.reaction_last.get(channel)
            assert last is None or self.now - last >= 0.25 - 1e-9, "reaction pacing broken"
            self.reaction_last[channel] = self.now
        limit, window = self.limits[key]
        bucket = self.buckets.setdefault(key, ServerBucket(limit=limit, window=window))
        if self.now >= bucket.reset_at:
            bucket.count, bucket.reset_at = 0, self.now + window
        # Rounded up to the millisecond, so the header never promises an earlier reset than
        # the server's own.
        reset_after = math.ceil((bucket.reset_at - self.now) * 1000) / 1000
        headers = {
            "X-RateLimit-Bucket": f"hash-{route.route.name}",
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Reset-After": str(reset_after),
        }
        if bucket.count >= limit:
            assert key not in self.answered_buckets, f"429 from {key} after it answered once"
            body = json.dumps(
                {
                    "message": "You are being rate limited.",
                    "retry_after": reset_after,
                    "global": False,
                }
            )
            return ResponseInfo(
                status=429,
                headers={**headers, "X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "user"},
                body=body,
            )
        bucket.count += 1
        return ResponseInfo(
            status=200, headers={**headers, "X-RateLimit-Remaining": str(limit - bucket.count)}
        )

    # -- the client driver -----------------------------------------------------------------

    @rule(index=st.integers(0, len(ROUTE_CHOICES) - 1), n=st.integers(1, 8))
    def submit(self, index: int, n: int) -> None:
        for _ in range(n):
            self.queue.append(Request(route=ROUTE_CHOICES[index], not_before=self.now))
            self.submitted += 1

    @precondition(lambda self: bool(self.queue))
    @rule()
    def send_ready_requests(self) -> None:
        self._ask(early=False)

    @precondition(lambda self: bool(self.queue))
    @rule()
    def ask_before_the_deadlines(self) -> None:
        """Ask for every waiting request, even before the deadline it was given: the
        scheduler skips asking while the limiter's ``generation`` is unchanged, which is
        only right if the answer would still be no."""
        self._ask(early=True)

    def _ask(self, *, early: bool) -> None:
        for request in list(self.queue):
            if request.not_before > self.now and not early:
                continue
            decision = self.limiter.acquire(request.route, self.now, attempt=request.attempt)
            if request.refused is not None:
                generation, deadline = request.refused
                if generation == self.limiter.generation and self.now < deadline:
                    assert isinstance(decision, WaitUntil), (
                        "allowed before the deadline of a refusal, with no slot released since"
                    )
            if isinstance(decision, WaitUntil):
                assert decision.deadline > self.now
                request.not_before = decision.deadline
                request.refused = (self.limiter.generation, decision.deadline)
                continue
            assert isinstance(decision, SendNow)
            self.queue.remove(request)
            response = self._server(request.route)
            key = f"{request.route.route_key}|{request.route.major}"
            self.in_flight.setdefault(key, deque()).append((decision.ticket, response))

    @precondition(lambda self: any(self.in_flight.values()))
    @rule(which=st.integers(0, 10))
    def deliver_response(self, which: int) -> None:
        keys = [k for k, q in self.in_flight.items() if q]
        key = keys[which % len(keys)]
        ticket, response = self.in_flight[key].popleft()
        if response.status == 200:
            self.answered_buckets.add(key)
        outcome = self.limiter.release(ticket, response, self.now)
        for waiting in self.queue:
            if waiting.not_before == math.inf:
                # WaitUntil(inf): the global slots all waited for responses; one came.
                waiting.not_before = self.now
        if isinstance(outcome, RetryAt):
            assert outcome.deadline >= self.now
            self.queue.append(
                Request(route=ticket.route, attempt=ticket.attempt + 1, not_before=outcome.deadline)
            )
        else:
            assert not isinstance(outcome, GiveUp), outcome
            assert isinstance(outcome, Done)
            self.finished += 1

    @rule(dt=st.sampled_from([0.01, 0.1, 0.25, 0.5, 1.0, 3.0]))
    def time_passes(self, dt: float) -> None:
        self.now += dt

    @invariant()
    def in_flight_counts_only_live_requests(self) -> None:
        # No (route, channel) entry is kept once its requests are answered: the limiter
        # scans them on every acquire, and a long run touches thousands.
        live = sum(len(q) for q in self.in_flight.values())
        assert sum(self.limiter._in_flight.values()) == live
        assert all(count > 0 for count in self.limiter._in_flight.values())

    @invariant()
    def nothing_lost(self) -> None:
        waiting = len(self.queue) + sum(len(q) for q in self.in_flight.values())
        assert self.finished + waiting == self.submitted

    def teardown(self) -> None:
        # Drain: with time moving on, every request is eventually sent and answered. Each
        # round sends what may go, answers it, then jumps to the next deadline.
        for _ in range(10_000):
            while any(self.in_flight.values()):
                self.deliver_response(0)
            if not self.queue:
                break
            self.send_ready_requests()
            if self.queue and not any(self.in_flight.values()):
                self.now = max(self.now, min(r.not_before for r in self.queue))
        assert self.finished == self.submitted, "a request never completed"


RateLimiterAgainstFakeDiscord.TestCase.settings = settings(
    stateful_step_count=40, deadline=None, parent=settings.get_profile(settings._current_profile)
)
TestRateLimiterAgainstFakeDiscord = RateLimiterAgainstFakeDiscord.TestCase
