"""The REST rate-limit machine, driven with explicit times and Discord-shaped responses."""

from __future__ import annotations

import json
import random

import pytest

from protocol.discord import routes
from protocol.discord.ratelimit import (
    RESET_MARGIN,
    CloudflareBlockedError,
    ConnectionRetriesExhausted,
    Done,
    GiveUp,
    RateLimitedError,
    RateLimiter,
    ResponseInfo,
    RetryAt,
    SendNow,
    WaitUntil,
)

MSG_A = routes.CREATE_MESSAGE.compile(channel_id=1)
MSG_B = routes.CREATE_MESSAGE.compile(channel_id=2)


def headers(
    bucket: str = "abcd", limit: int = 5, remaining: int = 4, reset_after: float = 2.0
) -> dict[str, str]:
    return {
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset-After": str(reset_after),
    }


def grant(
    limiter: RateLimiter,
    route: routes.CompiledRoute,
    now: float,
    attempt: int = 0,
    *,
    persistent: bool = False,
) -> SendNow:
    decision = limiter.acquire(route, now, attempt=attempt, persistent=persistent)
    assert isinstance(decision, SendNow), decision
    return decision


def ok(limiter: RateLimiter, route: routes.CompiledRoute, now: float, **h: object) -> None:
    ticket = grant(limiter, route, now).ticket
    assert limiter.release(ticket, ResponseInfo(status=200, headers=headers(**h)), now) == Done(
        status=200
    )  # type: ignore[arg-type]


def test_unknown_bucket_lets_requests_through_then_learns_it() -> None:
    limiter = RateLimiter()
    first = grant(limiter, MSG_A, 0.0).ticket
    second = grant(limiter, MSG_A, 0.0).ticket  # unknown bucket: not limited yet
    limiter.release(
        first, ResponseInfo(status=200, headers=headers(remaining=1, reset_after=3.0)), 0.1
    )
    limiter.release(
        second, ResponseInfo(status=200, headers=headers(remaining=0, reset_after=2.9)), 0.2
    )
    decision = limiter.acquire(MSG_A, 0.3)
    assert isinstance(decision, WaitUntil)
    # Reset-After is millisecond-rounded: the reset is taken RESET_MARGIN later.
    assert decision.deadline == pytest.approx(3.1 + RESET_MARGIN)
    assert "exhausted" in decision.reason
    assert isinstance(limiter.acquire(MSG_A, 3.1), WaitUntil)
    assert isinstance(limiter.acquire(MSG_A, 3.1 + RESET_MARGIN), SendNow)
    snap = limiter.snapshot(3.2)
    assert snap.route_hashes == {MSG_A.route_key: "abcd"}


def test_remaining_counts_requests_in_flight() -> None:
    limiter = RateLimiter()
    ok(limiter, MSG_A, 0.0, remaining=2, reset_after=5.0)
    grant(limiter, MSG_A, 0.1)
    grant(limiter, MSG_A, 0.1)
    assert isinstance(limiter.acquire(MSG_A, 0.1), WaitUntil)


def test_abandon_frees_the_slot() -> None:
    limiter = RateLimiter()
    ok(limiter, MSG_A, 0.0, remaining=1, reset_after=5.0)
    ticket = grant(limiter, MSG_A, 0.1).ticket
    assert isinstance(limiter.acquire(MSG_A, 0.1), WaitUntil)
    limiter.abandon(ticket, 0.2)
    assert isinstance(limiter.acquire(MSG_A, 0.2), SendNow)


def test_major_parameters_separate_buckets_with_the_same_hash() -> None:
    limiter = RateLimiter()
    ok(limiter, MSG_A, 0.0, remaining=0, reset_after=5.0)
    assert isinstance(limiter.acquire(MSG_A, 0.1), WaitUntil)
    assert isinstance(limiter.acquire(MSG_B, 0.1), SendNow)


def test_routes_sharing_a_hash_share_a_bucket() -> None:
    limiter = RateLimiter()
    edit = routes.EDIT_MESSAGE.compile(channel_id=1, message_id=9)
    ok(limiter, MSG_A, 0.0, bucket="shared", remaining=3, reset_after=5.0)
    ok(limiter, edit, 0.1, bucket="shared", remaining=0, reset_after=4.9)
    assert isinstance(limiter.acquire(MSG_A, 0.2), WaitUntil)


