"""TurnState: what Claude is doing right now, derived only from the CLI's events.

Theory of operation
-------------------
A session's status reactions, tool timers, stall notice, task list and dashboard all read
one immutable :class:`TurnState`. It changes only through :meth:`TurnState.apply`, which
takes one parsed event and the time it arrived (``now``, from the driver's clock) and
returns the next state; nothing here reads a clock or does IO.

One turn, as the CLI reports it (2.1.x, see ``tests/fixtures/claude/``)::

    system/init ─► status "requesting" ─► [thinking] ─► [text] ─► tool_use ─┐
         ▲                                                                   │
         │            can_use_tool ─► (host answers) ─► tool_result ◄────────┘
         │                                                  │
         └─ next user message ◄── result ◄── [text] ◄───────┘

``system/init`` opens a turn (it is sent at the start of every turn); ``result`` closes
it. Between them the activity follows the latest block: thinking, writing text, a tool
running (with its start time), or waiting for the host (a permission prompt, an
AskUserQuestion, an ExitPlanMode plan, an MCP elicitation). A ``control_cancel_request``
withdraws a pending prompt. Events from subagents (``parent_tool_use_id`` set) update tool
runs but not the main text.

The task list (TaskCreate/TaskUpdate, or TodoWrite on CLIs configured for it) belongs to
the session, so it survives from turn to turn; the CLI emits no event of its own for it,
so it is rebuilt from the tool inputs once their results come back without error.
"""

from __future__ import annotations

import enum
from typing import Any, Final

import attrs

from protocol.claude import events as ev


class Activity(enum.Enum):
    """What Claude is doing now."""

    IDLE = "idle"
    """No turn has started yet."""
    REQUESTING = "requesting"
    """Waiting for the model's first bytes (a turn began, or a tool result went back)."""
    THINKING = "thinking"
    WRITING = "writing"
    """Streaming text, or writing a tool call."""
    TOOL = "tool"
    """A tool is running."""
    AWAITING_PERMISSION = "awaiting_permission"
    """A ``can_use_tool`` prompt waits for the host."""
    AWAITING_ANSWER = "awaiting_answer"
    """AskUserQuestion or an MCP elicitation waits for the human."""
    AWAITING_PLAN_APPROVAL = "awaiting_plan_approval"
    """ExitPlanMode: the plan waits for approval."""
    RETRYING = "retrying"
    """The API failed; the CLI will retry."""
    COMPACTING = "compacting"
    DONE = "done"
    """The turn ended with a ``result``."""


#: Activities in which the CLI waits for the host (never a "stall").
WAITING_FOR_HOST = frozenset(
    {Activity.AWAITING_PERMISSION, Activity.AWAITING_ANSWER, Activity.AWAITING_PLAN_APPROVAL}
)


STRUCTURED_RESULT_TOOLS: Final = frozenset({"TaskCreate"})
"""Tools whose ``tool_use_result`` the fold reads (a created task's id): the only ones
whose :attr:`ToolRun.structured_result` is kept."""


@attrs.frozen(kw_only=True)
class ToolRun:
    """One tool call of the current turn."""

    tool_use_id: str
    name: str
    input: dict[str, Any]
    started_at: float
    parent_tool_use_id: str | None = None
    finished_at: float | None = None
    is_error: bool | None = None
    result_text: str | None = None
    structured_result: Any = None
    """The ``tool_use_result`` of the tool's result, kept only for the tools whose
    structured result the fold reads (:data:`STRUCTURED_RESULT_TOOLS`); ``None`` for the
    others. A finished run stays in the state until the next turn, and a Read's structured
    result holds the whole file again (beside ``result_text``): kept for every tool, it
    made each idle session hold its last turn's files twice."""

    @property
    def running(self) -> bool:
        return self.finished_at is None

    def elapsed(self, now: float) -> float:
        """Seconds it ran (so far, if still running)."""
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, end - self.started_at)


