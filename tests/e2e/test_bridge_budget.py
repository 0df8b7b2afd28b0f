"""Issue 13, budgets, with the real ``claude``: each turn is charged what it cost (the
CLI's ``total_cost_usd`` is the session's running total, so the second turn of a
resumed session is charged the difference, not the sum); at 80 % of the thread's budget
the thread is told once, at 100 % once more; ``/usage`` shows the day by user and by
thread, and all of it survives a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bridge.store import utc_day
from bridge.store.actor import store_call
from tests.e2e.bridge_harness import TIMEOUT, Scene, open_scene
from tests.support.model_server import ModelServer, Reply

# 100,000 input and 1,000 output tokens: $0.42 at the default model's prices, as the
# pinned CLI computes them (measured; the test reads the figure back from the store).
BIG = {"input_tokens": 100_000, "output_tokens": 1_000}


def _reply(text: str) -> Reply:
    return Reply(blocks=Reply.text(text).blocks, **BIG)


async def _spent(scene: Scene, thread: int) -> float:
    assert scene.bridge is not None
    spent: float = await store_call(
        scene.bridge.store, lambda db: db.thread_spent(thread), timeout=TIMEOUT
    )
    return spent


def _done_count(scene: Scene, thread: int) -> int:
    return sum(1 for e in scene.embeds(thread) if str(e.get("title", "")).startswith("✅ Done"))


async def _usage(scene: Scene) -> str:
    sent = scene.server.control.invoke_command(scene.owner_id, scene.channel_id, "usage")

    def answer() -> str | None:
        inter = scene.server.control.interaction(sent["id"])
        data = inter["response_data"]
        return data["content"] if data else None

    return str(await scene.until(answer))


async def test_turns_are_charged_their_own_cost_and_the_thread_is_told_once(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script([_reply("one"), _reply("two"), _reply("three")])
    async with open_scene(
        tmp_path,
        model_server,
        claude_bin,
        claude_env,
        bridge=False,
        BUDGET_THREAD_USD="0.50",
        BUDGET_DAILY_USD="100",
    ) as scene:
        async with scene.run_bridge():
            thread = scene.post(scene.channel_id, "First question")
            await scene.until(lambda: scene.embed_titled(thread, "✅ Done"), timeout=90)
            first = await _spent(scene, thread)
            assert 0.40 <= first < 0.50  # BIG's turn lands in the 80 % band of $0.50
            await scene.until_shown(
                thread, f"${first:.2f} of $0.50: this thread's budget is 80 % used."
            )

            scene.post(thread, "Second question")
            await scene.until(lambda: "two" in scene.shown(thread))
            await scene.until_shown(thread, "this thread's budget is used up.")
            both = await _spent(scene, thread)
            # Charged the second turn's own cost: the CLI reported the running total.
            assert both == pytest.approx(2 * first, rel=1e-6)
            assert f"${both:.2f} of $0.50: this thread's budget is used up." in scene.shown(thread)

            usage = await _usage(scene)
            day = utc_day(time.time())
            assert usage.startswith(f"**Usage on {day} (UTC):** ${both:.2f} of $100.00")
            assert f"<@{scene.owner_id}>: ${both:.2f}" in usage
            assert f"<#{thread}>: ${both:.2f}" in usage

        # A restart forgets nothing: the spending, and what the thread was told. (Another
        # seed: the same one would send the same message nonces, which Discord dedups.)
        async with scene.run_bridge(seed=2):
            assert await _spent(scene, thread) == pytest.approx(both)
            assert (await _usage(scene)).startswith(f"**Usage on {day} (UTC):** ${both:.2f}")
            scene.post(thread, "Third question")
            # The third completion embed comes after its cost was charged.
            await scene.until(lambda: _done_count(scene, thread) == 3, timeout=90)
            assert "three" in scene.shown(thread)
            third = await _spent(scene, thread)
            assert third == pytest.approx(3 * first, rel=1e-6)
            shown = scene.shown(thread)
            assert shown.count("80 % used") == 1
            assert shown.count("is used up") == 1