def test_429_user_scope_waits_retry_after_and_counts_as_invalid() -> None:
    limiter = RateLimiter()
    ticket = grant(limiter, MSG_A, 0.0).ticket
    body = json.dumps(
        {"message": "You are being rate limited.", "retry_after": 1.5, "global": False, "code": 0}
    )
    outcome = limiter.release(
        ticket,
        ResponseInfo(
            status=429,
            headers={**headers(remaining=0, reset_after=1.0), "X-RateLimit-Scope": "user"},
            body=body,
        ),
        10.0,
    )
    later = 11.5 + RESET_MARGIN  # retry_after is millisecond-rounded too
    assert outcome == RetryAt(deadline=later, reason="429 (user) on CREATE_MESSAGE")
    wait = limiter.acquire(MSG_A, 10.5, attempt=1)
    assert isinstance(wait, WaitUntil)
    assert wait.deadline == pytest.approx(later)  # the later of retry_after and the header reset
    assert isinstance(limiter.acquire(MSG_A, later, attempt=1), SendNow)
    assert limiter.invalid_request_count(later) == 1


def test_429_global_pauses_every_globally_limited_route_but_not_interactions() -> None:
    limiter = RateLimiter()
    ticket = grant(limiter, MSG_A, 0.0).ticket
    body = json.dumps({"message": "global", "retry_after": 2.0, "global": True})
    outcome = limiter.release(
        ticket, ResponseInfo(status=429, headers={"X-RateLimit-Global": "true"}, body=body), 0.0
    )
    assert isinstance(outcome, RetryAt)
    blocked = limiter.acquire(MSG_B, 1.0)
    assert isinstance(blocked, WaitUntil)
    assert blocked.deadline == 2.0 + RESET_MARGIN
    assert "global" in blocked.reason
    callback = routes.CREATE_INTERACTION_RESPONSE.compile(interaction_id=1, interaction_token="t")
    assert isinstance(limiter.acquire(callback, 1.0), SendNow)


def test_shared_scope_429_is_not_counted_as_invalid() -> None:
    limiter = RateLimiter()
    ticket = grant(limiter, MSG_A, 0.0).ticket
    body = json.dumps({"message": "shared", "retry_after": 3.0, "global": False})
    limiter.release(
        ticket, ResponseInfo(status=429, headers={"x-ratelimit-scope": "shared"}, body=body), 0.0
    )
    assert limiter.invalid_request_count(0.0) == 0


def test_429_retries_are_bounded_and_long_waits_give_up() -> None:
    limiter = RateLimiter(max_retries=2, max_wait=60.0)
    body = json.dumps({"message": "slow", "retry_after": 0.5, "global": False})
    ticket = grant(limiter, MSG_A, 0.0, attempt=2).ticket
    outcome = limiter.release(ticket, ResponseInfo(status=429, body=body), 0.0)
    assert isinstance(outcome, GiveUp)
    assert isinstance(outcome.error, RateLimitedError)
    assert outcome.error.attempts == 3
    long_body = json.dumps({"message": "daily", "retry_after": 86400.0, "global": False})
    ticket = grant(limiter, MSG_B, 0.0).ticket
    outcome = limiter.release(ticket, ResponseInfo(status=429, body=long_body), 0.0)
    assert isinstance(outcome, GiveUp)
    assert "86400.00 s" in str(outcome.error)


def test_non_json_429_is_cloudflare() -> None:
    limiter = RateLimiter()
    ticket = grant(limiter, MSG_A, 0.0).ticket
    outcome = limiter.release(
        ticket, ResponseInfo(status=429, body=b"<html>error 1015</html>"), 0.0
    )
    assert isinstance(outcome, GiveUp)
    assert isinstance(outcome.error, CloudflareBlockedError)
    assert "Cloudflare" in str(outcome.error)


