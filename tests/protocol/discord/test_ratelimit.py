"""The REST rate-limit machine, driven with explicit times and Discord-shaped responses."""

from __future__ import annotations

import json

import pytest

from protocol.discord import routes
from protocol.discord.ratelimit import (
    CloudflareBlockedError,
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
    limiter: RateLimiter, route: routes.CompiledRoute, now: float, attempt: int = 0
) -> SendNow:
    decision = limiter.acquire(route, now, attempt=attempt)
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
    assert decision.deadline == pytest.approx(3.1)
    assert "exhausted" in decision.reason
    assert isinstance(limiter.acquire(MSG_A, 3.1), SendNow)
    snap = limiter.snapshot(3.1)
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
    assert outcome == RetryAt(deadline=11.5, reason="429 (user) on CREATE_MESSAGE")
    wait = limiter.acquire(MSG_A, 10.5, attempt=1)
    assert isinstance(wait, WaitUntil)
    assert wait.deadline == pytest.approx(11.5)  # the later of retry_after and the header reset
    assert isinstance(limiter.acquire(MSG_A, 11.5, attempt=1), SendNow)
    assert limiter.invalid_request_count(11.5) == 1


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
    assert blocked.deadline == 2.0
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


def test_global_budget_of_50_per_second() -> None:
    limiter = RateLimiter()
    for i in range(50):
        grant(limiter, routes.CREATE_MESSAGE.compile(channel_id=100 + i), 0.0)
    blocked = limiter.acquire(MSG_A, 0.5)
    assert isinstance(blocked, WaitUntil)
    assert blocked.deadline == 1.0
    assert isinstance(limiter.acquire(MSG_A, 1.0), SendNow)


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
    assert wait.deadline == pytest.approx(0.25)
    assert isinstance(limiter.acquire(elsewhere, 0.1), SendNow)
    assert isinstance(limiter.acquire(other, 0.25), SendNow)


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
    assert delays[0] == RetryAt(deadline=1.0, reason="HTTP 502 from Discord")
    assert delays[1] == RetryAt(deadline=3.0, reason="HTTP 502 from Discord")
    assert delays[2] == Done(status=502)


def test_bucket_hash_change_moves_to_the_new_bucket() -> None:
    limiter = RateLimiter()
    delete = routes.DELETE_MESSAGE.compile(channel_id=1, message_id=5)
    ok(limiter, delete, 0.0, bucket="young", remaining=0, reset_after=1.0)
    assert isinstance(limiter.acquire(delete, 0.5), WaitUntil)
    ok(limiter, delete, 1.0, bucket="old", remaining=29, reset_after=120.0)
    assert isinstance(limiter.acquire(delete, 1.1), SendNow)
