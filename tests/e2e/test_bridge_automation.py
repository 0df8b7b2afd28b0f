"""Issue 12, end to end with the real ``claude``: ``POST /api/spawn`` answers 201 at once
and its thread appears with the session working; a task due every few seconds runs on its
schedule, each run a real session in its own thread, within a drift bound of 2 s."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import trio

from bridge.store import RunOutcome
from bridge.store.actor import store_call
from tests.e2e.bridge_harness import TIMEOUT, open_scene
from tests.support.model_server import ModelServer, Reply

SECRET = "e2e-automation-secret-0123"
DRIFT_BOUND = 2.0
"""Seconds a run may start after its slot (the scheduler wakes within milliseconds; the
rest is the store and the event loop on a loaded machine)."""


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Wait for a condition read from the store (it has no change events)."""
    with trio.fail_after(timeout):
        while True:
            if await check():
                return
            await trio.sleep(0.2)


async def test_spawn_answers_201_at_once_and_the_thread_shows_the_session_working(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    # A slow stream: the turn is still going well after the 201.
    model_server.set_script([Reply.text("spawned and working on it", chunks=5, delay=0.6)])
    async with open_scene(
        tmp_path, model_server, claude_bin, claude_env, CCBRIDGE_API_SECRET=SECRET
    ) as scene:
        assert scene.bridge is not None
        async with httpx.AsyncClient(base_url=scene.bridge.api_url, timeout=TIMEOUT) as client:
            response = await client.post(
                "/api/spawn",
                headers={"Authorization": f"Bearer {SECRET}"},
                json={"prompt": "Summarise the repository", "title": "summary"},
            )
        assert response.status_code == 201
        thread = int(response.json()["thread_id"])
        # At once: the thread exists, and the turn has not finished.
        assert thread in scene.server.world.channels
        assert scene.embed_titled(thread, "✅ Done") is None
        await scene.until(lambda: scene.embed_titled(thread, "✅ Done"), timeout=90)
        assert "spawned and working on it" in scene.shown(thread)
        turn = await scene.turn(1)
        assert "Summarise the repository" in str(turn.body["messages"])


async def test_a_task_every_few_seconds_runs_on_schedule(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script([Reply.text(f"tick {i}") for i in range(8)])
    async with open_scene(
        tmp_path, model_server, claude_bin, claude_env, CCBRIDGE_API_SECRET=SECRET
    ) as scene:
        bridge = scene.bridge
        assert bridge is not None
        headers = {"Authorization": f"Bearer {SECRET}"}
        async with httpx.AsyncClient(base_url=bridge.api_url, timeout=TIMEOUT) as client:
            created = await client.post(
                "/api/tasks",
                headers=headers,
                json={"name": "ticker", "prompt": "say tick", "interval_seconds": 8},
            )
            assert created.status_code == 201
            task = created.json()

            async def two_done() -> bool:
                runs = await store_call(
                    bridge.store, lambda db: db.runs(task["id"]), timeout=TIMEOUT
                )
                return sum(r.outcome is RunOutcome.DONE for r in runs) >= 2

            await _eventually(two_done, 120.0)
            detail = (await client.get(f"/api/tasks/{task['id']}", headers=headers)).json()
    started = [r for r in reversed(detail["runs"]) if r["outcome"] != "skipped"][:2]
    assert len(started) == 2
    for run in started:
        periods = (run["due_at"] - task["anchor_at"]) / 8
        assert abs(periods - round(periods)) < 1e-6, "a run off the schedule's grid"
        assert 0 <= run["started_at"] - run["due_at"] < DRIFT_BOUND
        assert run["outcome"] == "done"
        thread = int(run["thread_id"])
        assert scene.embed_titled(thread, "✅ Done") is not None
    # Consecutive runs are exactly one period apart: no drift.
    assert started[1]["due_at"] - started[0]["due_at"] == 8
