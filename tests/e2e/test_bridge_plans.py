"""C13 with the real ``claude`` in plan mode: a plan shown as Markdown (a long one also as
``plan.md``), approved, approved with edits accepted automatically, revised through a
modal, cancelled, and cancelled automatically when nobody answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.bridge_harness import Scene, open_scene
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

SHORT_PLAN = "## Plan\n1. Create notes.txt\n2. Write the summary"
LONG_PLAN = "## Long plan\n" + "\n".join(f"{i}. step number {i} of the work" for i in range(200))


def _script(work: Path) -> Any:
    def reply(request: RecordedRequest) -> ScriptStep:
        results = request.tool_results()
        said = request.last_user_text
        if results:
            text = json.dumps(results[0]["content"])
            approved = "User has approved" in text and "EDITS" in request.all_text()
            if approved and not (work / "edited.txt").exists():
                # After "approve + auto-accept edits": an edit that would otherwise ask.
                return Reply.tool(
                    "Write", {"file_path": str(work / "edited.txt"), "content": "ok\n"}
                )
            return Reply.text("Heard: " + text)
        if said.startswith("PLAN long"):
            return Reply.tool("ExitPlanMode", {"plan": LONG_PLAN})
        if said.startswith("PLAN"):
            return Reply.tool("ExitPlanMode", {"plan": SHORT_PLAN})
        return Reply.text(f"plain reply to {said!r}")

    return reply


def _plan(scene: Scene, thread: int, nth: int) -> dict[str, Any] | None:
    found = [
        m
        for m in scene.bot_messages(thread)
        if m["embeds"] and m["embeds"][0].get("title", "").startswith("📋 Claude's plan")
    ]
    return found[nth - 1] if len(found) >= nth else None


def _button(message: dict[str, Any], label: str) -> str:
    (found,) = [
        c for row in message["components"] for c in row["components"] if c.get("label") == label
    ]
    return str(found["custom_id"])


def _description(scene: Scene, message_id: str) -> str:
    return str(scene.server.control.message(message_id)["embeds"][0].get("description", ""))


def _last_results(scene: Scene) -> list[dict[str, Any]]:
    for turn in reversed(scene.model.turns):
        if turn.tool_results():
            return turn.tool_results()
    raise AssertionError("no request carried a tool result")


async def test_plans_approved_with_edits_revised_and_cancelled(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    work = tmp_path / "repo"
    model_server.set_script(_script(work))
    async with open_scene(
        tmp_path, model_server, claude_bin, claude_env, CLAUDE_PERMISSION_MODE="plan"
    ) as scene:
        control = scene.server.control

        # Approve.
        thread = scene.post(scene.channel_id, "PLAN something small")
        plan = await scene.until(lambda: _plan(scene, thread, 1))
        assert SHORT_PLAN in plan["embeds"][0]["description"]
        assert "Cancelled automatically <t:" in plan["embeds"][0]["description"]
        assert plan["attachments"] == []
        labels = [c["label"] for row in plan["components"] for c in row["components"]]
        assert labels == ["Approve", "Approve + auto-accept edits", "Revise…", "Cancel"]
        scene.click(plan["id"], _button(plan, "Approve"))
        await scene.until_shown(thread, "Heard:")
        assert "User has approved" in json.dumps(_last_results(scene)[0]["content"])
        await scene.until(lambda: "✅ Approved by" in _description(scene, plan["id"]))
        assert scene.server.control.message(plan["id"])["components"] == []
        await scene.until_shown(thread, "✅ Done")

        # Revise: a long plan (also attached as plan.md), then a modal's text goes back.
        scene.post(thread, "PLAN long")
        plan = await scene.until(lambda: _plan(scene, thread, 2))
        (attached,) = plan["attachments"]
        assert attached["filename"] == "plan.md"
        (stored,) = [
            a for (_, a) in scene.server.world.attachments.values() if a.id == int(attached["id"])
        ]
        assert stored.data.decode() == LONG_PLAN
        assert "attached as plan.md" in plan["embeds"][0]["description"]
        click = scene.click(plan["id"], _button(plan, "Revise…"))
        await scene.until(lambda: control.interaction(click["id"])["modal"] is not None)
        assert control.interaction(click["id"])["response_type"] == 9
        control.submit_modal(click["id"], {"revision": "Add tests first."})
        await scene.until(lambda: scene.shown(thread).count("Heard:") == 2)
        (result,) = _last_results(scene)
        assert result["is_error"] is True
        assert "Add tests first." in json.dumps(result["content"])
        await scene.until(lambda: "✏️ Revision asked by" in _description(scene, plan["id"]))
        await scene.until(lambda: scene.shown(thread).count("✅ Done") == 2)

        # Cancel.
        scene.post(thread, "PLAN something else")
        plan = await scene.until(lambda: _plan(scene, thread, 3))
        scene.click(plan["id"], _button(plan, "Cancel"))
        await scene.until(lambda: scene.shown(thread).count("Heard:") == 3)
        (result,) = _last_results(scene)
        assert result["is_error"] is True
        assert "cancelled this plan" in json.dumps(result["content"])
        await scene.until(lambda: "❌ Cancelled by" in _description(scene, plan["id"]))
        await scene.until(lambda: scene.shown(thread).count("✅ Done") == 3)

        # Approve + auto-accept edits: the Write that follows asks nobody.
        scene.post(thread, "PLAN EDITS then write")
        plan = await scene.until(lambda: _plan(scene, thread, 4))
        prompts_before = len(scene.bot_messages(thread))
        scene.click(plan["id"], _button(plan, "Approve + auto-accept edits"))
        await scene.until(lambda: scene.shown(thread).count("✅ Done") == 4)
        assert (work / "edited.txt").read_text() == "ok\n"
        asked = [
            m
            for m in scene.bot_messages(thread)[prompts_before:]
            if m["embeds"] and "Permission needed" in m["embeds"][0].get("title", "")
        ]
        assert asked == []
        await scene.until(lambda: "edits accepted automatically" in _description(scene, plan["id"]))


async def test_a_plan_nobody_approves_is_cancelled_in_place(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script(tmp_path / "repo"))
    async with open_scene(
        tmp_path,
        model_server,
        claude_bin,
        claude_env,
        CLAUDE_PERMISSION_MODE="plan",
        PLAN_TIMEOUT_SECONDS="3",
    ) as scene:
        thread = scene.post(scene.channel_id, "PLAN and wait")
        plan = await scene.until(lambda: _plan(scene, thread, 1))
        await scene.until(
            lambda: (
                "Not approved within 3 s: cancelled automatically"
                in _description(scene, plan["id"])
            )
        )
        await scene.until_shown(thread, "Heard:")
        (result,) = _last_results(scene)
        assert result["is_error"] is True
        assert "No one approved the plan within 3 s" in json.dumps(result["content"])
        assert scene.server.control.message(plan["id"])["components"] == []
        await scene.until_shown(thread, "✅ Done")