class PendingKind(enum.Enum):
    PERMISSION = "permission"
    QUESTION = "question"
    PLAN = "plan"
    ELICITATION = "elicitation"


@attrs.frozen(kw_only=True)
class PendingRequest:
    """A control request from the CLI that the host has not answered yet."""

    request_id: str
    kind: PendingKind
    since: float
    request: ev.ControlRequestBody


@attrs.frozen(kw_only=True)
class TaskItem:
    """One entry of the session's task list."""

    id: str
    subject: str
    status: str = "pending"
    """``pending``, ``in_progress``, ``completed``."""
    active_form: str | None = None


_ACTIVITY_FOR_PROMPT = {
    PendingKind.PERMISSION: Activity.AWAITING_PERMISSION,
    PendingKind.QUESTION: Activity.AWAITING_ANSWER,
    PendingKind.ELICITATION: Activity.AWAITING_ANSWER,
    PendingKind.PLAN: Activity.AWAITING_PLAN_APPROVAL,
}


@attrs.frozen(kw_only=True)
class TurnState:
    """The state of the current turn plus what outlives turns (session id, mode, tasks)."""

    activity: Activity = Activity.IDLE
    session_id: str | None = None
    """From every init and result event: ``/clear`` changes it mid-process."""
    model: str | None = None
    permission_mode: str | None = None
    cwd: str | None = None
    turn_started_at: float | None = None
    last_event_at: float | None = None
    tools: tuple[ToolRun, ...] = ()
    pending: PendingRequest | None = None
    text: str = ""
    """The main thread's text blocks of this turn, joined with blank lines."""
    partial_text: str = ""
    """Text of the block being streamed (``--include-partial-messages``)."""
    thinking: str = ""
    plan: str | None = None
    """The plan ExitPlanMode proposed in this turn."""
    tasks: tuple[TaskItem, ...] = ()
    retries: int = 0
    compactions: int = 0
    interrupted: bool = False
    result: ev.Result | None = None
    turns_completed: int = 0

    # -- queries ---------------------------------------------------------------------------

    @property
    def running_tools(self) -> tuple[ToolRun, ...]:
        return tuple(t for t in self.tools if t.running)

    @property
    def current_tool(self) -> ToolRun | None:
        """The most recently started tool that is still running."""
        running = self.running_tools
        return running[-1] if running else None

    @property
    def busy(self) -> bool:
        """A turn is under way (started and not finished)."""
        return self.activity not in (Activity.IDLE, Activity.DONE)

    def silent_for(self, now: float) -> float:
        """Seconds since the last event, 0 when no turn runs or the host is awaited; the
        stall notice compares this with its threshold."""
        if not self.busy or self.activity in WAITING_FOR_HOST or self.last_event_at is None:
            return 0.0
        return max(0.0, now - self.last_event_at)

    # -- transitions -----------------------------------------------------------------------

    def start_turn(self, now: float) -> TurnState:
        """A user message was sent: clear the per-turn fields, keep the session's."""
        return attrs.evolve(
            _fresh_turn(self),
            activity=Activity.REQUESTING,
            turn_started_at=now,
            last_event_at=now,
        )

    def answered(self, request_id: str, now: float) -> TurnState:
        """The host answered the pending request ``request_id`` (no event says so)."""
        if self.pending is None or self.pending.request_id != request_id:
            return self
        return attrs.evolve(self, pending=None, activity=self._resumed_activity())

    def apply(self, event: ev.Event, now: float) -> TurnState:
        """The state after ``event``, received at ``now``. Pure; never raises."""
        if (
            type(event) is ev.StreamEvent
            and event.parent_tool_use_id is None
            and self.pending is None
            and (text := event.text_delta) is not None
        ):
            # Most events of a turn: one state built instead of two (what _on_stream gives).
            return attrs.evolve(
                self,
                last_event_at=now,
                activity=Activity.WRITING,
                partial_text=self.partial_text + text,
            )
        state = attrs.evolve(self, last_event_at=now)
        handler = _HANDLERS.get(type(event))
        return handler(state, event, now) if handler else state

    def _resumed_activity(self) -> Activity:
        return Activity.TOOL if self.running_tools else Activity.REQUESTING


