"""Issue 12, tools for Claude (K6), with the real ``claude``: a session's Claude calls the
bridge's MCP tool ``mcp__ccbridge__lounge_post``; the CLI starts ``ccbridge mcp`` from the
session's ``--mcp-config``, the server posts with the session's own URL (``CCDB_API_URL``,
its token), and the line reaches the lounge signed with the session's thread."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.e2e.bridge_harness import TIMEOUT, open_scene
from tests.support.model_server import ModelServer, Reply

SECRET = "e2e-mcp-admin-secret-0123"


async def test_a_session_posts_in_the_lounge_through_its_mcp_tool(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    line = "mcp tool check: starting the refactor"
    model_server.set_script(
        [
            Reply.tool("mcp__ccbridge__lounge_post", {"message": line}),
            Reply.text("Posted in the lounge."),
        ]
    )
    async with open_scene(
        tmp_path, model_server, claude_bin, claude_env, CCBRIDGE_API_SECRET=SECRET
    ) as scene:
        assert scene.bridge is not None
        thread = scene.post(scene.channel_id, "Tell the others what you are doing")
        await scene.until_shown(thread, "Posted in the lounge.", timeout=120)
        # The model saw the tool's answer: the API's 201 body, signed with the thread.
        results = (await scene.turn(2)).tool_results()
        assert results, "the CLI sent no tool result back to the model"
        answer = json.dumps(results[-1])
        assert f"thread {thread}" in answer
        assert "is_error" not in results[-1] or not results[-1]["is_error"]
        async with httpx.AsyncClient(base_url=scene.bridge.api_url, timeout=TIMEOUT) as client:
            response = await client.get(
                "/api/lounge", headers={"Authorization": f"Bearer {SECRET}"}
            )
        assert response.status_code == 200
        posted = [m for m in response.json()["messages"] if m["message"] == line]
        assert len(posted) == 1
        assert posted[0]["thread_id"] == str(thread)
        assert posted[0]["author"] == f"thread {thread}"
