"""A live rig for the gateway client: the local Discord server on a real socket, our REST
client, an actor system running the gateway actor, and a subscriber actor that records
every dispatch. Used by ``tests/e2e/test_discord_client_*.py`` (real sockets, real clock:
wait for conditions with generous timeouts, never sleep a fixed time to "let it happen").
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import trio

import actors
from bridge.discord import (
    GatewayConfig,
    GatewayDispatch,
    GatewayStatus,
    GetGatewayStatus,
    RestClient,
    WaitUntilConnected,
    open_rest_client,
    run_gateway,
)
from bridge.discord_local import LocalDiscord, Realism, open_discord_local

TIMEOUT = 30.0
"""Generous: the machine has 2 cores shared with other test runs."""


def fast_realism(**overrides: Any) -> Realism:
    """Faithful limits with a 1 s heartbeat, so zombies are found in seconds."""
    base = attrs.evolve(Realism.faithful(), heartbeat_interval=1.0, heartbeat_grace=3.0)
    return attrs.evolve(base, **overrides)


@attrs.define
class Recorder:
    """Shared state of the subscriber actor: every dispatch in arrival order."""

    received: list[GatewayDispatch] = attrs.Factory(list)
    changed: trio.Event = attrs.Factory(trio.Event)

    def add(self, dispatch: GatewayDispatch) -> None:
        self.received.append(dispatch)
        self.changed.set()
        self.changed = trio.Event()

    def names(self) -> list[str]:
        return [d.name for d in self.received]

    def message_ids(self) -> list[int]:
        return [int(d.data["id"]) for d in self.received if d.name == "MESSAGE_CREATE"]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        with trio.fail_after(timeout):
            while not (value := predicate()):
                await self.changed.wait()
        return value


async def record(ctx: actors.Context[GatewayDispatch], recorder: Recorder) -> None:
    async for msg in ctx.mailbox:
        recorder.add(msg)


@attrs.define
class Live:
    server: LocalDiscord
    rest: RestClient
    system: actors.System
    gateway: actors.Ref[Any]
    recorder: Recorder

    async def status(self) -> GatewayStatus:
        return await self.gateway.ask(GetGatewayStatus(), timeout=TIMEOUT)

    async def wait_connected(self, timeout: float = TIMEOUT) -> GatewayStatus:
        """Until our client is CONNECTED (the server attached the session before it sent
        READY or RESUMED)."""
        return await self.gateway.ask(WaitUntilConnected(), timeout=timeout)

    def human(self) -> int:
        return self.server.world.owner_id

    def post(self, content: str, channel_id: int | None = None) -> int:
        channel = channel_id or self.server.world.default_channel.id
        return int(self.server.control.post_message(channel, self.human(), content)["id"])


@asynccontextmanager
async def open_live(
    realism: Realism | None = None,
    *,
    seed: int = 1,
    token: str | None = None,
    wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
    rest_config: dict[str, Any] | None = None,
    **config: Any,
) -> AsyncIterator[Live]:
    async with open_discord_local(
        realism=realism or fast_realism(), rng=random.Random(seed)
    ) as server:
        transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport()
        if wrap is not None:
            transport = wrap(transport)
        async with (
            open_rest_client(
                server.rest_url,
                server.token,
                transport=transport,
                random=random.Random(seed + 1),
                **(rest_config or {}),
            ) as rest,
            actors.open_system(random=random.Random(seed + 2)) as system,
        ):
            recorder = Recorder()
            mailbox = actors.Mailbox(capacity=1024, overflow=actors.Overflow.BLOCK_SENDER)
            subscriber = await system.spawn(record, recorder, name="recorder", mailbox=mailbox)
            cfg = GatewayConfig(token=token or server.token, **config)
            gateway = await system.spawn(
                run_gateway, cfg, rest, [subscriber], random.Random(seed + 3), name="gateway"
            )
            yield Live(server, rest, system, gateway, recorder)
