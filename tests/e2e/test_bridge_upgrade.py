"""Issue 12, auto-upgrade (A3), end to end: the local Discord server, the real ``claude``
and the scripted model server, with fake upgrade and restart commands (small Python
scripts written into ``tmp_path``).

* A webhook trigger with ``action = "upgrade"`` fires in ``ccbridge run`` (a real
  subprocess) while two sessions are mid-turn: the upgrade command runs, new turns are held
  (a message sent now waits, its thread says why), the two running turns are interrupted at
  the drain bound and marked for resume, and ``RESTART_COMMAND`` is exec'd in the bridge's
  place (same pid). The test then starts the bridge again, as the restart command would,
  and the three sessions continue.
* Without ``RESTART_COMMAND`` the upgraded bridge exits with status 75.
* ``/upgrade`` with approval required: the button, an approver's click, a failing upgrade
  command; the bot keeps running and says what failed, mention-safe.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from bridge.sessions.presentation import render
from bridge.sessions.session import RESUME_PROMPT
from bridge.store import Database
from bridge.upgrade import EXIT_RESTART
from tests.e2e.bridge_harness import TIMEOUT, Scene, claude_descendants, open_bridge_process
from tests.e2e.bridge_harness import open_scene as open_scene
from tests.e2e.test_bridge_triggers import _execute
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

SLOW = " ".join(f"word{i}" for i in range(80))
"""Streamed over about 20 s: far from its end when the drain bound (5 s) passes."""
DRAIN = "5"
HELD = "Held message C"

UPGRADE_SCRIPT = """
import pathlib, sys
print("fetching the new version", file=sys.stderr)
pathlib.Path(sys.argv[1]).write_text("upgraded")
"""

RESTART_SCRIPT = """
import json, os, pathlib, sys
pathlib.Path(sys.argv[1]).write_text(json.dumps({"pid": os.getpid(), "argv": sys.argv[1:]}))
"""

FAILING_SCRIPT = """
import sys
for i in range(20):
    print(f"step {i} ok", file=sys.stderr)
print("error: cannot fetch @everyone <@&123> ``` broken", file=sys.stderr)
sys.exit(3)
"""


def _script() -> Callable[[RecordedRequest], ScriptStep]:
    started: set[str] = set()

    def reply(request: RecordedRequest) -> ScriptStep:
        said = request.last_user_text
        if said.startswith("Count slowly") and said not in started:
            started.add(said)
            return Reply.text(SLOW, chunks=80, delay=0.25)
        if RESUME_PROMPT in said:
            return Reply.text("Resumed: counting finished.")
        if said == HELD:
            return Reply.text("C handled after the restart.")
        if said == "Still there?":
            return Reply.text("Still here.")
        return Reply.text(f"unexpected: {said!r}")

    return reply


def _python(script: Path, *args: Path | str) -> str:
    return shlex.join([sys.executable, str(script), *map(str, args)])


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _upgrade_trigger(scene: Scene, hook: dict[str, Any]) -> Path:
    return _write(
        scene.tmp_path / "triggers.toml",
        f"""
