"""Documented Discord limits: each is enforced at its boundary, with an error that names it."""

from __future__ import annotations

import pytest

from protocol.discord import limits
from protocol.discord import models as m
from protocol.discord.limits import LimitExceeded


def test_content_boundary() -> None:
    limits.check_content("x" * 2000)
    with pytest.raises(LimitExceeded) as info:
        limits.check_content("x" * 2001)
    err = info.value
    assert (err.limit, err.path, err.actual, err.maximum) == (
        "message content",
        "content",
        2001,
        2000,
    )
    assert str(err) == (
        "content has 2001 characters, but Discord allows at most 2000 (message content); "
        "shorten or split it before sending"
    )


def test_limit_exceeded_is_a_value_error_with_fields() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        limits.check_thread_name("")
    limits.check_thread_name("t" * 100)
    with pytest.raises(LimitExceeded, match="thread name"):
        limits.check_thread_name("t" * 101)


@pytest.mark.parametrize(
    ("embed", "path", "maximum"),
    [
        (m.Embed(title="t" * 257), "embeds[0].title", 256),
        (m.Embed(description="d" * 4097), "embeds[0].description", 4096),
        (m.Embed(footer=m.EmbedFooter(text="f" * 2049)), "embeds[0].footer.text", 2048),
        (m.Embed(author=m.EmbedAuthor(name="a" * 257)), "embeds[0].author.name", 256),
        (
            m.Embed(fields=[m.EmbedField(name="n" * 257, value="v")]),
            "embeds[0].fields[0].name",
            256,
        ),
        (
            m.Embed(fields=[m.EmbedField(name="n", value="v" * 1025)]),
            "embeds[0].fields[0].value",
            1024,
        ),
        (m.Embed(fields=[m.EmbedField(name="n", value="v")] * 26), "embeds[0].fields", 25),
    ],
)
def test_embed_field_limits(embed: m.Embed, path: str, maximum: int) -> None:
    with pytest.raises(LimitExceeded) as info:
        limits.check_embeds([embed])
    assert info.value.path == path
    assert info.value.maximum == maximum


def test_embed_limits_at_the_boundary_pass() -> None:
    limits.check_embeds(
        [
            m.Embed(
                title="t" * 256,
                description="d" * 4096,
                fields=[m.EmbedField(name="n" * 256, value="v" * 1024)],
            )
        ]
    )


def test_embed_text_is_counted_after_trimming() -> None:
    limits.check_embeds([m.Embed(title="  " + "t" * 256 + "\n")])


def test_embed_total_and_count() -> None:
    # 2 embeds of 3000 description characters = 6000: allowed; one more character is not.
    limits.check_embeds([m.Embed(description="d" * 3000), m.Embed(description="d" * 3000)])
    with pytest.raises(LimitExceeded) as info:
        limits.check_embeds(
            [m.Embed(description="d" * 3000), m.Embed(description="d" * 3000, title="x")]
        )
    assert (info.value.limit, info.value.actual, info.value.maximum) == (
        "total embed text",
        6001,
        6000,
    )
    with pytest.raises(LimitExceeded, match="embeds per message"):
        limits.check_embeds([m.Embed(title="x")] * 11)


def _button(i: int) -> m.Button:
    return m.Button(style=m.ButtonStyle.PRIMARY, custom_id=f"b{i}", label="go")


def test_component_limits() -> None:
    rows = [m.ActionRow(components=[_button(r * 5 + i) for i in range(5)]) for r in range(5)]
    limits.check_components(rows)
    with pytest.raises(LimitExceeded, match="action rows per message"):
        limits.check_components([*rows, m.ActionRow(components=[_button(99)])])
    with pytest.raises(LimitExceeded) as info:
        limits.check_components([m.ActionRow(components=[_button(i) for i in range(6)])])
    assert info.value.limit == "buttons per action row"
    with pytest.raises(LimitExceeded, match="custom_id"):
        limits.check_components([m.ActionRow(components=[m.Button(style=1, custom_id="c" * 101)])])
    with pytest.raises(LimitExceeded, match="button label"):
        limits.check_components(
            [m.ActionRow(components=[m.Button(style=1, custom_id="c", label="l" * 81)])]
        )
    with pytest.raises(LimitExceeded, match="unique custom_id"):
        limits.check_components([m.ActionRow(components=[_button(1), _button(1)])])


