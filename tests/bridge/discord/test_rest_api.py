"""The typed REST surface against the local server: every call's effect is visible there."""

from __future__ import annotations

import pytest
import trio

from bridge.discord import (
    AttachmentTooLarge,
    FileUpload,
    Forbidden,
    NotFound,
    Priority,
    RestClientClosed,
)
from protocol.discord import models as m
from protocol.discord.limits import LimitExceeded
from tests.bridge.discord.conftest import open_rig


async def test_current_user_gateway_bot_and_channel(autojump_clock: object) -> None:
    async with open_rig() as rig:
        me = await rig.rest.get_current_user()
        assert me.id == rig.server.world.bot.id
        assert me.bot
        bot = await rig.rest.get_gateway_bot()
        assert bot.url == rig.server.gateway_url
        assert bot.session_start_limit.remaining == 1000
        channel = await rig.rest.get_channel(rig.channel_id)
        assert channel.id == rig.channel_id
        assert channel.name == "general"


async def test_create_edit_delete_with_embeds_components_and_reply(autojump_clock: object) -> None:
    async with open_rig() as rig:
        human = rig.server.control.post_message(rig.channel_id, rig.owner_id, "question")
        row = m.ActionRow(
            components=[m.Button(style=m.ButtonStyle.PRIMARY, label="Stop", custom_id="stop")]
        )
        sent = await rig.rest.create_message(
            rig.channel_id,
            content="answer",
            embeds=[m.Embed(title="t", description="d")],
            components=[row],
            reply_to=int(human["id"]),
        )
        seen = rig.message(sent.id)
        assert seen["content"] == "answer"
        assert seen["embeds"][0]["title"] == "t"
        assert seen["components"][0]["components"][0]["custom_id"] == "stop"
        assert seen["message_reference"]["message_id"] == human["id"]
        # Every create carries a nonce with enforce_nonce (so retries cannot duplicate).
        body = rig.routes("POST /channels/{channel_id}/messages")[0].request_json
        assert body["enforce_nonce"] is True
        assert 0 < len(body["nonce"]) <= 25

        edited = await rig.rest.edit_message(
            rig.channel_id, sent.id, content="better answer", components=[]
        )
        assert edited.content == "better answer"
        assert edited.components == []
        assert rig.message(sent.id)["content"] == "better answer"
        # Fields left UNDEFINED are not sent: the embed survives the edit.
        assert rig.message(sent.id)["embeds"][0]["title"] == "t"

        await rig.rest.delete_message(rig.channel_id, sent.id)
        assert rig.message(sent.id)["deleted"] is True


async def test_files_upload_as_multipart_and_download_with_a_cap(autojump_clock: object) -> None:
    async with open_rig() as rig:
        data = bytes(range(256)) * 40
        sent = await rig.rest.create_message(
            rig.channel_id,
            content="log attached",
            files=[FileUpload("log.bin", data, "application/octet-stream", "the log")],
        )
        exchange = rig.routes("POST /channels/{channel_id}/messages")[0]
        assert exchange.request_files == ("files[0]",)
        assert exchange.request_json["attachments"][0]["filename"] == "log.bin"
        [attachment] = sent.attachments
        assert attachment.filename == "log.bin"
        assert attachment.size == len(data)

        assert await rig.rest.download_attachment(attachment.url, max_bytes=len(data)) == data
        with pytest.raises(AttachmentTooLarge) as caught:
            await rig.rest.download_attachment(attachment.url, max_bytes=1000)
        assert caught.value.limit == 1000
        assert "over the 1000-byte limit" in str(caught.value)


async def test_reactions_pins_and_typing(autojump_clock: object) -> None:
    async with open_rig() as rig:
        sent = await rig.rest.create_message(rig.channel_id, content="react to me")
        await rig.rest.add_reaction(rig.channel_id, sent.id, "👍")
        await rig.rest.add_reaction(rig.channel_id, sent.id, "🔥")
        await rig.rest.remove_own_reaction(rig.channel_id, sent.id, "👍")
        bot = str(rig.server.world.bot.id)
        assert rig.message(sent.id)["reaction_users"] == {"🔥": [bot]}
        await rig.rest.pin_message(rig.channel_id, sent.id)
        assert rig.server.control.channel(rig.channel_id)["pins"] == [str(sent.id)]
        await rig.rest.trigger_typing(rig.channel_id)
        assert rig.routes("POST /channels/{channel_id}/typing")[0].status == 204


async def test_threads_start_rename_archive(autojump_clock: object) -> None:
    async with open_rig() as rig:
        sent = await rig.rest.create_message(rig.channel_id, content="start here")
        thread = await rig.rest.start_thread_from_message(
            rig.channel_id, sent.id, name="session 1", auto_archive_duration=60
        )
        assert thread.id == sent.id
        assert thread.is_thread
        assert thread.type == m.ChannelType.PUBLIC_THREAD
        loose = await rig.rest.start_thread(rig.channel_id, name="session 2")
        # Discord's default is a private thread; we ask for a public one.
        assert loose.type == m.ChannelType.PUBLIC_THREAD
        renamed = await rig.rest.modify_channel(thread.id, name="session 1 (done)", archived=True)
        assert renamed.name == "session 1 (done)"
        seen = rig.server.control.channel(thread.id)
        assert seen["archived"] is True
        assert seen["name"] == "session 1 (done)"


