"""The whole bridge (real router, session actor and scheduler, the fake ``claude``) against
the local Discord server: ``POST /api/spawn`` answers 201 at once and its thread shows the
session working; a task due every few seconds runs on its schedule, each run in a new
thread, through the normal session path."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bridge.app import local_config, open_bridge
from bridge.store import InboxState, RunOutcome
from bridge.store.actor import store_call
from tests.bridge.test_app_sessions import _config, shown

TIMEOUT = 60.0
SECRET = "automation-secret-0123456789"


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Wait for a condition read from the store (polled: the store has no change events)."""
    with trio.fail_after(timeout):
        while True:
            if await check():
                return
            await trio.sleep(0.05)


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    from bridge.discord_local import Realism, open_discord_local

    async with open_discord_local(realism=Realism.faithful(), rng=random.Random(5)) as server:
        yield server


async def test_spawn_answers_201_and_the_thread_shows_the_session_working(
    server: Any, tmp_path: Path
) -> None:
    config = local_config(_config(tmp_path, "text_thinking", CCBRIDGE_API_SECRET=SECRET), server)
    async with open_bridge(config, rng=random.Random(1), shutdown_timeout=20.0) as bridge:
        headers = {"Authorization": f"Bearer {SECRET}"}
        async with httpx.AsyncClient(base_url=bridge.api_url, timeout=TIMEOUT) as client:
            response = await client.post(
                "/api/spawn", headers=headers, json={"prompt": "say hello", "title": "greeter"}
            )
            assert response.status_code == 201
            thread = int(response.json()["thread_id"])
            assert thread in server.world.channels
            # The session answers in its thread (the fake claude's recorded reply).
            await server.wait_until(lambda: shown(server, thread).strip(), timeout=TIMEOUT)

            async def finished() -> bool:
                items = await store_call(
                    bridge.store, lambda db: db.inbox(thread, InboxState.DONE), timeout=TIMEOUT
                )
                return len(items) == 1 and items[0].content == "say hello"

            await _eventually(finished, TIMEOUT)
            sessions = (await client.get("/api/sessions", headers=headers)).json()["sessions"]
            [record] = [s for s in sessions if s["thread_id"] == str(thread)]
            assert (record["origin"], record["depth"], record["parent_thread_id"]) == (
                "api",
                0,
                None,
            )
            # A session spawns a child with its own token; the registry links them.
            child = await client.post(
                "/api/spawn",
                headers={"Authorization": f"Bearer {bridge.tokens.token_for(thread)}"},
                json={"prompt": "child work"},
            )
            assert child.status_code == 201
            assert child.json()["parent_thread_id"] == str(thread)
            assert child.json()["depth"] == 1


async def test_a_task_due_every_few_seconds_runs_on_its_schedule(
    server: Any, tmp_path: Path
) -> None:
    config = local_config(_config(tmp_path, "text_thinking", CCBRIDGE_API_SECRET=SECRET), server)
    async with open_bridge(config, rng=random.Random(2), shutdown_timeout=20.0) as bridge:
        headers = {"Authorization": f"Bearer {SECRET}"}
        async with httpx.AsyncClient(base_url=bridge.api_url, timeout=TIMEOUT) as client:
            created = await client.post(
                "/api/tasks",
                headers=headers,
                json={"name": "ticker", "prompt": "tick", "interval_seconds": 3},
            )
            assert created.status_code == 201
            task = created.json()

            async def two_done() -> bool:
                runs = await store_call(
                    bridge.store, lambda db: db.runs(task["id"]), timeout=TIMEOUT
                )
                return sum(r.outcome is RunOutcome.DONE for r in runs) >= 2

            await _eventually(two_done, TIMEOUT * 2)
            detail = (await client.get(f"/api/tasks/{task['id']}", headers=headers)).json()
        started = [r for r in reversed(detail["runs"]) if r["outcome"] != "skipped"]
        # Each run is for a slot of the grid anchor + k * 3 s, and starts near it.
        for run in started:
            periods = (run["due_at"] - task["anchor_at"]) / 3
            assert abs(periods - round(periods)) < 1e-6
            assert run["started_at"] - run["due_at"] < 2.0
            assert run["thread_id"] is not None
            assert shown(server, int(run["thread_id"])).strip()
