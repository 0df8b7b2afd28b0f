"""Plan approval prompts (C13): ExitPlanMode shown as Markdown with four answers.

Theory of operation
-------------------
In plan mode the model ends planning with ``ExitPlanMode``; the CLI asks through
``can_use_tool``. The model's call carries ``{"plan": "<markdown>"}`` but the pinned CLI
strips ``plan`` from the request's input, so the plan shown is the one the turn state
took from the model's ``tool_use``. The answers, pinned with the
real CLI (tests/e2e/test_claude_cli_tools.py):

* **Approve**: ``allow`` with the input; the CLI leaves plan mode for ``default``;
* **Approve + auto-accept edits**: the same ``allow``, then our own control request
  ``set_permission_mode acceptEdits`` (the session sends it right after the answer);
* **Revise**: a modal for what to change; ``deny`` with that text, which the model reads
  as the tool's error result while the CLI stays in plan mode, so it revises the plan;
* **Cancel** (or nobody answering within ``PLAN_TIMEOUT_SECONDS``): ``deny`` saying so.

Choices (the ``custom_id`` suffix): ``approve``, ``approve_edits``, ``revise`` (opens the
modal), ``revision`` (the modal's submission, one text value), ``cancel``.

Pure functions only; the session does the IO.
"""

from __future__ import annotations

import enum
from typing import Any, Final

from bridge.discord.rest import FileUpload
from bridge.sessions.presentation import prompts
from bridge.sessions.presentation.render import GREEN, GREY, RED, YELLOW, MessagePayload, truncate
from bridge.store import PromptRecord, PromptState
from protocol.claude import control
from protocol.claude import events as ev
from protocol.discord import limits
from protocol.discord import models as m

#: A plan longer than this is cut in the embed and attached in full as ``plan.md``.
PLAN_EMBED_CHARS: Final = 3500

#: The revise modal's text input ``custom_id``.
REVISION_FIELD: Final = "revision"

#: The permission mode "Approve + auto-accept edits" switches to after the allow.
ACCEPT_EDITS: Final = "acceptEdits"


class PlanChoice(enum.StrEnum):
    APPROVE = "approve"
    APPROVE_EDITS = "approve_edits"
    REVISE = "revise"
    REVISION = "revision"
    CANCEL = "cancel"


#: Choices that answer the prompt (``revise`` only opens the modal).
ANSWERS: Final = frozenset(
    {PlanChoice.APPROVE, PlanChoice.APPROVE_EDITS, PlanChoice.REVISION, PlanChoice.CANCEL}
)

CANCELLED_MESSAGE: Final = (
    "The user cancelled this plan in Discord. Do not carry it out; wait for their next message."
)


def plan_text(record: PromptRecord) -> str:
    plan = record.payload.get("plan")
    return plan if isinstance(plan, str) else ""


def plan_record(
    request: ev.ControlRequest,
    *,
    plan: str | None,
    prompt_id: str,
    thread_id: int,
    now: float,
    timeout: float,
) -> PromptRecord:
    """The record for an ExitPlanMode ``can_use_tool`` request.

    Args:
        plan: The plan's Markdown. The pinned CLI strips it from the request's input, so
            it comes from the model's ``tool_use`` (``TurnState.plan``); the input's own
            ``plan`` is used only if that is missing.

    Raises:
        TypeError: the request is not a ``can_use_tool`` (a bug in the caller).
    """
    body = request.request
    if not isinstance(body, ev.CanUseTool):
        raise TypeError(f"a plan approval needs a can_use_tool request, got {body!r}")
    if plan is None:
        given = body.input.get("plan")
        plan = given if isinstance(given, str) else ""
    payload = {
        "tool_name": body.tool_name,
        "input": body.input,
        "plan": plan,
        "tool_use_id": body.tool_use_id,
        "timeout": timeout,
    }
    return PromptRecord(
        prompt_id=prompt_id,
        thread_id=thread_id,
        kind=prompts.PromptKind.PLAN.value,
        payload=payload,
        created_at=now,
        expires_at=now + timeout,
        request_id=request.request_id,
    )


def answer_for(choice: str, values: tuple[str, ...], user_id: int, *, applied: bool) -> Any:
    """The ``answer`` column for a click or a submitted revision, or ``None`` when it does
    not answer (``revise`` opens the modal; an empty revision; junk)."""
    if choice not in ANSWERS:
        return None
    if choice == PlanChoice.REVISION:
        text = values[0].strip() if values else ""
        if not text:
            return None
        return prompts.answer(choice, user_id, applied=applied, values=(text,))
    return prompts.answer(choice, user_id, applied=applied)


def mode_after(record: PromptRecord) -> str | None:
    """The permission mode to set after the answer went back (approve + auto-accept)."""
    choice = (record.answer or {}).get("choice")
    if record.state is PromptState.ANSWERED and choice == PlanChoice.APPROVE_EDITS:
        return ACCEPT_EDITS
    return None


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _embed(record: PromptRecord, *, color: int, footer: str) -> m.Embed:
    plan = plan_text(record) or "(the plan is empty)"
    shown = truncate(plan, PLAN_EMBED_CHARS, "\n\n… (the full plan is attached as plan.md)")
    return m.Embed(
        title="📋 Claude's plan: approve it?",
        description=truncate(f"{shown}\n\n{footer}", limits.EMBED_DESCRIPTION),
        color=color,
    )