def test_buttons_need_a_custom_id_or_a_url() -> None:
    with pytest.raises(LimitExceeded, match="button custom_id"):
        limits.check_components(
            [m.ActionRow(components=[m.Button(style=m.ButtonStyle.PRIMARY, label="x")])]
        )
    with pytest.raises(LimitExceeded, match="link button url"):
        limits.check_components(
            [m.ActionRow(components=[m.Button(style=m.ButtonStyle.LINK, label="x")])]
        )
    limits.check_components(
        [
            m.ActionRow(
                components=[
                    m.Button(style=m.ButtonStyle.LINK, label="docs", url="https://example.com")
                ]
            )
        ]
    )


def test_select_limits() -> None:
    def select(n: int) -> m.StringSelect:
        return m.StringSelect(
            custom_id="s", options=[m.SelectOption(label=f"o{i}", value=str(i)) for i in range(n)]
        )

    limits.check_components([m.ActionRow(components=[select(25)])])
    with pytest.raises(LimitExceeded, match="select options"):
        limits.check_components([m.ActionRow(components=[select(26)])])
    with pytest.raises(LimitExceeded, match="components in a row holding a select"):
        limits.check_components([m.ActionRow(components=[select(2), _button(1)])])


def test_modal_limits() -> None:
    def field(i: int) -> m.Label:
        return m.Label(
            label="Q", component=m.TextInput(custom_id=f"t{i}", style=m.TextInputStyle.SHORT)
        )

    limits.check_modal(
        m.Modal(custom_id="f", title="t" * 45, components=[field(i) for i in range(5)])
    )
    with pytest.raises(LimitExceeded, match="modal title"):
        limits.check_modal(m.Modal(custom_id="f", title="t" * 46, components=[field(0)]))
    with pytest.raises(LimitExceeded, match="modal components"):
        limits.check_modal(
            m.Modal(custom_id="f", title="t", components=[field(i) for i in range(6)])
        )
    with pytest.raises(LimitExceeded, match="modal components"):
        limits.check_modal(m.Modal(custom_id="f", title="t", components=[]))
    with pytest.raises(LimitExceeded, match="text input value"):
        limits.check_modal(
            m.Modal(
                custom_id="f",
                title="t",
                components=[
                    m.Label(label="Q", component=m.TextInput(custom_id="x", value="v" * 4001))
                ],
            )
        )


def test_message_and_interaction_response_checks() -> None:
    limits.check_message(m.CreateMessage(content="hi", nonce="n" * 25))
    with pytest.raises(LimitExceeded, match="nonce"):
        limits.check_message(m.CreateMessage(nonce="n" * 26))
    with pytest.raises(LimitExceeded) as info:
        limits.check_interaction_response(
            m.InteractionResponse(type=4, data=m.InteractionMessage(content="x" * 2001))
        )
    assert info.value.path == "data.content"
    with pytest.raises(LimitExceeded, match="autocomplete choices"):
        limits.check_interaction_response(
            m.InteractionResponse(
                type=8,
                data=m.AutocompleteResult(
                    choices=[m.CommandChoice(name=str(i), value=str(i)) for i in range(26)]
                ),
            )
        )
    limits.check_message(m.EditMessage(content=None, embeds=None))


def test_command_limits() -> None:
    ok = m.ApplicationCommand(
        name="ask",
        description="Ask",
        options=[m.CommandOption(type=3, name="p", description="d", autocomplete=True)],
    )
    limits.check_command(ok)
    with pytest.raises(LimitExceeded, match="command name"):
        limits.check_command(m.ApplicationCommand(name="a" * 33, description="d"))
    with pytest.raises(LimitExceeded, match="autocomplete together with choices"):
        limits.check_command(
            m.ApplicationCommand(
                name="a",
                description="d",
                options=[
                    m.CommandOption(
                        type=3,
                        name="p",
                        description="d",
                        autocomplete=True,
                        choices=[m.CommandChoice(name="x", value="x")],
                    )
                ],
            )
        )