def test_global_budget_of_50_per_second_counted_from_the_responses() -> None:
    # Discord counts a request when it processes it, somewhere between our send and its
    # response: a slot is held from the send until one period after the response.
    limiter = RateLimiter()
    tickets = [
        grant(limiter, routes.CREATE_MESSAGE.compile(channel_id=100 + i), 0.0).ticket
        for i in range(50)
    ]
    blocked = limiter.acquire(MSG_A, 0.5)
    assert isinstance(blocked, WaitUntil)
    assert blocked.deadline == float("inf")  # every slot waits for a response
    assert "global budget" in blocked.reason
    for ticket in tickets[:10]:
        limiter.release(ticket, ResponseInfo(status=200), 0.9)
    for ticket in tickets[10:]:
        limiter.abandon(ticket, 0.95)  # no response: it may still have reached Discord
    blocked = limiter.acquire(MSG_A, 1.0)  # a send-time window would allow it now
    assert isinstance(blocked, WaitUntil)
    # One period after the oldest response, plus the safety margin for Discord's clock.
    assert blocked.deadline == pytest.approx(1.9 + RESET_MARGIN)
    assert limiter.snapshot(1.0).global_sent_last_second == 50
    at = blocked.deadline
    for i in range(10):
        grant(limiter, routes.CREATE_MESSAGE.compile(channel_id=200 + i), at)
    assert isinstance(limiter.acquire(MSG_A, at), WaitUntil)
    later = limiter.acquire(MSG_A, at)
    assert isinstance(later, WaitUntil)
    assert later.deadline == pytest.approx(1.95 + RESET_MARGIN)
    assert isinstance(limiter.acquire(MSG_A, later.deadline), SendNow)


def test_release_and_abandon_of_one_ticket_count_once() -> None:
    limiter = RateLimiter(global_limit=1)
    ticket = grant(limiter, MSG_A, 0.0).ticket
    limiter.release(ticket, ResponseInfo(status=200), 0.1)
    limiter.abandon(ticket, 0.2)
    assert limiter.snapshot(0.2).global_sent_last_second == 1
    assert isinstance(limiter.acquire(MSG_B, 1.1), WaitUntil)
    assert isinstance(limiter.acquire(MSG_B, 1.1 + RESET_MARGIN), SendNow)


def test_wait_until_is_always_after_now() -> None:
    # 0.1 + 1.0 - 1.0 != 0.1 in floats: a window test written as ``sent <= now - period``
    # kept the slot at now == sent + period and answered "wait until now" (the driver spun).
    for period in (1.0, 0.3, 0.7):
        for start in (0.1, 0.2, 0.3, 1e9 + 0.1, 12345.678):
            for at in (start + period, start + period * (1 - 1e-16), start + period / 2):
                limiter = RateLimiter(global_limit=1, global_period=period)
                ticket = grant(limiter, MSG_A, start).ticket
                limiter.release(ticket, ResponseInfo(status=200), start)
                decision = limiter.acquire(MSG_B, at)
                if isinstance(decision, WaitUntil):
                    assert decision.deadline > at
                    assert isinstance(limiter.acquire(MSG_B, decision.deadline), SendNow)


def test_reactions_paced_per_channel_whatever_the_headers_say() -> None:
    limiter = RateLimiter()
    react = routes.ADD_OWN_REACTION.compile(channel_id=1, message_id=2, emoji_name="👍")
    other = routes.DELETE_OWN_REACTION.compile(channel_id=1, message_id=3, emoji_name="👀")
    elsewhere = routes.ADD_OWN_REACTION.compile(channel_id=7, message_id=2, emoji_name="👍")
    ticket = grant(limiter, react, 0.0).ticket
    # Headers claim plenty of room; the 0.25 s rule still applies, across reaction routes.
    limiter.release(ticket, ResponseInfo(status=204, headers=headers(limit=10, remaining=9)), 0.01)
    wait = limiter.acquire(other, 0.1)
    assert isinstance(wait, WaitUntil)
    # Counted from the response (0.01), when Discord had processed it, not from the send.
    assert wait.deadline == pytest.approx(0.26)
    assert isinstance(limiter.acquire(elsewhere, 0.1), SendNow)
    assert isinstance(limiter.acquire(other, 0.25), WaitUntil)
    assert isinstance(limiter.acquire(other, 0.26), SendNow)