def _buttons(record: PromptRecord) -> tuple[m.ActionRow, ...]:
    pid = record.prompt_id

    def button(style: m.ButtonStyle, label: str, choice: PlanChoice) -> m.Button:
        return m.Button(style=style, label=label, custom_id=prompts.custom_id(pid, choice))

    return (
        m.ActionRow(
            components=[
                button(m.ButtonStyle.SUCCESS, "Approve", PlanChoice.APPROVE),
                button(
                    m.ButtonStyle.PRIMARY, "Approve + auto-accept edits", PlanChoice.APPROVE_EDITS
                ),
                button(m.ButtonStyle.SECONDARY, "Revise…", PlanChoice.REVISE),
                button(m.ButtonStyle.DANGER, "Cancel", PlanChoice.CANCEL),
            ]
        ),
    )


def render_pending(record: PromptRecord, *, mention: int | None = None) -> MessagePayload:
    """The plan, the four answers, when it is cancelled automatically, and the whole plan
    as ``plan.md`` when the embed cannot hold it."""
    plan = plan_text(record)
    files: tuple[FileUpload, ...] = ()
    if len(plan) > PLAN_EMBED_CHARS:
        files = (FileUpload("plan.md", plan.encode(), "text/markdown"),)
    footer = f"-# Cancelled automatically <t:{int(record.expires_at)}:R> without an answer."
    return MessagePayload(
        content=f"<@{mention}> Claude has a plan for you to approve." if mention else None,
        embeds=(_embed(record, color=YELLOW, footer=footer),),
        components=_buttons(record),
        files=files,
        ping_user=mention,  # C17: the owner is notified when the session waits
    )


def outcome_line(record: PromptRecord) -> str:
    a = record.answer or {}
    if record.state is PromptState.ANSWERED:
        who = f"<@{a.get('by')}>" if a.get("by") else "someone"
        later = "" if a.get("applied", True) else " (Claude gets it when it asks again)"
        choice = a.get("choice")
        if choice == PlanChoice.APPROVE:
            return f"✅ Approved by {who}{later}"
        if choice == PlanChoice.APPROVE_EDITS:
            return f"✅ Approved by {who}, edits accepted automatically{later}"
        if choice == PlanChoice.REVISION:
            text = truncate(str((a.get("values") or [""])[0]), 300)
            return f"✏️ Revision asked by {who}: {text}{later}"
        return f"❌ Cancelled by {who}{later}"
    if record.state is PromptState.EXPIRED:
        timeout = float(record.payload.get("timeout") or 0)
        return f"⌛ Not approved within {_minutes(timeout)}: cancelled automatically"
    if record.state is PromptState.CANCELLED:
        return "🚫 Withdrawn: Claude no longer needs this answer"
    return "⏳ Waiting for an answer"


def render_resolved(record: PromptRecord) -> MessagePayload:
    """The plan with its outcome in place of the buttons."""
    choice = (record.answer or {}).get("choice")
    if record.state is PromptState.ANSWERED and choice in (
        PlanChoice.APPROVE,
        PlanChoice.APPROVE_EDITS,
    ):
        color = GREEN
    elif record.state is PromptState.ANSWERED and choice == PlanChoice.REVISION:
        color = YELLOW
    elif record.state is PromptState.CANCELLED:
        color = GREY
    else:
        color = RED
    return MessagePayload(
        content=None,
        embeds=(_embed(record, color=color, footer=outcome_line(record)),),
        components=(),
    )


def revise_modal(record: PromptRecord) -> m.Modal:
    return m.Modal(
        custom_id=prompts.custom_id(record.prompt_id, PlanChoice.REVISION),
        title="Revise the plan",
        components=[
            m.ActionRow(
                components=[
                    m.TextInput(
                        custom_id=REVISION_FIELD,
                        style=m.TextInputStyle.PARAGRAPH,
                        label="What should Claude change?",
                        required=True,
                        min_length=1,
                        max_length=limits.TEXT_INPUT_VALUE,
                    )
                ]
            )
        ],
    )


# ---------------------------------------------------------------------------------------
# Answering the CLI
# ---------------------------------------------------------------------------------------


def control_response(record: PromptRecord, request_id: str) -> dict[str, Any] | None:
    """The control response for a resolved plan prompt (``None`` if withdrawn).

    Raises:
        ValueError: the prompt is still pending (a bug in the caller).
    """
    if record.state is PromptState.PENDING:
        raise ValueError(f"prompt {record.prompt_id} is still pending")
    if record.state is PromptState.CANCELLED:
        return None
    if record.state is PromptState.EXPIRED:
        timeout = float(record.payload.get("timeout") or 0)
        return control.deny(
            request_id,
            f"No one approved the plan within {_minutes(timeout)}, so it was cancelled. Do "
            "not carry it out; wait for the user's next message.",
        )
    a = record.answer or {}
    choice = a.get("choice")
    if choice in (PlanChoice.APPROVE, PlanChoice.APPROVE_EDITS):
        return control.allow(request_id, dict(record.payload.get("input") or {}))
    if choice == PlanChoice.REVISION:
        text = str((a.get("values") or [""])[0])
        return control.deny(
            request_id, f"The user wants the plan revised before approving it: {text}"
        )
    return control.deny(request_id, CANCELLED_MESSAGE)
