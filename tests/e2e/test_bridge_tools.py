"""Issue 6, scenarios 3 and 4, with the real ``claude``: a tool embed whose timer ticks and
then shows the result (3); permission prompts with Allow / Deny buttons: Allow runs the
tool, Deny refuses it, no click denies automatically, a stranger's click does nothing (4).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import trio

from bridge.sessions.router import NOT_ALLOWED
from tests.e2e.bridge_harness import Scene, open_scene
from tests.support.model_server import ModelServer, Reply


def _allow_in_user_settings(claude_home: Path, rule: str) -> None:
    """A user-level permission rule, so the tool runs without a prompt."""
    settings = claude_home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"permissions": {"allow": [rule]}}))


def _elapsed_seconds(description: str) -> int | None:
    found = re.search(r"⏳ (\d+)s elapsed", description)
    return int(found.group(1)) if found else None


async def test_a_tool_embed_ticks_while_the_tool_runs_then_shows_its_result(
    tmp_path: Path,
    model_server: ModelServer,
    claude_bin: Path,
    claude_env: dict[str, str],
    claude_home: Path,
) -> None:
    # The tool reads one line from a FIFO, so it runs until the test writes that line.
    # The test holds the FIFO open read-write (which never blocks on Linux), so neither
    # side waits to open it and the line stays buffered until the tool reads it.
    # Inside the working directory: the CLI asks before reading outside it.
    (tmp_path / "repo").mkdir()
    fifo = tmp_path / "repo" / "tool.fifo"
    os.mkfifo(fifo)
    held = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    _allow_in_user_settings(claude_home, "Bash(head:*)")
    model_server.set_script(
        [Reply.bash(f"head -n 1 {fifo}", "wait for the signal"), Reply.text("The tool said 42.")]
    )
    async with open_scene(
        tmp_path, model_server, claude_bin, claude_env, TOOL_TIMER_INTERVAL_SECONDS="1"
    ) as scene:
        thread = scene.post(scene.channel_id, "Run the waiting tool")

        def tool_message() -> dict[str, Any] | None:
            return scene.embed_titled(thread, "💻 Bash")

        def tool_description() -> str:
            message = tool_message()
            return message["embeds"][0].get("description", "") if message else ""

        # C4: the embed appears yellow with the command, and its elapsed time ticks.
        await scene.until(lambda: (_elapsed_seconds(tool_description()) or 0) >= 3)
        message = tool_message()
        assert message is not None
        assert f"`head -n 1 {fifo}`" in message["embeds"][0]["description"]
        history = scene.server.control.message(message["id"])["versions"]
        ticks = [_elapsed_seconds(v["embeds"][0].get("description", "")) for v in history]
        assert ticks[0] == 0, ticks
        assert ticks == sorted(ticks), ticks
        assert {0, 1, 2, 3} <= set(ticks), ticks
        assert all(v["embeds"][0]["color"] == 0xFEE75C for v in history)  # yellow: running

        assert "Permission needed" not in scene.shown(thread)
        os.write(held, b"tool output 42\n")

        # Then the same message turns green with the tool's output.
        await scene.until(lambda: "✅ done in" in tool_description())
        finished = tool_message()
        assert finished is not None
        assert finished["id"] == message["id"]
        assert finished["embeds"][0]["color"] == 0x57F287
        assert "tool output 42" in finished["embeds"][0]["description"]
        await scene.until_shown(thread, "✅ Done")
        await scene.until_shown(thread, "The tool said 42.")  # its last edit may land later
        assert "Permission needed" not in scene.shown(thread)
    os.close(held)
    (result,) = model_server.turns[1].tool_results()
    assert "tool output 42" in json.dumps(result["content"])
    assert not result.get("is_error")


# --- C14: permission prompts -------------------------------------------------------------


def _prompt(scene: Scene, thread: int, nth: int) -> dict[str, Any] | None:
    """The ``nth`` (1-based) permission prompt message in the thread, once posted."""
    prompts = [
        m
        for m in scene.bot_messages(thread)
        if m["embeds"] and m["embeds"][0].get("title", "").startswith("🔐 Permission needed")
    ]
    return prompts[nth - 1] if len(prompts) >= nth else None


def _buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["label"]: b for row in message["components"] for b in row["components"]}


def _outcome(scene: Scene, message_id: str) -> str:
    return str(scene.server.control.message(message_id)["embeds"][0].get("description", ""))


async def _wait_prompt(scene: Scene, thread: int, nth: int) -> dict[str, Any]:
    prompt = await scene.until(lambda: _prompt(scene, thread, nth))
    buttons = _buttons(prompt)
    assert sorted(buttons) == ["Allow", "Deny"]
    assert not any(b.get("disabled") for b in buttons.values())
    return prompt


async def test_permission_prompts_allow_deny_expire_and_ignore_strangers(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    work = tmp_path / "repo"
    model_server.set_script(
        [
            Reply.bash(f"touch {work / 'allowed.txt'}", "touch a file"),
            Reply.text("Created it."),
            Reply.bash(f"touch {work / 'denied.txt'}", "touch another file"),
            Reply.text("Understood, I will not."),
            Reply.bash(f"touch {work / 'expired.txt'}", "touch a third file"),
            Reply.text("Nobody answered, so I did not."),
        ]
    )
    # Long enough that a loaded CI machine still gets the clicks in before the prompts
    # expire (at 3 s a late Deny became an expiry); the third prompt waits it out.
    async with open_scene(
        tmp_path, model_server, claude_bin, claude_env, PERMISSION_TIMEOUT_SECONDS="10"
    ) as scene:
        control = scene.server.control
        thread = scene.post(scene.channel_id, "Touch the allowed file")

        # Allow, after a stranger's click that does nothing.
        prompt = await _wait_prompt(scene, thread, 1)
        assert "touch" in prompt["embeds"][0]["description"]
        allow = _buttons(prompt)["Allow"]["custom_id"]
        click = scene.click(prompt["id"], allow, user_id=scene.stranger_id)
        await scene.until(lambda: control.interaction(click["id"])["response_type"] is not None)
        refused = control.interaction(click["id"])
        assert refused["response_type"] == 4
        assert refused["response_data"]["flags"] & 64  # ephemeral: only the stranger sees it
        assert refused["response_data"]["content"] == NOT_ALLOWED
        assert not (work / "allowed.txt").exists()
        assert control.message(prompt["id"])["versions"][-1]["components"] == prompt["components"]
        assert len(model_server.turns) == 1  # the model is still waiting for the tool

        scene.click(prompt["id"], allow)
        await scene.until(lambda: "✅ Done" in scene.shown(thread))
        await scene.until_shown(thread, "Created it.")
        assert (work / "allowed.txt").exists()
        # The prompt's edit is submitted, coalesced and rate limited: it may land late.
        await scene.until(lambda: "✅ Allowed by" in _outcome(scene, prompt["id"]))
        assert f"✅ Allowed by <@{scene.owner_id}>" in _outcome(scene, prompt["id"])
        answered = control.message(prompt["id"])
        assert all(b["disabled"] for b in _buttons(answered).values())
        (result,) = model_server.turns[1].tool_results()
        assert not result.get("is_error")

        # Deny.
        scene.post(thread, "Now touch the denied file")
        prompt = await _wait_prompt(scene, thread, 2)
        scene.click(prompt["id"], _buttons(prompt)["Deny"]["custom_id"])
        await scene.until(lambda: scene.shown(thread).count("✅ Done") == 2)
        assert not (work / "denied.txt").exists()
        await scene.until(lambda: "❌ Denied by" in _outcome(scene, prompt["id"]))
        assert f"❌ Denied by <@{scene.owner_id}>" in _outcome(scene, prompt["id"])
        (result,) = model_server.turns[3].tool_results()
        assert result["is_error"] is True
        await scene.until_shown(thread, "Understood, I will not.")
        assert "🚫 Denied: Bash" in scene.shown(thread)

        # No click: denied automatically after PERMISSION_TIMEOUT_SECONDS.
        scene.post(thread, "And the third file")
        prompt = await _wait_prompt(scene, thread, 3)
        shown_at = trio.current_time()
        await scene.until(lambda: "No answer in time" in _outcome(scene, prompt["id"]))
        assert trio.current_time() - shown_at >= 8.0
        await scene.until(lambda: scene.shown(thread).count("✅ Done") == 3)
        assert not (work / "expired.txt").exists()
        (result,) = model_server.turns[5].tool_results()
        assert result["is_error"] is True
        assert "No one answered the permission prompt within 10 s" in json.dumps(result["content"])
        expired = control.message(prompt["id"])
        assert all(b["disabled"] for b in _buttons(expired).values())
