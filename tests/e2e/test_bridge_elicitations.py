"""C15 with the real ``claude`` and a small MCP server that asks for input
(tests/fixtures/claude/mcp_elicit_server.py): a form built from its JSON schema, checked
before it is sent; a URL with Done and Decline; accept, decline and cancel all reach the
MCP server."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import trio

from tests.e2e.bridge_harness import Scene, open_scene
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

MCP_SERVER = Path(__file__).resolve().parents[1] / "fixtures" / "claude" / "mcp_elicit_server.py"


def _user_mcp_server(claude_home: Path) -> None:
    """The test MCP server in the CLI's user configuration, its tools allowed, so every
    session's ``claude`` starts it next to the bridge's own."""
    config_dir = claude_home / ".claude"
    config_dir.mkdir(parents=True, exist_ok=True)
    server = {"type": "stdio", "command": sys.executable, "args": [str(MCP_SERVER)]}
    (config_dir / ".claude.json").write_text(json.dumps({"mcpServers": {"elic": server}}))
    rules = ["mcp__elic__profile", "mcp__elic__login"]
    (config_dir / "settings.json").write_text(json.dumps({"permissions": {"allow": rules}}))


def _script(request: RecordedRequest) -> ScriptStep:
    results = request.tool_results()
    if results:
        return Reply.text("Heard: " + json.dumps(results[0]["content"]))
    said = request.last_user_text
    if said.startswith("ELICIT profile"):
        return Reply.tool("mcp__elic__profile", {})
    if said.startswith("ELICIT login"):
        return Reply.tool("mcp__elic__login", {})
    return Reply.text(f"plain reply to {said!r}")


def _asks(scene: Scene, thread: int, nth: int) -> dict[str, Any] | None:
    found = [
        m
        for m in scene.bot_messages(thread)
        if m["embeds"] and "asks for your input" in m["embeds"][0].get("title", "")
    ]
    return found[nth - 1] if len(found) >= nth else None


def _buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["label"]: c for row in message["components"] for c in row["components"]}


def _description(scene: Scene, message_id: str) -> str:
    return str(scene.server.control.message(message_id)["embeds"][0].get("description", ""))


def _server_saw(scene: Scene) -> str:
    for turn in reversed(scene.model.turns):
        if turn.tool_results():
            return str(turn.tool_results()[0]["content"][0]["text"])
    raise AssertionError("no request carried a tool result")


async def test_a_form_is_checked_then_sent_and_decline_and_cancel_reach_the_server(
    tmp_path: Path,
    model_server: ModelServer,
    claude_bin: Path,
    claude_env: dict[str, str],
    claude_home: Path,
) -> None:
    _user_mcp_server(claude_home)
    model_server.set_script(_script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        control = scene.server.control
        thread = scene.post(scene.channel_id, "ELICIT profile please")
        asked = await scene.until(lambda: _asks(scene, thread, 1))
        assert asked["embeds"][0]["title"] == "🧾 elic asks for your input"
        description = asked["embeds"][0]["description"]
        assert "Tell me about you." in description
        assert "**Name** (text; 2–20 characters) *required*" in description
        assert "**Age** (integer; 1 to 130) *required*" in description
        assert "**Size** (enum; s, m, l)" in description
        assert sorted(_buttons(asked)) == ["Cancel", "Decline", "Fill in…"]

        # A form that does not validate is refused at once, and nothing reaches the server.
        click = scene.click(asked["id"], _buttons(asked)["Fill in…"]["custom_id"])
        await scene.until(lambda: control.interaction(click["id"])["modal"] is not None)
        modal = control.interaction(click["id"])["modal"]
        assert modal["title"] == "elic"
        assert [c["label"] for c in modal["components"]] == [
            "Name",
            "Age",
            "Score",
            "Subscribe",
            "Size",
        ]
        name_input = modal["components"][0]["component"]
        assert (name_input["min_length"], name_input["max_length"]) == (2, 20)
        bad = control.submit_modal(
            click["id"], {"f0": "A", "f1": "old", "f2": "2", "f3": "true", "f4": "m"}
        )
        await scene.until(lambda: control.interaction(bad["id"])["response_type"] is not None)
        refused = control.interaction(bad["id"])
        assert refused["response_data"]["flags"] & 64
        problems = refused["response_data"]["content"]
        assert "**Name** needs at least 2 characters." in problems
        assert "**Age** must be a whole number." in problems
        assert "**Score** must be at most 1." in problems
        turns = len(model_server.turns)

        click = scene.click(asked["id"], _buttons(asked)["Fill in…"]["custom_id"])
        await scene.until(lambda: control.interaction(click["id"])["modal"] is not None)
        control.submit_modal(
            click["id"], {"f0": "Ada", "f1": "36", "f2": "0.5", "f3": "true", "f4": "m"}
        )
        await scene.until_shown(thread, "Heard:")
        assert len(model_server.turns) == turns + 1
        content = {"name": "Ada", "age": 36, "score": 0.5, "subscribe": True, "size": "m"}
        assert _server_saw(scene) == f"action=accept content={json.dumps(content)}"
        await scene.until(lambda: "✅ Sent by" in _description(scene, asked["id"]))
        await scene.until_shown(thread, "✅ Done")

        # Decline, then Cancel.
        for nth, label, action in ((2, "Decline", "decline"), (3, "Cancel", "cancel")):
            scene.post(thread, "ELICIT profile again")
            asked = await scene.until(lambda nth=nth: _asks(scene, thread, nth))
            scene.click(asked["id"], _buttons(asked)[label]["custom_id"])
            await scene.until(lambda nth=nth: scene.shown(thread).count("Heard:") == nth)
            assert _server_saw(scene) == f"action={action} content=null"
            await scene.until(lambda nth=nth: scene.shown(thread).count("✅ Done") == nth)


async def test_a_url_is_a_link_with_done_and_decline(
    tmp_path: Path,
    model_server: ModelServer,
    claude_bin: Path,
    claude_env: dict[str, str],
    claude_home: Path,
) -> None:
    _user_mcp_server(claude_home)
    model_server.set_script(_script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        thread = scene.post(scene.channel_id, "ELICIT login please")
        asked = await scene.until(lambda: _asks(scene, thread, 1))
        buttons = _buttons(asked)
        assert sorted(buttons) == ["Decline", "Done", "Open link"]
        assert buttons["Open link"]["url"] == "https://example.com/login?session=42"
        assert buttons["Open link"]["style"] == 5
        assert "Sign in to continue." in asked["embeds"][0]["description"]
        scene.click(asked["id"], buttons["Done"]["custom_id"])
        await scene.until_shown(thread, "Heard:")
        assert _server_saw(scene) == "action=accept content=null"
        await scene.until(lambda: "✅ Done, said" in _description(scene, asked["id"]))
        await scene.until_shown(thread, "✅ Done")

        scene.post(thread, "ELICIT login again")
        asked = await scene.until(lambda: _asks(scene, thread, 2))
        scene.click(asked["id"], _buttons(asked)["Decline"]["custom_id"])
        await scene.until(lambda: scene.shown(thread).count("Heard:") == 2)
        assert _server_saw(scene) == "action=decline content=null"
        await scene.until(lambda: "❌ Declined by" in _description(scene, asked["id"]))


async def test_nobody_answering_cancels_the_request_in_time(
    tmp_path: Path,
    model_server: ModelServer,
    claude_bin: Path,
    claude_env: dict[str, str],
    claude_home: Path,
) -> None:
    _user_mcp_server(claude_home)
    model_server.set_script(_script)
    async with open_scene(
        tmp_path, model_server, claude_bin, claude_env, ELICITATION_TIMEOUT_SECONDS="4"
    ) as scene:
        control = scene.server.control
        thread = scene.post(scene.channel_id, "ELICIT profile please")
        asked = await scene.until(lambda: _asks(scene, thread, 1))
        shown_at = trio.current_time()
        await scene.until_shown(thread, "Heard:")
        assert trio.current_time() - shown_at >= 2.5  # not before its time
        assert _server_saw(scene) == "action=cancel content=null"
        await scene.until(lambda: "⌛ No answer in time" in _description(scene, asked["id"]))
        assert asked["components"]  # it had buttons; the outcome replaces them
        assert control.message(asked["id"])["components"] == []
        await scene.until_shown(thread, "✅ Done")
