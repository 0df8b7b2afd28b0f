"""A REST rig for the Discord client: the local server in-process (no socket), our client
over ``httpx.ASGITransport``, and every exchange checked against Discord's OpenAPI spec.

Only our code and the in-process server run, so these tests use trio's ``autojump_clock``:
rate-limit waits of seconds take no real time.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx

from bridge.discord import RestClient, open_rest_client
from bridge.discord_local import Exchange, LocalDiscord, Realism
from tests.support.openapi import SpecRecorder


@attrs.define
class Rig:
    server: LocalDiscord
    rest: RestClient
    exchanges: list[Exchange]
    recorder: SpecRecorder
    sent: list[tuple[str, str]]
    """(method, path) of each request in the order the client sent it."""

    @property
    def channel_id(self) -> int:
        return self.server.world.default_channel.id

    @property
    def owner_id(self) -> int:
        return self.server.world.owner_id

    def routes(self, route: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.route == route]

    def message(self, message_id: int) -> dict[str, Any]:
        return self.server.control.message(message_id)


class LoseResponses(httpx.AsyncBaseTransport):
    """The network loses the response of the first ``count`` requests matching ``match``
    *after* the server handled them: the far end's failure mode that makes retries risky."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, match: Callable[[httpx.Request], bool], count: int
    ) -> None:
        self.inner = inner
        self.match = match
        self.count = count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.count > 0 and self.match(request):
            self.count -= 1
            await response.aread()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


class RecordSends(httpx.AsyncBaseTransport):
    """Notes each request as it leaves the client (the server's exchange log is in order of
    completion, which concurrent requests can reorder)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, sent: list[tuple[str, str]]) -> None:
        self.inner = inner
        self.sent = sent

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)


@asynccontextmanager
async def open_rig(
    realism: Realism | None = None,
    *,
    wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
    check_spec: bool = True,
    **client_kwargs: Any,
) -> AsyncIterator[Rig]:
    recorder = SpecRecorder()
    exchanges: list[Exchange] = []
    server = LocalDiscord(
        realism=realism or Realism.faithful(),
        rng=random.Random(7),
        observers=[recorder, exchanges.append],
    )
    transport: httpx.AsyncBaseTransport = httpx.ASGITransport(server.app)
    if wrap is not None:
        transport = wrap(transport)
    sent: list[tuple[str, str]] = []
    transport = RecordSends(transport, sent)
    async with open_rest_client(
        server.rest_url,
        server.token,
        transport=transport,
        random=random.Random(11),
        **client_kwargs,
    ) as rest:
        yield Rig(server, rest, exchanges, recorder, sent)
    if check_spec and recorder.exchanges:
        recorder.assert_valid()
