"""The gateway client against the local Discord server over real sockets: connecting,
delivering, resuming after every kind of fault, fatal closes, session-start protection."""

from __future__ import annotations

import random
from typing import Any

import attrs
import pytest
import trio

import actors
from bridge.discord import (
    EXIT_GATEWAY_FATAL,
    GatewayConfig,
    GatewayFatalError,
    SendGatewayCommand,
    Subscribe,
    Unsubscribe,
    open_gateway,
    open_rest_client,
    parse_message,
    parse_ready,
)
from bridge.discord.gateway import DELIVERY_HIGH_WATER
from bridge.discord_local import open_discord_local
from protocol.discord.gateway import GatewayUsageError
from protocol.discord.gateway_codes import Intents
from tests.bridge.discord.live import TIMEOUT, Recorder, fast_realism, open_live, record

MESSAGE_CONTENT_INTENTS = Intents.GUILDS | Intents.GUILD_MESSAGES | Intents.MESSAGE_CONTENT


async def test_connects_identifies_and_delivers_dispatches() -> None:
    async with open_live(intents=MESSAGE_CONTENT_INTENTS) as live:
        status = await live.wait_connected()
        assert status.identifies == 1
        assert status.session_starts_remaining == 999
        await live.recorder.wait_for(lambda: "GUILD_CREATE" in live.recorder.names())
        names = live.recorder.names()
        assert names[:2] == ["READY", "GUILD_CREATE"]
        ready = parse_ready(live.recorder.received[0].data)
        assert ready.user.id == live.server.world.bot.id
        assert live.server.hub.sessions[ready.session_id].intents == MESSAGE_CONTENT_INTENTS

        posted = live.post("hello bot")
        await live.recorder.wait_for(lambda: posted in live.recorder.message_ids())
        [dispatch] = [d for d in live.recorder.received if d.name == "MESSAGE_CREATE"]
        message = parse_message(dispatch.data)
        assert message.content == "hello bot"
        assert dispatch.seq == 3

        # A second beat is only sent once the first was ACKed (else it is a zombie), so by
        # then the latency is known.
        await live.server.wait_until(lambda: live.server.stats.heartbeats >= 2, TIMEOUT)
        latency = (await live.status()).latency
        assert latency is not None
        assert 0 <= latency < 1.0
        assert live.server.stats.identifies == 1


async def test_drop_mid_stream_resumes_at_the_resume_url_and_replays() -> None:
    async with open_live() as live:
        await live.wait_connected()
        before = [live.post(f"before {i}") for i in range(3)]
        live.server.control.gateway_fault("drop")
        after = [live.post(f"after {i}") for i in range(3)]
        await live.recorder.wait_for(lambda: len(live.recorder.message_ids()) == 6)
        status = await live.wait_connected()
        assert live.recorder.message_ids() == before + after
        assert status.resumes == 1
        assert status.identifies == 1
        assert live.server.stats.resume_url_connections == 1
        assert live.server.stats.resumes == 1
        assert live.recorder.names().count("RESUMED") == 1


@pytest.mark.parametrize(
    ("fault", "resumes", "identifies"),
    [
        ({"action": "reconnect"}, 1, 1),
        ({"action": "invalid_session", "resumable": True}, 1, 1),
        ({"action": "invalid_session", "resumable": False}, 0, 2),
    ],
    ids=["op7", "op9-true", "op9-false"],
)
async def test_op7_and_op9(fault: dict[str, object], resumes: int, identifies: int) -> None:
    async with open_live() as live:
        await live.wait_connected()
        live.server.control.gateway_fault(**fault)  # type: ignore[arg-type]
        await live.server.wait_until(
            lambda: live.server.stats.resumes + live.server.stats.identifies >= 2, TIMEOUT
        )
        status = await live.wait_connected()
        assert (status.resumes, status.identifies) == (resumes, identifies)
        assert live.server.stats.identifies == identifies
        posted = live.post("still listening")
        await live.recorder.wait_for(lambda: posted in live.recorder.message_ids())
        if identifies == 2:
            # A fresh session: READY again, and we waited out the identify pacing.
            assert live.recorder.names().count("READY") == 2


async def test_zombie_connection_is_closed_and_resumed() -> None:
    async with open_live() as live:
        await live.wait_connected()
        live.server.control.gateway_fault("stop_acks")
        # We close it ourselves (code 3000, never 1000) once a beat goes unanswered.
        await live.server.wait_until(
            lambda: live.server.stats.close_codes_received.get(3000, 0) >= 1, TIMEOUT
        )
        live.server.control.gateway_fault("resume_acks")
        status = await live.wait_connected()
        assert status.resumes >= 1
        assert status.identifies == 1
        assert live.server.stats.close_codes_received.get(1000, 0) == 0
        posted = live.post("alive again")
        await live.recorder.wait_for(lambda: posted in live.recorder.message_ids())


async def test_a_heartbeat_request_is_answered_at_once() -> None:
    async with open_live(fast_realism(heartbeat_interval=30.0)) as live:
        await live.wait_connected()
        beats = live.server.stats.heartbeats
        live.server.control.gateway_fault("heartbeat_request")
        await live.server.wait_until(lambda: live.server.stats.heartbeats > beats, 5.0)


