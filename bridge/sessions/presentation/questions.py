"""AskUserQuestion prompts (C12): records, components, answers, the control response.

Theory of operation
-------------------
The CLI asks through ``can_use_tool`` with ``tool_name`` ``AskUserQuestion`` and an input
of 1-4 questions, each with a header, the question text, 2-4 options (label, description)
and ``multiSelect``. It expects ``allow`` with the same input plus ``answers``: question
text -> answer; a multi-select answer is the chosen labels joined by ``", "`` and any
other string is taken as free text (pinned in tests/e2e/test_claude_cli_tools.py).

One message shows every question; the components belong to the first one not yet
answered, so several questions are answered one after the other and the answer goes back
only when all are in. While the prompt waits, the answers given so far are kept in the
store's ``answer`` column (``{"partial": {...}}``) so they survive a restart.

Component ``custom_id`` choices (the part after ``ccb:prompt:<prompt_id>:``):

* ``o<q>.<i>``: option ``i`` of question ``q`` (a button: single choice, at most 5 options);
* ``s<q>``: the select menu of question ``q`` (more options, or multi-select); its values
  are option indexes;
* ``x<q>``: the "Other…" button; the router answers it with a modal (``t<q>``);
* ``t<q>``: that modal's submission: one free-text value.

Pure functions only; the session does the IO.
"""

from __future__ import annotations

import math
import re
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

TOOL_NAME: Final = "AskUserQuestion"

#: Up to this many options of a single-choice question are buttons; more use a select.
MAX_BUTTONS: Final = 5

#: The text input's ``custom_id`` inside the "Other…" modal.
OTHER_FIELD: Final = "text"

_CHOICE = re.compile(r"([osxt])([0-9]{1,2})(?:\.([0-9]{1,2}))?")


@attrs.frozen
class Option:
    label: str
    description: str


@attrs.frozen
class Question:
    text: str
    header: str
    options: tuple[Option, ...]
    multi: bool

    @property
    def as_buttons(self) -> bool:
        return not self.multi and len(self.options) <= MAX_BUTTONS


@attrs.frozen
class Pick:
    """A parsed component choice: ``kind`` is one of ``o``, ``s``, ``x``, ``t``."""

    kind: str
    question: int
    option: int | None = None


def parse_questions(tool_input: Mapping[str, Any]) -> tuple[Question, ...]:
    """The well-formed questions of an AskUserQuestion input (anything else is skipped:
    the model's input is not trusted to follow the schema). Duplicate question texts are
    dropped, since ``answers`` is keyed by the text."""
    raw = tool_input.get("questions")
    found: list[Question] = []
    seen: set[str] = set()
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict):
            continue
        text = item.get("question")
        if not isinstance(text, str) or not text.strip() or text in seen:
            continue
        options = []
        raw_options = item.get("options")
        for option in raw_options if isinstance(raw_options, list) else ():
            if isinstance(option, dict) and isinstance(option.get("label"), str):
                label = option["label"]
                description = option.get("description")
                if label.strip():
                    options.append(
                        Option(label, description if isinstance(description, str) else "")
                    )
        header = item.get("header")
        seen.add(text)
        found.append(
            Question(
                text=text,
                header=header if isinstance(header, str) else "",
                options=tuple(options[: limits.SELECT_OPTIONS]),
                multi=item.get("multiSelect") is True,
            )
        )
    return tuple(found)


def questions_of(record: PromptRecord) -> tuple[Question, ...]:
    return parse_questions(record.payload.get("input") or {})


def question_record(
    request: ev.ControlRequest,
    *,
    prompt_id: str,
    thread_id: int,
    now: float,
    timeout: float,
) -> PromptRecord:
    """The record for an AskUserQuestion ``can_use_tool`` request.

    Args:
        timeout: Seconds until it expires; ``math.inf`` (the default configuration) for
            never.

    Raises:
        TypeError: the request is not a ``can_use_tool`` (a bug in the caller).
    """
    body = request.request
    if not isinstance(body, ev.CanUseTool):
        raise TypeError(f"a question needs a can_use_tool request, got {body!r}")
    payload = {
        "tool_name": body.tool_name,
        "input": body.input,
        "tool_use_id": body.tool_use_id,
        "timeout": timeout if math.isfinite(timeout) else None,
    }
    return PromptRecord(
        prompt_id=prompt_id,
        thread_id=thread_id,
        kind=prompts.PromptKind.QUESTION.value,
        payload=payload,
        created_at=now,
        expires_at=now + timeout,
        request_id=request.request_id,
    )


