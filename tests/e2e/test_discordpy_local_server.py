"""discord.py, an independent Discord client, against the local Discord server.

discord.py (asyncio) runs in its own thread with its own event loop; the server runs in
this test's trio loop. discord.py's REST base (``Route.BASE``) and gateway
(``DiscordWebSocket.DEFAULT_GATEWAY``) are pointed at the server and restored afterwards.
Nothing waits by sleeping: the bot reports milestones to trio through ``trio.from_thread``,
and the test waits on the server's state with ``wait_until``. Every REST exchange is
checked against Discord's OpenAPI spec. If discord.py cannot do something here, the
server is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import discord
import httpx
import pytest
import trio
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from bridge.discord_local import Realism, open_discord_local
from tests.support.openapi import SpecRecorder

pytestmark = pytest.mark.e2e


class Milestones:
    """Values the bot thread reports, each with a trio.Event the test can wait on."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.events: dict[str, trio.Event] = {}
        self.token = trio.lowlevel.current_trio_token()

    def _event(self, name: str) -> trio.Event:
        return self.events.setdefault(name, trio.Event())

    def report(self, name: str, value: Any) -> None:
        """Called from the bot's thread."""

        def record() -> None:
            self.values[name] = value
            self._event(name).set()

        trio.from_thread.run_sync(record, trio_token=self.token)

    async def wait(self, name: str, timeout: float = 30.0) -> Any:
        with trio.fail_after(timeout):
            await self._event(name).wait()
        return self.values[name]


@contextlib.contextmanager
def pointed_at(rest_url: str, gateway_url: str) -> Iterator[None]:
    old_base, old_gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = rest_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class PressView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Press", custom_id="press", style=discord.ButtonStyle.primary)
    async def press(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        # Type 7 UPDATE_MESSAGE: edit the message the button is on.
        await interaction.response.edit_message(content="pressed", view=None)


def build_bot(milestones: Milestones) -> discord.Client:
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents)
    tree = app_commands.CommandTree(client)

    @tree.command(name="ask", description="Ask the bot")
    @app_commands.describe(question="what to ask")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.send_message(f"answer: {question}")

    @ask.autocomplete("question")
    async def ask_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"{current} {n}", value=f"{current}-{n}")
            for n in ("one", "two")
        ]

    async def setup_hook() -> None:
        synced = await tree.sync()
        milestones.report("synced", [c.name for c in synced])

    client.setup_hook = setup_hook  # type: ignore[method-assign]

    @client.event
    async def on_ready() -> None:
        guild = client.guilds[0]
        milestones.report(
            "ready",
            {
                "user_id": client.user.id if client.user else None,
                "guild_id": guild.id,
                "channels": sorted(c.name for c in guild.text_channels),
            },
        )

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author == client.user or message.content != "hello bot":
            return
        reply = await message.reply("hi human")
        await reply.edit(content="hi human (edited)")
        await message.add_reaction("\N{THUMBS UP SIGN}")
        thread = await message.create_thread(name="chat about it")
        await reply.pin()
        buttons = await message.channel.send("press it", view=PressView())
        milestones.report(
            "handled",
            {
                "seen_content": message.content,
                "seen_attachments": [a.filename for a in message.attachments],
                "attachment_bytes": await message.attachments[0].read()
                if message.attachments
                else None,
                "reply_id": reply.id,
                "thread_id": thread.id,
                "buttons_id": buttons.id,
            },
        )

    return client


def run_bot(client: discord.Client, token: str, loops: dict[str, Any]) -> None:
    async def main() -> None:
        loops["loop"] = asyncio.get_running_loop()
        async with client:
            await client.start(token, reconnect=True)

    asyncio.run(main())