def _fresh_turn(state: TurnState) -> TurnState:
    return TurnState(
        session_id=state.session_id,
        model=state.model,
        permission_mode=state.permission_mode,
        cwd=state.cwd,
        tasks=state.tasks,
        turns_completed=state.turns_completed,
    )


# ---------------------------------------------------------------------------------------
# One handler per event type
# ---------------------------------------------------------------------------------------


def _on_init(state: TurnState, event: ev.SystemInit, now: float) -> TurnState:
    if not state.busy:
        state = attrs.evolve(
            _fresh_turn(state),
            activity=Activity.REQUESTING,
            turn_started_at=now,
            last_event_at=now,
        )
    return attrs.evolve(
        state,
        session_id=event.session_id or state.session_id,
        model=event.model or state.model,
        permission_mode=event.permission_mode or state.permission_mode,
        cwd=event.cwd or state.cwd,
    )


def _on_status(state: TurnState, event: ev.SystemStatus, now: float) -> TurnState:
    if event.permission_mode:
        state = attrs.evolve(state, permission_mode=event.permission_mode)
    if state.pending is not None:
        return state
    if event.status == "requesting":
        return attrs.evolve(state, activity=Activity.REQUESTING)
    if event.status == "compacting":
        return attrs.evolve(state, activity=Activity.COMPACTING)
    if event.compact_result and state.activity is Activity.COMPACTING:
        return attrs.evolve(state, activity=Activity.REQUESTING)
    return state


def _on_thinking_tokens(state: TurnState, event: ev.ThinkingTokens, now: float) -> TurnState:
    if state.pending is not None or not state.busy:
        return state
    return attrs.evolve(state, activity=Activity.THINKING)


def _on_stream(state: TurnState, event: ev.StreamEvent, now: float) -> TurnState:
    if event.parent_tool_use_id is not None or state.pending is not None:
        return state
    block = event.block_type
    if block == "thinking":
        return attrs.evolve(state, activity=Activity.THINKING)
    if block in ("text", "tool_use"):
        return attrs.evolve(state, activity=Activity.WRITING, partial_text="")
    if (text := event.text_delta) is not None:
        return attrs.evolve(
            state, activity=Activity.WRITING, partial_text=state.partial_text + text
        )
    if event.thinking_delta is not None:
        return attrs.evolve(state, activity=Activity.THINKING)
    return state


def _join(existing: str, more: str) -> str:
    return f"{existing}\n\n{more}" if existing else more


def _on_assistant(state: TurnState, event: ev.AssistantMessage, now: float) -> TurnState:
    main = event.parent_tool_use_id is None
    for block in event.content:
        if isinstance(block, ev.ToolUseBlock):
            run = ToolRun(
                tool_use_id=block.id,
                name=block.name,
                input=block.input,
                started_at=now,
                parent_tool_use_id=event.parent_tool_use_id,
            )
            state = attrs.evolve(state, tools=(*state.tools, run))
            if main:
                state = attrs.evolve(state, activity=Activity.TOOL)
                if block.name == "ExitPlanMode" and isinstance(block.input.get("plan"), str):
                    state = attrs.evolve(state, plan=block.input["plan"])
        elif not main:
            continue
        elif isinstance(block, ev.TextBlock):
            state = attrs.evolve(
                state,
                text=_join(state.text, block.text),
                partial_text="",
                activity=Activity.WRITING,
            )
        elif isinstance(block, ev.ThinkingBlock):
            state = attrs.evolve(
                state, thinking=_join(state.thinking, block.thinking), activity=Activity.THINKING
            )
    if state.pending is not None:
        state = attrs.evolve(state, activity=_ACTIVITY_FOR_PROMPT[state.pending.kind])
    return state


