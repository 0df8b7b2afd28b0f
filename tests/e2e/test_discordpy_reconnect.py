"""discord.py survives the local server's gateway faults the way it survives Discord's.

op 7 RECONNECT and a dropped TCP connection must lead to RESUME on ``resume_gateway_url``
with the missed dispatches replayed; op 9 ``false`` must lead to a fresh IDENTIFY.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import discord
import pytest
import trio

from bridge.discord_local import Realism, open_discord_local
from tests.e2e.test_discordpy_local_server import Milestones, pointed_at, run_bot
from tests.support.openapi import SpecRecorder

pytestmark = pytest.mark.e2e


def build_listener(milestones: Milestones) -> discord.Client:
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents)
    counts = {"ready": 0, "resumed": 0}

    @client.event
    async def on_ready() -> None:
        counts["ready"] += 1
        milestones.report(f"ready-{counts['ready']}", True)

    @client.event
    async def on_resumed() -> None:
        counts["resumed"] += 1
        milestones.report(f"resumed-{counts['resumed']}", True)

    @client.event
    async def on_message(message: discord.Message) -> None:
        milestones.report(f"message:{message.content}", message.id)

    return client


async def test_discordpy_resumes_and_reidentifies() -> None:
    recorder = SpecRecorder()
    milestones = Milestones()
    async with open_discord_local(realism=Realism.faithful(), observers=[recorder]) as server:
        alice = server.control.create_user("alice")
        channel = server.world.default_channel.id
        client = build_listener(milestones)
        loops: dict[str, Any] = {}
        thread = threading.Thread(target=run_bot, args=(client, server.token, loops), daemon=True)
        with pointed_at(server.rest_url, server.gateway_url):
            thread.start()
            try:
                await milestones.wait("ready-1")

                # op 7: discord.py closes (not with 1000) and resumes on the resume URL.
                server.control.gateway_fault("reconnect")
                await milestones.wait("resumed-1")
                assert server.stats.resumes == 1
                assert server.stats.resume_url_connections == 1

                # A dropped socket: events posted meanwhile are replayed after RESUME.
                server.control.gateway_fault("drop")
                await server.wait_until(lambda: not server.hub.connections)
                server.control.post_message(channel, alice["id"], "while you were away")
                await milestones.wait("resumed-2")
                await milestones.wait("message:while you were away")
                assert server.stats.replayed_events >= 1
                assert server.stats.identifies == 1

                # op 9 false: the session is gone, so discord.py identifies again.
                server.control.gateway_fault("invalid_session", resumable=False)
                await milestones.wait("ready-2")
                assert server.stats.identifies == 2
                server.control.post_message(channel, alice["id"], "welcome back")
                await milestones.wait("message:welcome back")
            finally:
                if "loop" in loops:
                    asyncio.run_coroutine_threadsafe(client.close(), loops["loop"])
                await trio.to_thread.run_sync(thread.join, 30)
        assert not thread.is_alive()
    recorder.assert_valid()