async def test_discordpy_drives_the_local_server() -> None:
    recorder = SpecRecorder()
    milestones = Milestones()
    async with (
        open_discord_local(realism=Realism.faithful(), observers=[recorder]) as server,
        httpx.AsyncClient(base_url=server.control_url) as control,
    ):
        state = (await control.get("/state")).json()
        channel_id = state["default_channel_id"]
        client = build_bot(milestones)
        loops: dict[str, Any] = {}
        thread = threading.Thread(target=run_bot, args=(client, server.token, loops), daemon=True)
        with pointed_at(server.rest_url, server.gateway_url):
            thread.start()
            try:
                await _scenario(server, control, milestones, channel_id, state)
            finally:
                if "loop" in loops:
                    asyncio.run_coroutine_threadsafe(client.close(), loops["loop"])
                await trio.to_thread.run_sync(thread.join, 30)
        assert not thread.is_alive()
    recorder.assert_valid()
    assert {
        "PUT /applications/{application_id}/commands",
        "POST /channels/{channel_id}/messages",
        "PATCH /channels/{channel_id}/messages/{message_id}",
        "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
        "POST /channels/{channel_id}/messages/{message_id}/threads",
        "PUT /channels/{channel_id}/messages/pins/{message_id}",
        "POST /interactions/{interaction_id}/{interaction_token}/callback",
    } <= recorder.routes()


async def _scenario(
    server: Any,
    control: httpx.AsyncClient,
    milestones: Milestones,
    channel_id: str,
    state: dict[str, Any],
) -> None:
    assert await milestones.wait("synced") == ["ask"]
    ready = await milestones.wait("ready")
    assert ready["user_id"] == int(state["bot"]["id"])
    assert ready["guild_id"] == int(state["guild_id"])
    assert ready["channels"] == ["general"]
    stats = (await control.get("/stats")).json()
    assert stats["identifies"] == 1

    alice = (await control.post("/users", json={"username": "alice"})).json()
    posted = (
        await control.post(
            f"/channels/{channel_id}/messages",
            json={
                "author_id": alice["id"],
                "content": "hello bot",
                "attachments": [
                    {"filename": "notes.txt", "text": "some notes", "content_type": "text/plain"}
                ],
            },
        )
    ).json()
    handled = await milestones.wait("handled")
    assert handled["seen_content"] == "hello bot"
    assert handled["seen_attachments"] == ["notes.txt"]
    assert handled["attachment_bytes"] == b"some notes"

    reply = (await control.get(f"/messages/{handled['reply_id']}")).json()
    assert reply["message_reference"]["message_id"] == posted["id"]
    assert [v["content"] for v in reply["versions"]] == ["hi human", "hi human (edited)"]
    assert reply["pinned"] is True
    original = (await control.get(f"/messages/{posted['id']}")).json()
    assert original["reaction_users"] == {"\N{THUMBS UP SIGN}": [state["bot"]["id"]]}
    assert original["thread_id"] == str(handled["thread_id"]) == posted["id"]
    thread = (await control.get(f"/channels/{handled['thread_id']}")).json()
    assert thread["name"] == "chat about it"
    assert thread["parent_id"] == channel_id
    channel = (await control.get(f"/channels/{channel_id}")).json()
    assert channel["pins"] == [str(handled["reply_id"])]

    # Slash command with an option, and its autocomplete.
    choices = (
        await control.post(
            "/interactions/autocomplete",
            json={
                "user_id": alice["id"],
                "channel_id": channel_id,
                "name": "ask",
                "options": [{"name": "question", "type": 3, "value": "why", "focused": True}],
            },
        )
    ).json()["choices"]
    assert choices == [
        {"name": "why one", "value": "why-one"},
        {"name": "why two", "value": "why-two"},
    ]
    inter = (
        await control.post(
            "/interactions/command",
            json={
                "user_id": alice["id"],
                "channel_id": channel_id,
                "name": "ask",
                "options": [{"name": "question", "type": 3, "value": "why-one"}],
            },
        )
    ).json()
    await server.wait_until(lambda: server.world.interactions[int(inter["id"])].response_type == 4)
    answered = (await control.get(f"/interactions/{inter['id']}")).json()
    answer = (await control.get(f"/messages/{answered['original_message_id']}")).json()
    assert answer["content"] == "answer: why-one"
    assert answer["interaction_metadata"]["user"]["id"] == alice["id"]

    # A button click answered with UPDATE_MESSAGE.
    click = (
        await control.post(
            "/interactions/button",
            json={
                "user_id": alice["id"],
                "message_id": str(handled["buttons_id"]),
                "custom_id": "press",
            },
        )
    ).json()
    await server.wait_until(lambda: server.world.interactions[int(click["id"])].response_type == 7)
    buttons = (await control.get(f"/messages/{handled['buttons_id']}")).json()
    assert buttons["content"] == "pressed"
    assert buttons["components"] == []
    assert [v["content"] for v in buttons["versions"]] == ["press it", "pressed"]
