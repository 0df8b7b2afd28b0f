"""The whole bridge with the real session actor and the fake ``claude``, against the local
Discord server: a restart in the middle of a turn continues it in the same thread (A4),
and the lounge and coordination channels show session starts and ends (K4, K5)."""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import psutil
import pytest
import trio

from bridge.app import local_config, open_bridge
from bridge.config import Config, load_config
from bridge.discord_local import Realism, open_discord_local
from bridge.sessions.messages import GetSessionStatus
from bridge.store import Database, SessionStatus
from tests.support.fake_claude import write_fake_claude

TIMEOUT = 30.0


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    async with open_discord_local(realism=Realism.faithful(), rng=random.Random(3)) as server:
        yield server


def _config(tmp_path: Path, scenario: str, **env: str) -> Config:
    fake = write_fake_claude(tmp_path, scenario)
    workdir = tmp_path / "repo"
    workdir.mkdir(exist_ok=True)
    return load_config(
        {
            "CLAUDE_COMMAND": str(fake),
            "CLAUDE_WORKING_DIR": str(workdir),
            "CCBRIDGE_DB_PATH": str(tmp_path / "ccbridge.db"),
            **env,
        },
        dotenv_path=tmp_path / ".env",
    )


def shown(server: Any, channel_id: int) -> str:
    if channel_id not in server.world.channels:
        return ""
    bot = str(server.world.bot.id)
    parts = []
    for message in server.control.messages(channel_id):
        if message["author"]["id"] == bot:
            parts.append(message["content"])
            for embed in message["embeds"]:
                parts += [embed.get("title", ""), embed.get("description", "")]
    return "\n".join(p for p in parts if p)


async def test_a_restart_mid_turn_continues_in_the_same_thread(server: Any, tmp_path: Path) -> None:
    world = server.world
    lounge = int(server.control.create_channel("lounge")["id"])
    coordination = int(server.control.create_channel("coordination")["id"])
    channels = {
        "LOUNGE_CHANNEL_ID": str(lounge),
        "COORDINATION_CHANNEL_ID": str(coordination),
        # A session's end line comes once its thread is quiet this long (or at shutdown).
        "SESSION_END_QUIET_SECONDS": "1",
    }

    # The "interrupt" recording streams, then blocks until it is interrupted.
    first = local_config(_config(tmp_path, "interrupt", **channels), server)
    async with open_bridge(first, rng=random.Random(1), shutdown_timeout=20.0) as bridge:
        await server.wait_until(lambda: world.commands, timeout=TIMEOUT)
        posted = server.control.post_message(
            world.default_channel.id, world.owner_id, "SLOWTEXT please"
        )
        thread = int(posted["id"])
        await server.wait_until(lambda: "one t" in shown(server, thread), timeout=TIMEOUT)
        session = bridge.session(thread)
        assert session is not None
        status = await session.ask(GetSessionStatus(), timeout=TIMEOUT)
        assert status.status == "running"
        pid = status.claude_pid
        assert pid is not None
    # Leaving the block was the graceful shutdown: the turn was interrupted and marked.
    assert not psutil.pid_exists(pid)
    db = Database.open(first.database_path)
    try:
        record = db.get_session(thread)
        assert record is not None
        assert record.resume_reason == "shutdown"
        assert record.status is SessionStatus.IDLE
    finally:
        db.close()

    second = local_config(_config(tmp_path, "text_thinking", **channels), server)
    async with open_bridge(second, rng=random.Random(2), shutdown_timeout=20.0) as bridge:
        with trio.fail_after(TIMEOUT):
            await bridge.wait_ready()  # A4: resumed after READY and the thread's catch-up
        assert bridge.resumed == ((thread, "shutdown"),)
        await server.wait_until(
            lambda: "was shut down while this session was working" in shown(server, thread),
            timeout=TIMEOUT,
        )
        await server.wait_until(lambda: "Done" in shown(server, thread), timeout=TIMEOUT)
        # K4/K5: the sessions' starts and ends reached the lounge and coordination channels.
        await server.wait_until(
            lambda: shown(server, lounge).count("session ended") >= 2, timeout=TIMEOUT
        )
        lounge_text = shown(server, lounge)
        assert f"**[thread {thread}]** ▶️ session started: SLOWTEXT please" in lounge_text
        await server.wait_until(
            lambda: "ended: done" in shown(server, coordination), timeout=TIMEOUT
        )
        assert f"▶️ <#{thread}> started: **SLOWTEXT please**" in shown(server, coordination)
    db = Database.open(second.database_path)
    try:
        record = db.get_session(thread)
        assert record is not None
        assert record.resume_reason is None
    finally:
        db.close()


