"""Issue 13, budgets, with the real ``claude``: each turn is charged what it cost (the
CLI's ``total_cost_usd`` is the session's running total, so the second turn of a
resumed session is charged the difference, not the sum); at 80 % of the thread's budget
the thread is told once, at 100 % once more; ``/usage`` shows the day by user and by
thread, and all of it survives a restart."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from bridge.store import utc_day
from bridge.store.actor import store_call
from tests.e2e.bridge_harness import TIMEOUT, Scene, open_scene
from tests.support.model_server import ModelServer, Reply

# 100,000 input and 1,000 output tokens: $0.42 at the default model's prices, as the
# pinned CLI computes them (measured; the test reads the figure back from the store).
SECRET = "budget-test-secret-0123456789"
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


def _buttons(scene: Scene, thread: int) -> dict[str, tuple[int, str]]:
    """The buttons on the bot's messages in a thread: label -> (message id, custom id)."""
    found = {}
    for message in scene.bot_messages(thread):
        for row in message["components"]:
            for button in row["components"]:
                if not button.get("disabled"):
                    found[button["label"]] = (int(message["id"]), button["custom_id"])
    return found


async def _answer_of(scene: Scene, sent: dict[str, object]) -> str:
    def answer() -> str | None:
        data = scene.server.control.interaction(sent["id"])["response_data"]
        return str(data.get("content", "")) if data else None

    return str(await scene.until(answer))


async def test_turns_are_charged_their_cost_told_once_parked_over_budget_and_approved(
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
        CCBRIDGE_API_SECRET=SECRET,
    ) as scene:
        colleague = scene.server.world.add_user("colleague").id
        allowed = f"{scene.owner_id},{colleague}"
        async with scene.run_bridge(ALLOWED_USER_IDS=allowed):
            thread = scene.post(scene.channel_id, "First question")
            await scene.until(lambda: _done_count(scene, thread) == 1, timeout=90)
            first = await _spent(scene, thread)
            assert 0.40 <= first < 0.50  # BIG's turn lands in the 80 % band of $0.50
            await scene.until_shown(
                thread, f"${first:.2f} of $0.50: this thread's budget is 80 % used."
            )

            scene.post(thread, "Second question")
            await scene.until(lambda: _done_count(scene, thread) == 2, timeout=90)
            both = await _spent(scene, thread)
            # Charged the second turn's own cost: the CLI reported the running total.
            assert both == pytest.approx(2 * first, rel=1e-6)
            shown = scene.shown(thread)
            assert f"${both:.2f} of $0.50: this thread's budget is used up." in shown
            # Used up: the session parks, with the approvers' buttons.
            await scene.until_shown(thread, "⏸️ Paused: this thread's budget is used up.")
            assert (await scene.status(thread)).status == "parked"
            assert scene.bridge is not None
            async with httpx.AsyncClient(base_url=scene.bridge.api_url) as client:
                listed = await client.get(
                    "/api/sessions", headers={"Authorization": f"Bearer {SECRET}"}
                )
            (entry,) = [e for e in listed.json()["sessions"] if e["thread_id"] == str(thread)]
            assert entry["status"] == "parked"
            assert set(_buttons(scene, thread)) == {
                "Continue with +$1",
                "Continue with +$5",
                "Continue with +$20",
            }

            usage = await _usage(scene)
            day = utc_day(time.time())
            assert usage.startswith(f"**Usage on {day} (UTC):** ${both:.2f} of $100.00")
            assert f"<@{scene.owner_id}>: ${both:.2f}" in usage
            assert f"<#{thread}>: ${both:.2f}" in usage

        # A restart forgets nothing: the spending, what the thread was told, the parking.
        # (Another seed: the same one would send the same message nonces, which Discord
        # dedups.)
        async with scene.run_bridge(seed=2, ALLOWED_USER_IDS=allowed):
            assert await _spent(scene, thread) == pytest.approx(both)
            assert (await _usage(scene)).startswith(f"**Usage on {day} (UTC):** ${both:.2f}")
            scene.post(thread, "Third question")
            await scene.until_shown(thread, "Kept: it goes to Claude when the session continues.")
            assert len(model_server.turns) == 2
            assert (await scene.status(thread)).status == "parked"

            message_id, plus_one = _buttons(scene, thread)["Continue with +$1"]
            # Someone not allowed, then an allowed user who is no approver: nothing happens.
            refused = scene.click(message_id, plus_one, user_id=scene.stranger_id)
            assert "not on this bot's list" in await _answer_of(scene, refused)
            not_approver = scene.click(message_id, plus_one, user_id=colleague)
            assert (await _answer_of(scene, not_approver)).startswith("Only an approver")
            assert (await scene.status(thread)).status == "parked"
            assert len(model_server.turns) == 2

            # The owner approves: the kept message runs.
            scene.click(message_id, plus_one)
            request = await scene.turn(3)
            assert request.last_user_text == "Third question"
            await scene.until_shown(thread, f"<@{scene.owner_id}> let it continue with +$1.00.")
            await scene.until(lambda: _done_count(scene, thread) == 3, timeout=90)
            assert "three" in scene.shown(thread)
            third = await _spent(scene, thread)
            assert third == pytest.approx(3 * first, rel=1e-6)
            # $1.26 is under $0.50 + $1 allowed: it goes on.
            assert (await scene.status(thread)).status == "idle"
            shown = scene.shown(thread)
            assert shown.count("80 % used") == 1
            assert shown.count("💸") == 1
            assert _buttons(scene, thread) == {}
