"""The web client's server side: the page and its files, the views, and the live feed
(server-sent events) that follows every change a person would see."""

from __future__ import annotations

import collections
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import trio

from bridge.discord_local import Dispatch, LocalDiscord, Realism, open_discord_local
from bridge.discord_local._gateway import Session
from tests.bridge.discord_local.conftest import Rig

STOP = {"name": "stop", "description": "Stop the running turn"}


async def test_the_page_and_its_files_are_served_without_a_build_step(rig: Rig) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(rig.server.app), base_url=rig.server.base_url
    ) as web:
        page = await web.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<script src="/web/app.js"' in page.text
        script = await web.get("/web/app.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert "EventSource" in script.text
        assert (await web.get("/web/app.css")).status_code == 200
        assert (await web.get("/web/../_persist.py")).status_code == 404
        assert (await web.get("/web/index.htm")).status_code == 404
        # Nothing is fetched from elsewhere: every URL in the page is local.
        assert "http" not in page.text.replace('rel="stylesheet"', "")


async def test_state_names_the_owner_default_channel_users_and_commands(rig: Rig) -> None:
    world = rig.server.world
    world.overwrite_commands(world.guild_id, [STOP])
    thread = world.start_thread(world.default_channel.id, name="a thread", owner_id=world.bot.id)
    state = rig.server.web.state()
    assert state["owner_id"] == str(world.owner_id)
    assert state["default_channel_id"] == str(world.default_channel.id)
    assert state["bot_id"] == str(world.bot.id)
    assert [c["name"] for c in state["commands"]] == ["stop"]
    (shown,) = [c for c in state["channels"] if c["id"] == str(thread.id)]
    assert shown["parent_id"] == str(world.default_channel.id)
    assert {u["display_name"] for u in state["users"]} == {"ccbridge-local", "Owner"}


async def test_messages_carry_rendered_markdown_embeds_and_only_ones_own_ephemerals(
    rig: Rig,
) -> None:
    world = rig.server.world
    world.overwrite_commands(world.guild_id, [STOP])
    stranger = world.add_user("mallory")
    channel = world.default_channel.id
    rig.server.control.post_message(channel, world.owner_id, f"**hi** <@{world.bot.id}>")
    world.create_message(
        channel,
        world.bot.id,
        embeds=[{"title": "T", "description": "`x`", "fields": [{"name": "f", "value": "*v*"}]}],
    )
    inter = world.invoke_command(stranger.id, channel, "stop")
    world.respond(inter.id, inter.token, 4, {"content": "not for you", "flags": 64})

    owner_view = rig.server.web.messages(channel, world.owner_id)
    assert [m["html"] for m in owner_view] == [
        '<p><strong>hi</strong> <span class="mention">@ccbridge-local</span></p>\n',
        "",
    ]
    (embed,) = owner_view[1]["embeds"]
    assert embed["description_html"] == "<p><code>x</code></p>\n"
    assert embed["fields"][0]["value_html"] == "<p><em>v</em></p>\n"
    first = world.find_message(int(owner_view[0]["id"]))
    thread = world.start_thread_from_message(first, name="t", owner_id=world.bot.id)
    world.create_message(thread.id, world.bot.id, content="in the thread")
    in_thread = rig.server.web.messages(thread.id, world.owner_id)
    # A thread shows the message it was started from first, as Discord does.
    assert (in_thread[0]["id"], in_thread[0].get("starter")) == (str(first.id), True)
    assert [m["content"] for m in in_thread][1:] == ["in the thread"]
    stranger_view = rig.server.web.messages(channel, stranger.id)
    assert [m["content"] for m in stranger_view][-1] == "not for you"
    assert stranger_view[-1]["ephemeral"] is True

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(rig.server.app), base_url=rig.server.base_url
    ) as web:
        r = await web.get(f"/_web/channels/{channel}/messages", params={"viewer": stranger.id})
        assert [m["content"] for m in r.json()["messages"]][-1] == "not for you"
        # The snapshot names the change it includes, so a page can skip older events.
        assert r.json()["seq"] == rig.server.web.seq > 0
        assert (await web.get("/_web/channels/123/messages")).status_code == 404
        assert (await web.get("/_web/channels/abc/messages")).status_code == 404


