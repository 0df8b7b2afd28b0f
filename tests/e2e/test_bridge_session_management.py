"""Issue 13, S1 and S3, with the real ``claude``: two sessions made beforehand by the real
CLI in the working directory are imported by ``/sync-sessions`` as threads showing their
recent messages; a follow-up in one reaches the model with that session's history; a
second sync imports nothing; ``/resume-info`` prints a command that, run in a shell,
continues the same session (it sees the Discord follow-up too)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import trio

from tests.e2e.bridge_harness import TIMEOUT, Scene, open_scene
from tests.support.model_server import ModelServer, Reply


async def _cli_session(claude_bin: Path, claude_env: dict[str, str], cwd: Path, prompt: str) -> str:
    """Run the real CLI once in ``cwd`` (as a person at a terminal would); its session id."""
    done = await trio.run_process(
        [str(claude_bin), "-p", prompt, "--output-format", "json", "--allowedTools", "Bash"],
        cwd=cwd,
        env=claude_env,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return str(json.loads(done.stdout)["session_id"])


async def _command(scene: Scene, channel_id: int, name: str, **options: Any) -> str:
    """Run ``/name`` as the owner; the text of the answer once it is filled in."""
    given = [{"name": k, "type": 4, "value": v} for k, v in options.items()]
    sent = scene.server.control.invoke_command(scene.owner_id, channel_id, name, given or None)

    def answer() -> str | None:
        inter = scene.server.control.interaction(sent["id"])
        original = inter["original_message_id"]
        if original is None:
            return None
        message = scene.server.control.message(original)
        assert message["flags"] & 64, "management answers are ephemeral"
        content = str(message["content"])
        return content or None  # a deferred answer is empty until it is filled in

    return str(await scene.until(answer))


def _threads(scene: Scene) -> set[int]:
    world = scene.server.world
    return {cid for cid, ch in world.channels.items() if ch.parent_id == scene.channel_id}


async def test_sync_imports_cli_sessions_that_continue_and_resume_info_resumes(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    workdir = tmp_path / "repo"
    workdir.mkdir()
    model_server.set_script(
        [
            Reply.bash("echo PELICAN", "say the word"),
            Reply.text("Noted: PELICAN."),
            Reply.text("Got ORCHID."),
            Reply.text("The word was PELICAN."),
            Reply.text("Still PELICAN, from the terminal."),
        ]
    )
    first = await _cli_session(claude_bin, claude_env, workdir, "Remember the word PELICAN")
    second = await _cli_session(claude_bin, claude_env, workdir, "Second topic: ORCHID")
    assert first != second

    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        assert _threads(scene) == set()
        answer = await _command(scene, scene.channel_id, "sync-sessions", hours=1, count=5)
        assert answer.startswith("📥 Imported 2 session(s)"), answer
        threads = _threads(scene)
        assert len(threads) == 2
        for thread in threads:
            assert f"<#{thread}>" in answer

        by_session: dict[str, int] = {}
        for thread in threads:
            starter = scene.server.control.message(thread)
            found = re.search(r"`([0-9a-f-]{36})`", starter["content"])
            assert found is not None, starter["content"]
            by_session[found[1]] = thread
        assert set(by_session) == {first, second}
        pelican = by_session[first]

        # The backfill: who spoke, what was said, and the tool call, in order.
        shown = scene.shown(pelican)
        order = [
            "🧑 You",
            "Remember the word PELICAN",
            "🤖 Claude",
            "Bash `echo PELICAN`",
            "Noted: PELICAN.",
        ]
        positions = [shown.find(part) for part in order]
        assert all(p >= 0 for p in positions), shown
        assert positions == sorted(positions), shown
        assert "Second topic: ORCHID" in scene.shown(by_session[second])
        assert "PELICAN" not in scene.shown(by_session[second])

        # A follow-up continues the CLI session: the model sees its history.
        turns_before = len(model_server.turns)
        scene.post(pelican, "Which word did I ask you to remember?")
        request = await scene.turn(turns_before + 1)
        assert request.last_user_text == "Which word did I ask you to remember?"
        assert "Remember the word PELICAN" in request.all_text()
        assert "Noted: PELICAN." in request.all_text()
        assert "ORCHID" not in request.all_text()
        await scene.until(lambda: scene.embed_titled(pelican, "✅ Done"), timeout=90)
        assert "The word was PELICAN." in scene.shown(pelican)

        # Idempotent: a second sync imports nothing.
        again = await _command(scene, scene.channel_id, "sync-sessions")
        assert again.startswith("Nothing new to import."), again
        assert "2 in the window were imported before" in again
        assert _threads(scene) == threads

        # S3: the command continues the very same conversation in a terminal.
        info = await _command(scene, pelican, "resume-info")
        block = re.search(r"```sh\n(.+)\n```", info)
        assert block is not None, info
        command = block[1]
        assert command.startswith(f"cd {workdir} && claude --resume ")
        env = {**claude_env, "PATH": f"{claude_bin.parent}{os.pathsep}{claude_env['PATH']}"}
        turns_before = len(model_server.turns)
        with trio.fail_after(TIMEOUT):
            done = await trio.run_process(
                ["sh", "-c", f"{command} -p 'And now?' --output-format json"],
                env=env,
                cwd=tmp_path,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert json.loads(done.stdout)["result"] == "Still PELICAN, from the terminal."
        resumed = model_server.turns[turns_before]
        assert resumed.last_user_text == "And now?"
        assert "Remember the word PELICAN" in resumed.all_text()
        assert "Which word did I ask you to remember?" in resumed.all_text()


async def test_resume_info_outside_a_session_thread_says_so(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        info = await _command(scene, scene.channel_id, "resume-info")
        assert info.startswith("There is no Claude session in this channel")