def test_a_slow_reaction_response_pushes_the_next_reaction_back() -> None:
    # Discord paces reactions by processing time: if the response took 0.2 s, a reaction
    # sent 0.25 s after the first send could be processed under 0.25 s after the first.
    limiter = RateLimiter()
    react = routes.ADD_OWN_REACTION.compile(channel_id=1, message_id=2, emoji_name="👍")
    again = routes.DELETE_OWN_REACTION.compile(channel_id=1, message_id=2, emoji_name="👍")
    ticket = grant(limiter, react, 0.0).ticket
    limiter.release(ticket, ResponseInfo(status=204), 0.2)
    wait = limiter.acquire(again, 0.25)
    assert isinstance(wait, WaitUntil)
    assert wait.deadline == pytest.approx(0.45)


def test_invalid_requests_counted_and_guarded() -> None:
    limiter = RateLimiter(invalid_guard=3)
    for t in range(3):
        ticket = grant(limiter, MSG_A, float(t)).ticket
        assert limiter.release(ticket, ResponseInfo(status=403), float(t)) == Done(status=403)
    assert limiter.invalid_request_count(3.0) == 3
    wait = limiter.acquire(MSG_B, 3.0)
    assert isinstance(wait, WaitUntil)
    assert wait.deadline == 600.0
    assert "invalid requests" in wait.reason
    assert limiter.invalid_request_count(600.0) == 2
    assert isinstance(limiter.acquire(MSG_B, 600.0), SendNow)
    # 404s do not count.
    ticket = grant(limiter, MSG_B, 600.5).ticket
    limiter.release(ticket, ResponseInfo(status=404), 600.5)
    assert limiter.invalid_request_count(600.5) == 2


def test_server_errors_retry_with_growing_delays() -> None:
    limiter = RateLimiter(max_retries=2)
    delays = []
    for attempt in range(3):
        ticket = grant(limiter, MSG_A, 0.0, attempt=attempt).ticket
        outcome = limiter.release(ticket, ResponseInfo(status=502), 0.0)
        delays.append(outcome)
    # Without an rng the backoff sits at 0.75 of its ceiling (1 s, then 2 s).
    assert delays[0] == RetryAt(deadline=0.75, reason="HTTP 502 from Discord")
    assert delays[1] == RetryAt(deadline=1.5, reason="HTTP 502 from Discord")
    assert delays[2] == Done(status=502)


def test_retry_backoff_is_exponential_with_jitter_from_the_rng() -> None:
    first = RateLimiter(rng=random.Random(7))
    second = RateLimiter(rng=random.Random(7))
    delays = [first.retry_delay(attempt) for attempt in range(8)]
    assert delays == [second.retry_delay(attempt) for attempt in range(8)]  # replayable
    for attempt, delay in enumerate(delays):
        ceiling = min(16.0, 2.0**attempt)
        assert ceiling / 2 <= delay < ceiling
    assert len({round(d / min(16.0, 2.0**a), 6) for a, d in enumerate(delays)}) > 1  # jitter


def test_connection_errors_retry_with_backoff_then_give_up() -> None:
    limiter = RateLimiter(max_connection_retries=2, rng=random.Random(1), global_limit=3)
    outcomes = []
    for attempt in range(3):
        ticket = grant(limiter, MSG_A, 10.0, attempt=attempt).ticket
        outcomes.append(limiter.connection_failed(ticket, 10.0, "ConnectError"))
    first, second, last = outcomes
    assert isinstance(first, RetryAt)
    assert 10.5 <= first.deadline < 11.0
    assert isinstance(second, RetryAt)
    assert 11.0 <= second.deadline < 12.0
    assert isinstance(last, GiveUp)
    assert isinstance(last.error, ConnectionRetriesExhausted)
    assert last.error.attempts == 3
    assert "ConnectError" in str(last.error)
    # Each failed attempt freed its bucket slot and holds its global slot one period.
    assert set(limiter.snapshot(10.0).in_flight.values()) == {0}
    assert isinstance(limiter.acquire(MSG_B, 10.5), WaitUntil)
    assert isinstance(limiter.acquire(MSG_B, 11.0 + RESET_MARGIN), SendNow)


