"""Helpers for the local Discord server's tests: an in-process REST rig with schema checks."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import pytest

from bridge.discord_local import LocalDiscord, Realism
from tests.support.openapi import SpecRecorder


@attrs.define
class Rig:
    """A server (no socket), a bot-authenticated REST client, a control client, a recorder."""

    server: LocalDiscord
    rest: httpx.AsyncClient
    control: httpx.AsyncClient
    recorder: SpecRecorder

    @property
    def channel_id(self) -> int:
        return self.server.world.default_channel.id

    async def human(self, name: str = "alice") -> dict[str, Any]:
        return (await self.control.post("/users", json={"username": name})).json()

    async def say(
        self, content: str, channel_id: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        r = await self.rest.post(
            f"/channels/{channel_id or self.channel_id}/messages",
            json={"content": content, **extra},
        )
        assert r.status_code == 200, r.text
        return r.json()


@asynccontextmanager
async def open_rig(realism: Realism | None = None) -> AsyncIterator[Rig]:
    recorder = SpecRecorder()
    server = LocalDiscord(
        realism=realism or Realism.off(), rng=random.Random(7), observers=[recorder]
    )
    transport = httpx.ASGITransport(server.app)
    async with (
        httpx.AsyncClient(
            transport=transport,
            base_url=server.rest_url,
            headers={"Authorization": f"Bot {server.token}"},
        ) as rest,
        httpx.AsyncClient(transport=transport, base_url=server.control_url) as control,
    ):
        yield Rig(server, rest, control, recorder)
    if recorder.exchanges:  # control-only tests make no REST exchange
        recorder.assert_valid()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """Limits off; every REST exchange must match the OpenAPI spec."""
    async with open_rig() as r:
        yield r