async def test_bulk_overwrite_commands(autojump_clock: object) -> None:
    async with open_rig() as rig:
        app_id = rig.server.world.application_id
        command = m.ApplicationCommand(
            name="ask",
            description="Ask Claude",
            options=[
                m.CommandOption(
                    type=m.CommandOptionType.STRING,
                    name="prompt",
                    description="what to ask",
                    required=True,
                    autocomplete=True,
                )
            ],
        )
        made = await rig.rest.bulk_overwrite_global_commands(app_id, [command])
        assert [c.name for c in made] == ["ask"]
        assert made[0].id
        guild = await rig.rest.bulk_overwrite_guild_commands(
            app_id,
            rig.server.world.guild_id,
            [command, m.ApplicationCommand(name="stop", description="Stop")],
        )
        assert sorted(c.name for c in guild) == ["ask", "stop"]


async def test_errors_name_status_code_and_route(autojump_clock: object) -> None:
    async with open_rig() as rig:
        with pytest.raises(NotFound) as missing:
            await rig.rest.edit_message(rig.channel_id, 12345, content="x")
        assert missing.value.status == 404
        assert missing.value.code == 10008
        assert missing.value.route == "PATCH /channels/{channel_id}/messages/{message_id}"
        human = rig.server.control.post_message(rig.channel_id, rig.owner_id, "mine")
        with pytest.raises(Forbidden) as forbidden:
            await rig.rest.edit_message(rig.channel_id, int(human["id"]), content="x")
        assert forbidden.value.code == 50005
        assert "403" in str(forbidden.value)


async def test_limits_are_checked_before_sending(autojump_clock: object) -> None:
    async with open_rig() as rig:
        with pytest.raises(LimitExceeded):
            await rig.rest.create_message(rig.channel_id, content="x" * 2001)
        with pytest.raises(LimitExceeded):
            rig.rest.submit_edit(rig.channel_id, 1, content="x" * 2001)
        with pytest.raises(LimitExceeded):
            await rig.rest.start_thread(rig.channel_id, name="n" * 101)
        assert rig.exchanges == []


async def test_cancelled_call_leaves_the_queue(autojump_clock: object) -> None:
    async with open_rig() as rig:
        # Fill the channel's create bucket (5 per 5 s), so the next create has to queue.
        for i in range(5):
            await rig.rest.create_message(rig.channel_id, content=f"m{i}")
        with trio.move_on_after(1.0):
            await rig.rest.create_message(rig.channel_id, content="never")
        assert rig.rest.queued == 0
        await trio.sleep(10)
        contents = [x["content"] for x in rig.server.control.messages(rig.channel_id)]
        assert "never" not in contents
        assert len(contents) == 5


async def test_calls_after_the_block_raise(autojump_clock: object) -> None:
    async with open_rig() as rig:
        rest = rig.rest
    with pytest.raises(RestClientClosed):
        await rest.create_message(rig.channel_id, content="late")


async def test_a_reaction_at_message_priority_goes_before_queued_edits(
    autojump_clock: object,
) -> None:
    """The router's first reaction (issue 15) is submitted at ``Priority.MESSAGE``: with the
    global budget (50 a second) wanted by 60 queued edits in 60 channels it goes out within
    the first second's budget; a status reaction at its default priority waits until 50
    edits have had theirs."""
    async with open_rig() as rig:
        world, control = rig.server.world, rig.server.control
        posted = []
        for n in range(62):
            channel = world.add_channel(f"c{n}").id
            author = world.bot.id if n < 60 else rig.owner_id  # the bot edits its own
            posted.append((channel, int(control.post_message(channel, author, "hi")["id"])))
        for channel, message_id in posted[:60]:
            rig.rest.submit_edit(channel, message_id, content="edited")
        (urgent_channel, urgent), (status_channel, status) = posted[60:]
        rig.rest.submit_reaction(urgent_channel, urgent, add=["🤔"], priority=Priority.MESSAGE)
        rig.rest.submit_reaction(status_channel, status, add=["✍️"])
        await rig.rest.wait_idle()
        assert all(e.status < 300 for e in rig.exchanges)
        order = [path for method, path in rig.sent]
        assert sum(method == "PATCH" for method, _ in rig.sent) == 60

        def sent_at(message_id: int) -> int:
            return next(i for i, p in enumerate(order) if f"/messages/{message_id}/reactions/" in p)

        assert sent_at(urgent) < 50
        assert sent_at(status) >= 50
