"""The OpenAPI helper other tests rely on must itself catch drift."""

from __future__ import annotations

from typing import Any

from bridge.discord_local import Exchange
from tests.support.openapi import SpecRecorder, discord_spec


def _exchange(
    method: str, path: str, status: int, request: Any = None, response: Any = None
) -> Exchange:
    return Exchange(
        method=method,
        path=path,
        route="x",
        query={},
        request_content_type="application/json",
        request_json=request,
        request_files=(),
        status=status,
        response_headers={},
        response_json=response,
    )


def test_operation_lookup_prefers_literal_segments() -> None:
    spec = discord_spec()
    pins = spec.operation("GET", "/channels/1/messages/pins")
    assert pins is not None
    assert pins.template == "/channels/{channel_id}/messages/pins"
    original = spec.operation("PATCH", "/webhooks/1/tok/messages/@original")
    assert original is not None
    assert original.template.endswith("/messages/@original")
    assert spec.operation("GET", "/nope") is None


def test_requests_accepted_by_the_server_must_match() -> None:
    spec = discord_spec()
    good = _exchange(
        "POST",
        "/channels/1/messages",
        400,
        {"content": 5},
        {"code": 50035, "message": "Invalid Form Body"},
    )
    assert spec.exchange_errors(good) == []  # a rejected bad request is fine
    drift = _exchange("POST", "/channels/1/messages", 204, {"content": 5})
    problems = spec.exchange_errors(drift)
    assert any("request" in p and "content" in p for p in problems)
    assert any("status 204 not declared" in p for p in problems)
    op = spec.operation("POST", "/channels/1/messages")
    assert op is not None
    assert (
        spec.request_errors(
            op, {"content": "x", "message_reference": {"message_id": 123}}, multipart=False
        )
        == []
    )
    assert spec.request_errors(op, {"embeds": [{}] * 11}, multipart=False)


def test_responses_missing_required_fields_fail() -> None:
    spec = discord_spec()
    me = _exchange("GET", "/users/@me", 200, None, {"id": "1", "username": "x"})
    assert any("required property" in p for p in spec.exchange_errors(me))
    assert (
        spec.exchange_errors(_exchange("GET", "/users/@me", 502, None, {"message": "x", "code": 0}))
        == []
    )
    limited = _exchange(
        "GET",
        "/users/@me",
        429,
        None,
        {"message": "slow down", "retry_after": 1.0, "global": False},
    )
    assert any("code" in p for p in spec.exchange_errors(limited))  # 429 bodies need a code
    assert spec.schema_errors("GatewayBotResponse", {"url": "ws://x", "shards": 1}) != []


def test_recorder_collects_problems() -> None:
    recorder = SpecRecorder()
    recorder(_exchange("GET", "/users/@me", 200, None, {}))
    assert recorder.problems
    assert recorder.routes() == {"x"}
