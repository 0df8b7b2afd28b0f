"""Webhook triggers through the whole bridge (real router and session actor, the fake
``claude``) against the local Discord server: a message from a listed webhook starts its
trigger's session with the file's prompt; one from an unlisted webhook, or a listed one
whose text matches nothing, starts nothing (A2, X6)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.app import local_config, open_bridge
from bridge.store import InboxState
from bridge.store.actor import store_call
from tests.bridge.test_app_automation import _eventually
from tests.bridge.test_app_sessions import _config, shown

TIMEOUT = 60.0


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    from bridge.discord_local import Realism, open_discord_local

    async with open_discord_local(realism=Realism.faithful(), rng=random.Random(7)) as server:
        yield server


async def _execute(server: Any, webhook: dict[str, Any], content: str) -> None:
    async with httpx.AsyncClient(base_url=server.rest_url, timeout=TIMEOUT) as client:
        response = await client.post(
            f"/webhooks/{webhook['id']}/{webhook['token']}",
            params={"wait": "true"},
            json={"content": content},
        )
        assert response.status_code == 200, response.text


async def test_a_listed_webhook_starts_its_trigger_and_an_unlisted_one_nothing(
    server: Any, tmp_path: Path
) -> None:
    world = server.world
    channel = world.default_channel.id
    allowed = server.control.create_webhook(channel, "ci")
    stranger = server.control.create_webhook(channel, "stranger")
    triggers = tmp_path / "triggers.toml"
    triggers.write_text(
        f"""
[[trigger]]
name = "nightly"
exact = "run nightly"
prompt = "Summarise the nightly build."
channels = [{channel}]
webhooks = [{allowed["id"]}]
"""
    )
    config = local_config(_config(tmp_path, "text_thinking", TRIGGERS_FILE=str(triggers)), server)
    async with open_bridge(config, rng=random.Random(1), shutdown_timeout=20.0) as bridge:
        await server.wait_until(lambda: world.commands, timeout=TIMEOUT)
        # The router handles the main channel's messages in order: by the time the
        # allowed webhook's session exists, the two before it were decided.
        await _execute(server, stranger, "run nightly")
        await _execute(server, allowed, "run nightly please, and also rm -rf /")
        await _execute(server, allowed, "run nightly")

        async def one_session() -> list[Any]:
            return await store_call(bridge.store, lambda db: db.sessions(), timeout=TIMEOUT)

        async def started() -> bool:
            return bool(await one_session())

        await _eventually(started, TIMEOUT)
        [record] = await one_session()
        assert record.origin == "trigger"
        thread = record.thread_id
        await server.wait_until(lambda: shown(server, thread).strip(), timeout=TIMEOUT)

        async def done() -> list[Any]:
            return await store_call(
                bridge.store, lambda db: db.inbox(thread, InboxState.DONE), timeout=TIMEOUT
            )

        async def finished() -> bool:
            return bool(await done())

        await _eventually(finished, TIMEOUT)
        assert [item.content for item in await done()] == ["Summarise the nightly build."]
        # Still exactly one session: neither the stranger nor the non-matching text fired.
        assert len(await one_session()) == 1
        intro = server.control.messages(channel)
        assert any("Trigger **nightly** fired" in m["content"] for m in intro)


async def test_a_triggered_turn_past_its_timeout_is_stopped(
    server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = server.world
    channel = world.default_channel.id
    hook = server.control.create_webhook(channel, "monitor")
    stranger = server.control.create_webhook(channel, "stranger")
    triggers = tmp_path / "triggers.toml"
    # The "interrupt" recording streams, then blocks until it is interrupted.
    triggers.write_text(
        f"""
[[trigger]]
name = "slow"
prefix = "alert:"
prompt = "SLOWTEXT please"
timeout_seconds = 1
channels = [{channel}]
webhooks = [{hook["id"]}]
"""
    )
    config = local_config(_config(tmp_path, "interrupt", TRIGGERS_FILE=str(triggers)), server)
    caplog.set_level("INFO", logger="bridge.sessions.router")
    async with open_bridge(config, rng=random.Random(1), shutdown_timeout=20.0) as bridge:
        await server.wait_until(lambda: world.commands, timeout=TIMEOUT)
        for _ in range(3):
            await _execute(server, stranger, "alert: disk full")
        await _execute(server, hook, "alert: disk full")

        async def sessions() -> list[Any]:
            return await store_call(bridge.store, lambda db: db.sessions(), timeout=TIMEOUT)

        async def started() -> bool:
            return bool(await sessions())

        await _eventually(started, TIMEOUT)
        [record] = await sessions()
        thread = record.thread_id
        await server.wait_until(
            lambda: "took longer than 1 s, so it was stopped" in shown(server, thread),
            timeout=TIMEOUT,
        )

        async def turn_ended() -> bool:
            items = await store_call(
                bridge.store,
                lambda db: db.inbox(thread, InboxState.DONE, InboxState.REJECTED),
                timeout=TIMEOUT,
            )
            return len(items) == 1

        await _eventually(turn_ended, TIMEOUT)
    # The stranger's three messages: logged once, nothing started.
    ignored = [r for r in caplog.records if "ignoring messages from webhook" in r.getMessage()]
    assert len(ignored) == 1
    assert str(stranger["id"]) in ignored[0].getMessage()
