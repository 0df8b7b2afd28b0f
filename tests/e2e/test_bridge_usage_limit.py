"""Issue 13, usage-limit parking, with the real ``claude``: three sessions hit a scripted
usage limit (429) at about the same time, park with the time shown, hold no slot, and
resume by themselves after it, in the order they parked and staggered (as the model
server sees their requests); a message typed during the pause goes with the resumed turn
and is answered; a session that hits the limit again parks again, for longer."""

from __future__ import annotations

import re
import time
from pathlib import Path

import trio

from bridge.sessions.messages import GetSlots, SlotsSnapshot
from bridge.sessions.session import USAGE_RESUME_PROMPT
from bridge.store.actor import store_call
from bridge.usage_limit import until_text
from tests.e2e.bridge_harness import TIMEOUT, Scene, open_scene
from tests.support.model_server import HttpError, ModelServer, RecordedRequest, Reply, ScriptStep

RETRY = 3.0
STAGGER = 3.0
REFUSED = HttpError(
    429,
    "usage limit reached",
    retry_after=None,
    headers=(("anthropic-ratelimit-unified-status", "rejected"),),
)
PAUSED = "⏸️ Paused: the account hit its usage limit; trying again at "


async def _parked_until(scene: Scene, thread: int) -> float:
    assert scene.bridge is not None
    at: float | None = await store_call(
        scene.bridge.store, lambda db: db.usage_parked_until(thread), timeout=TIMEOUT
    )
    assert at is not None, f"thread {thread} is not parked at the usage limit"
    return at


