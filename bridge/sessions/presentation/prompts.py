"""Permission prompts (C14): records, buttons, answers; the custom_id scheme every prompt
kind shares (questions, plans and elicitations have their own modules on the same path).

Theory of operation
-------------------
When the CLI sends a ``can_use_tool`` control request, the session turns it into a
:class:`~bridge.store.PromptRecord` (persisted, so it survives a restart), posts it with
buttons whose ``custom_id`` is ``ccb:prompt:<prompt_id>:<choice>``, and arms an expiry
timer. Each prompt ends exactly once in the store (``Database.prompt_resolve`` only moves a
``pending`` prompt), in one of three ways:

* **answered**: an allowed user clicked; the answer is ``{"choice", "values", "by",
  "applied"}``. ``applied`` says whether the control response reached the process that
  asked. After a restart that process is gone, so the answer waits (``applied`` false)
  until the resumed turn asks for the same tool with the same input, and
  :func:`find_reusable` lets the session answer it without asking again;
* **expired**: nobody answered in time; the CLI gets a denial saying so;
* **cancelled**: the CLI withdrew the request (``control_cancel_request``, e.g. after an
  interrupt); nothing is sent back.

Pure functions only: the session does the IO. The router uses :func:`parse_custom_id`.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from bridge.sessions.presentation.render import GREEN, GREY, RED, YELLOW, MessagePayload, truncate
from bridge.store import PromptRecord, PromptState
from protocol.claude import control
from protocol.claude import events as ev
from protocol.discord import limits
from protocol.discord import models as m

CUSTOM_ID_PREFIX: Final = "ccb:prompt:"


class PromptKind(enum.StrEnum):
    """The store's ``kind`` column (the values of ``protocol.claude.turn.PendingKind``)."""

    PERMISSION = "permission"
    QUESTION = "question"
    PLAN = "plan"
    ELICITATION = "elicitation"


