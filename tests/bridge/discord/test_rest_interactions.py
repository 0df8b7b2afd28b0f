"""Interaction responses of every type we use, followups and the original response."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from protocol.discord import models as m
from tests.bridge.discord.conftest import Rig, open_rig

ASK = m.ApplicationCommand(
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


async def _command(rig: Rig) -> dict[str, Any]:
    await rig.rest.bulk_overwrite_global_commands(rig.server.world.application_id, [ASK])
    return rig.server.control.invoke_command(
        rig.owner_id, rig.channel_id, "ask", [{"name": "prompt", "type": 3, "value": "hi"}]
    )


def _response(kind: m.InteractionCallbackType, data: Any = m.UNDEFINED) -> m.InteractionResponse:
    return m.InteractionResponse(type=kind, data=data)


async def test_reply_with_a_message(autojump_clock: object) -> None:
    async with open_rig() as rig:
        inter = await _command(rig)
        await rig.rest.create_interaction_response(
            int(inter["id"]),
            inter["token"],
            _response(
                m.InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
                m.InteractionMessage(content="on it", flags=int(m.MessageFlags.EPHEMERAL)),
            ),
        )
        seen = rig.server.control.interaction(inter["id"])
        assert seen["response_type"] == 4
        assert rig.message(int(seen["original_message_id"]))["content"] == "on it"


async def test_defer_then_edit_original_then_followup(autojump_clock: object) -> None:
    async with open_rig() as rig:
        inter = await _command(rig)
        app_id = rig.server.world.application_id
        await rig.rest.create_interaction_response(
            int(inter["id"]),
            inter["token"],
            _response(m.InteractionCallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE),
        )
        original = await rig.rest.edit_original_response(app_id, inter["token"], content="done")
        assert original.content == "done"
        followup = await rig.rest.create_followup(
            app_id, inter["token"], content="details", ephemeral=True
        )
        assert followup.content == "details"
        assert followup.flags & m.MessageFlags.EPHEMERAL
        seen = rig.server.control.interaction(inter["id"])
        assert seen["response_type"] == 5
        assert seen["followup_ids"] == [str(followup.id)]


async def test_autocomplete_result(autojump_clock: object) -> None:
    async with open_rig() as rig:
        await rig.rest.bulk_overwrite_global_commands(rig.server.world.application_id, [ASK])
        async with trio.open_nursery() as nursery:

            async def answer() -> None:
                await rig.server.wait_until(lambda: rig.server.world.interactions)
                inter = next(iter(rig.server.world.interactions.values()))
                await rig.rest.create_interaction_response(
                    inter.id,
                    inter.token,
                    _response(
                        m.InteractionCallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT,
                        m.AutocompleteResult(
                            choices=[m.CommandChoice(name="hello world", value="hello world")]
                        ),
                    ),
                )

            nursery.start_soon(answer)
            done = await rig.server.control.autocomplete(
                rig.owner_id,
                rig.channel_id,
                "ask",
                [{"name": "prompt", "type": 3, "value": "hel", "focused": True}],
            )
        assert done["choices"] == [{"name": "hello world", "value": "hello world"}]


async def test_modal_then_update_message_from_the_submit(autojump_clock: object) -> None:
    async with open_rig() as rig:
        row = m.ActionRow(
            components=[m.Button(style=m.ButtonStyle.PRIMARY, label="Edit", custom_id="edit")]
        )
        sent = await rig.rest.create_message(rig.channel_id, content="panel", components=[row])
        click = rig.server.control.click_button(rig.owner_id, sent.id, "edit")
        modal = m.Modal(
            custom_id="edit-modal",
            title="Edit",
            components=[
                m.Label(
                    label="New text",
                    component=m.TextInput(custom_id="text", style=m.TextInputStyle.SHORT),
                )
            ],
        )
        await rig.rest.create_interaction_response(
            int(click["id"]), click["token"], _response(m.InteractionCallbackType.MODAL, modal)
        )
        assert rig.server.control.interaction(click["id"])["modal"]["custom_id"] == "edit-modal"
        submit = rig.server.control.submit_modal(click["id"], {"text": "new panel"})
        await rig.rest.create_interaction_response(
            int(submit["id"]),
            submit["token"],
            _response(
                m.InteractionCallbackType.UPDATE_MESSAGE, m.InteractionMessage(content="new panel")
            ),
        )
        assert rig.message(sent.id)["content"] == "new panel"


async def test_deferred_update_of_a_component(autojump_clock: object) -> None:
    async with open_rig() as rig:
        row = m.ActionRow(
            components=[m.Button(style=m.ButtonStyle.DANGER, label="Stop", custom_id="stop")]
        )
        sent = await rig.rest.create_message(rig.channel_id, content="running", components=[row])
        click = rig.server.control.click_button(rig.owner_id, sent.id, "stop")
        await rig.rest.create_interaction_response(
            int(click["id"]),
            click["token"],
            _response(m.InteractionCallbackType.DEFERRED_UPDATE_MESSAGE),
        )
        assert rig.server.control.interaction(click["id"])["response_type"] == 6


async def test_pong(autojump_clock: object) -> None:
    async with open_rig() as rig:
        ping = rig.server.control.ping()
        await rig.rest.create_interaction_response(
            int(ping["id"]), ping["token"], _response(m.InteractionCallbackType.PONG)
        )
        assert rig.server.control.interaction(ping["id"])["response_type"] == 1


async def test_interactions_and_messages_overtake_queued_edits(autojump_clock: object) -> None:
    async with open_rig() as rig:
        channels = [int(rig.server.control.create_channel(f"c{i}")["id"]) for i in range(60)]
        messages = [await rig.rest.create_message(c, content="0") for c in channels * 2]
        inter = await _command(rig)
        await trio.sleep(1.5)  # let the global window empty
        # 120 edits on 60 channels: more than twice the global budget of one second.
        for msg in messages:
            rig.rest.submit_edit(msg.channel_id, msg.id, content="1")
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        waiting = rig.rest.queued
        assert waiting >= 60  # the first second's budget is spent, the rest waits
        # Interaction callbacks are outside the global budget: answered at once.
        await rig.rest.create_interaction_response(
            int(inter["id"]),
            inter["token"],
            _response(
                m.InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
                m.InteractionMessage(content="first"),
            ),
        )
        assert trio.current_time() - start < 0.1
        # A message waits for the budget, but takes the first free slot, ahead of the edits
        # queued earlier: in FIFO order it would wait for the 70 edits (two more seconds).
        reply = await rig.rest.create_message(rig.channel_id, content="second")
        assert trio.current_time() - start < 1.5
        assert rig.rest.queued >= waiting - 50
        await rig.rest.wait_idle()
        assert all(rig.message(msg.id)["content"] == "1" for msg in messages)
        assert rig.message(reply.id)["content"] == "second"
        assert rig.server.stats.responses_429 == 0
