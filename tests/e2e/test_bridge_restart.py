"""Issue 6, scenario 8, with the real ``claude``: ``ccbridge run`` (a real subprocess) gets
SIGTERM, or is killed with SIGKILL, in the middle of a turn; the next bridge, on the same
local Discord server and the same store file, continues the session in the same thread
with nothing lost (A4)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import trio

from bridge.sessions.presentation import render
from bridge.sessions.session import RESUME_PROMPT
from bridge.store import Database
from tests.e2e.bridge_harness import (
    TIMEOUT,
    Scene,
    claude_descendants,
    open_bridge_process,
    open_scene,
    process_alive,
    wait_gone,
)
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

SLOW = " ".join(f"word{i}" for i in range(40))
"""Streamed over about 10 s: a turn still far from its end when the bridge goes."""

ORPHAN_GRACE = 3.0
"""Seconds a killed bridge's ``claude`` may take to die. Left alone, the real CLI would
finish its turn first (it ignores stdin EOF until then): about 9 s with ``SLOW``; the
lifeline watchdog SIGTERMs it at once."""


def _script() -> Callable[[RecordedRequest], ScriptStep]:
    counted = 0

    def reply(request: RecordedRequest) -> ScriptStep:
        nonlocal counted
        said = request.last_user_text
        if said.startswith("Count slowly") and counted == 0:
            counted += 1
            return Reply.text(SLOW, chunks=40, delay=0.25)
        if said.startswith("Count slowly") or RESUME_PROMPT in said:
            return Reply.text("Resumed: counting finished.")
        return Reply.text(f"unexpected: {said!r}")

    return reply


async def _start_turn_in_a_subprocess_bridge(scene: Scene, how: signal.Signals) -> int:
    """Run ``ccbridge run``, start a turn, end the bridge with ``how`` mid-turn; return the
    thread."""
    async with open_bridge_process(scene) as bridge:
        thread = scene.post(scene.channel_id, "Count slowly to sixty")
        await scene.until_shown(thread, "word1 ")
        (claude_pid,) = bridge.claude_pids()
        bridge.process.send_signal(how)
        with trio.fail_after(TIMEOUT):
            code = await bridge.process.wait()
        if how is signal.SIGTERM:
            assert code == 0
            await bridge.until_line(lambda line: "SIGTERM received" in line)
            # The graceful shutdown ended the turn's claude before the bridge exited.
            assert not process_alive(claude_pid)
        else:
            assert code == -signal.SIGKILL
            # The lifeline watchdog ends the orphaned CLI (see the test below); the restart
            # comes after, so one process at a time runs the session.
            assert await wait_gone(claude_pid), f"claude {claude_pid} outlived the killed bridge"
    assert "word39" not in scene.shown(thread)
    return thread


async def _continues_in_the_same_thread(scene: Scene, thread: int, reason: str) -> None:
    turns_before = len(scene.model.turns)
    async with scene.run_bridge(seed=2) as bridge:
        assert bridge.resumed == ((thread, reason),)
        await scene.until_shown(thread, render.resumed_notice(reason))
        await scene.until_shown(thread, "Resumed: counting finished.")
        await scene.until_shown(thread, "✅ Done")
        resumed = scene.model.turns[turns_before:]
        assert len(resumed) == 1
        # The same conversation: the interrupted request is in its history.
        assert "Count slowly to sixty" in resumed[0].all_text()
        if reason == "shutdown":
            # The interrupted turn was closed at shutdown: Claude is asked to go on.
            assert RESUME_PROMPT in resumed[0].last_user_text
        else:
            # After a crash the message's turn never finished: it is delivered again.
            assert resumed[0].last_user_text == "Count slowly to sixty"
        assert (await scene.status(thread)).status == "idle"
    # Nothing typed is left unanswered, and the resume mark is cleared.
    db = Database.open(scene.tmp_path / "ccbridge.db")
    try:
        assert db.inbox(thread) == []
        record = db.get_session(thread)
        assert record is not None
        assert record.resume_reason is None
    finally:
        db.close()
    # One thread, one session: nothing was started twice.
    assert [c.id for c in scene.server.world.channels.values() if c.parent_id] == [thread]
    assert claude_descendants() == []


async def test_sigterm_mid_turn_then_restart_continues_in_the_same_thread(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script())
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        thread = await _start_turn_in_a_subprocess_bridge(scene, signal.SIGTERM)
        await _continues_in_the_same_thread(scene, thread, "shutdown")


async def test_sigkill_mid_turn_then_restart_continues_in_the_same_thread(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script())
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        thread = await _start_turn_in_a_subprocess_bridge(scene, signal.SIGKILL)
        await _continues_in_the_same_thread(scene, thread, "crash")


async def test_claude_dies_with_a_sigkilled_bridge(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script())
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        async with open_bridge_process(scene) as bridge:
            thread = scene.post(scene.channel_id, "Count slowly to sixty")
            await scene.until_shown(thread, "word1 ")
            (claude_pid,) = bridge.claude_pids()
            bridge.process.send_signal(signal.SIGKILL)
            with trio.fail_after(TIMEOUT):
                await bridge.process.wait()
        gone = await wait_gone(claude_pid, timeout=ORPHAN_GRACE)
    if not gone and process_alive(claude_pid):  # the test's own cleanup, not the product's
        os.kill(claude_pid, signal.SIGKILL)
    # The system's lifeline watchdog saw the bridge's end and SIGTERMed claude's group
    # (actors/_watchdog.py): no second claude runs beside a restarted bridge.
    assert gone, f"claude {claude_pid} outlived the killed bridge by {ORPHAN_GRACE} s"
