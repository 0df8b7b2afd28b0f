"""MCP elicitation prompts (C15): a form built from a JSON schema, or a URL to visit.

Theory of operation
-------------------
An MCP server asks the user for input (``elicitation/create``); the CLI forwards it as an
``elicitation`` control request, in one of two modes (pinned in
tests/e2e/test_claude_cli_tools.py):

* **form**: ``requested_schema`` is a flat JSON schema object. The prompt lists the
  fields and offers **Fill in…**, which opens a modal with one input per field: text
  (``minLength``/``maxLength`` as the input's limits; a ``format`` of ``email``, ``uri``,
  ``date`` or ``date-time``, the string formats the MCP elicitation schema allows, is
  checked too; other formats are only annotations), number and integer (typed as text,
  checked against ``minimum``/``maximum``), boolean (a select of Yes/No) and ``enum``
  (a select). A modal holds at most 5 inputs; fields past that, and fields of a kind a
  modal cannot hold (arrays, objects, enums of more than 25 values), are named in the
  prompt. When such a field is required the form cannot be filled here, so only
  **Decline** and **Cancel** are offered. The submission is validated (by the router,
  before it acknowledges, so a mistake is told at once and ephemerally) and goes back as
  ``accept`` with typed ``content``;
* **url**: a link button to the URL, **Done** (``accept`` without content) and
  **Decline**.

**Decline** answers ``decline``; **Cancel**, and nobody answering within
``ELICITATION_TIMEOUT_SECONDS``, answer with the error envelope, which the CLI passes to
the MCP server as ``cancel``.

Choices (the ``custom_id`` suffix): ``fill`` (opens the modal), ``form`` (its submission:
one value per shown field, in order), ``done``, ``decline``, ``cancel``.

Pure functions only; the session and router do the IO.
"""

from __future__ import annotations

import datetime
import enum
import math
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from bridge.sessions.presentation import prompts
from bridge.sessions.presentation.render import GREEN, GREY, RED, YELLOW, MessagePayload, truncate
from bridge.store import PromptRecord, PromptState
from protocol.claude import control
from protocol.claude import events as ev
from protocol.discord import limits
from protocol.discord import models as m

#: A modal holds at most this many inputs.
MAX_FIELDS: Final = limits.MODAL_COMPONENTS

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
"""Something, an @, and a dotted domain: a typo check, not RFC 5322 (the server decides)."""
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"  # RFC 3339: the offset is required
)


class StringFormat(enum.StrEnum):
    """The ``format`` values of a string field that the MCP elicitation schema defines
    (https://modelcontextprotocol.io/specification/2025-06-18/client/elicitation)."""

    EMAIL = "email"
    URI = "uri"
    DATE = "date"
    DATE_TIME = "date-time"


_FORMATS: Final = frozenset(f.value for f in StringFormat)
_FORMAT_HINTS: Final = {
    StringFormat.EMAIL: "an email address",
    StringFormat.URI: "a URL, like https://example.com/page",
    StringFormat.DATE: "a date, YYYY-MM-DD",
    StringFormat.DATE_TIME: "a date and time with its offset, like 2026-12-05T14:30:00Z",
}


def _matches_format(text: str, fmt: StringFormat) -> bool:
    if fmt is StringFormat.EMAIL:
        return _EMAIL.fullmatch(text) is not None
    if fmt is StringFormat.URI:
        if any(c.isspace() for c in text):
            return False
        try:
            parts = urllib.parse.urlsplit(text)
        except ValueError:
            return False
        return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme)) and bool(
            parts.netloc or parts.path
        )
    if fmt is StringFormat.DATE:
        if _DATE.fullmatch(text) is None:
            return False
        try:
            datetime.date.fromisoformat(text)
        except ValueError:
            return False
        return True
    if _DATE_TIME.fullmatch(text) is None:
        return False
    try:
        datetime.datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


class ElicitChoice(enum.StrEnum):
    FILL = "fill"
    FORM = "form"
    DONE = "done"
    DECLINE = "decline"
    CANCEL = "cancel"