class Choice(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


#: The choices each kind of prompt accepts (the suffix of its buttons' custom_id).
CHOICES: Final[Mapping[PromptKind, frozenset[str]]] = {
    PromptKind.PERMISSION: frozenset({Choice.ALLOW, Choice.DENY}),
}

#: What the model reads when a human said no (an is_error tool result).
DENIED_MESSAGE: Final = "The user denied this tool call in Discord."

#: How much of a tool's input a prompt shows (the original showed about 4 KB of JSON; an
#: embed description holds 4096 characters, with room left for the header).
PROMPT_INPUT_CHARS: Final = 3000


@attrs.frozen
class PromptChoice:
    """A parsed button ``custom_id``."""

    prompt_id: str
    choice: str


def new_prompt_id() -> str:
    """A fresh prompt id: 32 hex digits, so ``custom_id`` stays far under 100 characters."""
    return uuid.uuid4().hex


def custom_id(prompt_id: str, choice: str) -> str:
    """``ccb:prompt:<prompt_id>:<choice>``.

    Raises:
        ValueError: the id or choice contains ``:`` or the result exceeds Discord's 100.
    """
    if ":" in prompt_id or ":" in choice or not prompt_id or not choice:
        raise ValueError(f"prompt id {prompt_id!r} and choice {choice!r} must be non-empty, no ':'")
    value = f"{CUSTOM_ID_PREFIX}{prompt_id}:{choice}"
    if len(value) > limits.CUSTOM_ID:
        raise ValueError(f"custom_id {value!r} is longer than Discord's {limits.CUSTOM_ID}")
    return value


def parse_custom_id(value: str) -> PromptChoice | None:
    """The prompt and choice a button names, or ``None`` if it is not a prompt button."""
    if not value.startswith(CUSTOM_ID_PREFIX):
        return None
    prompt_id, sep, choice = value[len(CUSTOM_ID_PREFIX) :].partition(":")
    if not sep or not prompt_id or not choice or ":" in choice:
        return None
    return PromptChoice(prompt_id, choice)


# ---------------------------------------------------------------------------------------
# Creating a prompt
# ---------------------------------------------------------------------------------------


def permission_record(
    request: ev.ControlRequest,
    *,
    prompt_id: str,
    thread_id: int,
    now: float,
    timeout: float,
) -> PromptRecord:
    """The record for a ``can_use_tool`` request (C14).

    Args:
        request: The CLI's control request; its body must be :class:`~ev.CanUseTool`.
        now: Wall-clock seconds (the store's time base).
        timeout: Seconds until it is denied automatically (``permission_timeout_seconds``).

    Raises:
        TypeError: the request is not a ``can_use_tool`` (a bug in the caller).
    """
    body = request.request
    if not isinstance(body, ev.CanUseTool):
        raise TypeError(f"a permission prompt needs a can_use_tool request, got {body!r}")
    payload = {
        "tool_name": body.tool_name,
        "display_name": body.display_name or body.tool_name,
        "input": body.input,
        "tool_use_id": body.tool_use_id,
        "description": body.description,
        "timeout": timeout,
    }
    return PromptRecord(
        prompt_id=prompt_id,
        thread_id=thread_id,
        kind=PromptKind.PERMISSION.value,
        payload=payload,
        created_at=now,
        expires_at=now + timeout,
        request_id=request.request_id,
    )


def is_valid_choice(record: PromptRecord, choice: str) -> bool:
    return choice in CHOICES.get(PromptKind(record.kind), frozenset())


def answer(
    choice: str, user_id: int, *, applied: bool, values: Sequence[str] = ()
) -> dict[str, Any]:
    """The ``answer`` column of an answered prompt."""
    return {"choice": choice, "values": list(values), "by": user_id, "applied": applied}


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------


def _input_block(tool_input: Mapping[str, Any]) -> str:
    command = tool_input.get("command")
    if isinstance(command, str) and len(tool_input) <= 2:
        text = command
        lang = "sh"
    else:
        text = json.dumps(tool_input, ensure_ascii=False, indent=2)
        lang = "json"
    text = truncate(text, PROMPT_INPUT_CHARS, "\n… (truncated)").replace("```", "`\u200b``")
    return f"```{lang}\n{text}\n```"


def _embed(record: PromptRecord, *, color: int, outcome: str | None) -> m.Embed:
    p = record.payload
    title = truncate(f"🔐 Permission needed: {p.get('display_name') or p.get('tool_name')}", 256)
    parts = []
    if p.get("description"):
        parts.append(truncate(str(p["description"]), 300))
    parts.append(_input_block(p.get("input") or {}))
    if outcome is None:
        parts.append(f"Denied automatically <t:{int(record.expires_at)}:R> without an answer.")
    else:
        parts.append(outcome)
    return m.Embed(
        title=title, description=truncate("\n".join(parts), limits.EMBED_DESCRIPTION), color=color
    )


def _buttons(record: PromptRecord, *, disabled: bool) -> tuple[m.ActionRow, ...]:
    flag: bool | m.UndefinedType = True if disabled else m.UNDEFINED
    return (
        m.ActionRow(
            components=[
                m.Button(
                    style=m.ButtonStyle.SUCCESS,
                    label="Allow",
                    custom_id=custom_id(record.prompt_id, Choice.ALLOW),
                    disabled=flag,
                ),
                m.Button(
                    style=m.ButtonStyle.DANGER,
                    label="Deny",
                    custom_id=custom_id(record.prompt_id, Choice.DENY),
                    disabled=flag,
                ),
            ]
        ),
    )


def render_pending(record: PromptRecord, *, mention: int | None = None) -> MessagePayload:
    """The prompt as first posted: what Claude wants to run, Allow / Deny buttons, and when
    it is denied automatically (a Discord timestamp, so it counts down by itself)."""
    content = f"<@{mention}> Claude needs your decision." if mention else None
    return MessagePayload(
        content=content,
        embeds=(_embed(record, color=YELLOW, outcome=None),),
        components=_buttons(record, disabled=False),
        ping_user=mention,  # C17: the owner is notified, once, when the session waits
    )


def outcome_line(record: PromptRecord) -> str:
    """What happened to a resolved prompt, for its message."""
    a = record.answer or {}
    if record.state is PromptState.ANSWERED:
        who = f"<@{a.get('by')}>" if a.get("by") else "someone"
        verb = "✅ Allowed" if a.get("choice") == Choice.ALLOW else "❌ Denied"
        later = "" if a.get("applied", True) else " (Claude gets this answer when it asks again)"
        return f"{verb} by {who}{later}"
    if record.state is PromptState.EXPIRED:
        return "⌛ No answer in time: denied automatically"
    if record.state is PromptState.CANCELLED:
        return "🚫 Withdrawn: Claude no longer needs this answer"
    return "⏳ Waiting for an answer"


def render_resolved(record: PromptRecord) -> MessagePayload:
    """The prompt after it ended: buttons disabled, the outcome and who chose."""
    a = record.answer or {}
    if record.state is PromptState.ANSWERED and a.get("choice") == Choice.ALLOW:
        color = GREEN
    elif record.state is PromptState.CANCELLED:
        color = GREY
    else:
        color = RED
    return MessagePayload(
        content=None,
        embeds=(_embed(record, color=color, outcome=outcome_line(record)),),
        components=_buttons(record, disabled=True),
    )


# ---------------------------------------------------------------------------------------
# Answering the CLI
# ---------------------------------------------------------------------------------------


def control_response(record: PromptRecord, request_id: str) -> dict[str, Any] | None:
    """The control response for a resolved prompt, addressed to ``request_id`` (the live
    request: after a restart it differs from ``record.request_id``). ``None`` for a
    cancelled prompt: the CLI withdrew it and expects no answer.

    Raises:
        ValueError: the prompt is still pending (a bug in the caller).
    """
    if record.state is PromptState.PENDING:
        raise ValueError(f"prompt {record.prompt_id} is still pending")
    if record.state is PromptState.CANCELLED:
        return None
    if record.state is PromptState.EXPIRED:
        timeout = float(record.payload.get("timeout") or (record.expires_at - record.created_at))
        return control.deny(
            request_id, f"No one answered the permission prompt within {timeout:.0f} s; denied."
        )
    a = record.answer or {}
    if a.get("choice") == Choice.ALLOW:
        return control.allow(request_id, dict(record.payload.get("input") or {}))
    return control.deny(request_id, DENIED_MESSAGE)


def matches(record: PromptRecord, request: ev.CanUseTool, *, plan: str | None = None) -> bool:
    """Whether a stored prompt asked for the same tool with the same input (and, for a
    plan, the same plan: the CLI's ExitPlanMode input does not carry it)."""
    p = record.payload
    if record.kind == PromptKind.PLAN and p.get("plan") != (plan or ""):
        return False
    return p.get("tool_name") == request.tool_name and p.get("input") == request.input


def find_reusable(
    records: Iterable[PromptRecord], request: ev.CanUseTool, *, plan: str | None = None
) -> PromptRecord | None:
    """An answer given after the asking process was gone (a restart), for the same tool
    and input as ``request``: the oldest one not yet applied."""
    for record in records:
        if (
            record.state is PromptState.ANSWERED
            and record.kind in (PromptKind.PERMISSION, PromptKind.QUESTION, PromptKind.PLAN)
            and not (record.answer or {}).get("applied", True)
            and matches(record, request, plan=plan)
        ):
            return record
    return None
