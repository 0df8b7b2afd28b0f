"""The outbox against the real REST client and the local Discord server (only our code
runs, so trio's clock jumps): order kept, placeholders, latest-edit, drops and drains."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import trio

from bridge.discord.rest import RestClient, open_rest_client
from bridge.discord_local import LocalDiscord, Realism
from bridge.sessions.presentation import render
from bridge.sessions.presentation.outbox import Outbox


@attrs.define
class Rig:
    server: LocalDiscord
    rest: RestClient
    channel_id: int
    anchor_id: int

    def bot_messages(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        bot = str(self.server.world.bot.id)
        found = self.server.control.messages(self.channel_id, include_deleted=include_deleted)
        return [m for m in found if m["author"]["id"] == bot]


@asynccontextmanager
async def open_rig(realism: Realism | None = None) -> AsyncIterator[Rig]:
    server = LocalDiscord(realism=realism or Realism.off(), rng=random.Random(5))
    channel = server.world.add_channel("t").id
    human = server.world.add_user("alice").id
    anchor = int(server.control.post_message(channel, human, "hi")["id"])
    transport = httpx.ASGITransport(server.app)
    async with open_rest_client(
        server.rest_url, server.token, transport=transport, random=random.Random(5)
    ) as rest:
        yield Rig(server, rest, channel, anchor)


@asynccontextmanager
async def running(outbox: Outbox) -> AsyncIterator[None]:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(outbox.run)
        yield
        nursery.cancel_scope.cancel()


async def test_posts_are_sent_in_order_and_asking_never_waits(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        outbox = Outbox(rig.rest, rig.channel_id)
        async with running(outbox):
            before = trio.current_time()
            placeholders = [outbox.post(render.plain(f"message {i}")) for i in range(20)]
            assert trio.current_time() == before  # queued, not sent
            assert all(p.id is None for p in placeholders)
            await outbox.drain()
            await rig.rest.wait_idle()
        contents = [m["content"] for m in rig.bot_messages()]
        assert contents == [f"message {i}" for i in range(20)]
        assert [p.id for p in placeholders] == [int(m["id"]) for m in rig.bot_messages()]
        # Posted: the placeholder lets its payload go (a tool's is kept all turn long).
        assert all(p.payload is None and p.sent for p in placeholders)


async def test_an_edit_before_the_post_is_sent_replaces_what_it_sends(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        outbox = Outbox(rig.rest, rig.channel_id)
        message = outbox.post(render.plain("v1"))
        for version in range(2, 50):
            outbox.edit(message, render.plain(f"v{version}"))
        async with running(outbox):
            await outbox.drain()
            await rig.rest.wait_idle()
        [shown] = rig.bot_messages()
        assert [v["content"] for v in shown["versions"]] == ["v49"]  # one create, no edit


class GatedRest:
    """The real client, with each ``create_message`` held until the test opens the gate."""

    def __init__(self, inner: RestClient) -> None:
        self._inner = inner
        self.entered = trio.Event()
        self.gate = trio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def create_message(self, channel_id: int, **kw: Any) -> Any:
        self.entered.set()
        await self.gate.wait()
        return await self._inner.create_message(channel_id, **kw)


async def test_edits_while_in_flight_keep_only_the_latest(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        gated = GatedRest(rig.rest)
        outbox = Outbox(gated, rig.channel_id)
        async with running(outbox):
            message = outbox.post(render.plain("first"))
            await gated.entered.wait()
            assert message.in_flight
            outbox.edit(message, render.plain("second"))
            outbox.edit(message, render.plain("third"))
            gated.gate.set()
            await outbox.drain()
            await rig.rest.wait_idle()
        [shown] = rig.bot_messages()
        assert [v["content"] for v in shown["versions"]] == ["first", "third"]
        outbox.edit(message, render.plain("fourth"))  # sent: straight to submit_edit
        await rig.rest.wait_idle()
        [shown] = rig.bot_messages()
        assert shown["content"] == "fourth"


async def test_a_delete_before_sending_drops_the_post_and_after_deletes_it(
    autojump_clock: Any,
) -> None:
    async with open_rig() as rig:
        outbox = Outbox(rig.rest, rig.channel_id)
        dropped = outbox.post(render.plain("never shown"))
        outbox.delete(dropped)
        kept = outbox.post(render.plain("shown, then deleted"))
        outbox.post(render.plain("stays"))
        async with running(outbox):
            await kept.wait_sent()
            outbox.delete(kept)
            await outbox.drain()
            await rig.rest.wait_idle()
        assert dropped.id is None
        everything = rig.bot_messages(include_deleted=True)
        assert [m["content"] for m in everything] == ["shown, then deleted", "stays"]
        assert [m["content"] for m in rig.bot_messages()] == ["stays"]


async def test_reactions_on_a_placeholder_follow_its_post(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        outbox = Outbox(rig.rest, rig.channel_id)
        notice = outbox.post(render.plain("resumed"))
        outbox.react(rig.channel_id, notice, add=["⏸️"], remove=[])
        outbox.react(rig.channel_id, notice, add=["✅"], remove=["⏸️"])
        outbox.react(rig.channel_id, rig.anchor_id, add=["🤔"], remove=[])  # a known id
        async with running(outbox):
            await outbox.drain()
            await rig.rest.wait_idle()
        assert notice.id is not None
        shown = rig.server.control.message(notice.id)["reaction_users"]
        assert list(shown) == ["✅"]
        assert list(rig.server.control.message(rig.anchor_id)["reaction_users"]) == ["🤔"]


async def test_without_a_sender_task_settle_sends_at_the_callers_pace(
    autojump_clock: Any,
) -> None:
    async with open_rig() as rig:
        outbox = Outbox(rig.rest, rig.channel_id)
        message = outbox.post(render.plain("one"))
        await outbox.settle()
        assert message.id is not None
        outbox.edit(message, render.plain("two"))
        await rig.rest.wait_idle()
        [shown] = rig.bot_messages()
        assert shown["content"] == "two"


async def test_a_post_after_edits_waits_in_the_sender_for_the_edits_before_it(
    autojump_clock: Any,
) -> None:
    """Faithful limits: five PATCHes empty the channel's edit bucket, so the sixth edit
    waits for the window while creates still have room. The ``after_edits`` post is sent
    after that edit landed; the owner never waits meanwhile, and a plain post asked for
    after it stays behind it."""
    async with open_rig(Realism.faithful()) as rig:
        outbox = Outbox(rig.rest, rig.channel_id)
        async with running(outbox):
            text = outbox.post(render.plain("v0"))
            await outbox.drain()
            for version in range(1, 6):
                outbox.edit(text, render.plain(f"v{version}"))
                await rig.rest.wait_idle()
            asked_at = trio.current_time()
            outbox.edit(text, render.plain("final"))
            done = outbox.post(render.plain("done"), after_edits=True)
            later = outbox.post(render.plain("later"))
            outbox.edit(done, render.plain("Done"))  # still the owner's: it replaces the post
            assert trio.current_time() == asked_at  # asking never waits
            await outbox.drain()
            await rig.rest.wait_idle()
        shown = {m["content"]: m for m in rig.bot_messages()}
        assert list(shown) == ["final", "Done", "later"]
        final_at = shown["final"]["versions"][-1]["visible_at"]
        assert final_at > asked_at  # the edit did wait for its bucket
        assert final_at <= shown["Done"]["versions"][0]["visible_at"]
        assert [v["content"] for v in shown["Done"]["versions"]] == ["Done"]
        assert later.id is not None
        assert done.id is not None
        assert done.id < later.id
