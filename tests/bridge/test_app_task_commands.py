"""``/task list|enable|disable|run`` through the whole bridge and the local Discord server's
interactions: only allowed users (X5), answers ephemeral, autocomplete offers the tasks,
and the commands change what the scheduler does (A1)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.app import local_config, open_bridge
from bridge.sessions.router import NOT_ALLOWED
from bridge.store import RunOutcome
from bridge.store.actor import store_call
from tests.bridge.test_app_automation import _eventually
from tests.bridge.test_app_sessions import _config

TIMEOUT = 60.0
SECRET = "task-commands-secret-0123456789"


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    from bridge.discord_local import Realism, open_discord_local

    async with open_discord_local(realism=Realism.faithful(), rng=random.Random(9)) as server:
        yield server


async def _run(server: Any, user: Any, name: str, sub: str, task: str | None = None) -> Any:
    """Run ``/task <sub> [task]`` as ``user`` and wait for the answer."""
    inner = [{"name": "task", "type": 3, "value": task}] if task is not None else []
    options = [{"name": sub, "type": 1, "options": inner}]
    channel = server.world.default_channel.id
    sent = server.control.invoke_command(user, channel, name, options)
    await server.wait_until(
        lambda: server.control.interaction(sent["id"])["response_type"] is not None,
        timeout=TIMEOUT,
    )
    return server.control.interaction(sent["id"])


async def test_task_commands_list_enable_disable_and_run(server: Any, tmp_path: Path) -> None:
    world = server.world
    stranger = server.control.create_user("stranger")["id"]
    config = local_config(_config(tmp_path, "text_thinking", CCBRIDGE_API_SECRET=SECRET), server)
    async with open_bridge(config, rng=random.Random(1), shutdown_timeout=20.0) as bridge:
        await server.wait_until(
            lambda: any(c.definition["name"] == "task" for c in world.commands.values()),
            timeout=TIMEOUT,
        )
        headers = {"Authorization": f"Bearer {SECRET}"}
        async with httpx.AsyncClient(base_url=bridge.api_url, timeout=TIMEOUT) as client:
            created = await client.post(
                "/api/tasks",
                headers=headers,
                json={"name": "weekly-report", "prompt": "tick", "interval_seconds": 86400},
            )
            assert created.status_code == 201
            task_id = int(created.json()["id"])

        refused = await _run(server, stranger, "task", "list")
        assert refused["response_data"]["content"] == NOT_ALLOWED
        assert refused["response_data"]["flags"] == 64

        listed = await _run(server, world.owner_id, "task", "list")
        assert listed["response_data"]["flags"] == 64
        assert f"#{task_id}" in listed["response_data"]["content"]
        assert "weekly-report" in listed["response_data"]["content"]
        assert "enabled" in listed["response_data"]["content"]

        # Autocomplete: the task, by a part of its name; a stranger gets no choices.
        channel = world.default_channel.id
        typed = [{"name": "run", "type": 1, "options": [
            {"name": "task", "type": 3, "value": "week", "focused": True}
        ]}]  # fmt: skip
        offered = await server.control.autocomplete(world.owner_id, channel, "task", typed)
        assert offered["choices"] == [{"name": f"#{task_id} weekly-report", "value": str(task_id)}]
        hidden = await server.control.autocomplete(stranger, channel, "task", typed)
        assert hidden["choices"] == []

        async def enabled() -> bool:
            task = await store_call(bridge.store, lambda db: db.task_get(task_id), timeout=TIMEOUT)
            return bool(task.enabled)

        disabled = await _run(server, world.owner_id, "task", "disable", str(task_id))
        assert "now disabled" in disabled["response_data"]["content"]
        assert not await enabled()
        again = await _run(server, world.owner_id, "task", "disable", "weekly-report")
        assert "already disabled" in again["response_data"]["content"]
        back = await _run(server, world.owner_id, "task", "enable", "weekly-report")
        assert "now enabled" in back["response_data"]["content"]
        assert await enabled()

        missing = await _run(server, world.owner_id, "task", "run", "no-such-task")
        assert "There is no task 'no-such-task'" in missing["response_data"]["content"]
        stranger_run = await _run(server, stranger, "task", "run", str(task_id))
        assert stranger_run["response_data"]["content"] == NOT_ALLOWED

        ran = await _run(server, world.owner_id, "task", "run", str(task_id))
        assert "runs now" in ran["response_data"]["content"]

        async def one_done() -> bool:
            runs = await store_call(bridge.store, lambda db: db.runs(task_id), timeout=TIMEOUT)
            return [r.outcome for r in runs] == [RunOutcome.DONE]

        await _eventually(one_done, TIMEOUT)