def _prompt_kind(body: ev.ControlRequestBody) -> PendingKind | None:
    if isinstance(body, ev.CanUseTool):
        if body.tool_name == "AskUserQuestion":
            return PendingKind.QUESTION
        if body.tool_name == "ExitPlanMode":
            return PendingKind.PLAN
        return PendingKind.PERMISSION
    if isinstance(body, ev.Elicitation):
        return PendingKind.ELICITATION
    return None


def _on_control_request(state: TurnState, event: ev.ControlRequest, now: float) -> TurnState:
    kind = _prompt_kind(event.request)
    if kind is None:
        return state
    pending = PendingRequest(
        request_id=event.request_id, kind=kind, since=now, request=event.request
    )
    state = attrs.evolve(state, pending=pending, activity=_ACTIVITY_FOR_PROMPT[kind])
    body = event.request
    if kind is PendingKind.PLAN and isinstance(body, ev.CanUseTool):
        plan = body.input.get("plan")
        if isinstance(plan, str):
            state = attrs.evolve(state, plan=plan)
    return state


def _on_cancel(state: TurnState, event: ev.ControlCancelRequest, now: float) -> TurnState:
    if state.pending is None or state.pending.request_id != event.request_id:
        return state
    return attrs.evolve(state, pending=None, activity=state._resumed_activity())


def _on_user(state: TurnState, event: ev.UserMessage, now: float) -> TurnState:
    if event.text.startswith("[Request interrupted"):
        state = attrs.evolve(state, interrupted=True)
    results = event.tool_results
    if not results:
        return state
    tools = list(state.tools)
    tasks = state.tasks
    for result in results:
        for index, run in enumerate(tools):
            if run.tool_use_id == result.tool_use_id and run.running:
                finished = attrs.evolve(
                    run,
                    finished_at=now,
                    is_error=result.is_error,
                    result_text=result.text,
                    structured_result=(
                        event.tool_use_result if run.name in STRUCTURED_RESULT_TOOLS else None
                    ),
                )
                tools[index] = finished
                if not result.is_error:
                    tasks = _update_tasks(tasks, finished)
    state = attrs.evolve(state, tools=tuple(tools), tasks=tasks)
    if state.pending is not None and any(
        isinstance(state.pending.request, ev.CanUseTool)
        and state.pending.request.tool_use_id == r.tool_use_id
        for r in results
    ):
        state = attrs.evolve(state, pending=None)
    if state.pending is None and event.parent_tool_use_id is None:
        state = attrs.evolve(state, activity=state._resumed_activity())
    return state


def _on_retry(state: TurnState, event: ev.ApiRetry, now: float) -> TurnState:
    state = attrs.evolve(state, retries=state.retries + 1)
    if state.pending is not None or not state.busy:
        return state
    return attrs.evolve(state, activity=Activity.RETRYING)


def _on_compact(state: TurnState, event: ev.CompactBoundary, now: float) -> TurnState:
    return attrs.evolve(
        state,
        compactions=state.compactions + 1,
        session_id=event.session_id or state.session_id,
    )


def _on_state_changed(state: TurnState, event: ev.SessionStateChanged, now: float) -> TurnState:
    return attrs.evolve(state, session_id=event.session_id or state.session_id)


def _on_result(state: TurnState, event: ev.Result, now: float) -> TurnState:
    return attrs.evolve(
        state,
        activity=Activity.DONE,
        pending=None,
        result=event,
        partial_text="",
        session_id=event.session_id or state.session_id,
        turns_completed=state.turns_completed + 1,
    )


_HANDLERS: dict[type, Any] = {
    ev.SystemInit: _on_init,
    ev.SystemStatus: _on_status,
    ev.ThinkingTokens: _on_thinking_tokens,
    ev.StreamEvent: _on_stream,
    ev.AssistantMessage: _on_assistant,
    ev.ControlRequest: _on_control_request,
    ev.ControlCancelRequest: _on_cancel,
    ev.UserMessage: _on_user,
    ev.ApiRetry: _on_retry,
    ev.CompactBoundary: _on_compact,
    ev.SessionStateChanged: _on_state_changed,
    ev.Result: _on_result,
}


