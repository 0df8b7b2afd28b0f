"""Slash commands end to end, with the real ``claude``, the local Discord server and the
scripted model, acting as a person through the control API (issue 11):

* ``/model`` (C24) switches a running turn (the model server's next request of that turn
  asks for the new model), later turns start with it, and the autocomplete offers the
  CLI's aliases;
* ``/skill`` (C7): a skill file added while the bridge runs appears in the autocomplete,
  and running it sends ``/<name> <args>``, which the CLI expands into the skill's body
  (pinned here: the model receives the body with ``$ARGUMENTS`` replaced); in the main
  channel it starts a thread, in a session thread it runs in that session;
* approvers: an allowed user who is no approver cannot answer a permission prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.sessions.approvers import NOT_APPROVER
from bridge.sessions.router import NOT_ALLOWED
from bridge.store.actor import store_call
from tests.e2e.bridge_harness import Scene, claude_descendants, open_scene
from tests.e2e.test_bridge_tools import _buttons, _wait_prompt
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep


async def _command(
    scene: Scene, channel: int, name: str, options: list[dict[str, Any]], user: int | None = None
) -> dict[str, Any]:
    """Run a slash command as a person and wait for the bot's answer."""
    control = scene.server.control
    sent = control.invoke_command(user or scene.owner_id, channel, name, options)
    await scene.until(lambda: control.interaction(sent["id"])["response_type"] is not None)
    answered: dict[str, Any] = control.interaction(sent["id"])
    return answered


async def _choices(
    scene: Scene, channel: int, name: str, option: str, typed: str, user: int | None = None
) -> list[dict[str, Any]]:
    """Type into an autocomplete option as a person; the choices the bot offered."""
    focused = [{"name": option, "type": 3, "value": typed, "focused": True}]
    offered = await scene.server.control.autocomplete(
        user or scene.owner_id, channel, name, focused
    )
    choices: list[dict[str, Any]] = offered["choices"]
    return choices


def _model_script(request: RecordedRequest) -> ScriptStep:
    said = request.last_user_text
    if said.startswith("Touch the file"):
        return Reply.bash("touch touched.txt", "touch a file")
    if "tool_result" in str(request.messages[-1].get("content")):
        return Reply.text("Touched it.")
    if said.endswith("And now?"):
        # Slow enough to look at the running claude's command line.
        return Reply.text(" ".join(f"word{i}" for i in range(40)), chunks=40, delay=0.2)
    return Reply.text(f"ok: {said[:40]}")