class FieldKind(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ENUM = "enum"


@attrs.frozen
class Field:
    name: str
    title: str
    kind: FieldKind
    required: bool
    description: str = ""
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    options: tuple[str, ...] = ()
    option_labels: tuple[str, ...] = ()
    format: StringFormat | None = None
    """A text field's checked ``format`` (``None``: any text)."""


@attrs.frozen
class Form:
    """What a modal can show of a schema, and what it cannot."""

    fields: tuple[Field, ...]
    left_out: tuple[tuple[str, str], ...]
    """``(field name, why)`` for each field the modal cannot hold."""
    required_left_out: bool

    @property
    def fillable(self) -> bool:
        return bool(self.fields) and not self.required_left_out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _length(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _field(name: str, spec: Mapping[str, Any], required: bool) -> Field | str:
    """The field for one schema property, or why a modal cannot hold it."""
    title = spec.get("title")
    description = spec.get("description")
    base = Field(
        name=name,
        title=title if isinstance(title, str) and title.strip() else (name.strip() or "(unnamed)"),
        kind=FieldKind.TEXT,
        required=required,
        description=description if isinstance(description, str) else "",
    )
    kind = spec.get("type")
    enum_values = spec.get("enum")
    if isinstance(enum_values, list):
        options = [v for v in enum_values if isinstance(v, str)]
        if len(options) != len(enum_values) or not options:
            return "an enum of values other than text"
        if not all(o.strip() for o in options) or len(set(options)) != len(options):
            return "an enum with empty or repeated values"
        if any(len(o) > limits.SELECT_OPTION_TEXT for o in options):
            return f"an enum value longer than {limits.SELECT_OPTION_TEXT} characters"
        if len(options) > limits.SELECT_OPTIONS:
            return f"more than {limits.SELECT_OPTIONS} choices"
        names = spec.get("enumNames")
        labels = (
            [str(n) if str(n).strip() else o for n, o in zip(names, options, strict=True)]
            if isinstance(names, list) and len(names) == len(options)
            else options
        )
        return attrs.evolve(
            base, kind=FieldKind.ENUM, options=tuple(options), option_labels=tuple(labels)
        )
    if kind == "string":
        fmt = spec.get("format")
        return attrs.evolve(
            base,
            min_length=_length(spec.get("minLength")),
            max_length=_length(spec.get("maxLength")),
            format=StringFormat(fmt) if isinstance(fmt, str) and fmt in _FORMATS else None,
        )
    if kind in ("integer", "number"):
        return attrs.evolve(
            base,
            kind=FieldKind.INTEGER if kind == "integer" else FieldKind.NUMBER,
            minimum=_number(spec.get("minimum")),
            maximum=_number(spec.get("maximum")),
        )
    if kind == "boolean":
        return attrs.evolve(
            base,
            kind=FieldKind.BOOLEAN,
            options=("true", "false"),
            option_labels=("Yes", "No"),
        )
    return f"a field of type {kind!r}" if isinstance(kind, str) else "a field with no type"


def parse_form(schema: Any) -> Form:
    """The fields a modal shows for ``schema`` (anything malformed is left out, named)."""
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    required_raw = schema.get("required") if isinstance(schema, Mapping) else None
    required = (
        {r for r in required_raw if isinstance(r, str)} if isinstance(required_raw, list) else set()
    )
    fields: list[Field] = []
    left_out: list[tuple[str, str]] = []
    required_left_out = False
    for name, spec in (properties or {}).items() if isinstance(properties, Mapping) else ():
        name = str(name)
        found = _field(name, spec, name in required) if isinstance(spec, Mapping) else "not a field"
        if isinstance(found, str):
            left_out.append((name, found))
            required_left_out |= name in required
        elif len(fields) >= MAX_FIELDS:
            left_out.append((name, f"a Discord form holds at most {MAX_FIELDS} fields"))
            required_left_out |= name in required
        else:
            fields.append(found)
    return Form(tuple(fields), tuple(left_out), required_left_out)


def form_of(record: PromptRecord) -> Form:
    return parse_form(record.payload.get("schema"))


def validate(form: Form, values: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """The typed content for a modal's ``values`` (one per field, in order), and the
    problems, one line per field. Content is only good when there are no problems."""
    content: dict[str, Any] = {}
    problems: list[str] = []
    if len(values) != len(form.fields):
        return {}, [f"expected {len(form.fields)} values, got {len(values)}"]
    for field, raw in zip(form.fields, values, strict=True):
        text = raw if field.kind is FieldKind.TEXT else raw.strip()
        if not text.strip():
            if field.required:
                problems.append(f"**{field.title}** is required.")
            continue
        if field.kind is FieldKind.TEXT:
            if field.min_length is not None and len(text) < field.min_length:
                problems.append(f"**{field.title}** needs at least {field.min_length} characters.")
            elif field.max_length is not None and len(text) > field.max_length:
                problems.append(f"**{field.title}** takes at most {field.max_length} characters.")
            elif field.format is not None and not _matches_format(text.strip(), field.format):
                problems.append(f"**{field.title}** must be {_FORMAT_HINTS[field.format]}.")
            else:
                content[field.name] = text
        elif field.kind in (FieldKind.INTEGER, FieldKind.NUMBER):
            number: float | int | None
            if field.kind is FieldKind.INTEGER:
                number = int(text) if _INTEGER.fullmatch(text) else None
            else:
                try:
                    number = float(text)
                except ValueError:
                    number = None
                if number is not None and not math.isfinite(number):
                    number = None
            what = "a whole number" if field.kind is FieldKind.INTEGER else "a number"
            if number is None:
                problems.append(f"**{field.title}** must be {what}.")
            elif field.minimum is not None and number < field.minimum:
                problems.append(f"**{field.title}** must be at least {field.minimum:g}.")
            elif field.maximum is not None and number > field.maximum:
                problems.append(f"**{field.title}** must be at most {field.maximum:g}.")
            else:
                content[field.name] = number
        elif text not in field.options:
            problems.append(f"**{field.title}** must be one of the choices.")
        elif field.kind is FieldKind.BOOLEAN:
            content[field.name] = text == "true"
        else:
            content[field.name] = text
    return content, problems


def elicitation_record(
    request: ev.ControlRequest, *, prompt_id: str, thread_id: int, now: float, timeout: float
) -> PromptRecord:
    """The record for an ``elicitation`` control request.

    Raises:
        TypeError: the request is not an elicitation (a bug in the caller).
    """
    body = request.request
    if not isinstance(body, ev.Elicitation):
        raise TypeError(f"an elicitation prompt needs an elicitation request, got {body!r}")
    payload = {
        "server": body.mcp_server_name,
        "message": body.message,
        "mode": body.mode,
        "schema": body.requested_schema,
        "url": body.url,
        "elicitation_id": body.elicitation_id,
        "timeout": timeout,
    }
    return PromptRecord(
        prompt_id=prompt_id,
        thread_id=thread_id,
        kind=prompts.PromptKind.ELICITATION.value,
        payload=payload,
        created_at=now,
        expires_at=now + timeout,
        request_id=request.request_id,
    )


def is_url(record: PromptRecord) -> bool:
    return record.payload.get("mode") == "url"


def _url(record: PromptRecord) -> str | None:
    url = record.payload.get("url")
    fits = isinstance(url, str) and len(url) <= limits.BUTTON_URL
    if fits and isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return None


def answer_for(
    record: PromptRecord, choice: str, values: Sequence[str], user_id: int, *, applied: bool
) -> dict[str, Any] | None:
    """The ``answer`` column for a click or a form, or ``None`` when it does not answer
    (``fill`` only opens the modal; a form that does not validate; a choice of the other
    mode; junk)."""
    if choice in (ElicitChoice.DECLINE, ElicitChoice.CANCEL):
        return prompts.answer(choice, user_id, applied=applied)
    if choice == ElicitChoice.DONE and is_url(record):
        return prompts.answer(choice, user_id, applied=applied)
    if choice == ElicitChoice.FORM and not is_url(record):
        form = form_of(record)
        if not form.fillable:
            return None
        content, problems = validate(form, values)
        if problems:
            return None
        return {**prompts.answer(choice, user_id, applied=applied), "content": content}
    return None


def refusal(record: PromptRecord, choice: str, values: Sequence[str]) -> str | None:
    """What to tell a person whose form does not validate (ephemerally), else ``None``."""
    if choice != ElicitChoice.FORM or is_url(record):
        return None
    form = form_of(record)
    if not form.fillable:
        return "This form cannot be filled in Discord; use Decline or Cancel."
    _, problems = validate(form, values)
    if not problems:
        return None
    text = "Nothing was sent; please fix and fill in the form again:\n" + "\n".join(
        f"• {p}" for p in problems
    )
    return truncate(text, limits.CONTENT)


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------


def _describe(field: Field) -> str:
    parts = [field.kind.value]
    if field.kind is FieldKind.TEXT and (field.min_length or field.max_length is not None):
        most = field.max_length if field.max_length is not None else "…"
        parts.append(f"{field.min_length or 0}–{most} characters")
    if field.format is not None:
        parts.append(_FORMAT_HINTS[field.format])
    if field.kind in (FieldKind.INTEGER, FieldKind.NUMBER):
        low = f"{field.minimum:g}" if field.minimum is not None else "…"
        high = f"{field.maximum:g}" if field.maximum is not None else "…"
        if field.minimum is not None or field.maximum is not None:
            parts.append(f"{low} to {high}")
    if field.kind is FieldKind.ENUM:
        parts.append(", ".join(field.option_labels))
    line = f"• **{field.title}** ({'; '.join(parts)}){' *required*' if field.required else ''}"
    if field.description:
        line += f": {field.description}"
    return line


def _body(record: PromptRecord, footer: str) -> str:
    p = record.payload
    lines = [str(p.get("message") or "")]
    if is_url(record):
        url = _url(record)
        lines.append(f"Open <{url}>, finish there, then press **Done**." if url else "")
        if url is None:
            lines.append(f"The server sent a link Discord cannot show: `{p.get('url')!s:.200}`")
    else:
        form = form_of(record)
        lines += [_describe(f) for f in form.fields]
        for name, why in form.left_out:
            lines.append(f"• **{name}** cannot be shown in a Discord form ({why}).")
        if form.required_left_out:
            lines.append("A required field cannot be filled here: decline or cancel instead.")
    lines.append(footer)
    return "\n".join(line for line in lines if line)


def _embed(record: PromptRecord, *, color: int, footer: str) -> m.Embed:
    server = record.payload.get("server") or "an MCP server"
    return m.Embed(
        title=truncate(f"🧾 {server} asks for your input", limits.EMBED_TITLE),
        description=truncate(_body(record, footer), limits.EMBED_DESCRIPTION),
        color=color,
    )


def _components(record: PromptRecord) -> tuple[m.ActionRow, ...]:
    pid = record.prompt_id

    def button(style: m.ButtonStyle, label: str, choice: ElicitChoice) -> m.Button:
        return m.Button(style=style, label=label, custom_id=prompts.custom_id(pid, choice))

    row: list[m.Component] = []
    if is_url(record):
        url = _url(record)
        if url is not None:
            row.append(m.Button(style=m.ButtonStyle.LINK, label="Open link", url=url))
            row.append(button(m.ButtonStyle.SUCCESS, "Done", ElicitChoice.DONE))
        row.append(button(m.ButtonStyle.SECONDARY, "Decline", ElicitChoice.DECLINE))
    else:
        if form_of(record).fillable:
            row.append(button(m.ButtonStyle.PRIMARY, "Fill in…", ElicitChoice.FILL))
        row.append(button(m.ButtonStyle.SECONDARY, "Decline", ElicitChoice.DECLINE))
        row.append(button(m.ButtonStyle.DANGER, "Cancel", ElicitChoice.CANCEL))
    return (m.ActionRow(components=row),)


def render_pending(record: PromptRecord, *, mention: int | None = None) -> MessagePayload:
    footer = f"-# Cancelled automatically <t:{int(record.expires_at)}:R> without an answer."
    return MessagePayload(
        content=f"<@{mention}> An MCP server needs your input." if mention else None,
        embeds=(_embed(record, color=YELLOW, footer=footer),),
        components=_components(record),
        ping_user=mention,  # C17: the owner is notified when the session waits
    )


def outcome_line(record: PromptRecord) -> str:
    a = record.answer or {}
    if record.state is PromptState.ANSWERED:
        who = f"<@{a.get('by')}>" if a.get("by") else "someone"
        choice = a.get("choice")
        if choice == ElicitChoice.FORM:
            return f"✅ Sent by {who}"
        if choice == ElicitChoice.DONE:
            return f"✅ Done, said {who}"
        if choice == ElicitChoice.DECLINE:
            return f"❌ Declined by {who}"
        return f"🚫 Cancelled by {who}"
    if record.state is PromptState.EXPIRED:
        return "⌛ No answer in time: cancelled automatically"
    if record.state is PromptState.CANCELLED:
        return "🚫 Withdrawn: no longer needed"
    return "⏳ Waiting for an answer"


def render_resolved(record: PromptRecord) -> MessagePayload:
    choice = (record.answer or {}).get("choice")
    answered = record.state is PromptState.ANSWERED
    if answered and choice in (ElicitChoice.FORM, ElicitChoice.DONE):
        color = GREEN
    elif record.state is PromptState.CANCELLED:
        color = GREY
    else:
        color = RED
    return MessagePayload(
        content=None,
        embeds=(_embed(record, color=color, footer=outcome_line(record)),),
        components=(),
    )


def form_modal(record: PromptRecord) -> m.Modal | None:
    """The modal of a fillable form, or ``None``."""
    form = form_of(record)
    if is_url(record) or not form.fillable:
        return None
    inputs: list[m.Component] = []
    for i, field in enumerate(form.fields):
        custom = f"f{i}"
        component: m.Component
        if field.options:
            component = m.StringSelect(
                custom_id=custom,
                options=[
                    m.SelectOption(
                        label=truncate(label, limits.SELECT_OPTION_TEXT),
                        value=truncate(value, limits.SELECT_OPTION_TEXT),
                    )
                    for value, label in zip(field.options, field.option_labels, strict=True)
                ],
                min_values=1 if field.required else 0,
                max_values=1,
            )
        else:
            hint = {
                FieldKind.INTEGER: "a whole number",
                FieldKind.NUMBER: "a number",
            }.get(field.kind) or (_FORMAT_HINTS[field.format] if field.format else None)
            long_text = field.kind is FieldKind.TEXT and (
                field.max_length is None or field.max_length > 200
            )
            max_length = min(field.max_length or limits.TEXT_INPUT_VALUE, limits.TEXT_INPUT_VALUE)
            min_length = min(field.min_length or 0, max_length)
            component = m.TextInput(
                custom_id=custom,
                style=m.TextInputStyle.PARAGRAPH if long_text else m.TextInputStyle.SHORT,
                required=field.required,
                min_length=min_length if field.kind is FieldKind.TEXT else m.UNDEFINED,
                max_length=max(max_length, 1) if field.kind is FieldKind.TEXT else m.UNDEFINED,
                placeholder=hint if hint else m.UNDEFINED,
            )
        inputs.append(
            m.Label(
                label=truncate(field.title, limits.LABEL_LABEL),
                description=truncate(field.description, 100) if field.description else m.UNDEFINED,
                component=component,
            )
        )
    title = str(record.payload.get("server") or "Your input")
    return m.Modal(
        custom_id=prompts.custom_id(record.prompt_id, ElicitChoice.FORM),
        title=truncate(title, limits.MODAL_TITLE),
        components=inputs,
    )


# ---------------------------------------------------------------------------------------
# Answering the CLI
# ---------------------------------------------------------------------------------------


def control_response(record: PromptRecord, request_id: str) -> dict[str, Any] | None:
    """The control response for a resolved elicitation (``None`` if withdrawn).

    Raises:
        ValueError: the prompt is still pending (a bug in the caller).
    """
    if record.state is PromptState.PENDING:
        raise ValueError(f"prompt {record.prompt_id} is still pending")
    if record.state is PromptState.CANCELLED:
        return None
    if record.state is PromptState.EXPIRED:
        # The error envelope reaches the MCP server as "cancel" (pinned).
        return control.error_response(request_id, "No one answered in time.")
    a = record.answer or {}
    choice = a.get("choice")
    if choice == ElicitChoice.FORM:
        content = a.get("content")
        return control.elicitation_response(
            request_id, "accept", dict(content) if isinstance(content, dict) else {}
        )
    if choice == ElicitChoice.DONE:
        return control.elicitation_url_accepted(request_id)
    if choice == ElicitChoice.DECLINE:
        return control.elicitation_response(request_id, "decline")
    return control.error_response(request_id, "The user cancelled.")
