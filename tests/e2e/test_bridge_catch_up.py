"""Issue 10 point 1, with the real ``claude``: messages posted while ``ccbridge run`` is
down (after a SIGTERM, or a SIGKILL), in the channel and in a session's thread, are picked
up by the next bridge once its gateway is READY, and each is answered exactly once."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from bridge.sessions.router import GetRouterStats
from bridge.store import Database
from tests.e2e.bridge_harness import (
    TIMEOUT,
    Scene,
    claude_descendants,
    open_bridge_process,
    open_scene,
)
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

ANSWERS = {
    "Start a session": "Session started.",
    "Typed in the thread while the bridge was down": "Answer to the thread message.",
    "Typed in the channel while the bridge was down": "Answer to the channel message.",
}


def _script() -> Callable[[RecordedRequest], ScriptStep]:
    def reply(request: RecordedRequest) -> ScriptStep:
        said = request.last_user_text
        return Reply.text(ANSWERS.get(said, f"unexpected: {said!r}"))

    return reply


async def _until_recorded_idle(scene: Scene, thread: int) -> None:
    """Wait until the bridge's store file says the thread's turn is over (the bridge runs
    in another process: its SQLite file, in WAL mode, is read here)."""

    def idle() -> bool:
        db = Database.open(scene.tmp_path / "ccbridge.db")
        try:
            record = db.get_session(thread)
            return record is not None and record.status == "idle" and db.inbox(thread) == []
        finally:
            db.close()

    with trio.fail_after(TIMEOUT):
        # The condition lives in another process's SQLite file: no event can reach us.
        while not await trio.to_thread.run_sync(idle):  # noqa: ASYNC110
            await trio.sleep(0.05)


def _turns_for(scene: Scene, text: str) -> int:
    return sum(1 for turn in scene.model.turns if turn.last_user_text == text)


async def _catch_up_after(scene: Scene, how: signal.Signals) -> None:
    async with open_bridge_process(scene) as bridge:
        thread = scene.post(scene.channel_id, "Start a session")
        await scene.until_shown(thread, "Session started.")
        await scene.until_shown(thread, "✅ Done")
        # The completion embed is posted before the turn is recorded finished; a SIGKILL
        # in between would run the message again (issue 10 point 7, not catch-up).
        await _until_recorded_idle(scene, thread)
        bridge.process.send_signal(how)
        with trio.fail_after(TIMEOUT):
            code = await bridge.process.wait()
        assert code == (0 if how is signal.SIGTERM else -signal.SIGKILL)

    # Nobody is listening now.
    in_thread = scene.post(thread, "Typed in the thread while the bridge was down")
    in_channel = scene.post(scene.channel_id, "Typed in the channel while the bridge was down")

    async with scene.run_bridge(seed=2) as running:
        # run_bridge returned after wait_ready: both were found at READY.
        stats = await running.router.ask(GetRouterStats(), timeout=TIMEOUT)
        assert (stats.caught_up, stats.not_run) == (2, 0)
        await scene.until_shown(thread, "📬 Picked up 1 message sent while I was offline.")
        await scene.until_shown(thread, "Answer to the thread message.")
        # The channel's message started its own thread, with its own notice and answer.
        await scene.until_shown(in_channel, "📬 Picked up 1 message sent while I was offline.")
        await scene.until_shown(in_channel, "Answer to the channel message.")
        await scene.until(lambda: scene.shown(thread).count("✅ Done") == 2)
        await scene.until(lambda: "✅ Done" in scene.shown(in_channel))
        for thread_id in (thread, in_channel):
            with trio.fail_after(TIMEOUT):
                while (await scene.status(thread_id)).status != "idle":
                    await scene.exchanges.changed()
    # Each message went to Claude exactly once, and was answered once.
    for text in ANSWERS:
        assert _turns_for(scene, text) == 1, text
    assert scene.shown(thread).count("Answer to the thread message.") == 1
    assert scene.shown(in_channel).count("Answer to the channel message.") == 1
    assert in_thread in scene.server.world.messages
    assert claude_descendants() == []


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_messages_sent_while_the_bridge_was_down_are_answered_once(
    tmp_path: Path,
    model_server: ModelServer,
    claude_bin: Path,
    claude_env: dict[str, str],
    how: signal.Signals,
) -> None:
    model_server.set_script(_script())
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        await _catch_up_after(scene, how)
