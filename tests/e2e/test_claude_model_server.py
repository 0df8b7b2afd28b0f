"""The scripted model server itself, driven by httpx (the CLI-driven proofs live beside it)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio

from tests.support.model_server import (
    HttpError,
    Reply,
    Stall,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    open_model_server,
)


def _parse_sse(body: str) -> list[dict[str, Any]]:
    events = []
    for chunk in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        event = json.loads(lines["data"])
        assert lines["event"] == event["type"]
        events.append(event)
    return events


def _text(body: str) -> str:
    return "".join(
        e["delta"]["text"] for e in _parse_sse(body) if e["type"] == "content_block_delta"
    )


def _turn_body(text: str) -> dict[str, Any]:
    return {
        "model": "claude-test",
        "max_tokens": 1000,
        "stream": True,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }


async def test_streams_every_block_kind_in_several_deltas() -> None:
    reply = Reply(
        blocks=(
            ThinkingBlock("Let me think about it.", signature="sig-1"),
            TextBlock("The answer is forty-two.", chunks=3),
            ToolUseBlock("Bash", {"command": "ls -la", "description": "list"}),
        )
    )
    async with open_model_server([reply]) as server, httpx.AsyncClient() as client:
        response = await client.post(f"{server.url}/v1/messages", json=_turn_body("hello"))
    assert response.status_code == 200
    events = _parse_sse(response.text)
    types = [e["type"] for e in events]
    assert types[0] == "message_start"
    assert types[-2:] == ["message_delta", "message_stop"]
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    thinking = "".join(d["thinking"] for d in deltas if d["type"] == "thinking_delta")
    text_parts = [d["text"] for d in deltas if d["type"] == "text_delta"]
    tool_json = "".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta")
    assert thinking == "Let me think about it."
    assert [d["signature"] for d in deltas if d["type"] == "signature_delta"] == ["sig-1"]
    assert len(text_parts) == 3
    assert "".join(text_parts) == "The answer is forty-two."
    assert json.loads(tool_json) == {"command": "ls -la", "description": "list"}
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [s["type"] for s in starts] == ["thinking", "text", "tool_use"]
    assert starts[2]["name"] == "Bash"
    assert starts[2]["id"].startswith("toolu_mock_")
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert server.turns[0].last_user_text == "hello"


async def test_side_requests_do_not_consume_the_script() -> None:
    async with open_model_server([Reply.text("scripted")]) as server, httpx.AsyncClient() as c:
        title = _turn_body("hello")
        title["system"] = [{"type": "text", "text": "Generate a concise, sentence-case title"}]
        counted = await c.post(f"{server.url}/v1/messages/count_tokens", json=_turn_body("x"))
        titled = await c.post(f"{server.url}/v1/messages", json=title)
        turn = await c.post(f"{server.url}/v1/messages", json=_turn_body("hello"))
        extra = await c.post(f"{server.url}/v1/messages", json=_turn_body("again"))
    assert counted.json() == {"input_tokens": 100}
    assert json.loads(_text(titled.text)) == {"title": "Mock generated title"}
    assert _text(turn.text) == "scripted"
    # The script had one reply: the second turn is an error and is recorded as unscripted.
    assert extra.status_code == 500
    assert [r.kind for r in server.requests] == ["count_tokens", "title", "turn", "turn"]
    assert [r.last_user_text for r in server.unscripted] == ["again"]


async def test_http_errors_carry_status_type_and_retry_after() -> None:
    script = [HttpError(429, retry_after=3), HttpError(529), HttpError(500, retry_after=None)]
    async with open_model_server(script) as server, httpx.AsyncClient() as client:
        answers = [
            await client.post(f"{server.url}/v1/messages", json=_turn_body("x")) for _ in script
        ]
    assert [a.status_code for a in answers] == [429, 529, 500]
    assert [a.json()["error"]["type"] for a in answers] == [
        "rate_limit_error",
        "overloaded_error",
        "api_error",
    ]
    assert answers[0].headers["retry-after"] == "3"
    assert "retry-after" not in answers[2].headers


async def test_stall_holds_the_request_open_until_the_client_gives_up() -> None:
    async with open_model_server([Stall()]) as server, httpx.AsyncClient() as client:
        with trio.move_on_after(0.5) as scope:
            await client.post(f"{server.url}/v1/messages", json=_turn_body("x"))
        assert scope.cancelled_caught
        assert len(server.turns) == 1


async def test_script_function_sees_the_request() -> None:
    def echo(request):  # type: ignore[no-untyped-def]
        return Reply.text(f"echo: {request.last_user_text}")

    async with open_model_server(echo) as server, httpx.AsyncClient() as client:
        response = await client.post(f"{server.url}/v1/messages", json=_turn_body("ping"))
        again = await client.post(f"{server.url}/v1/messages", json=_turn_body("pong"))
    assert _text(response.text) == "echo: ping"
    assert _text(again.text) == "echo: pong"
    assert await server.wait_for_turns(2) is server.turns[1]


async def test_a_broken_script_function_fails_the_test_loudly() -> None:
    def broken(request):  # type: ignore[no-untyped-def]
        raise KeyError("no such reply")

    statuses: list[int] = []

    async def ask_once() -> None:
        async with open_model_server(broken) as server, httpx.AsyncClient() as client:
            response = await client.post(f"{server.url}/v1/messages", json=_turn_body("x"))
            statuses.append(response.status_code)

    with pytest.raises(ExceptionGroup) as caught:
        await ask_once()
    assert caught.group_contains(KeyError)
    assert statuses == [500]
