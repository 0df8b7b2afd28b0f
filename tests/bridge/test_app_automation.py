"""The whole bridge (real router, session actor and scheduler, the fake ``claude``) against
the local Discord server: ``POST /api/spawn`` answers 201 at once and its thread shows the
session working; a task due every few seconds runs on its schedule, each run in a new
thread, through the normal session path."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bridge.app import local_config, open_bridge
from bridge.store import InboxState, NotificationState, RunOutcome
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


async def test_scheduled_work_survives_a_restart_and_late_work_happens_once(
    server: Any, tmp_path: Path
) -> None:
    config = local_config(_config(tmp_path, "text_thinking", CCBRIDGE_API_SECRET=SECRET), server)
    headers = {"Authorization": f"Bearer {SECRET}"}
    main = server.world.default_channel.id
    async with (
        open_bridge(config, rng=random.Random(3), shutdown_timeout=20.0) as bridge,
        httpx.AsyncClient(base_url=bridge.api_url, timeout=TIMEOUT) as client,
    ):
        now = await client.post("/api/notify", headers=headers, json={"message": "deploy finished"})
        assert now.status_code == 201
        await server.wait_until(lambda: "deploy finished" in shown(server, main), TIMEOUT)
        task = (
            await client.post(
                "/api/tasks",
                headers=headers,
                json={"name": "hourly", "prompt": "tick", "interval_seconds": 3600},
            )
        ).json()
        later = await client.post(
            "/api/schedule",
            headers=headers,
            json={"message": "standup reminder", "delay_seconds": 3600},
        )
        assert later.status_code == 201
    # While the bridge is down, both come due: their stored times move into the past (as an
    # hour of downtime would), without waiting an hour.
    past = time.time() - 600
    with contextlib.closing(sqlite3.connect(config.database_path)) as db, db:
        db.execute("update tasks set next_run_at = ? where id = ?", [past, task["id"]])
        db.execute("update notifications set due_at = ? where id = ?", [past, later.json()["id"]])
    async with open_bridge(config, rng=random.Random(4), shutdown_timeout=20.0) as bridge:
        await server.wait_until(lambda: "standup reminder" in shown(server, main), TIMEOUT)

        async def task_ran() -> bool:
            runs = await store_call(bridge.store, lambda db: db.runs(task["id"]), timeout=TIMEOUT)
            return [r.outcome for r in runs] == [RunOutcome.DONE]

        await _eventually(task_ran, TIMEOUT)
        runs = await store_call(bridge.store, lambda db: db.runs(task["id"]), timeout=TIMEOUT)
        assert runs[0].due_at == pytest.approx(past)  # the missed slot, run once
        stored = await store_call(bridge.store, lambda db: db.task_get(task["id"]), timeout=TIMEOUT)
        assert stored.next_run_at > time.time()
    assert shown(server, main).count("standup reminder") == 1
    assert "standup reminder\n-# ⏰ late: this was due <t:" in shown(server, main)
    # A third lifetime delivers nothing again.
    async with open_bridge(config, rng=random.Random(5), shutdown_timeout=20.0) as bridge:

        async def settled() -> bool:
            pending = await store_call(
                bridge.store,
                lambda db: db.notifications(NotificationState.PENDING),
                timeout=TIMEOUT,
            )
            return pending == []

        await _eventually(settled, TIMEOUT)
    assert shown(server, main).count("standup reminder") == 1


async def test_a_session_marked_through_the_api_continues_at_the_next_start(
    server: Any, tmp_path: Path
) -> None:
    config = local_config(_config(tmp_path, "text_thinking", CCBRIDGE_API_SECRET=SECRET), server)
    async with (
        open_bridge(config, rng=random.Random(6), shutdown_timeout=20.0) as bridge,
        httpx.AsyncClient(base_url=bridge.api_url, timeout=TIMEOUT) as client,
    ):
        spawned = await client.post(
            "/api/spawn",
            headers={"Authorization": f"Bearer {SECRET}"},
            json={"prompt": "first"},
        )
        thread = int(spawned.json()["thread_id"])

        async def idle() -> bool:
            done = await store_call(
                bridge.store, lambda db: db.inbox(thread, InboxState.DONE), timeout=TIMEOUT
            )
            return len(done) == 1

        await _eventually(idle, TIMEOUT)
        # The session marks itself, with its own token in the path.
        marked = await client.post(f"/s/{bridge.tokens.token_for(thread)}/api/mark-resume", json={})
        assert marked.json() == {"thread_id": str(thread), "resume_reason": "api"}
    async with open_bridge(config, rng=random.Random(7), shutdown_timeout=20.0) as bridge:
        with trio.fail_after(TIMEOUT):
            await bridge.wait_ready()  # marked sessions resume once the gateway is READY
        assert (thread, "api") in bridge.resumed