async def test_three_sessions_park_at_the_usage_limit_and_resume_staggered_in_order(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    # Each turn request, when it arrived (wall clock), and which task's conversation it is.
    arrivals: list[tuple[float, str, RecordedRequest]] = []
    refuse = {1, 2, 3, 6}  # the first three requests, and the third resumed one

    def script(request: RecordedRequest) -> ScriptStep:
        task = re.search(r"Task [ABC]", request.all_text())
        arrivals.append((time.time(), task.group(0) if task else "?", request))
        if len(arrivals) in refuse:
            return REFUSED
        return Reply.text(f"Answer {len(arrivals)}: {request.last_user_text[:40]}")

    model_server.set_script(script)
    async with open_scene(
        tmp_path,
        model_server,
        claude_bin,
        # The CLI's own retries would only delay the test: it gives up at once.
        {**claude_env, "CLAUDE_CODE_MAX_RETRIES": "0"},
        USAGE_LIMIT_RETRY_SECONDS=str(RETRY),
        USAGE_LIMIT_STAGGER_SECONDS=str(STAGGER),
    ) as scene:
        threads = {name: scene.post(scene.channel_id, f"Task {name}") for name in "ABC"}
        for thread in threads.values():
            await scene.until_shown(thread, PAUSED)
        assert len(arrivals) == 3

        # Parked: the time shown is the stored one, no slot held, status parked.
        until = {name: await _parked_until(scene, t) for name, t in threads.items()}
        for name, thread in threads.items():
            assert f"{PAUSED}{until_text(until[name])}." in scene.shown(thread)
            assert (await scene.status(thread)).status == "parked"
        order = sorted(until, key=until.__getitem__)
        assert scene.bridge is not None
        slots: SlotsSnapshot = await scene.bridge.limiter.ask(GetSlots(), timeout=TIMEOUT)
        assert slots.running == frozenset()
        assert slots.waiting == ()

        def dashboard() -> str:
            boards = scene.dashboards()
            return str(boards[0]["embeds"][0]["description"]) if boards else ""

        # The pinned dashboard lists them as parked, with the time (checked on the last
        # one: its edits are paced, and the first may have resumed by then).
        last_line = f"usage limit, until {until_text(until[order[2]])}"
        await scene.until(lambda: "💤 Parked" in dashboard() and last_line in dashboard())
        # They parked within moments of each other; the stagger spaces their times.
        times = [until[name] for name in order]
        assert times[1] - times[0] >= STAGGER - 1e-6
        assert times[2] - times[1] >= STAGGER - 1e-6

        # A message typed during the pause is kept, and goes with the resumed turn.
        middle = order[1]
        scene.post(threads[middle], "Meanwhile, also say hello")
        await scene.until_shown(threads[middle], "Kept: it goes to Claude when the session")
        assert len(arrivals) == 3

        with trio.fail_after(TIMEOUT):
            await model_server.wait_for_turns(6)
        resumed = arrivals[3:6]
        # In the order they parked, each no earlier than its time, staggered.
        assert [task for _, task, _ in resumed] == [f"Task {name}" for name in order]
        for (at, _, _), name in zip(resumed, order, strict=True):
            assert at >= until[name] - 0.01
        assert resumed[1][0] - resumed[0][0] >= STAGGER / 2
        assert resumed[2][0] - resumed[1][0] >= STAGGER / 2
        first, second, third = (request for _, _, request in resumed)
        # The refused request left no answer in the conversation, so the CLI sends the
        # task again joined with what comes next: the resume prompt (the cut-off turn
        # goes on) or the message typed during the pause.
        assert first.last_user_text == f"Task {order[0]}\n\n{USAGE_RESUME_PROMPT}"
        assert second.last_user_text == f"Task {middle}\n\nMeanwhile, also say hello"
        assert third.last_user_text == f"Task {order[2]}\n\n{USAGE_RESUME_PROMPT}"
        for name in order[:2]:
            await scene.until_shown(threads[name], "▶️ Usage limit: trying again now.")
        await scene.until_shown(threads[order[0]], "Answer 4:")
        await scene.until_shown(threads[middle], f"Answer 5: Task {middle}")

        # The third hit the limit again: parked again, waiting twice as long.
        last = threads[order[2]]
        await scene.until(lambda: scene.shown(last).count(PAUSED) == 2)
        again = await _parked_until(scene, last)
        assert again - arrivals[5][0] >= 2 * RETRY - 1.0
        assert (await scene.status(last)).status == "parked"
        with trio.fail_after(TIMEOUT):
            await model_server.wait_for_turns(7)
        assert arrivals[6][0] >= again - 0.01
        assert arrivals[6][2].last_user_text.endswith(USAGE_RESUME_PROMPT)
        await scene.until_shown(last, "Answer 7:")
        await scene.until(lambda: all("✅ Done" in scene.shown(t) for t in threads.values()))
        for thread in threads.values():
            assert (await scene.status(thread)).status == "idle"


async def test_a_session_parked_at_the_usage_limit_stays_parked_across_a_restart(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    arrivals: list[float] = []

    def script(request: RecordedRequest) -> ScriptStep:
        arrivals.append(time.time())
        return REFUSED if len(arrivals) == 1 else Reply.text("Back at work")

    model_server.set_script(script)
    async with open_scene(
        tmp_path,
        model_server,
        claude_bin,
        {**claude_env, "CLAUDE_CODE_MAX_RETRIES": "0"},
        bridge=False,
        USAGE_LIMIT_RETRY_SECONDS="6",
    ) as scene:
        async with scene.run_bridge():
            thread = scene.post(scene.channel_id, "Task A")
            await scene.until_shown(thread, PAUSED)
            until = await _parked_until(scene, thread)
        # Another seed: the same one would send the same message nonces, which Discord
        # dedups.
        async with scene.run_bridge(seed=2):
            assert await _parked_until(scene, thread) == until
            if time.time() < until - 1:
                assert (await scene.status(thread)).status == "parked"
            with trio.fail_after(TIMEOUT):
                resumed = await model_server.wait_for_turns(2)
            assert arrivals[1] >= until - 0.01
            assert resumed.last_user_text == f"Task A\n\n{USAGE_RESUME_PROMPT}"
            await scene.until_shown(thread, "Back at work")
