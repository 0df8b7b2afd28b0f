"""Discord's documented size limits, checked before anything is sent.

Discord answers a body that breaks these with a 400 (50035 Invalid Form Body); the OpenAPI
description is looser than the docs (it allows 4000 characters of content, the Nitro user
limit), so we check the documented numbers ourselves. Each check raises
:class:`LimitExceeded`, naming the limit, the path in the body and both values.

Sources (discord/discord-api-docs, see shared/research/discord-protocol.md §3):
``resources/message.mdx`` (content, embeds, nonce), ``components/reference.mdx`` (components),
``interactions/receiving-and-responding.mdx`` (modals, autocomplete),
``interactions/application-commands.mdx`` (commands), ``resources/channel.mdx`` (threads).
Lengths are counted in Unicode code points; embed texts are counted after trimming leading
and trailing whitespace, as Discord does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import attrs

from protocol.discord import models as m

__all__ = [
    "AUTOCOMPLETE_CHOICES",
    "BUTTONS_PER_ROW",
    "BUTTON_LABEL",
    "BUTTON_URL",
    "COMMAND_DESCRIPTION",
    "COMMAND_NAME",
    "COMMAND_OPTIONS",
    "CONTENT",
    "CUSTOM_ID",
    "EMBEDS",
    "EMBED_AUTHOR_NAME",
    "EMBED_DESCRIPTION",
    "EMBED_FIELDS",
    "EMBED_FIELD_NAME",
    "EMBED_FIELD_VALUE",
    "EMBED_FOOTER_TEXT",
    "EMBED_TITLE",
    "EMBED_TOTAL",
    "LABEL_LABEL",
    "MODAL_COMPONENTS",
    "MODAL_TITLE",
    "NONCE",
    "ROWS",
    "SELECT_OPTIONS",
    "SELECT_OPTION_TEXT",
    "SELECT_PLACEHOLDER",
    "TEXT_INPUT_LABEL",
    "TEXT_INPUT_PLACEHOLDER",
    "TEXT_INPUT_VALUE",
    "THREAD_NAME",
    "LimitExceeded",
    "check_autocomplete",
    "check_command",
    "check_components",
    "check_content",
    "check_embeds",
    "check_interaction_response",
    "check_message",
    "check_modal",
    "check_thread_name",
]

# message.mdx "Create Message"
CONTENT: Final = 2000
NONCE: Final = 25
# message.mdx "Embed Limits"
EMBEDS: Final = 10
EMBED_TITLE: Final = 256
EMBED_DESCRIPTION: Final = 4096
EMBED_FIELDS: Final = 25
EMBED_FIELD_NAME: Final = 256
EMBED_FIELD_VALUE: Final = 1024
EMBED_FOOTER_TEXT: Final = 2048
EMBED_AUTHOR_NAME: Final = 256
EMBED_TOTAL: Final = 6000
"""Sum of title, description, field names and values, footer text and author name over
*all* embeds of one message."""
# components/reference.mdx
ROWS: Final = 5
BUTTONS_PER_ROW: Final = 5
CUSTOM_ID: Final = 100
BUTTON_LABEL: Final = 80
BUTTON_URL: Final = 512
SELECT_OPTIONS: Final = 25
SELECT_OPTION_TEXT: Final = 100
"""Option label, value and description."""
SELECT_PLACEHOLDER: Final = 150
TEXT_INPUT_LABEL: Final = 45
TEXT_INPUT_PLACEHOLDER: Final = 100
TEXT_INPUT_VALUE: Final = 4000
LABEL_LABEL: Final = 45
# receiving-and-responding.mdx "Modal", "Autocomplete"
MODAL_TITLE: Final = 45
MODAL_COMPONENTS: Final = 5
AUTOCOMPLETE_CHOICES: Final = 25
# application-commands.mdx
COMMAND_NAME: Final = 32
COMMAND_DESCRIPTION: Final = 100
COMMAND_OPTIONS: Final = 25
# channel.mdx "Start Thread"
THREAD_NAME: Final = 100


@attrs.define(auto_exc=True, kw_only=True)
class LimitExceeded(ValueError):
    """A body breaks a documented Discord limit (the caller's fault: nothing was sent).

    ``limit`` names the rule (e.g. ``"embed title"``), ``path`` says where in the body
    (e.g. ``"embeds[0].title"``), ``actual`` is what we were given and ``maximum`` /
    ``minimum`` the allowed range.
    """

    limit: str
    path: str
    actual: int
    maximum: int
    minimum: int = 0
    unit: str = "characters"

    def __str__(self) -> str:
        if self.actual < self.minimum:
            bound = f"at least {self.minimum}"
        else:
            bound = f"at most {self.maximum}"
        return (
            f"{self.path} has {self.actual} {self.unit}, but Discord allows {bound} "
            f"({self.limit}); shorten or split it before sending"
        )


Sized = Sequence[object]


def _length(
    text: str, *, limit: str, path: str, maximum: int, minimum: int = 0, strip: bool = False
) -> int:
    n = len(text.strip() if strip else text)
    if not minimum <= n <= maximum:
        raise LimitExceeded(limit=limit, path=path, actual=n, maximum=maximum, minimum=minimum)
    return n


def _count(items: Sized, *, limit: str, path: str, maximum: int, minimum: int = 0) -> None:
    n = len(items)
    if not minimum <= n <= maximum:
        raise LimitExceeded(
            limit=limit, path=path, actual=n, maximum=maximum, minimum=minimum, unit="items"
        )


def check_content(content: str | None, *, path: str = "content") -> None:
    """Message content: at most 2000 characters."""
    if content:
        _length(content, limit="message content", path=path, maximum=CONTENT)


def check_thread_name(name: str, *, path: str = "name") -> None:
    """Thread name: 1-100 characters."""
    _length(name, limit="thread name", path=path, maximum=THREAD_NAME, minimum=1)


def check_embeds(embeds: Sequence[m.Embed] | None, *, path: str = "embeds") -> None:
    """At most 10 embeds, each field within its limit, 6000 characters over all of them."""
    if not embeds:
        return
    _count(embeds, limit="embeds per message", path=path, maximum=EMBEDS)
    total = sum(_check_embed(e, path=f"{path}[{i}]") for i, e in enumerate(embeds))
    if total > EMBED_TOTAL:
        raise LimitExceeded(limit="total embed text", path=path, actual=total, maximum=EMBED_TOTAL)


def _check_embed(embed: m.Embed, *, path: str) -> int:
    """Check one embed; return its characters that count towards the 6000 total."""
    total = 0
    if embed.title:
        total += _length(
            embed.title, limit="embed title", path=f"{path}.title", maximum=EMBED_TITLE, strip=True
        )
    if embed.description:
        total += _length(
            embed.description,
            limit="embed description",
            path=f"{path}.description",
            maximum=EMBED_DESCRIPTION,
            strip=True,
        )
    if embed.footer:
        total += _length(
            embed.footer.text,
            limit="embed footer text",
            path=f"{path}.footer.text",
            maximum=EMBED_FOOTER_TEXT,
            strip=True,
        )
    if embed.author:
        total += _length(
            embed.author.name,
            limit="embed author name",
            path=f"{path}.author.name",
            maximum=EMBED_AUTHOR_NAME,
            strip=True,
        )
    if embed.fields:
        _count(embed.fields, limit="embed fields", path=f"{path}.fields", maximum=EMBED_FIELDS)
        for i, field in enumerate(embed.fields):
            fp = f"{path}.fields[{i}]"
            total += _length(
                field.name,
                limit="embed field name",
                path=f"{fp}.name",
                maximum=EMBED_FIELD_NAME,
                strip=True,
            )
            total += _length(
                field.value,
                limit="embed field value",
                path=f"{fp}.value",
                maximum=EMBED_FIELD_VALUE,
                strip=True,
            )
    return total


def _check_custom_id(custom_id: str, *, path: str, seen: set[str]) -> None:
    _length(custom_id, limit="custom_id", path=path, maximum=CUSTOM_ID, minimum=1)
    if custom_id in seen:
        # Not a length, but the same kind of 400: custom_ids must be unique per message.
        raise LimitExceeded(
            limit=f"unique custom_id ({custom_id!r} appears twice)",
            path=path,
            actual=2,
            maximum=1,
            unit="uses",
        )
    seen.add(custom_id)


def _check_button(b: m.Button, *, path: str, seen: set[str]) -> None:
    if b.style == m.ButtonStyle.LINK:
        if not b.url:
            raise LimitExceeded(
                limit="link button url", path=f"{path}.url", actual=0, maximum=512, minimum=1
            )
        _length(b.url, limit="button url", path=f"{path}.url", maximum=BUTTON_URL)
    elif b.style != m.ButtonStyle.PREMIUM and not b.custom_id:
        # Every button except link and premium ones needs a custom_id to be clicked.
        raise LimitExceeded(
            limit="button custom_id",
            path=f"{path}.custom_id",
            actual=0,
            maximum=CUSTOM_ID,
            minimum=1,
        )
    if b.label:
        _length(b.label, limit="button label", path=f"{path}.label", maximum=BUTTON_LABEL)
    if b.custom_id:
        _check_custom_id(b.custom_id, path=f"{path}.custom_id", seen=seen)


def _check_select(s: m.StringSelect, *, path: str, seen: set[str]) -> None:
    _check_custom_id(s.custom_id, path=f"{path}.custom_id", seen=seen)
    _count(
        s.options, limit="select options", path=f"{path}.options", maximum=SELECT_OPTIONS, minimum=1
    )
    if s.placeholder:
        _length(
            s.placeholder,
            limit="select placeholder",
            path=f"{path}.placeholder",
            maximum=SELECT_PLACEHOLDER,
        )
    for i, opt in enumerate(s.options):
        op = f"{path}.options[{i}]"
        _length(
            opt.label,
            limit="select option label",
            path=f"{op}.label",
            maximum=SELECT_OPTION_TEXT,
            minimum=1,
        )
        _length(
            opt.value,
            limit="select option value",
            path=f"{op}.value",
            maximum=SELECT_OPTION_TEXT,
            minimum=1,
        )
        if opt.description:
            _length(
                opt.description,
                limit="select option description",
                path=f"{op}.description",
                maximum=SELECT_OPTION_TEXT,
            )
    for name in ("min_values", "max_values"):
        value = getattr(s, name)
        if value is not m.UNDEFINED and not 0 <= value <= SELECT_OPTIONS:
            raise LimitExceeded(
                limit=f"select {name}",
                path=f"{path}.{name}",
                actual=value,
                maximum=SELECT_OPTIONS,
                unit="options",
            )


def _check_text_input(t: m.TextInput, *, path: str, seen: set[str]) -> None:
    _check_custom_id(t.custom_id, path=f"{path}.custom_id", seen=seen)
    if t.label:
        _length(t.label, limit="text input label", path=f"{path}.label", maximum=TEXT_INPUT_LABEL)
    if t.placeholder:
        _length(
            t.placeholder,
            limit="text input placeholder",
            path=f"{path}.placeholder",
            maximum=TEXT_INPUT_PLACEHOLDER,
        )
    if t.value:
        _length(t.value, limit="text input value", path=f"{path}.value", maximum=TEXT_INPUT_VALUE)
    for name, low in (("min_length", 0), ("max_length", 1)):
        value = getattr(t, name)
        if isinstance(value, int) and not low <= value <= TEXT_INPUT_VALUE:
            raise LimitExceeded(
                limit=f"text input {name}",
                path=f"{path}.{name}",
                actual=value,
                maximum=TEXT_INPUT_VALUE,
                minimum=low,
            )


def check_components(components: Sequence[m.Component] | None, *, path: str = "components") -> None:
    """Message components (legacy layout): at most 5 action rows; a row holds at most 5
    buttons or exactly one select; custom_ids are 1-100 characters and unique."""
    if not components:
        return
    _count(components, limit="action rows per message", path=path, maximum=ROWS)
    seen: set[str] = set()
    for i, row in enumerate(components):
        rp = f"{path}[{i}]"
        if not isinstance(row, m.ActionRow):
            _check_leaf(row, path=rp, seen=seen)
            continue
        children = row.components
        selects = [c for c in children if isinstance(c, m.StringSelect)]
        if selects:
            _count(
                children,
                limit="components in a row holding a select",
                path=f"{rp}.components",
                maximum=1,
                minimum=1,
            )
        else:
            _count(
                children,
                limit="buttons per action row",
                path=f"{rp}.components",
                maximum=BUTTONS_PER_ROW,
                minimum=1,
            )
        for j, child in enumerate(children):
            _check_leaf(child, path=f"{rp}.components[{j}]", seen=seen)


def _check_leaf(c: m.Component, *, path: str, seen: set[str]) -> None:
    if isinstance(c, m.Button):
        _check_button(c, path=path, seen=seen)
    elif isinstance(c, m.StringSelect):
        _check_select(c, path=path, seen=seen)
    elif isinstance(c, m.TextInput):
        _check_text_input(c, path=path, seen=seen)
    elif isinstance(c, m.Label):
        _length(c.label, limit="label text", path=f"{path}.label", maximum=LABEL_LABEL, minimum=1)
        _check_leaf(c.component, path=f"{path}.component", seen=seen)
    elif isinstance(c, m.ActionRow):
        for j, child in enumerate(c.components):
            _check_leaf(child, path=f"{path}.components[{j}]", seen=seen)


def check_modal(modal: m.Modal, *, path: str = "data") -> None:
    """Modal: custom_id 1-100, title 1-45, 1-5 components, each field within limits."""
    seen: set[str] = set()
    _check_custom_id(modal.custom_id, path=f"{path}.custom_id", seen=seen)
    _length(modal.title, limit="modal title", path=f"{path}.title", maximum=MODAL_TITLE, minimum=1)
    _count(
        modal.components,
        limit="modal components",
        path=f"{path}.components",
        maximum=MODAL_COMPONENTS,
        minimum=1,
    )
    for i, c in enumerate(modal.components):
        _check_leaf(c, path=f"{path}.components[{i}]", seen=seen)


def check_autocomplete(result: m.AutocompleteResult, *, path: str = "data") -> None:
    """Autocomplete result: at most 25 choices, names 1-100 characters."""
    _count(
        result.choices,
        limit="autocomplete choices",
        path=f"{path}.choices",
        maximum=AUTOCOMPLETE_CHOICES,
    )
    _check_choices(result.choices, path=f"{path}.choices")


def _check_choices(choices: Iterable[m.CommandChoice], *, path: str) -> None:
    for i, choice in enumerate(choices):
        _length(
            choice.name,
            limit="choice name",
            path=f"{path}[{i}].name",
            maximum=SELECT_OPTION_TEXT,
            minimum=1,
        )
        if isinstance(choice.value, str):
            _length(
                choice.value,
                limit="choice value",
                path=f"{path}[{i}].value",
                maximum=SELECT_OPTION_TEXT,
            )


def check_message(
    body: m.CreateMessage | m.EditMessage | m.InteractionMessage | m.ExecuteWebhook,
    *,
    path: str = "",
) -> None:
    """Every limit of a message body: content, embeds, components and nonce."""
    prefix = f"{path}." if path else ""
    if isinstance(body.content, str):
        check_content(body.content, path=f"{prefix}content")
    if isinstance(body.embeds, list):
        check_embeds(body.embeds, path=f"{prefix}embeds")
    if isinstance(body.components, list):
        check_components(body.components, path=f"{prefix}components")
    if isinstance(body, m.CreateMessage) and isinstance(body.nonce, str):
        _length(body.nonce, limit="nonce", path=f"{prefix}nonce", maximum=NONCE)


def check_interaction_response(response: m.InteractionResponse) -> None:
    """An interaction callback body, by its data kind."""
    data = response.data
    if isinstance(data, m.InteractionMessage):
        check_message(data, path="data")
    elif isinstance(data, m.Modal):
        check_modal(data)
    elif isinstance(data, m.AutocompleteResult):
        check_autocomplete(data)


def check_command(command: m.ApplicationCommand, *, path: str = "") -> None:
    """A command definition: name 1-32, description up to 100, at most 25 options and 25
    choices per option, and no ``autocomplete`` together with ``choices``."""
    prefix = f"{path}." if path else ""
    _length(
        command.name, limit="command name", path=f"{prefix}name", maximum=COMMAND_NAME, minimum=1
    )
    _length(
        command.description,
        limit="command description",
        path=f"{prefix}description",
        maximum=COMMAND_DESCRIPTION,
    )
    if command.options:
        _check_options(command.options, path=f"{prefix}options")


def _check_options(options: Sequence[m.CommandOption], *, path: str) -> None:
    _count(options, limit="command options", path=path, maximum=COMMAND_OPTIONS)
    for i, opt in enumerate(options):
        op = f"{path}[{i}]"
        _length(opt.name, limit="option name", path=f"{op}.name", maximum=COMMAND_NAME, minimum=1)
        _length(
            opt.description,
            limit="option description",
            path=f"{op}.description",
            maximum=COMMAND_DESCRIPTION,
            minimum=1,
        )
        if opt.choices:
            _count(
                opt.choices,
                limit="option choices",
                path=f"{op}.choices",
                maximum=AUTOCOMPLETE_CHOICES,
            )
            _check_choices(opt.choices, path=f"{op}.choices")
            if opt.autocomplete:
                raise LimitExceeded(
                    limit="autocomplete together with choices",
                    path=f"{op}.autocomplete",
                    actual=1,
                    maximum=0,
                    unit="autocomplete flags",
                )
        if opt.options:
            _check_options(opt.options, path=f"{op}.options")