@pytest.mark.parametrize(
    ("realism_changes", "token", "code", "words"),
    [
        ({}, "bad-token", 4004, "check DISCORD_BOT_TOKEN"),
        (
            {"privileged_intents_enabled": 0},
            None,
            4014,
            "enable the Message Content intent",
        ),
    ],
    ids=["4004", "4014"],
)
async def test_fatal_closes_stop_once_with_advice(
    realism_changes: dict[str, object], token: str | None, code: int, words: str
) -> None:
    realism = fast_realism(**realism_changes)
    async with (
        open_discord_local(realism=realism, rng=random.Random(5)) as server,
        open_rest_client(server.rest_url, server.token, random=random.Random(1)) as rest,
        actors.open_system() as system,
    ):
        config = GatewayConfig(token=token or server.token)

        async def run() -> None:
            async with open_gateway(system, config, rest, rng=random.Random(2)) as gw:
                async for _ in gw.dispatches:
                    pass

        with trio.fail_after(TIMEOUT), pytest.raises(GatewayFatalError) as caught:
            await run()
        error = caught.value
        assert error.code == code
        assert words in str(error)
        assert error.exit_status == EXIT_GATEWAY_FATAL
        # It never loops: one connection, no second attempt.
        assert server.stats.gateway_connections == 1


async def test_refuses_to_burn_the_last_session_starts() -> None:
    # 12 starts left and a reserve of 10: two IDENTIFYs are allowed, then op 9 false
    # (which would need a third) makes the client stop instead.
    async with open_live(fast_realism(session_start_total=12)) as live:
        await live.wait_connected()
        live.server.control.gateway_fault("invalid_session", resumable=False)
        await live.server.wait_until(lambda: live.server.stats.identifies == 2, TIMEOUT)
        await live.wait_connected()
        live.server.control.gateway_fault("invalid_session", resumable=False)
        reason = await live.gateway.wait_stopped()
        assert isinstance(reason.error, GatewayFatalError)
        assert reason.error.code is None
        assert "10 of its 12 daily gateway session starts" in str(reason.error)
        assert live.server.stats.identifies == 2


async def test_stop_closes_with_1000_and_ends_the_session() -> None:
    async with open_live() as live:
        await live.wait_connected()
        presence = {"since": None, "activities": [], "status": "online", "afk": False}
        assert await live.gateway.ask(SendGatewayCommand(op=3, d=presence), timeout=TIMEOUT) is None
        # Ops the session sends itself are refused, and the gateway keeps running.
        with pytest.raises(GatewayUsageError):
            await live.gateway.ask(SendGatewayCommand(op=2, d={}), timeout=TIMEOUT)
        assert (await live.status()).connected
        await live.gateway.stop()
        await live.server.wait_until(
            lambda: live.server.stats.close_codes_received.get(1000, 0) == 1, TIMEOUT
        )
        assert live.server.hub.sessions == {}
        # The presence update was accepted (no 4xxx close from the server).
        assert not any(c >= 4000 for c in live.server.stats.close_codes_sent)


async def test_frames_split_across_websocket_messages_are_joined() -> None:
    async with open_live(fast_realism(heartbeat_interval=0.5, split_zlib_frames=True)) as live:
        await live.wait_connected()
        ids = [live.post(f"m{i}") for i in range(200)]
        await live.recorder.wait_for(lambda: len(live.recorder.message_ids()) == 200)
        assert live.recorder.message_ids() == ids
        status = await live.status()
        assert status.connected
        assert status.reconnects == 0


async def _gated(ctx: actors.Context[Any], gate: trio.Event, seen: Recorder) -> None:
    async for msg in ctx.mailbox:
        await gate.wait()
        seen.add(msg)


async def test_a_stuck_subscriber_applies_backpressure_and_loses_nothing() -> None:
    # A subscriber that stops reading (mailbox of 1, BLOCK_SENDER): the gateway buffers up
    # to its high-water mark, then stops reading the socket. Heartbeat ACKs then go unread,
    # so the connection is declared a zombie and resumed; once the subscriber moves again
    # every message arrives exactly once, in order.
    async with open_live() as live:
        await live.wait_connected()
        gate, seen = trio.Event(), Recorder()
        stuck = await live.system.spawn(
            _gated,
            gate,
            seen,
            mailbox=actors.Mailbox(capacity=1, overflow=actors.Overflow.BLOCK_SENDER),
        )
        live.gateway.tell(Subscribe(stuck))
        ids = [live.post(f"m{i}") for i in range(DELIVERY_HIGH_WATER + 300)]
        closes = live.server.stats.close_codes_received.get(3000, 0)
        await live.server.wait_until(
            lambda: live.server.stats.close_codes_received.get(3000, 0) > closes, TIMEOUT
        )
        gate.set()
        await seen.wait_for(lambda: len(seen.message_ids()) >= len(ids))
        assert live.recorder.message_ids() == ids
        assert seen.message_ids() == ids
        status = await live.status()
        assert status.resumes >= 1
        assert status.identifies == 1


async def test_subscribe_and_unsubscribe() -> None:
    async with open_live() as live:
        await live.wait_connected()
        second = Recorder()
        ref = await live.system.spawn(
            record,
            second,
            mailbox=actors.Mailbox(capacity=64, overflow=actors.Overflow.BLOCK_SENDER),
        )
        live.gateway.tell(Subscribe(ref))
        first = live.post("one")
        await second.wait_for(lambda: first in second.message_ids())
        live.gateway.tell(Unsubscribe(ref))
        later = live.post("two")
        await live.recorder.wait_for(lambda: later in live.recorder.message_ids())
        assert second.message_ids() == [first]
        assert attrs.asdict(await live.status())["subscribers"] == 1