def test_bucket_hash_change_moves_to_the_new_bucket() -> None:
    limiter = RateLimiter()
    delete = routes.DELETE_MESSAGE.compile(channel_id=1, message_id=5)
    ok(limiter, delete, 0.0, bucket="young", remaining=0, reset_after=1.0)
    assert isinstance(limiter.acquire(delete, 0.5), WaitUntil)
    ok(limiter, delete, 1.0 + RESET_MARGIN, bucket="old", remaining=29, reset_after=120.0)
    assert isinstance(limiter.acquire(delete, 1.1), SendNow)


def test_persistent_requests_never_give_up() -> None:
    # Message creates and edits wait as long as Discord asks, through any number of
    # 429s, 5xx and dropped connections (a Cloudflare block is asked about once a minute).
    limiter = RateLimiter(max_retries=2, max_connection_retries=2, max_wait=60.0)
    long_429 = json.dumps({"message": "slow", "retry_after": 86400.0, "global": False})
    for attempt in (0, 5, 500, 5000):
        ticket = grant(limiter, MSG_A, 0.0, attempt=attempt, persistent=True).ticket
        outcome = limiter.release(ticket, ResponseInfo(status=429, body=long_429), 0.0)
        assert outcome == RetryAt(
            deadline=86400.0 + RESET_MARGIN, reason="429 (user) on CREATE_MESSAGE"
        )
        at = 86400.0 + RESET_MARGIN
        ticket = grant(limiter, MSG_A, at, attempt=attempt, persistent=True).ticket
        outcome = limiter.release(ticket, ResponseInfo(status=503), at)
        assert isinstance(outcome, RetryAt)
        assert outcome.deadline - at <= 16.0
        ticket = grant(limiter, MSG_B, at, attempt=attempt, persistent=True).ticket
        outcome = limiter.connection_failed(ticket, at, "ReadError")
        assert isinstance(outcome, RetryAt)
        ticket = grant(limiter, MSG_B, at + 20, attempt=attempt, persistent=True).ticket
        outcome = limiter.release(ticket, ResponseInfo(status=429, body=b"<html>"), at + 20)
        assert isinstance(outcome, RetryAt)
        assert outcome.deadline - (at + 20) >= 60.0
        limiter = RateLimiter(max_retries=2, max_connection_retries=2, max_wait=60.0)
    # An answer retrying cannot change still ends it.
    ticket = grant(limiter, MSG_A, 0.0, persistent=True).ticket
    assert limiter.release(ticket, ResponseInfo(status=404), 0.0) == Done(status=404)


def test_the_invalid_request_window_says_when_it_has_room() -> None:
    limiter = RateLimiter()
    assert limiter.invalid_below_at(2, 0.0) == 0.0
    for t in (1.0, 2.0, 3.0):
        ticket = grant(limiter, MSG_A, t).ticket
        limiter.release(ticket, ResponseInfo(status=403), t)
    # Three in the window, room for fewer than 2 once two have left: at 2.0 + 600.
    assert limiter.invalid_below_at(2, 3.0) == 602.0
    assert limiter.invalid_below_at(4, 3.0) == 3.0


def test_a_refusal_holds_until_its_deadline_unless_a_slot_is_released() -> None:
    # The scheduler keeps a refusal while ``generation`` is unchanged; a freed slot (here a
    # request that got no response) must change it, since the refused one may go sooner.
    limiter = RateLimiter()
    ok(limiter, MSG_A, 0.0, limit=2, remaining=1, reset_after=5.0)
    in_flight = grant(limiter, MSG_A, 0.1).ticket
    refused = limiter.acquire(MSG_A, 0.2)
    assert isinstance(refused, WaitUntil)
    assert refused.deadline == pytest.approx(5.0 + RESET_MARGIN, abs=0.01)
    generation = limiter.generation
    assert isinstance(limiter.acquire(MSG_A, 0.3), WaitUntil)  # asking again: still no
    assert limiter.generation == generation
    limiter.connection_failed(in_flight, 0.4)
    assert limiter.generation != generation
    assert isinstance(limiter.acquire(MSG_A, 0.5), SendNow)  # long before 5 s


def test_answered_requests_leave_no_in_flight_entries() -> None:
    limiter = RateLimiter()
    for channel in range(1, 50):
        ok(limiter, routes.CREATE_MESSAGE.compile(channel_id=channel), 0.0)
    assert limiter._in_flight == {}
