"""The Discord converter: wire JSON <-> models, checked against the official OpenAPI schemas."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import attrs
import cattrs
import jsonschema
import pytest

from protocol.discord import models as m
from protocol.discord.converter import DISPATCH_MODELS, make_converter, structure_dispatch
from tests.support.openapi import SPEC_PATH

SPEC = SPEC_PATH  # the official description, vendored beside the schema helper


@cache
def _spec() -> dict[str, Any]:
    return json.loads(SPEC.read_text())


def assert_schema(instance: Any, schema_name: str) -> None:
    schema = {**_spec(), "$ref": f"#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema).validate(instance)


conv = make_converter()

USER = {
    "id": "80351110224678912",
    "username": "nelly",
    "discriminator": "0",
    "global_name": "Nelly",
    "avatar": None,
    "public_flags": 0,
    "flags": 0,
    "primary_guild": None,
    "brand_new_field": {"x": 1},
}


def message_payload(**extra: Any) -> dict[str, Any]:
    return {
        "id": "1100000000000000001",
        "channel_id": "1200000000000000002",
        "guild_id": "1300000000000000003",
        "author": USER,
        "content": "hello",
        "timestamp": "2026-11-23T04:00:00.000000+00:00",
        "edited_timestamp": None,
        "type": 0,
        "flags": 0,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [
            {
                "id": "1400000000000000004",
                "filename": "a.txt",
                "size": 3,
                "url": "https://cdn.example/a.txt",
                "proxy_url": "https://media.example/a.txt",
                "content_type": "text/plain",
            }
        ],
        "embeds": [
            {"type": "rich", "title": "T", "fields": [{"name": "n", "value": "v", "inline": True}]}
        ],
        "components": [
            {
                "type": 1,
                "id": 1,
                "components": [
                    {"type": 2, "id": 2, "style": 1, "custom_id": "ok", "label": "OK"},
                    {"type": 2, "id": 3, "style": 5, "url": "https://example.com", "label": "Link"},
                ],
            }
        ],
        "pinned": False,
        **extra,
    }


def test_snowflakes_are_int_inside_and_str_on_the_wire() -> None:
    msg = conv.structure(message_payload(), m.Message)
    assert msg.id == 1100000000000000001
    assert isinstance(msg.author.id, int)
    out = conv.unstructure(msg)
    assert out["id"] == "1100000000000000001"
    assert out["author"]["id"] == "80351110224678912"
    assert out["attachments"][0]["id"] == "1400000000000000004"


def test_unknown_fields_are_ignored_and_unknown_enum_values_stay_int() -> None:
    msg = conv.structure(message_payload(type=999, surprise=[1, 2]), m.Message)
    assert msg.type == 999
    assert not isinstance(msg.type, m.MessageType)
    channel = conv.structure({"id": "5", "type": 77, "new": True}, m.Channel)
    assert channel.type == 77
    assert conv.unstructure(channel)["type"] == 77
    known = conv.structure({"id": "5", "type": 11}, m.Channel)
    assert known.type is m.ChannelType.PUBLIC_THREAD
    assert known.is_thread


def test_undefined_is_omitted_and_none_is_null() -> None:
    edit = m.EditMessage(content=None, embeds=[])
    assert conv.unstructure(edit) == {"content": None, "embeds": []}
    assert conv.unstructure(m.CreateMessage()) == {}
    thread = m.Channel(id=m.Snowflake(5), type=m.ChannelType.PUBLIC_THREAD, parent_id=None)
    assert conv.unstructure(thread) == {"id": "5", "type": 11, "parent_id": None, "flags": 0}


def test_missing_optional_key_reads_as_undefined() -> None:
    msg = conv.structure(message_payload(), m.Message)
    assert msg.webhook_id is m.UNDEFINED
    assert msg.member is m.UNDEFINED
    assert msg.edited_timestamp is None
    assert not msg.webhook_id  # UNDEFINED is falsy
    webhook = conv.structure(message_payload(webhook_id="99"), m.Message)
    assert webhook.webhook_id == 99


def test_message_round_trip_is_a_valid_message_response() -> None:
    payload = message_payload(
        reactions=[
            {
                "emoji": {"id": None, "name": "👍"},
                "count": 2,
                "me": True,
                "me_burst": False,
                "count_details": {"burst": 0, "normal": 2},
                "burst_colors": [],
            }
        ],
        message_reference={"type": 0, "channel_id": "1200000000000000002", "message_id": "7"},
        webhook_id="55",
    )
    msg = conv.structure(payload, m.Message)
    assert msg.reactions
    assert msg.reactions[0].emoji.name == "👍"
    out = conv.unstructure(msg)
    out.pop("guild_id")  # a gateway-only field; MessageResponse is the REST shape
    assert_schema(out, "MessageResponse")
    assert conv.structure(out, m.Message) == attrs.evolve(msg, guild_id=m.UNDEFINED)


def test_components_dispatch_on_type_and_unknown_round_trips() -> None:
    rows = conv.structure(
        [
            {
                "type": 1,
                "components": [
                    {"type": 3, "custom_id": "pick", "options": [{"label": "a", "value": "a"}]}
                ],
            },
            {"type": 17, "accent_color": 5, "components": []},
        ],
        list[m.Component],
    )
    assert isinstance(rows[0], m.ActionRow)
    select = rows[0].components[0]
    assert isinstance(select, m.StringSelect)
    assert select.options[0].value == "a"
    assert rows[1] == m.UnknownComponent(
        type=17, raw={"type": 17, "accent_color": 5, "components": []}
    )
    out = conv.unstructure(rows, list[m.Component])
    assert out[0]["components"][0]["type"] == 3
    assert out[1] == {"type": 17, "accent_color": 5, "components": []}


def test_interactions_dispatch_on_type() -> None:
    base = {
        "id": "10",
        "application_id": "20",
        "token": "tok",
        "version": 1,
        "channel_id": "30",
        "guild_id": "40",
        "member": {"user": USER, "roles": [], "permissions": "2048"},
    }
    command = conv.structure(
        {
            **base,
            "type": 2,
            "data": {
                "id": "50",
                "name": "ask",
                "type": 1,
                "options": [
                    {"name": "prompt", "type": 3, "value": "hi"},
                    {"name": "n", "type": 4, "value": 3},
                    {"name": "flag", "type": 5, "value": True},
                ],
            },
        },
        m.Interaction,
    )
    assert isinstance(command, m.CommandInteraction)
    assert command.data.options
    assert [o.value for o in command.data.options] == ["hi", 3, True]
    assert command.invoker is not None
    assert command.invoker.username == "nelly"

    auto = conv.structure(
        {
            **base,
            "type": 4,
            "data": {
                "id": "50",
                "name": "ask",
                "options": [{"name": "prompt", "type": 3, "value": "h", "focused": True}],
            },
        },
        m.Interaction,
    )
    assert isinstance(auto, m.AutocompleteInteraction)
    assert auto.data.options
    assert auto.data.options[0].focused is True

    click = conv.structure(
        {
            **base,
            "type": 3,
            "data": {"custom_id": "ok", "component_type": 2},
            "message": message_payload(),
        },
        m.Interaction,
    )
    assert isinstance(click, m.ComponentInteraction)
    assert click.data.custom_id == "ok"
    assert click.message.content == "hello"

    submit = conv.structure(
        {
            **base,
            "type": 5,
            "data": {
                "custom_id": "form",
                "components": [
                    {
                        "type": 18,
                        "id": 1,
                        "component": {"type": 4, "id": 2, "custom_id": "answer", "value": "42"},
                        "label": "Answer",
                    }
                ],
            },
        },
        m.Interaction,
    )
    assert isinstance(submit, m.ModalSubmitInteraction)
    label = submit.data.components[0]
    assert isinstance(label, m.Label)
    assert isinstance(label.component, m.TextInput)
    assert label.component.value == "42"

    unknown = conv.structure({**base, "type": 77}, m.Interaction)
    assert isinstance(unknown, m.UnknownInteraction)
    assert unknown.type == 77
    assert conv.unstructure(unknown, m.Interaction)["type"] == 77
    # The class-level tag is written out again.
    assert conv.unstructure(command, m.Interaction)["type"] == 2


def test_interaction_response_data_follows_the_callback_type() -> None:
    modal = conv.structure(
        {
            "type": 9,
            "data": {
                "custom_id": "f",
                "title": "Title",
                "components": [
                    {
                        "type": 18,
                        "label": "L",
                        "component": {"type": 4, "custom_id": "x", "style": 1},
                    }
                ],
            },
        },
        m.InteractionResponse,
    )
    assert isinstance(modal.data, m.Modal)
    auto = conv.structure(
        {"type": 8, "data": {"choices": [{"name": "a", "value": "a"}]}}, m.InteractionResponse
    )
    assert isinstance(auto.data, m.AutocompleteResult)
    reply = conv.structure(
        {"type": 4, "data": {"content": "hi", "flags": 64}}, m.InteractionResponse
    )
    assert reply.data == m.InteractionMessage(content="hi", flags=64)
    defer = conv.structure({"type": 6}, m.InteractionResponse)
    assert defer.data is m.UNDEFINED
    out = conv.unstructure(
        m.InteractionResponse(
            type=m.InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
            data=m.InteractionMessage(content="x"),
        )
    )
    assert out == {"type": 4, "data": {"content": "x"}}


def test_rate_limited_body_renames_global() -> None:
    body = conv.structure(
        {"message": "slow", "retry_after": 64.57, "global": True, "code": 0}, m.RateLimitedBody
    )
    assert body.is_global is True
    assert body.retry_after == 64.57
    assert conv.unstructure(body) == {
        "message": "slow",
        "retry_after": 64.57,
        "global": True,
        "code": 0,
    }
    assert_schema(conv.unstructure(body), "RatelimitedResponse")


def test_request_bodies_match_the_official_request_schemas() -> None:
    body = m.CreateMessage(
        content="hi",
        embeds=[m.Embed(title="t", description="d", fields=[m.EmbedField(name="a", value="b")])],
        components=[
            m.ActionRow(
                components=[m.Button(style=m.ButtonStyle.PRIMARY, custom_id="c", label="Go")]
            )
        ],
        message_reference=m.MessageReference(message_id=m.Snowflake(7)),
        allowed_mentions=m.AllowedMentions(parse=[]),
        nonce="n1",
        enforce_nonce=True,
    )
    assert_schema(conv.unstructure(body), "MessageCreateRequest")
    thread = m.StartThread(
        name="session", type=m.ChannelType.PUBLIC_THREAD, auto_archive_duration=1440
    )
    assert_schema(conv.unstructure(thread), "CreateTextThreadWithoutMessageRequest")


def test_application_command_round_trip() -> None:
    cmd = m.ApplicationCommand(
        name="ask",
        description="Ask Claude",
        type=m.ApplicationCommandType.CHAT_INPUT,
        options=[
            m.CommandOption(
                type=m.CommandOptionType.STRING,
                name="prompt",
                description="what",
                required=True,
                autocomplete=True,
            ),
            m.CommandOption(
                type=m.CommandOptionType.INTEGER,
                name="n",
                description="how many",
                choices=[m.CommandChoice(name="one", value=1)],
            ),
        ],
    )
    out = conv.unstructure(cmd)
    assert out["options"][1]["choices"] == [{"name": "one", "value": 1}]
    assert_schema(out, "ApplicationCommandCreateRequest")
    assert conv.structure(out, m.ApplicationCommand) == cmd


def test_bad_payload_raises_a_validation_error() -> None:
    with pytest.raises(cattrs.errors.ClassValidationError):
        conv.structure({"id": "x1", "username": "a"}, m.User)
    with pytest.raises(cattrs.errors.ClassValidationError):
        conv.structure({"id": "1"}, m.User)  # username missing


def test_structure_dispatch() -> None:
    ready = structure_dispatch(
        conv,
        "READY",
        {
            "v": 10,
            "user": USER,
            "guilds": [{"id": "1", "unavailable": True}],
            "session_id": "abc",
            "resume_gateway_url": "wss://resume.example",
            "application": {"id": "2", "flags": 0},
            "user_settings": {},
        },
    )
    assert isinstance(ready, m.Ready)
    assert ready.session_id == "abc"
    assert ready.guilds[0].unavailable is True
    guild = structure_dispatch(
        conv,
        "GUILD_CREATE",
        {
            "id": "1",
            "name": "g",
            "channels": [{"id": "3", "type": 0, "name": "general"}],
            "threads": [
                {
                    "id": "4",
                    "type": 11,
                    "parent_id": "3",
                    "thread_metadata": {
                        "archived": False,
                        "auto_archive_duration": 60,
                        "archive_timestamp": None,
                        "locked": False,
                    },
                }
            ],
        },
    )
    assert isinstance(guild, m.Guild)
    assert guild.threads
    assert guild.threads[0].parent_id == 3
    assert structure_dispatch(conv, "TYPING_START", {"x": 1}) == {"x": 1}
    assert isinstance(
        structure_dispatch(
            conv, "INTERACTION_CREATE", {"id": "1", "application_id": "2", "token": "t", "type": 1}
        ),
        m.PingInteraction,
    )
    assert "MESSAGE_CREATE" in DISPATCH_MODELS