def partial(record: PromptRecord) -> dict[str, str]:
    """The answers given so far to a pending question prompt."""
    found = (record.answer or {}).get("partial")
    return {k: v for k, v in found.items() if isinstance(v, str)} if isinstance(found, dict) else {}


def final_answers(record: PromptRecord) -> dict[str, str]:
    found = (record.answer or {}).get("answers")
    return {k: v for k, v in found.items() if isinstance(v, str)} if isinstance(found, dict) else {}


def current(record: PromptRecord, answers: Mapping[str, str]) -> int | None:
    """The index of the first question without an answer, or ``None`` when all have one."""
    for index, question in enumerate(questions_of(record)):
        if question.text not in answers:
            return index
    return None


def parse_pick(choice: str) -> Pick | None:
    match = _CHOICE.fullmatch(choice)
    if match is None:
        return None
    kind, question, option = match.group(1), int(match.group(2)), match.group(3)
    if (kind == "o") != (option is not None):
        return None
    return Pick(kind, question, int(option) if option is not None else None)


def apply_pick(
    record: PromptRecord, answers: Mapping[str, str], pick: Pick, values: Sequence[str]
) -> dict[str, str] | None:
    """The answers after ``pick`` (with the select's or modal's ``values``), or ``None``
    when it does not fit: an unknown question or option, a question already answered, an
    empty free text, or ``x`` (which opens a modal and answers nothing)."""
    questions = questions_of(record)
    if not 0 <= pick.question < len(questions):
        return None
    question = questions[pick.question]
    if question.text in answers:
        return None
    if pick.kind == "o":
        if pick.option is None or not 0 <= pick.option < len(question.options):
            return None
        answer = question.options[pick.option].label
    elif pick.kind == "s":
        picked: list[str] = []
        for value in values:
            if not value.isdigit() or not 0 <= int(value) < len(question.options):
                return None
            label = question.options[int(value)].label
            if label not in picked:
                picked.append(label)
        if not picked or (len(picked) > 1 and not question.multi):
            return None
        # The CLI reads a multi-select answer as the labels joined by ", " (pinned).
        answer = ", ".join(picked)
    elif pick.kind == "t":
        text = values[0].strip() if values else ""
        if not text:
            return None
        answer = text
    else:
        return None
    return {**answers, question.text: answer}


def typed_answers(record: PromptRecord, text: str) -> dict[str, str]:
    """A message typed in the thread answers every question still open, as free text."""
    answers = partial(record)
    for question in questions_of(record):
        answers.setdefault(question.text, text)
    return answers


def answer(
    answers: Mapping[str, str], user_id: int, *, applied: bool, typed: bool = False
) -> dict[str, Any]:
    """The ``answer`` column of an answered question prompt."""
    return {
        **prompts.answer("answered", user_id, applied=applied),
        "answers": dict(answers),
        "typed": typed,
    }


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------


def _question_block(question: Question, answered: str | None, *, show_options: bool) -> str:
    header = f"**{question.header}** · " if question.header else ""
    lines = [f"{header}{question.text}"]
    if answered is not None:
        lines.append(f"→ **{answered}**")
    elif show_options:
        for option in question.options:
            line = f"• **{option.label}**"
            if option.description:
                line += f": {option.description}"
            lines.append(line)
        if question.multi:
            lines.append("-# Pick one or more, or answer in your own words.")
    return "\n".join(lines)


def _embed(record: PromptRecord, answers: Mapping[str, str], *, color: int, footer: str) -> m.Embed:
    questions = questions_of(record)
    now_index = current(record, answers)
    blocks = [
        _question_block(q, answers.get(q.text), show_options=i == now_index)
        for i, q in enumerate(questions)
    ]
    title = "❓ Claude has a question" if len(questions) == 1 else "❓ Claude has questions"
    text = "\n\n".join(blocks) + f"\n\n{footer}"
    return m.Embed(title=title, description=truncate(text, limits.EMBED_DESCRIPTION), color=color)


