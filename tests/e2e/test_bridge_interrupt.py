"""Issue 6, scenario 5, with the real ``claude``: a new message during a running turn
interrupts it and the session continues with the new instruction (C21); ``/stop`` ends the
turn and leaves a resumable session (C9); no ``claude`` process survives either."""

from __future__ import annotations

from pathlib import Path

from bridge.sessions.presentation import render
from tests.e2e.bridge_harness import Scene, claude_descendants, open_scene, process_alive
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

SLOW = " ".join(f"word{i}" for i in range(60))
"""Streamed over about 15 s: long enough to be interrupted in the middle."""


def _script(request: RecordedRequest) -> ScriptStep:
    said = request.last_user_text
    if said.startswith("Count slowly"):
        return Reply.text(SLOW, chunks=60, delay=0.25)
    if said.startswith("Stop counting"):
        return Reply.text("DONE as asked.")
    if said.startswith("Where were we"):
        return Reply.text("We were counting.")
    return Reply.text(f"unexpected: {said!r}")


async def _running_pid(scene: Scene, thread: int) -> int:
    """Wait until the turn streams text, then return its ``claude`` pid."""
    await scene.until_shown(thread, "word1 ")
    status = await scene.status(thread)
    assert status.status == "running"
    assert status.claude_pid is not None
    return status.claude_pid


async def test_a_new_message_interrupts_the_turn_and_the_session_goes_on_with_it(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        thread = scene.post(scene.channel_id, "Count slowly to sixty")
        pid = await _running_pid(scene, thread)
        second = scene.post(thread, "Stop counting, just say DONE")

        await scene.until_shown(thread, render.interrupt_notice())
        await scene.until_shown(thread, "DONE as asked.")
        await scene.until(lambda: scene.shown(thread).count("✅ Done") >= 1)
        # The counting stopped early: its text never reached the end.
        assert "word59" not in scene.shown(thread)
        # The new instruction reached Claude in the same conversation.
        last = model_server.turns[-1]
        assert last.last_user_text == "Stop counting, just say DONE"
        assert "Count slowly to sixty" in last.all_text()
        assert [t.last_user_text for t in model_server.turns].count(
            "Stop counting, just say DONE"
        ) == 1
        await scene.until(lambda: scene.bot_reactions(second) == ["✅"])
        status = await scene.status(thread)
        assert status.status == "idle"
        assert status.claude_pid is None
        assert not process_alive(pid)
        assert claude_descendants() == []


async def test_stop_ends_the_turn_and_the_session_stays_resumable(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        thread = scene.post(scene.channel_id, "Count slowly to sixty")
        pid = await _running_pid(scene, thread)
        session_id = (await scene.status(thread)).session_id
        assert session_id is not None
        stop = scene.stop(thread)

        await scene.until_shown(thread, "⏹️ Stopped. The session is kept")
        answered = scene.server.control.interaction(stop["id"])
        assert answered["response_data"]["content"] == f"⏹️ Stop requested by <@{scene.owner_id}>."
        assert "word59" not in scene.shown(thread)
        await scene.until(lambda: scene.embed_titled(thread, "⏹️ Interrupted"))
        status = await scene.status(thread)
        assert status.status == "stopped"
        assert status.claude_pid is None
        assert not process_alive(pid)
        assert claude_descendants() == []
        turns_before = len(model_server.turns)

        # Resumable: the next message continues the same conversation.
        scene.post(thread, "Where were we?")
        await scene.until_shown(thread, "We were counting.")
        assert len(model_server.turns) == turns_before + 1
        resumed = model_server.turns[-1]
        assert resumed.last_user_text == "Where were we?"
        assert "Count slowly to sixty" in resumed.all_text()
        assert (await scene.status(thread)).session_id == session_id
    assert claude_descendants() == []
