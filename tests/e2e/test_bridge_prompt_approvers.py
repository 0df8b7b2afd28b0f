"""Who may answer C12, C13 and C15 prompts, with the real ``claude``: any allowed user
answers a question; only approvers answer a plan or an MCP server's form (an allowed user
who is no approver is told so, ephemerally, and no modal opens)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bridge.sessions.approvers import NOT_APPROVER
from tests.e2e.bridge_harness import Scene, open_scene
from tests.e2e.test_bridge_elicitations import _user_mcp_server
from tests.e2e.test_bridge_plans import SHORT_PLAN
from tests.e2e.test_bridge_questions import COLOR
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep


def _script(request: RecordedRequest) -> ScriptStep:
    results = request.tool_results()
    if results:
        return Reply.text("Heard: " + json.dumps(results[0]["content"]))
    said = request.last_user_text
    if said.startswith("ASK"):
        return Reply.tool("AskUserQuestion", {"questions": [COLOR]})
    if said.startswith("PLAN"):
        return Reply.tool("ExitPlanMode", {"plan": SHORT_PLAN})
    if said.startswith("ELICIT"):
        return Reply.tool("mcp__elic__profile", {})
    return Reply.text(f"plain reply to {said!r}")


def _prompt(scene: Scene, thread: int, title: str) -> dict[str, Any] | None:
    """The prompt message whose embed title starts with ``title``, once it has buttons."""
    for message in scene.bot_messages(thread):
        if message["embeds"] and message["embeds"][0].get("title", "").startswith(title):
            return message if message["components"] else None
    return None


def _custom_id(message: dict[str, Any], label: str) -> str:
    (found,) = [
        c for row in message["components"] for c in row["components"] if c.get("label") == label
    ]
    return str(found["custom_id"])


async def _refused(scene: Scene, message: dict[str, Any], label: str, user: int) -> None:
    control = scene.server.control
    click = scene.click(int(message["id"]), _custom_id(message, label), user_id=user)
    await scene.until(lambda: control.interaction(click["id"])["response_type"] is not None)
    answered = control.interaction(click["id"])
    assert answered["response_type"] == 4
    assert (answered["response_data"]["content"], answered["response_data"]["flags"]) == (
        NOT_APPROVER,
        64,
    )
    assert answered["modal"] is None


async def test_questions_are_anyones_and_plans_and_forms_are_the_approvers(
    tmp_path: Path,
    model_server: ModelServer,
    claude_bin: Path,
    claude_env: dict[str, str],
    claude_home: Path,
) -> None:
    _user_mcp_server(claude_home)
    model_server.set_script(_script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        helper = scene.server.world.add_user("helper").id  # allowed, but no approver
        async with scene.run_bridge(
            ALLOWED_USER_IDS=f"{scene.owner_id},{helper}",
            APPROVER_USER_IDS=str(scene.owner_id),
            CLAUDE_PERMISSION_MODE="plan",
        ):
            # A question: the helper answers it.
            thread = scene.post(scene.channel_id, "ASK a color")
            asked = await scene.until(lambda: _prompt(scene, thread, "❓"))
            scene.click(int(asked["id"]), _custom_id(asked, "Red"), user_id=helper)
            await scene.until_shown(thread, "Heard:")
            assert '\\"Which color?\\"=\\"Red\\"' in scene.shown(thread)
            await scene.until_shown(thread, "✅ Done")

            # A plan: the helper may neither approve nor open the revise box.
            scene.post(thread, "PLAN it")
            plan = await scene.until(lambda: _prompt(scene, thread, "📋"))
            await _refused(scene, plan, "Approve", helper)
            await _refused(scene, plan, "Revise…", helper)
            turns = len(model_server.turns)
            scene.click(int(plan["id"]), _custom_id(plan, "Approve"))
            await scene.until(lambda: scene.shown(thread).count("Heard:") == 2)
            assert len(model_server.turns) == turns + 1
            await scene.until(lambda: scene.shown(thread).count("✅ Done") == 2)

        # An MCP server's form (outside plan mode, where the tool would not run): the
        # helper may not open it; the owner declines.
        async with scene.run_bridge(
            seed=2,
            ALLOWED_USER_IDS=f"{scene.owner_id},{helper}",
            APPROVER_USER_IDS=str(scene.owner_id),
        ):
            scene.post(thread, "ELICIT a profile")
            form = await scene.until(lambda: _prompt(scene, thread, "🧾"))
            await _refused(scene, form, "Fill in…", helper)
            scene.click(int(form["id"]), _custom_id(form, "Decline"))
            await scene.until(lambda: scene.shown(thread).count("Heard:") == 3)
            assert "action=decline" in scene.shown(thread)