class Feed:
    """One page's event stream, read as the browser's EventSource would."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self.lines = lines
        self.seqs: list[int] = []

    async def next(self) -> tuple[str, Any]:
        """The next event, its ``seq`` (checked: growing, and the SSE id) taken off."""
        event, data, event_id = "message", "", None
        async for line in self.lines:
            if line.startswith(":") or line.startswith("retry:"):
                continue
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("id: "):
                event_id = int(line[len("id: ") :])
            elif line.startswith("data: "):
                data += line[len("data: ") :]
            elif line == "" and data:
                decoded = json.loads(data)
                if event != "hello":
                    seq = decoded.pop("seq")
                    assert seq == event_id
                    assert not self.seqs or seq > self.seqs[-1]
                    self.seqs.append(seq)
                return event, decoded
        raise AssertionError("the feed ended")


@asynccontextmanager
async def open_feed(server: LocalDiscord, viewer: int) -> AsyncIterator[Feed]:
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as client,
        client.stream("GET", "/_web/events", params={"viewer": viewer}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        feed = Feed(response.aiter_lines())
        assert await feed.next() == ("hello", {})
        yield feed


async def test_the_feed_follows_messages_threads_reactions_edits_and_deletions() -> None:
    async with open_discord_local(realism=Realism.off(), rng=random.Random(3)) as server:
        world = server.world
        channel = world.default_channel.id
        async with open_feed(server, world.owner_id) as feed:
            with trio.fail_after(20):
                # Commands the bot registers appear in the page's command picker at once.
                world.overwrite_commands(world.guild_id, [STOP])
                event, data = await feed.next()
                assert (event, [c["name"] for c in data["commands"]]) == ("commands", ["stop"])

                posted = server.control.post_message(channel, world.owner_id, "||psst||")
                event, data = await feed.next()
                assert event == "message"
                assert data["id"] == posted["id"]
                assert 'class="spoiler"' in data["html"]

                m = world.find_message(int(posted["id"]))
                thread = world.start_thread_from_message(m, name="psst", owner_id=world.bot.id)
                seen = [await feed.next(), await feed.next()]
                assert ("channel", server.web.channel(thread.id)) in seen
                assert any(e == "message" and d["thread_id"] == str(thread.id) for e, d in seen)

                reply = world.create_message(thread.id, world.bot.id, content="one")
                assert (await feed.next())[1]["content"] == "one"
                world.edit_message(reply, editor_id=world.bot.id, body={"content": "two"})
                event, data = await feed.next()
                assert (event, data["content"]) == ("message", "two")
                assert data["edited_timestamp"] is not None
                world.add_reaction(reply, "✅", world.bot.id)
                assert (await feed.next())[1]["reaction_users"] == {"✅": [str(world.bot.id)]}
                world.pin(reply)
                event, data = await feed.next()
                assert (event, data["pins"]) == ("channel", [str(reply.id)])
                world.delete_message(reply)
                assert await feed.next() == (
                    "delete",
                    {"id": str(reply.id), "channel_id": str(thread.id)},
                )


async def test_a_modal_and_an_ephemeral_answer_reach_only_the_person_who_acted() -> None:
    async with open_discord_local(realism=Realism.off(), rng=random.Random(4)) as server:
        world = server.world
        world.overwrite_commands(world.guild_id, [STOP])
        stranger = world.add_user("mallory")
        channel = world.default_channel.id
        async with (
            open_feed(server, world.owner_id) as owners,
            open_feed(server, stranger.id) as strangers,
        ):
            with trio.fail_after(20):
                # The stranger is refused privately; the owner's page hears nothing of it.
                refused = world.invoke_command(stranger.id, channel, "stop")
                world.respond(refused.id, refused.token, 4, {"content": "no", "flags": 64})
                event, data = await strangers.next()
                assert (event, data["content"], data["ephemeral"]) == ("message", "no", True)

                asked = world.invoke_command(world.owner_id, channel, "stop")
                modal = {
                    "custom_id": "why",
                    "title": "Why?",
                    "components": [
                        {"type": 1, "components": [{"type": 4, "custom_id": "r", "label": "R"}]}
                    ],
                }
                world.respond(asked.id, asked.token, 9, modal)
                event, data = await owners.next()
                assert event == "modal"
                assert data == {"interaction_id": str(asked.id), "modal": modal}
                # Then something everyone sees: the first thing the owner gets was the modal.
                world.create_message(channel, world.bot.id, content="for all")
                assert (await owners.next())[1]["content"] == "for all"
                assert (await strangers.next())[1]["content"] == "for all"


async def test_the_gateway_never_carries_the_web_clients_notices() -> None:
    server = LocalDiscord(realism=Realism.off(), rng=random.Random(5))
    world = server.world
    notices: list[Dispatch] = []
    world.subscribe(lambda d: notices.append(d) if d.event.startswith("LOCAL_") else None)
    world.overwrite_commands(world.guild_id, [STOP])
    inter = world.invoke_command(world.owner_id, world.default_channel.id, "stop")
    world.respond(inter.id, inter.token, 9, {"custom_id": "m", "title": "t", "components": []})
    other = world.invoke_command(world.owner_id, world.default_channel.id, "stop")
    world.respond(other.id, other.token, 4, {"content": "psst", "flags": 64})
    assert [d.event for d in notices] == ["LOCAL_COMMANDS", "LOCAL_MODAL", "LOCAL_EPHEMERAL"]
    for intents in (0, 1, (1 << 25) - 1):
        session = Session(id="s", intents=intents, buffer=collections.deque())
        assert [server.hub._visible(session, d) for d in notices] == [None, None, None]
