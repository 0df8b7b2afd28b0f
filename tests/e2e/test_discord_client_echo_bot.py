"""``examples/echo_bot.py`` runs as its own process against the local Discord server."""

from __future__ import annotations

import functools
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from bridge.discord import EXIT_GATEWAY_FATAL
from bridge.discord_local import open_discord_local
from tests.bridge.discord.live import TIMEOUT, fast_realism

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "echo_bot.py"


async def test_echo_bot_echoes_and_reacts() -> None:
    async with open_discord_local(realism=fast_realism(), rng=random.Random(9)) as server:
        env = {**os.environ, "DISCORD_BOT_TOKEN": server.token}
        cmd = [sys.executable, str(EXAMPLE), "--api-url", server.rest_url]
        async with trio.open_nursery() as nursery:
            run = functools.partial(
                trio.run_process, cmd, env=env, stdout=subprocess.DEVNULL, check=False
            )
            proc: trio.Process = await nursery.start(run)
            # Connected: the server has a session with a live connection.
            await server.wait_until(
                lambda: any(s.connection for s in server.hub.sessions.values()), TIMEOUT
            )
            channel = server.world.default_channel.id
            human = server.world.owner_id
            posted = server.control.post_message(channel, human, "hello bot")
            ping = server.control.post_message(channel, human, "!ping")

            def answered() -> bool:
                contents = [m["content"] for m in server.control.messages(channel)]
                reactions = server.control.message(ping["id"])["reaction_users"]
                return "echo: hello bot" in contents and "🏓" in reactions

            await server.wait_until(answered, TIMEOUT)
            messages = server.control.messages(channel)
            echoes = [m for m in messages if m["content"] == "echo: hello bot"]
            assert len(echoes) == 1
            assert echoes[0]["message_reference"]["message_id"] == posted["id"]
            # It never answers itself, and !ping gets a reaction, not an echo.
            assert [m["content"] for m in messages if m["content"].startswith("echo:")] == [
                "echo: hello bot"
            ]
            proc.terminate()


@pytest.mark.parametrize(
    ("token_ok", "privileged", "advice"),
    [
        (False, True, "check DISCORD_BOT_TOKEN"),
        (True, False, "enable the Message Content intent"),
    ],
    ids=["bad-token", "message-content-intent-off"],
)
async def test_echo_bot_exits_78_with_advice(token_ok: bool, privileged: bool, advice: str) -> None:
    realism = fast_realism() if privileged else fast_realism(privileged_intents_enabled=0)
    async with open_discord_local(realism=realism, rng=random.Random(9)) as server:
        token = server.token if token_ok else "not-the-token"
        with trio.fail_after(TIMEOUT):
            result = await trio.run_process(
                [sys.executable, str(EXAMPLE), "--api-url", server.rest_url],
                env={**os.environ, "DISCORD_BOT_TOKEN": token},
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
        assert result.returncode == EXIT_GATEWAY_FATAL
        last_line = result.stderr.decode().strip().splitlines()[-1]
        assert last_line.startswith("echo_bot: ")
        assert advice in last_line
        # It stopped at once: at most one gateway connection, never a loop.
        assert server.stats.gateway_connections <= 1