def _components(record: PromptRecord, index: int) -> tuple[m.ActionRow, ...]:
    question = questions_of(record)[index]
    pid = record.prompt_id
    rows: list[m.ActionRow] = []
    if question.options and question.as_buttons:
        rows.append(
            m.ActionRow(
                components=[
                    m.Button(
                        style=m.ButtonStyle.PRIMARY,
                        label=truncate(option.label, limits.BUTTON_LABEL),
                        custom_id=prompts.custom_id(pid, f"o{index}.{i}"),
                    )
                    for i, option in enumerate(question.options)
                ]
            )
        )
    elif question.options:
        rows.append(
            m.ActionRow(
                components=[
                    m.StringSelect(
                        custom_id=prompts.custom_id(pid, f"s{index}"),
                        placeholder=truncate(
                            "Pick one or more" if question.multi else "Pick one",
                            limits.SELECT_PLACEHOLDER,
                        ),
                        min_values=1,
                        max_values=len(question.options) if question.multi else 1,
                        options=[
                            m.SelectOption(
                                label=truncate(option.label, limits.SELECT_OPTION_TEXT),
                                value=str(i),
                                description=truncate(option.description, limits.SELECT_OPTION_TEXT)
                                if option.description
                                else m.UNDEFINED,
                            )
                            for i, option in enumerate(question.options)
                        ],
                    )
                ]
            )
        )
    rows.append(
        m.ActionRow(
            components=[
                m.Button(
                    style=m.ButtonStyle.SECONDARY,
                    label="Other…",
                    custom_id=prompts.custom_id(pid, f"x{index}"),
                )
            ]
        )
    )
    return tuple(rows)


def _waiting_line(record: PromptRecord) -> str:
    line = "Answer with the buttons, or type your answer in this thread."
    if math.isfinite(record.expires_at):
        line += f" Expires <t:{int(record.expires_at)}:R>."
    return f"-# {line}"


def render_pending(record: PromptRecord, *, mention: int | None = None) -> MessagePayload:
    """The questions, the answers given so far, and the current question's components."""
    answers = partial(record)
    index = current(record, answers)
    content = f"<@{mention}> Claude is asking you something." if mention else None
    return MessagePayload(
        content=content,
        embeds=(_embed(record, answers, color=YELLOW, footer=_waiting_line(record)),),
        components=_components(record, index) if index is not None else (),
        ping_user=mention,  # C17: the owner is notified when the session waits
    )


def outcome_line(record: PromptRecord) -> str:
    a = record.answer or {}
    if record.state is PromptState.ANSWERED:
        who = f"<@{a.get('by')}>" if a.get("by") else "someone"
        how = "by a message in the thread" if a.get("typed") else ""
        later = "" if a.get("applied", True) else " (Claude gets it when it asks again)"
        return f"✅ Answered by {who}{' ' + how if how else ''}{later}"
    if record.state is PromptState.EXPIRED:
        return "⌛ No answer in time: Claude was told so"
    if record.state is PromptState.CANCELLED:
        return "🚫 Withdrawn: Claude no longer needs this answer"
    return "⏳ Waiting for an answer"


def render_resolved(record: PromptRecord) -> MessagePayload:
    """The questions with their answers and the outcome; no components are left."""
    if record.state is PromptState.ANSWERED:
        color, answers = GREEN, final_answers(record)
    else:
        color, answers = (GREY if record.state is PromptState.CANCELLED else RED), partial(record)
    return MessagePayload(
        content=None,
        embeds=(_embed(record, answers, color=color, footer=outcome_line(record)),),
        components=(),
    )


def other_modal(record: PromptRecord, index: int) -> m.Modal | None:
    """The "Other…" modal for question ``index``, or ``None`` if there is no such one."""
    questions = questions_of(record)
    if not 0 <= index < len(questions):
        return None
    question = questions[index]
    return m.Modal(
        custom_id=prompts.custom_id(record.prompt_id, f"t{index}"),
        title=truncate(question.header or "Your answer", limits.MODAL_TITLE),
        components=[
            m.ActionRow(
                components=[
                    m.TextInput(
                        custom_id=OTHER_FIELD,
                        style=m.TextInputStyle.PARAGRAPH,
                        label=truncate(question.text, limits.TEXT_INPUT_LABEL),
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
    """The control response for a resolved question prompt (``None`` if withdrawn).

    Raises:
        ValueError: the prompt is still pending (a bug in the caller).
    """
    if record.state is PromptState.PENDING:
        raise ValueError(f"prompt {record.prompt_id} is still pending")
    if record.state is PromptState.CANCELLED:
        return None
    tool_input = dict(record.payload.get("input") or {})
    if record.state is PromptState.EXPIRED:
        timeout = record.payload.get("timeout") or (record.expires_at - record.created_at)
        return control.deny(
            request_id,
            f"No one answered the question within {float(timeout):.0f} s; decide without "
            "the user's answer or ask again later.",
        )
    asked = {q.text for q in parse_questions(tool_input)}
    answers = {k: v for k, v in final_answers(record).items() if k in asked}
    return control.answer_questions(request_id, tool_input, answers)