async def test_many_messages_at_once_each_show_they_were_seen_in_order(
    server: Any, tmp_path: Path
) -> None:
    """Issue 15: threads open at 10 per 10 s per channel, reactions at 4 a second. The
    router reacts on each message as it arrives, in order of arrival, so the last ones
    show they were seen before their threads can exist; every session's status starts
    from that reaction and ends on ✅ alone (three run at once: the others pass through
    ⏸️ queued)."""
    world = server.world
    exchanges: list[Any] = []
    server.observers.append(exchanges.append)
    config = local_config(_config(tmp_path, "text_thinking"), server)
    async with open_bridge(config, rng=random.Random(1), shutdown_timeout=20.0) as bridge:
        with trio.fail_after(TIMEOUT):
            await bridge.wait_ready()  # caught up: live messages are the router's alone
        channel = world.default_channel.id
        ids = [
            int(server.control.post_message(channel, world.owner_id, f"question {n}")["id"])
            for n in range(12)
        ]
        await server.wait_until(
            lambda: all("Done" in shown(server, i) for i in ids), timeout=3 * TIMEOUT
        )
        bot = str(world.bot.id)

        def ours(message_id: int) -> list[str]:
            users = server.control.message(message_id)["reaction_users"]
            return [emoji for emoji, who in users.items() if bot in who]

        await server.wait_until(lambda: all(ours(i) == ["✅"] for i in ids), timeout=TIMEOUT)

    def first(method: str, pattern: str) -> dict[int, int]:
        """Per message id, the index of the first accepted request matching ``pattern``."""
        found: dict[int, int] = {}
        for index, exchange in enumerate(exchanges):
            match = re.fullmatch(pattern, exchange.path)
            if exchange.method == method and match and exchange.status < 300:
                found.setdefault(int(match.group(1)), index)
        return found

    reacted = first("PUT", rf"/channels/{channel}/messages/(\d+)/reactions/[^/]+/@me")
    threaded = first("POST", rf"/channels/{channel}/messages/(\d+)/threads")
    # The first sign is a reaction or the thread (a session that ran and ended before the
    # reaction's turn withdrew it, unsent): either way, in order of arrival.
    seen = {i: min(reacted.get(i, len(exchanges)), threaded[i]) for i in ids}
    assert sorted(ids, key=lambda i: seen[i]) == ids
    # The 11th and 12th wait for the next thread window; their reaction does not.
    for late in ids[10:]:
        assert reacted[late] < threaded[late]
    # No emoji of ours is added where it already shows (the session took the router's
    # 🤔 over rather than adding its own): a status goes on top of nothing it repeats.
    shown_now: dict[int, set[str]] = {i: set() for i in ids}
    pattern = rf"/channels/{channel}/messages/(\d+)/reactions/([^/]+)/@me"
    for exchange in exchanges:
        match = re.fullmatch(pattern, exchange.path)
        if match is None or exchange.status >= 300 or int(match.group(1)) not in shown_now:
            continue
        here, emoji = shown_now[int(match.group(1))], unquote(match.group(2))
        if exchange.method == "PUT":
            assert emoji not in here, (match.group(1), emoji)
            here.add(emoji)
        else:
            here.discard(emoji)
