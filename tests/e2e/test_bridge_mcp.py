"""Issue 12, tools for Claude (K6), with the real ``claude``: a session's Claude calls the
bridge's MCP tool ``mcp__ccbridge__lounge_post``; the CLI starts ``ccbridge mcp`` from the
session's ``--mcp-config``, the server posts with the session's own URL (``CCDB_API_URL``,
its token), and the line reaches the lounge signed with the session's thread."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import trio

from bridge.api import SPAWN_MAX_DEPTH
from tests.e2e.bridge_harness import TIMEOUT, open_scene
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

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


def _spawn_until_refused(request: RecordedRequest) -> ScriptStep:
    """Every session's first turn spawns a child through the tool; after the tool's answer
    it says what the tool answered. Decided per request, as sessions run concurrently."""
    results = request.tool_results()
    if results:
        return Reply.text("spawn said: " + json.dumps(results[-1].get("content")))
    return Reply.tool(
        "mcp__ccbridge__spawn_session", {"prompt": "Spawn one more", "title": "deeper"}
    )


async def test_sessions_spawn_children_through_the_tool_until_the_depth_limit(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    assert SPAWN_MAX_DEPTH == 2  # the chain below: depth 0 -> 1 -> 2, then refused
    model_server.set_script(_spawn_until_refused)
    async with open_scene(
        tmp_path, model_server, claude_bin, claude_env, CCBRIDGE_API_SECRET=SECRET
    ) as scene:
        assert scene.bridge is not None
        root = scene.post(scene.channel_id, "Start the chain")
        headers = {"Authorization": f"Bearer {SECRET}"}
        async with httpx.AsyncClient(base_url=scene.bridge.api_url, timeout=TIMEOUT) as client:

            async def sessions() -> dict[str, dict[str, Any]]:
                response = await client.get("/api/sessions", headers=headers)
                assert response.status_code == 200
                return {s["thread_id"]: s for s in response.json()["sessions"]}

            with trio.fail_after(180):
                while True:
                    found = await sessions()
                    deepest = [s for s in found.values() if s["depth"] == SPAWN_MAX_DEPTH]
                    if deepest and "spawn said:" in scene.shown(int(deepest[0]["thread_id"])):
                        break
                    await trio.sleep(0.2)
        child = found[str(root)]["children"]
        assert len(child) == 1
        assert found[child[0]]["parent_thread_id"] == str(root)
        assert found[child[0]]["depth"] == 1
        grandchild = found[child[0]]["children"]
        assert len(grandchild) == 1
        assert found[grandchild[0]]["parent_thread_id"] == child[0]
        assert found[grandchild[0]]["depth"] == 2
        # The grandchild's own spawn was refused, and Claude got the API's reason.
        assert found[grandchild[0]]["children"] == []
        assert len(found) == 3
        shown = scene.shown(int(grandchild[0]))
        assert "403" in shown
        assert "depth limit" in shown
        for thread in (root, int(child[0])):
            assert "spawn said:" in scene.shown(thread)
            assert "depth limit" not in scene.shown(thread)
