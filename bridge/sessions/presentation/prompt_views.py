"""One door for every kind of prompt: render, outcome and control response by ``kind``.

The session calls these and never needs to know which module draws which kind:
:mod:`.prompts` draws permission prompts (C14), :mod:`.questions` AskUserQuestion (C12),
:mod:`.plans` ExitPlanMode (C13), :mod:`.elicitations` MCP elicitations (C15).
"""

from __future__ import annotations

from typing import Any

from bridge.sessions.presentation import elicitations, plans, prompts, questions
from bridge.sessions.presentation.render import MessagePayload
from bridge.store import PromptRecord


def is_question(record: PromptRecord) -> bool:
    return record.kind == prompts.PromptKind.QUESTION


def is_plan(record: PromptRecord) -> bool:
    return record.kind == prompts.PromptKind.PLAN


def is_elicitation(record: PromptRecord) -> bool:
    return record.kind == prompts.PromptKind.ELICITATION


def render_pending(record: PromptRecord, *, mention: int | None = None) -> MessagePayload:
    if is_question(record):
        return questions.render_pending(record, mention=mention)
    if is_plan(record):
        return plans.render_pending(record, mention=mention)
    if is_elicitation(record):
        return elicitations.render_pending(record, mention=mention)
    return prompts.render_pending(record, mention=mention)


def render_resolved(record: PromptRecord) -> MessagePayload:
    if is_question(record):
        return questions.render_resolved(record)
    if is_plan(record):
        return plans.render_resolved(record)
    if is_elicitation(record):
        return elicitations.render_resolved(record)
    return prompts.render_resolved(record)


def outcome_line(record: PromptRecord) -> str:
    if is_question(record):
        return questions.outcome_line(record)
    if is_plan(record):
        return plans.outcome_line(record)
    if is_elicitation(record):
        return elicitations.outcome_line(record)
    return prompts.outcome_line(record)


def control_response(record: PromptRecord, request_id: str) -> dict[str, Any] | None:
    if is_question(record):
        return questions.control_response(record, request_id)
    if is_plan(record):
        return plans.control_response(record, request_id)
    if is_elicitation(record):
        return elicitations.control_response(record, request_id)
    return prompts.control_response(record, request_id)