# ---------------------------------------------------------------------------------------
# The task list
# ---------------------------------------------------------------------------------------


def _update_tasks(tasks: tuple[TaskItem, ...], run: ToolRun) -> tuple[TaskItem, ...]:
    """Apply a finished TaskCreate / TaskUpdate / TodoWrite call to the task list."""
    if run.name == "TaskCreate":
        created = run.structured_result if isinstance(run.structured_result, dict) else {}
        fields = fields if isinstance(fields := created.get("task"), dict) else {}
        task_id = str(fields.get("id") or len(tasks) + 1)
        subject = str(fields.get("subject") or run.input.get("subject") or "")
        active = run.input.get("activeForm")
        item = TaskItem(
            id=task_id, subject=subject, active_form=active if isinstance(active, str) else None
        )
        return (*(t for t in tasks if t.id != task_id), item)
    if run.name == "TaskUpdate":
        task_id = str(run.input.get("taskId", ""))
        status = run.input.get("status")
        if status == "deleted":
            return tuple(t for t in tasks if t.id != task_id)
        updated = []
        for task in tasks:
            if task.id == task_id:
                changes: dict[str, Any] = {}
                if isinstance(status, str):
                    changes["status"] = status
                if isinstance(run.input.get("subject"), str):
                    changes["subject"] = run.input["subject"]
                if isinstance(run.input.get("activeForm"), str):
                    changes["active_form"] = run.input["activeForm"]
                task = attrs.evolve(task, **changes)
            updated.append(task)
        return tuple(updated)
    if run.name == "TodoWrite":
        todos = run.input.get("todos")
        if not isinstance(todos, list):
            return tasks
        return tuple(
            TaskItem(
                id=str(index + 1),
                subject=str(todo.get("content", "")),
                status=str(todo.get("status", "pending")),
                active_form=todo.get("activeForm")
                if isinstance(todo.get("activeForm"), str)
                else None,
            )
            for index, todo in enumerate(todos)
            if isinstance(todo, dict)
        )
    return tasks


# ---------------------------------------------------------------------------------------
# Turn timeouts (the driver sleeps until next_deadline, then asks timeout_due)
# ---------------------------------------------------------------------------------------


class TimeoutKind(enum.Enum):
    IDLE = "idle"
    """No event for ``idle_timeout`` seconds while a turn runs and nobody waits for the host."""
    TOTAL = "total"
    """The turn has run for ``total_timeout`` seconds."""


def _deadlines(
    state: TurnState, idle_timeout: float | None, total_timeout: float | None
) -> list[tuple[float, TimeoutKind]]:
    if not state.busy:
        return []
    out = []
    if total_timeout is not None and state.turn_started_at is not None:
        out.append((state.turn_started_at + total_timeout, TimeoutKind.TOTAL))
    if (
        idle_timeout is not None
        and state.last_event_at is not None
        and state.activity not in WAITING_FOR_HOST
    ):
        out.append((state.last_event_at + idle_timeout, TimeoutKind.IDLE))
    return out


def next_deadline(
    state: TurnState, *, idle_timeout: float | None, total_timeout: float | None
) -> float | None:
    """When a timeout could next fire (``None``: none can, e.g. no turn is running).

    The idle clock stops while the CLI waits for the host (a permission prompt, a
    question, a plan): a human taking their time is not a stalled CLI. The total clock
    never stops.
    """
    deadlines = _deadlines(state, idle_timeout, total_timeout)
    return min(at for at, _ in deadlines) if deadlines else None


def timeout_due(
    state: TurnState, now: float, *, idle_timeout: float | None, total_timeout: float | None
) -> TimeoutKind | None:
    """Which timeout has expired at ``now`` (total before idle), or ``None``."""
    due = [kind for at, kind in _deadlines(state, idle_timeout, total_timeout) if at <= now]
    if TimeoutKind.TOTAL in due:
        return TimeoutKind.TOTAL
    return due[0] if due else None
