"""``ccbridge mcp``: the MCP server (stdio) every session is given (K6).

Built on the official ``mcp`` SDK. The SDK is written on anyio, so it runs under trio, the
bridge's event loop: :func:`run_stdio` uses ``trio.run``. It is its own process (the
``claude`` CLI starts it), so nothing is shared with the bridge but the HTTP API.

There is no "list sessions" tool: ``GET /api/sessions`` is for the admin only, and each
turn's appended system prompt already lists the other active sessions.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from bridge.mcp.client import ApiClient, ApiError

TOOL_NAMES = (
    "lounge_post",
    "lounge_read",
    "notify",
    "schedule_notification",
    "list_scheduled",
    "cancel_scheduled",
    "spawn_session",
)


def build_server(client: ApiClient) -> MCPServer:
    """The server with its tools, each calling the API through ``client``."""
    server = MCPServer(
        "ccbridge",
        instructions=(
            "Tools of the ccbridge Discord bridge: the AI lounge shared by all sessions, "
            "messages to your Discord thread (now or later), and spawning child sessions."
        ),
    )

    async def call(method: str, path: str, **kwargs: Any) -> str:
        try:
            answer = await client.call(method, path, **kwargs)
        except ApiError as exc:
            raise ToolError(str(exc)) from exc
        return json.dumps(answer, ensure_ascii=False)

    @server.tool()
    async def lounge_post(message: str, label: str | None = None) -> str:
        """Post one line in the AI lounge, read by every session: say what you are about
        to do before you start (especially anything destructive) and what you did when done.
        At most 1000 characters; the line is signed with your thread."""
        body: dict[str, Any] = {"message": message}
        if label is not None:
            body["label"] = label
        return await call("POST", "/api/lounge", body=body)

    @server.tool()
    async def lounge_read(limit: int = 10) -> str:
        """The most recent lounge lines (1 to 200, default 10), oldest first."""
        return await call("GET", "/api/lounge", params={"limit": limit})

    @server.tool()
    async def notify(message: str) -> str:
        """Post a message in your own Discord thread now (at most 2000 characters;
        mentions ping nobody)."""
        return await call("POST", "/api/notify", body={"message": message})

    @server.tool()
    async def schedule_notification(
        message: str, delay_seconds: float | None = None, at: float | None = None
    ) -> str:
        """Post a message in your own Discord thread later: give exactly one of
        ``delay_seconds`` (from now) or ``at`` (seconds since the epoch, within a year).
        Delivered even if the bridge restarts meanwhile (then marked late)."""
        body: dict[str, Any] = {"message": message}
        if delay_seconds is not None:
            body["delay_seconds"] = delay_seconds
        if at is not None:
            body["at"] = at
        return await call("POST", "/api/schedule", body=body)

    @server.tool()
    async def list_scheduled(state: str = "pending") -> str:
        """Your scheduled notifications: ``pending`` (default), ``sent``, ``failed`` or
        ``all``."""
        return await call("GET", "/api/scheduled", params={"state": state})

    @server.tool()
    async def cancel_scheduled(notification_id: str) -> str:
        """Cancel one of your pending scheduled notifications by its id."""
        if not notification_id.isascii() or not notification_id.isdigit():
            raise ToolError(f"notification_id must be digits, got {notification_id!r}")
        return await call("DELETE", f"/api/scheduled/{notification_id}")

    @server.tool()
    async def spawn_session(
        prompt: str,
        title: str | None = None,
        working_dir: str | None = None,
        model: str | None = None,
    ) -> str:
        """Start a new child session in its own Discord thread with ``prompt`` as its first
        message; answers with the new thread id at once (the child works on its own).
        Depth and rate limits apply (a child of a child cannot spawn further)."""
        body: dict[str, Any] = {"prompt": prompt}
        for key, value in (("title", title), ("working_dir", working_dir), ("model", model)):
            if value is not None:
                body[key] = value
        return await call("POST", "/api/spawn", body=body)

    return server


def run_stdio(client: ApiClient) -> None:
    """Serve MCP over stdin/stdout until the client closes stdin."""
    import trio

    trio.run(build_server(client).run_stdio_async)