async def test_model_switches_the_running_turn_and_later_turns(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_model_script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        thread = scene.post(scene.channel_id, "Touch the file please")
        prompt = await _wait_prompt(scene, thread, 1)
        first = model_server.turns[0].body["model"]
        assert "sonnet" not in first

        # Autocomplete: the aliases, filtered by what is typed; nothing for a stranger.
        offered = await _choices(scene, thread, "model", "name", "son")
        assert [c["value"] for c in offered] == ["sonnet", "sonnet[1m]"]
        assert await _choices(scene, thread, "model", "name", "", user=scene.stranger_id) == []
        refused = await _command(
            scene, thread, "model", [{"name": "name", "type": 3, "value": "opus"}],
            user=scene.stranger_id,
        )  # fmt: skip
        assert refused["response_data"]["content"] == NOT_ALLOWED
        assert refused["response_data"]["flags"] == 64
        bad = await _command(scene, thread, "model", [{"name": "name", "type": 3, "value": "gpt"}])
        assert bad["response_data"]["flags"] == 64
        assert "Not a model the CLI knows" in bad["response_data"]["content"]

        # The turn waits on the permission prompt: switch it, then let it go on.
        switched = await _command(
            scene, thread, "model", [{"name": "name", "type": 3, "value": "sonnet"}]
        )
        assert "set this session's model to `sonnet`" in switched["response_data"]["content"]
        assert "flags" not in switched["response_data"]  # everyone in the thread sees it

        # The session is told SetModel before this click's answer (both go through the
        # thread's lane, in order), so the switch happens before the tool runs.
        scene.click(int(prompt["id"]), _buttons(prompt)["Allow"]["custom_id"])
        await scene.until_shown(thread, "Touched it.")
        second = (await scene.turn(2)).body["model"]
        assert "sonnet" in second, second  # the same turn, after set_model
        # The completion embed names the model the turn used.
        await scene.until(lambda: "🤖" in scene.shown(thread))
        assert f"`{second}`" in scene.shown(thread)

        assert scene.bridge is not None
        record = await store_call(scene.bridge.store, lambda db: db.get_session(thread), timeout=30)
        assert record is not None
        assert record.model == "sonnet"

        # A later turn starts its claude with --model sonnet.
        scene.post(thread, "And now?")
        third = await scene.turn(3)
        await scene.until_shown(thread, "word1 ")
        pid = (await scene.status(thread)).claude_pid
        argv = next(p.cmdline() for p in claude_descendants() if p.pid == pid)
        assert argv[argv.index("--model") + 1] == "sonnet"
        # The CLI records the switch in the conversation as a local "/model sonnet"
        # command, and shows it to the model with the next message.
        assert third.last_user_text.endswith("And now?")
        assert "<command-args>sonnet</command-args>" in third.last_user_text
        assert third.body["model"] == second

        # In the main channel /model shows the default and changes nothing.
        shown = await _command(scene, scene.channel_id, "model", [])
        assert shown["response_data"]["flags"] == 64
        assert "New sessions use" in shown["response_data"]["content"]


SKILL = """---
name: greet
description: Say hello nicely to someone
---
SKILL-BODY-MARKER say hello to $ARGUMENTS
"""

USER_SKILL = """---
name: tidy
description: "Tidy up: a user-level skill"
---
USER-SKILL-MARKER tidy $ARGUMENTS
"""


async def test_skill_added_while_running_is_offered_and_reaches_the_model(
    tmp_path: Path,
    model_server: ModelServer,
    claude_bin: Path,
    claude_env: dict[str, str],
    claude_home: Path,
) -> None:
    model_server.set_script(lambda request: Reply.text("skill done"))
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        main = scene.channel_id
        assert await _choices(scene, main, "skill", "name", "gre") == []

        # Added while the bridge runs: the next keystroke finds it.
        folder = tmp_path / "repo" / ".claude" / "skills" / "greet"
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(SKILL)
        offered = await _choices(scene, main, "skill", "name", "gre")
        assert offered == [{"name": "greet: Say hello nicely to someone", "value": "greet"}]
        assert await _choices(scene, main, "skill", "name", "gre", user=scene.stranger_id) == []

        greet_bob = [
            {"name": "name", "type": 3, "value": "greet"},
            {"name": "args", "type": 3, "value": "Bob"},
        ]
        ran = await _command(scene, main, "skill", greet_bob)
        assert ran["response_data"]["flags"] == 64
        assert "Running the skill `greet` in a new thread" in ran["response_data"]["content"]
        first = await scene.turn(1)
        # The CLI expanded /greet Bob into the skill's body.
        assert "SKILL-BODY-MARKER say hello to Bob" in first.all_text()
        threads = [c for c in scene.server.world.channels.values() if c.parent_id == main]
        assert len(threads) == 1
        thread = threads[0].id
        await scene.until_shown(thread, "skill done")
        # The thread starts from the intro in the main channel.
        assert "ran the skill `greet`: Bob" in scene.server.control.message(thread)["content"]

        # A user-level skill, added now, runs in the existing session.
        user_folder = claude_home / ".claude" / "skills" / "tidy"
        user_folder.mkdir(parents=True)
        (user_folder / "SKILL.md").write_text(USER_SKILL)
        offered = await _choices(scene, thread, "skill", "name", "tidy")
        assert offered == [{"name": "tidy: Tidy up: a user-level skill", "value": "tidy"}]
        ran = await _command(scene, thread, "skill", [{"name": "name", "type": 3, "value": "tidy"}])
        assert "in this thread" in ran["response_data"]["content"]
        second = await scene.turn(2)
        assert "USER-SKILL-MARKER tidy" in second.all_text()
        assert "SKILL-BODY-MARKER say hello to Bob" in second.all_text()  # same conversation

        missing = await _command(
            scene, thread, "skill", [{"name": "name", "type": 3, "value": "nope"}]
        )
        assert missing["response_data"]["flags"] == 64
        assert "There is no skill 'nope'" in missing["response_data"]["content"]


async def test_only_approvers_answer_permission_prompts(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_model_script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        world = scene.server.world
        helper = world.add_user("helper").id  # allowed, but no approver
        role = scene.server.control.create_role("reviewers")["id"]
        reviewer = world.add_user("reviewer").id  # not allowed, approver by role
        scene.server.control.set_member_roles(reviewer, [role])
        async with scene.run_bridge(
            ALLOWED_USER_IDS=f"{scene.owner_id},{helper}",
            APPROVER_ROLE_IDS=str(role),
        ):
            thread = scene.post(scene.channel_id, "Touch the file please")
            prompt = await _wait_prompt(scene, thread, 1)
            allow = _buttons(prompt)["Allow"]["custom_id"]
            control = scene.server.control
            for user, text in ((helper, NOT_APPROVER), (scene.stranger_id, NOT_ALLOWED)):
                click = scene.click(int(prompt["id"]), allow, user_id=user)
                await scene.until(
                    lambda c=click: control.interaction(c["id"])["response_type"] is not None
                )
                answered = control.interaction(click["id"])["response_data"]
                assert (answered["content"], answered["flags"]) == (text, 64)
            assert len(model_server.turns) == 1  # still waiting for the tool
            scene.click(int(prompt["id"]), allow, user_id=reviewer)
            await scene.until_shown(thread, "Touched it.")