[[trigger]]
name = "release"
exact = "release published"
action = "upgrade"
channels = [{scene.channel_id}]
webhooks = [{hook["id"]}]
""",
    )


async def _two_running_turns(scene: Scene) -> tuple[int, int]:
    a = scene.post(scene.channel_id, "Count slowly A")
    b = scene.post(scene.channel_id, "Count slowly B")
    await scene.until_shown(a, "word1 ")
    await scene.until_shown(b, "word1 ")
    return a, b


async def test_an_upgrade_drains_two_running_sessions_marks_them_and_they_continue(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script())
    upgraded = tmp_path / "upgraded.txt"
    restarted = tmp_path / "restarted.json"
    upgrade = _write(tmp_path / "upgrade.py", UPGRADE_SCRIPT)
    restart = _write(tmp_path / "restart.py", RESTART_SCRIPT)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        hook = scene.server.control.create_webhook(scene.channel_id, "release-bot")
        env = {
            "TRIGGERS_FILE": str(_upgrade_trigger(scene, hook)),
            "UPGRADE_COMMAND": _python(upgrade, upgraded),
            "RESTART_COMMAND": _python(restart, restarted),
            "UPGRADE_DRAIN_SECONDS": DRAIN,
        }
        async with open_bridge_process(scene, **env) as bridge:
            pid = bridge.process.pid
            a, b = await _two_running_turns(scene)
            await _execute(scene.server.rest_url, hook, "release published")
            await scene.until_shown(scene.channel_id, "🔧 Upgrade requested by trigger **release**")
            await scene.until_shown(scene.channel_id, "The upgrade command succeeded. Draining")
            assert upgraded.read_text() == "upgraded"
            # A message sent during the drain waits, and its thread says why.
            c = scene.post(scene.channel_id, HELD)
            await scene.until_shown(c, "the bridge is restarting for an upgrade")
            with trio.fail_after(TIMEOUT):
                code = await bridge.process.wait()
            # The restart script replaced ccbridge (exec: the same pid) and exited 0.
            assert code == 0
            assert json.loads(restarted.read_text()) == {"pid": pid, "argv": [str(restarted)]}
            await bridge.until_line(lambda line: "upgraded; restarting with" in line)
        shown = scene.shown(scene.channel_id)
        assert f"The drain bound ({DRAIN} s) passed: interrupting" in shown
        for thread in (a, b):
            assert "word79" not in scene.shown(thread), "the turn was interrupted at the bound"
        assert "C handled" not in scene.shown(c)
        assert claude_descendants() == []
        db = Database.open(tmp_path / "ccbridge.db")
        try:
            marks = {r.thread_id: r.resume_reason for r in db.sessions_to_resume()}
        finally:
            db.close()
        assert marks == {a: "shutdown", b: "shutdown", c: "shutdown"}

        # The restart: the bridge starts again, as RESTART_COMMAND would have started it.
        turns_before = len(model_server.turns)
        async with scene.run_bridge(seed=2) as again:
            assert again.resumed == tuple(sorted((t, "shutdown") for t in (a, b, c)))
            for thread in (a, b):
                await scene.until_shown(thread, render.resumed_notice("shutdown"))
                await scene.until_shown(thread, "Resumed: counting finished.")
            await scene.until_shown(c, "C handled after the restart.")
        resumed = model_server.turns[turns_before:]
        assert sum(RESUME_PROMPT in t.last_user_text for t in resumed) == 2
        assert [t.last_user_text for t in resumed if t.last_user_text == HELD] == [HELD]


async def test_without_a_restart_command_the_upgraded_bridge_exits_75(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script())
    upgraded = tmp_path / "upgraded.txt"
    upgrade = _write(tmp_path / "upgrade.py", UPGRADE_SCRIPT)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        hook = scene.server.control.create_webhook(scene.channel_id, "release-bot")
        env = {
            "TRIGGERS_FILE": str(_upgrade_trigger(scene, hook)),
            "UPGRADE_COMMAND": _python(upgrade, upgraded),
            "UPGRADE_DRAIN_SECONDS": "60",
        }
        async with open_bridge_process(scene, **env) as bridge:
            await _execute(scene.server.rest_url, hook, "release published")
            with trio.fail_after(TIMEOUT):
                code = await bridge.process.wait()
            assert code == EXIT_RESTART
            await bridge.until_line(lambda line: f"exiting with status {EXIT_RESTART}" in line)
        # Nothing was running: no bound to wait for.
        assert "No turn is running: restarting now" in scene.shown(scene.channel_id)
        assert upgraded.read_text() == "upgraded"


async def _answered(scene: Scene, sent: dict[str, Any]) -> dict[str, Any]:
    """The interaction ``sent`` once the bot has answered it."""
    control = scene.server.control
    await scene.until(lambda: control.interaction(sent["id"])["response_type"] is not None)
    answered: dict[str, Any] = control.interaction(sent["id"])
    return answered


def _approval_message(scene: Scene) -> dict[str, Any] | None:
    for message in scene.bot_messages(scene.channel_id):
        for row in message.get("components") or []:
            for button in row.get("components", []):
                if str(button.get("custom_id", "")).startswith("ccb:upgrade:"):
                    return message
    return None


def _custom_id(message: dict[str, Any], suffix: str) -> str:
    for row in message["components"]:
        for button in row["components"]:
            if button["custom_id"].endswith(suffix):
                return str(button["custom_id"])
    raise AssertionError(f"no button ending in {suffix!r}")


async def test_an_approved_failing_upgrade_leaves_the_bot_running_and_says_what_failed(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script())
    failing = _write(tmp_path / "failing.py", FAILING_SCRIPT)
    async with open_scene(
        tmp_path,
        model_server,
        claude_bin,
        claude_env,
        UPGRADE_COMMAND=_python(failing),
        UPGRADE_REQUIRE_APPROVAL="true",
        UPGRADE_DRAIN_SECONDS="30",
    ) as scene:
        bridge = scene.bridge
        assert bridge is not None
        control = scene.server.control
        answer = await _answered(
            scene, control.invoke_command(scene.owner_id, scene.channel_id, "upgrade")
        )
        assert answer["response_data"]["flags"] & 64  # only the asker sees the answer
        assert "an approver must confirm it" in answer["response_data"]["content"]
        message = await scene.until(lambda: _approval_message(scene))
        assert "lapses <t:" in message["content"]
        # A stranger's click does nothing.
        approve = _custom_id(message, ":yes")
        refused = await _answered(
            scene, scene.click(message["id"], approve, user_id=scene.stranger_id)
        )
        assert "not on this bot's list" in refused["response_data"]["content"]
        scene.click(message["id"], approve)
        await scene.until_shown(scene.channel_id, "❌ Upgrade failed")
        shown = scene.shown(scene.channel_id)
        assert "exited with status 3. The bot keeps running the current version." in shown
        # The last 12 lines of stderr, mention-safe, the fence defused.
        assert "step 8 ok" not in shown
        assert "step 9 ok" in shown
        assert "cannot fetch @\u200beveryone <@\u200b&123> ˋˋˋ broken" in shown
        # The approval message lost its buttons and says who approved.
        closed = control.message(message["id"])
        assert closed["components"] == []
        assert closed["content"] == f"✅ Upgrade approved by <@{scene.owner_id}>."
        assert not bridge.restart_requested.is_set()
        # The bot keeps running: a new message is answered as usual.
        thread = scene.post(scene.channel_id, "Still there?")
        await scene.until_shown(thread, "Still here.")
        # And another upgrade may be asked for at once.
        again = await _answered(
            scene, control.invoke_command(scene.owner_id, scene.channel_id, "upgrade")
        )
        assert "an approver must confirm it" in again["response_data"]["content"]


async def test_approvers_by_role_may_upgrade_and_approve(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    """APPROVER_ROLE_IDS names upgrade approvers as it names prompt approvers: an allowed
    member holding the role may type ``/upgrade``, an allowed user without it may not, and a
    member holding it who is no allowed user may click *Approve upgrade*."""
    model_server.set_script(_script())
    failing = _write(tmp_path / "failing.py", FAILING_SCRIPT)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        world = scene.server.world
        control = scene.server.control
        role = control.create_role("releasers")["id"]
        helper = world.add_user("helper").id  # allowed, no role: no approver
        admin = world.add_user("admin").id  # allowed, with the role
        reviewer = world.add_user("reviewer").id  # the role, but not allowed
        control.set_member_roles(admin, [role])
        control.set_member_roles(reviewer, [role])
        async with scene.run_bridge(
            ALLOWED_USER_IDS=f"{scene.owner_id},{helper},{admin}",
            APPROVER_ROLE_IDS=str(role),
            UPGRADE_COMMAND=_python(failing),
            UPGRADE_REQUIRE_APPROVAL="true",
        ):
            refused = await _answered(
                scene, control.invoke_command(helper, scene.channel_id, "upgrade")
            )
            assert "approver" in refused["response_data"]["content"]
            assert refused["response_data"]["flags"] & 64
            assert _approval_message(scene) is None
            asked = await _answered(
                scene, control.invoke_command(admin, scene.channel_id, "upgrade")
            )
            assert "an approver must confirm it" in asked["response_data"]["content"]
            message = await scene.until(lambda: _approval_message(scene))
            approve = _custom_id(message, ":yes")
            by_helper = await _answered(scene, scene.click(message["id"], approve, user_id=helper))
            assert by_helper["response_data"]["flags"] & 64
            assert control.message(message["id"])["components"] != []  # nothing changed
            scene.click(message["id"], approve, user_id=reviewer)
            await scene.until_shown(scene.channel_id, "❌ Upgrade failed")
            closed = control.message(message["id"])
            assert closed["content"] == f"✅ Upgrade approved by <@{reviewer}>."
