"""The gateway over real sockets (trio-websocket as the client), on the real clock."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from bridge.discord_local import (
    GUILD_MESSAGES,
    GUILDS,
    MESSAGE_CONTENT,
    LocalDiscord,
    Realism,
    open_discord_local,
)
from tests.support.openapi import SpecRecorder, discord_spec

ZLIB_SUFFIX = b"\x00\x00\xff\xff"
TIMEOUT = 10.0


class Gw:
    """A minimal gateway client: one inflater per connection, frames joined at the suffix."""

    def __init__(self, ws: WebSocketConnection, compressed: bool) -> None:
        self.ws = ws
        self.inflater = zlib.decompressobj() if compressed else None
        self.frames: list[bytes] = []

    async def recv(self) -> dict[str, Any]:
        with trio.fail_after(TIMEOUT):
            if self.inflater is None:
                return json.loads(await self.ws.get_message())
            buffer = b""
            while not buffer.endswith(ZLIB_SUFFIX):
                frame = await self.ws.get_message()
                assert isinstance(frame, bytes)
                self.frames.append(frame)
                buffer += frame
            return json.loads(self.inflater.decompress(buffer))

    async def recv_until(self, event: str) -> dict[str, Any]:
        while True:
            payload = await self.recv()
            if payload.get("t") == event:
                return payload

    async def send(self, op: int, d: Any) -> None:
        await self.ws.send_message(json.dumps({"op": op, "d": d}))

    async def identify(
        self, token: str, intents: int = GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT
    ) -> dict[str, Any]:
        await self.send(
            2,
            {
                "token": token,
                "intents": intents,
                "properties": {"os": "linux", "browser": "t", "device": "t"},
            },
        )
        ready = await self.recv()
        assert ready["t"] == "READY", ready
        return ready

    async def closed_with(self) -> int:
        """Read until the server closes; return its close code."""
        with trio.fail_after(TIMEOUT):
            try:
                while True:
                    await self.ws.get_message()
            except ConnectionClosed as exc:
                return exc.reason.code if exc.reason is not None else -1


@asynccontextmanager
async def connect(url: str, *, compressed: bool = True, version: int = 10) -> AsyncIterator[Gw]:
    query = f"?v={version}&encoding=json" + ("&compress=zlib-stream" if compressed else "")
    async with open_websocket_url(url + query) as ws:
        gw = Gw(ws, compressed)
        hello = await gw.recv()
        assert hello["op"] == 10
        yield gw


@asynccontextmanager
async def served(realism: Realism | None = None) -> AsyncIterator[LocalDiscord]:
    recorder = SpecRecorder()
    async with open_discord_local(
        realism=realism or Realism.faithful(), observers=[recorder]
    ) as server:
        yield server
    if recorder.exchanges:
        recorder.assert_valid()


async def test_hello_identify_ready_guild_create_and_dispatches() -> None:
    async with served() as server:
        world = server.world
        general = world.default_channel
        active = world.start_thread(general.id, name="active", owner_id=world.owner_id, kind=11)
        archived = world.start_thread(general.id, name="old", owner_id=world.owner_id, kind=11)
        world.modify_channel(archived.id, {"archived": True})
        async with open_websocket_url(
            server.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
        ) as ws:
            gw = Gw(ws, compressed=True)
            hello = await gw.recv()
            assert hello == {"op": 10, "d": {"heartbeat_interval": 41250}}
            await gw.send(1, None)  # an immediate heartbeat is fine (discord.py and hikari do it)
            assert await gw.recv() == {"op": 11}
            ready = await gw.identify(server.token)
            d = ready["d"]
            assert (d["v"], d["user"]["id"], d["resume_gateway_url"]) == (
                10,
                str(world.bot.id),
                server.resume_gateway_url,
            )
            assert d["guilds"] == [{"id": str(world.guild_id), "unavailable": True}]
            assert ready["s"] == 1
            guild = await gw.recv()
            assert (guild["t"], guild["s"]) == ("GUILD_CREATE", 2)
            assert [c["name"] for c in guild["d"]["channels"]] == ["general"]
            assert [t["id"] for t in guild["d"]["threads"]] == [str(active.id)]
            spec = discord_spec()
            assert spec.schema_errors("GuildChannelResponse", guild["d"]["channels"][0]) == []
            assert spec.schema_errors("ThreadResponse", guild["d"]["threads"][0]) == []

            alice = server.control.create_user("alice")  # GUILD_MEMBER_ADD needs GUILD_MEMBERS
            server.control.post_message(general.id, alice["id"], "hi there")
            created = await gw.recv()
            assert created["t"] == "MESSAGE_CREATE"
            assert created["d"]["content"] == "hi there"
            assert created["d"]["member"]["roles"] == []
            assert spec.schema_errors("MessageResponse", created["d"]) == []
            await gw.send(1, created["s"])
            assert await gw.recv() == {"op": 11}
        async with httpx.AsyncClient() as http:
            limits = (
                await http.get(
                    server.rest_url + "/gateway/bot",
                    headers={"Authorization": f"Bot {server.token}"},
                )
            ).json()
        assert limits["session_start_limit"]["remaining"] == 999


async def test_message_content_intent_filtering() -> None:
    async with served() as server, connect(server.gateway_url, compressed=False) as gw:
        await gw.identify(server.token, intents=GUILDS | GUILD_MESSAGES)
        await gw.recv_until("GUILD_CREATE")
        world = server.world
        alice = server.control.create_user("alice")
        channel = world.default_channel.id
        server.control.post_message(
            channel, alice["id"], "secret", attachments=[{"filename": "a.txt", "text": "x"}]
        )
        hidden = await gw.recv_until("MESSAGE_CREATE")
        assert (hidden["d"]["content"], hidden["d"]["attachments"], hidden["d"]["embeds"]) == (
            "",
            [],
            [],
        )
        server.control.post_message(channel, alice["id"], f"hey <@{world.bot.id}>")
        mention = await gw.recv_until("MESSAGE_CREATE")
        assert mention["d"]["content"] == f"hey <@{world.bot.id}>"
        world.create_message(channel, world.bot.id, content="my own words")
        own = await gw.recv_until("MESSAGE_CREATE")
        assert own["d"]["content"] == "my own words"
        # The stored message is complete; only this session's view was filtered.
        assert server.control.message(hidden["d"]["id"])["content"] == "secret"


async def test_resume_replays_missed_dispatches_then_resumed() -> None:
    async with served() as server:
        channel = server.world.default_channel.id
        alice = server.control.create_user("alice")
        async with connect(server.gateway_url, compressed=False) as gw:
            ready = await gw.identify(server.token)
            last = (await gw.recv_until("GUILD_CREATE"))["s"]
            await gw.ws.aclose(code=4000)  # not 1000/1001: the session stays resumable
        await server.wait_until(lambda: not server.hub.connections)
        for i in range(3):
            server.control.post_message(channel, alice["id"], f"missed {i}")
        async with connect(server.resume_gateway_url) as gw:
            await gw.send(
                6, {"token": server.token, "session_id": ready["d"]["session_id"], "seq": last}
            )
            replayed = [await gw.recv() for _ in range(3)]
            assert [p["d"]["content"] for p in replayed] == ["missed 0", "missed 1", "missed 2"]
            assert [p["s"] for p in replayed] == [last + 1, last + 2, last + 3]
            resumed = await gw.recv()
            assert resumed["t"] == "RESUMED"
            assert resumed["s"] > last + 3
            server.control.post_message(channel, alice["id"], "live again")
            assert (await gw.recv())["d"]["content"] == "live again"
            await gw.ws.aclose(code=1000)  # a 1000 close ends the session
        await server.wait_until(lambda: not server.hub.connections)
        async with connect(server.resume_gateway_url) as gw:
            await gw.send(
                6, {"token": server.token, "session_id": ready["d"]["session_id"], "seq": last}
            )
            assert await gw.recv() == {"op": 9, "d": False}
        stats = server.stats
        assert (stats.identifies, stats.resumes, stats.replayed_events, stats.failed_resumes) == (
            1,
            1,
            3,
            1,
        )
        assert stats.resume_url_connections == 2


@pytest.mark.parametrize(
    ("steps", "code"),
    [
        ([(2, {"token": "wrong", "intents": 1})], 4004),
        ([(2, "TOKEN:1<<17")], 4013),
        ([(2, "TOKEN:no-intents")], 4013),
        ([(3, {"status": "online"})], 4003),
        ([(99, None)], 4001),
        ([(2, "TOKEN:1"), (2, "TOKEN:1")], 4005),
        ([(1, "x" * 5000)], 4002),
    ],
)
async def test_handshake_close_codes(steps: list[tuple[int, Any]], code: int) -> None:
    async with served(Realism.off()) as server, connect(server.gateway_url) as gw:
        for op, d in steps:
            if d == "TOKEN:1<<17":
                d = {"token": server.token, "intents": 1 << 17}
            elif d == "TOKEN:no-intents":
                d = {"token": server.token}
            elif d == "TOKEN:1":
                d = {"token": server.token, "intents": 1}
            await gw.send(op, d)
        assert await gw.closed_with() == code
        assert server.stats.close_codes_sent[code] == 1


async def test_disallowed_intents_and_api_version() -> None:
    realism = attrs.evolve(Realism.faithful(), privileged_intents_enabled=0)
    async with served(realism) as server:
        async with connect(server.gateway_url) as gw:
            await gw.send(2, {"token": server.token, "intents": GUILDS | MESSAGE_CONTENT})
            assert await gw.closed_with() == 4014
        async with open_websocket_url(server.gateway_url + "?v=9&encoding=json") as ws:
            assert await Gw(ws, False).closed_with() == 4012


async def test_send_rate_abuse_closes_4008() -> None:
    async with served() as server, connect(server.gateway_url, compressed=False) as gw:
        for _ in range(121):
            await gw.ws.send_message(json.dumps({"op": 1, "d": None}))
        code = None
        with trio.fail_after(TIMEOUT):
            try:
                while True:
                    assert await gw.recv() == {"op": 11}
            except ConnectionClosed as exc:
                code = exc.reason.code if exc.reason else None
        assert code == 4008
        assert server.stats.heartbeats == 120


async def test_zombie_connection_is_closed_4009_and_session_ends() -> None:
    realism = attrs.evolve(Realism.faithful(), heartbeat_interval=0.2, heartbeat_grace=1.5)
    async with served(realism) as server:
        async with connect(server.gateway_url) as gw:
            ready = await gw.identify(server.token)
            start = trio.current_time()
            assert await gw.closed_with() == 4009
            assert trio.current_time() - start >= 0.2  # not before the grace period
        assert server.stats.zombie_closes == 1
        async with connect(server.gateway_url) as gw:
            await gw.send(
                6, {"token": server.token, "session_id": ready["d"]["session_id"], "seq": 2}
            )
            assert await gw.recv() == {"op": 9, "d": False}


async def test_injected_gateway_faults() -> None:
    async with served() as server:
        async with connect(server.gateway_url, compressed=False) as gw:
            ready = await gw.identify(server.token)
            await gw.recv_until("GUILD_CREATE")
            assert server.control.gateway_fault("reconnect") == {"affected": 1}
            assert await gw.recv() == {"op": 7, "d": None}
            server.control.gateway_fault("heartbeat_request")
            assert await gw.recv() == {"op": 1, "d": None}
            # With ACKs stopped, a heartbeat gets no op 11: the next frame is what we inject.
            server.control.gateway_fault("stop_acks")
            await gw.send(1, 2)
            await server.wait_until(lambda: server.stats.heartbeats >= 1)
            server.control.gateway_fault("invalid_session", resumable=True)
            assert await gw.recv() == {"op": 9, "d": True}
            server.control.clear_faults()
            await gw.send(1, 2)
            assert await gw.recv() == {"op": 11}
            server.control.gateway_fault("drop")
            assert await gw.closed_with() == 1006  # reset without a close frame
        await server.wait_until(lambda: not server.hub.connections)
        # A dropped connection's session is still resumable.
        async with connect(server.resume_gateway_url) as gw:
            await gw.send(
                6, {"token": server.token, "session_id": ready["d"]["session_id"], "seq": 2}
            )
            assert (await gw.recv())["t"] == "RESUMED"
            server.control.gateway_fault("invalid_session", resumable=False)
            assert await gw.recv() == {"op": 9, "d": False}
            server.control.gateway_fault("close", code=4000)
            assert await gw.closed_with() == 4000
        assert server.control.gateway()["sessions"] == []


async def test_identify_twice_within_five_seconds_gets_invalid_session() -> None:
    async with served() as server:
        async with connect(server.gateway_url) as first:
            await first.identify(server.token)
            async with connect(server.gateway_url) as second:
                await second.send(2, {"token": server.token, "intents": 1})
                assert await second.recv() == {"op": 9, "d": False}
        assert server.stats.identifies == 1


async def test_split_zlib_frames_still_decode_with_one_inflater() -> None:
    realism = attrs.evolve(Realism.faithful(), split_zlib_frames=True)
    async with served(realism) as server, connect(server.gateway_url) as gw:
        await gw.identify(server.token)
        guild = await gw.recv()
        assert guild["t"] == "GUILD_CREATE"
        assert any(not f.endswith(ZLIB_SUFFIX) for f in gw.frames)  # messages did span frames


async def test_interaction_create_reaches_the_gateway() -> None:
    async with served() as server, connect(server.gateway_url) as gw:
        await gw.identify(server.token, intents=GUILDS)
        await gw.recv_until("GUILD_CREATE")
        server.world.overwrite_commands(None, [{"name": "go", "description": "go"}])
        alice = server.control.create_user("alice")
        inter = server.control.invoke_command(alice["id"], server.world.default_channel.id, "go")
        created = await gw.recv_until("INTERACTION_CREATE")
        assert (created["d"]["id"], created["d"]["token"], created["d"]["type"]) == (
            inter["id"],
            inter["token"],
            2,
        )
        assert created["d"]["member"]["user"]["id"] == alice["id"]


async def test_sessions_expire_after_the_resume_window() -> None:
    realism = attrs.evolve(Realism.faithful(), resume_window=0.0)
    async with served(realism) as server:
        async with connect(server.gateway_url) as gw:
            ready = await gw.identify(server.token)
            await gw.ws.aclose(code=4000)
        await server.wait_until(lambda: not server.hub.connections)
        async with connect(server.gateway_url) as gw:
            await gw.send(
                6, {"token": server.token, "session_id": ready["d"]["session_id"], "seq": 2}
            )
            assert await gw.recv() == {"op": 9, "d": False}
        assert server.control.gateway()["sessions"] == []


async def test_guild_create_lists_only_the_bot_without_presences() -> None:
    async with served(attrs.evolve(Realism.faithful(), identify_interval=0.0)) as server:
        server.control.create_user("alice")
        async with connect(server.gateway_url) as gw:
            await gw.identify(server.token, intents=GUILDS)
            guild = await gw.recv()
            assert [m["user"]["id"] for m in guild["d"]["members"]] == [str(server.world.bot.id)]
        async with connect(server.gateway_url) as gw:
            await gw.identify(server.token, intents=GUILDS | (1 << 8))
            guild = await gw.recv()
            assert len(guild["d"]["members"]) == 3
            assert guild["d"]["member_count"] == 3


async def test_a_client_that_falls_behind_is_cut_off_but_can_resume() -> None:
    async with served(attrs.evolve(Realism.faithful(), outbox_size=5)) as server:
        alice = server.control.create_user("alice")
        channel = server.world.default_channel.id
        async with connect(server.gateway_url, compressed=False) as gw:
            ready = await gw.identify(server.token)
            last = (await gw.recv())["s"]
            for i in range(8):  # synchronous: more than the outbox holds
                server.control.post_message(channel, alice["id"], f"burst {i}")
            assert await gw.closed_with() == 1006
        await server.wait_until(lambda: not server.hub.connections)
        async with connect(server.resume_gateway_url, compressed=False) as gw:
            await gw.send(
                6, {"token": server.token, "session_id": ready["d"]["session_id"], "seq": last}
            )
            replayed = [(await gw.recv())["d"]["content"] for _ in range(8)]
            assert replayed == [f"burst {i}" for i in range(8)]
            assert (await gw.recv())["t"] == "RESUMED"


DISPATCH_SCHEMAS = {
    "MESSAGE_CREATE": "MessageResponse",
    "MESSAGE_UPDATE": "MessageResponse",
    "THREAD_CREATE": "ThreadResponse",
    "THREAD_UPDATE": "ThreadResponse",
    "CHANNEL_CREATE": "GuildChannelResponse",
    "CHANNEL_UPDATE": "GuildChannelResponse",
}


async def test_dispatch_bodies_match_the_official_rest_schemas() -> None:
    """Gateway bodies reuse REST shapes (research §4): check them against the spec too."""
    async with served(Realism.off()) as server, connect(server.gateway_url) as gw:
        await gw.identify(server.token, intents=GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT)
        await gw.recv_until("GUILD_CREATE")
        world = server.world
        alice = server.control.create_user("alice")
        extra = server.control.create_channel("extra")
        world.modify_channel(int(extra["id"]), {"topic": "now with a topic"})
        posted = server.control.post_message(
            extra["id"], alice["id"], "hello", attachments=[{"filename": "a.txt", "text": "a"}]
        )
        bot_message = world.create_message(
            int(extra["id"]),
            world.bot.id,
            content="menu",
            embeds=[{"title": "t", "fields": [{"name": "n", "value": "v"}]}],
            components=[
                {"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "b"}]}
            ],
        )
        world.edit_message(bot_message, editor_id=world.bot.id, body={"content": "menu 2"})
        world.start_thread_from_message(
            world.find_message(int(posted["id"])), name="t", owner_id=world.bot.id
        )
        world.modify_channel(int(posted["id"]), {"archived": True})
        seen: dict[str, int] = {}
        spec = discord_spec()
        while sum(seen.values()) < 8:
            payload = await gw.recv()
            name = payload["t"]
            assert name in DISPATCH_SCHEMAS, name
            seen[name] = seen.get(name, 0) + 1
            assert spec.schema_errors(DISPATCH_SCHEMAS[name], payload["d"]) == [], name
        assert set(seen) == set(DISPATCH_SCHEMAS)
