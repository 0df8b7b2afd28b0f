"""The MCP tools (K6), in-process under trio with the SDK's own client: each tool calls the
right route under the session's URL with no admin header, and an API refusal comes back as
a tool error carrying the API's message."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client

from bridge.mcp import ApiClient
from bridge.mcp.server import TOOL_NAMES, build_server

SESSION_URL = "http://127.0.0.1:9/s/tok-abc"


class FakeApi:
    """Records each request and answers with ``status`` and ``answer``."""

    def __init__(self, status: int = 201, answer: Any = None) -> None:
        self.status = status
        self.answer = {"ok": True} if answer is None else answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.answer)

    def client(self) -> ApiClient:
        return ApiClient(SESSION_URL, transport=httpx.MockTransport(self))


def _text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def test_the_server_lists_exactly_its_tools() -> None:
    async with Client(build_server(FakeApi().client())) as client:
        listed = await client.list_tools()
    assert sorted(tool.name for tool in listed.tools) == sorted(TOOL_NAMES)
    assert "list_sessions" not in TOOL_NAMES  # an admin-only route: no tool for it


async def test_lounge_post_posts_under_the_session_url_without_a_header() -> None:
    api = FakeApi(answer={"ok": True, "author": "thread 7"})
    async with Client(build_server(api.client())) as client:
        result = await client.call_tool("lounge_post", {"message": "starting", "label": "me"})
    assert not result.is_error
    assert json.loads(_text(result)) == {"ok": True, "author": "thread 7"}
    (request,) = api.requests
    assert request.method == "POST"
    assert str(request.url) == f"{SESSION_URL}/api/lounge"
    assert json.loads(request.content) == {"message": "starting", "label": "me"}
    assert "authorization" not in request.headers


async def test_each_tool_calls_its_route() -> None:
    calls: list[tuple[str, dict[str, Any], str, str, Any]] = [
        ("lounge_read", {"limit": 5}, "GET", "/api/lounge?limit=5", None),
        ("notify", {"message": "hi"}, "POST", "/api/notify", {"message": "hi"}),
        (
            "schedule_notification",
            {"message": "later", "delay_seconds": 60},
            "POST",
            "/api/schedule",
            {"message": "later", "delay_seconds": 60},
        ),
        ("list_scheduled", {"state": "all"}, "GET", "/api/scheduled?state=all", None),
        ("cancel_scheduled", {"notification_id": "42"}, "DELETE", "/api/scheduled/42", None),
        (
            "spawn_session",
            {"prompt": "do it", "title": "child"},
            "POST",
            "/api/spawn",
            {"prompt": "do it", "title": "child"},
        ),
    ]
    for tool, arguments, method, path, body in calls:
        api = FakeApi()
        async with Client(build_server(api.client())) as client:
            result = await client.call_tool(tool, arguments)
        assert not result.is_error, (tool, _text(result))
        (request,) = api.requests
        assert (request.method, str(request.url)) == (method, SESSION_URL + path), tool
        if body is not None:
            assert json.loads(request.content) == body, tool


async def test_an_api_refusal_is_a_tool_error_with_the_apis_words() -> None:
    api = FakeApi(
        403,
        {"error": "the spawn depth limit is reached", "problems": ["depth: 2 of 2"]},
    )
    async with Client(build_server(api.client())) as client:
        result = await client.call_tool("spawn_session", {"prompt": "grandchild"})
    assert result.is_error
    assert "403: the spawn depth limit is reached (depth: 2 of 2)" in _text(result)


async def test_an_unreachable_api_is_a_tool_error_that_hides_the_token() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = ApiClient(SESSION_URL, transport=httpx.MockTransport(refuse))
    async with Client(build_server(client)) as mcp_client:
        result = await mcp_client.call_tool("lounge_read", {})
    assert result.is_error
    assert "cannot reach the bridge API" in _text(result)
    assert "tok-abc" not in _text(result)
    assert "/s/<token>/api/lounge" in _text(result)


async def test_a_bad_notification_id_is_refused_before_any_request() -> None:
    api = FakeApi()
    async with Client(build_server(api.client())) as client:
        result = await client.call_tool("cancel_scheduled", {"notification_id": "../tasks/1"})
    assert result.is_error
    assert api.requests == []


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(status=st.sampled_from([200, 201, 400, 401, 403, 404, 422, 429, 500, 502, 503]), body=_JSON)
async def test_any_api_answer_is_a_result_or_a_clear_tool_error(status: int, body: Any) -> None:
    api = FakeApi(status, body)
    api.answer = body  # also None and falsy values, as sent
    async with Client(build_server(api.client())) as client:
        result = await client.call_tool("lounge_read", {})
    if status < 400 and isinstance(body, dict):
        assert not result.is_error
        assert json.loads(_text(result)) == body
    else:
        assert result.is_error
        assert _text(result).strip()
