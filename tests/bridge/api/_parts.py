"""The API over real parts (store, coordinator) and stand-ins at the far end: a router
that records ``StartSession`` and stores the session it "made", and a probe as scheduler.
Shared by the API tests and the generated-input test."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx

import actors
from actors.testing import Probe, open_test_system
from bridge.api import ApiDeps, LateRefs, SessionTokens, make_api_app
from bridge.sessions.coordinator import CoordinatorConfig, coordinator_actor
from bridge.sessions.messages import SessionOpened, StartSession
from bridge.store import SessionRecord
from bridge.store.actor import STORE_MAILBOX, store_actor, store_call

SECRET = "admin-secret-0123456789"
MAIN_CHANNEL = 500
NOW = 1_800_000_000.0
TIMEOUT = 30.0  # the store runs in worker threads: real clock


@attrs.define
class Parts:
    client: httpx.AsyncClient
    store: actors.Ref[Any]
    coordinator: actors.Ref[Any]
    tokens: SessionTokens
    scheduler: Probe
    started: list[StartSession]
    posted: list[tuple[int, str]]
    workdir: Path

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {SECRET}"}

    def session(self, thread_id: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.token_for(thread_id)}"}

    async def add_session(self, thread_id: int) -> None:
        record = SessionRecord(thread_id=thread_id, channel_id=MAIN_CHANNEL, working_dir="/")
        await store_call(self.store, lambda db: db.put_session(record), timeout=TIMEOUT)


async def _fake_router(ctx: actors.Context[Any], store: actors.Ref[Any], log: list[Any]) -> None:
    ids = itertools.count(9000)
    async for msg in ctx.mailbox:
        if isinstance(msg, StartSession):
            log.append(msg)
            thread_id = next(ids)
            record = SessionRecord(
                thread_id=thread_id, channel_id=MAIN_CHANNEL, working_dir=msg.working_dir
            )
            await store_call(store, lambda db, r=record: db.put_session(r), timeout=TIMEOUT)
            msg.reply(SessionOpened(thread_id=thread_id, message_id=thread_id))


@asynccontextmanager
async def open_api(tmp_path: Path, **overrides: Any) -> AsyncIterator[Parts]:
    async with open_test_system() as system:
        store = await system.spawn(store_actor, tmp_path / "db", mailbox=STORE_MAILBOX)
        coordinator = await system.spawn(
            coordinator_actor, store, None, CoordinatorConfig(clock=lambda: NOW)
        )
        started: list[StartSession] = []
        router = await system.spawn(_fake_router, store, started)
        scheduler = await Probe.start(system, name="scheduler")
        posted: list[tuple[int, str]] = []

        async def post(channel_id: int, text: str) -> None:
            posted.append((channel_id, text))

        tokens = SessionTokens.generate()
        deps = ApiDeps(
            store=store,
            coordinator=coordinator,
            tokens=tokens,
            admin_secret=SECRET,
            late=LateRefs(router=router, scheduler=scheduler.ref),
            post=post,
            channel_id=MAIN_CHANNEL,
            default_working_dir=str(tmp_path),
            clock=lambda: NOW,
            **overrides,
        )
        transport = httpx.ASGITransport(app=make_api_app(deps))
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
            yield Parts(
                client=client,
                store=store,
                coordinator=coordinator,
                tokens=tokens,
                scheduler=scheduler,
                started=started,
                posted=posted,
                workdir=tmp_path,
            )
