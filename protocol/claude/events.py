"""Typed events for the lines the Claude Code CLI writes in stream-json mode.

Plain frozen values: no parsing, no IO (parsing lives in :mod:`protocol.claude.converter`).
Every event keeps the decoded line as ``raw`` (excluded from equality and repr), so fields
we do not model yet are never lost. Anything the parser does not recognise becomes
:class:`Unknown`; a line that is not a JSON object becomes :class:`Malformed`. The parser
never raises.

Observed with the real CLI 2.1.x (see ``tests/fixtures/claude/*.jsonl``); which line
arrives when is described in ``shared/research/claude-cli.md`` §b and §c.
"""

from __future__ import annotations

from typing import Any

import attrs

JSON = Any
"""A decoded JSON value."""


# ---------------------------------------------------------------------------------------
# Content blocks (inside assistant and user messages)
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TextBlock:
    text: str = ""


@attrs.frozen(kw_only=True)
class ThinkingBlock:
    thinking: str = ""
    signature: str = ""


@attrs.frozen(kw_only=True)
class RedactedThinkingBlock:
    data: str = ""


@attrs.frozen(kw_only=True)
class ToolUseBlock:
    id: str = ""
    name: str = ""
    input: dict[str, JSON] = attrs.field(factory=dict)
    """The tool's arguments as the model wrote them."""


@attrs.frozen(kw_only=True)
class ToolResultBlock:
    tool_use_id: str = ""
    content: JSON = None
    """A string, or a list of content blocks (text, image) as the API allows."""
    is_error: bool = False

    @property
    def text(self) -> str:
        """The result as text: the string, or its text blocks joined."""
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, list):
            return "\n".join(
                str(b.get("text", ""))
                for b in self.content
                if isinstance(b, dict) and b.get("type") == "text"
            )
        return ""


@attrs.frozen(kw_only=True)
class ImageBlock:
    media_type: str = ""
    data: str = ""
    """Base64 data, when the source is base64."""


@attrs.frozen(kw_only=True)
class UnknownBlock:
    type: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict)


Block = (
    TextBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | ToolUseBlock
    | ToolResultBlock
    | ImageBlock
    | UnknownBlock
)


# ---------------------------------------------------------------------------------------
# Usage and cost
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


@attrs.frozen(kw_only=True)
class ModelUsage:
    """One model's totals in ``result.modelUsage`` (camelCase on the wire)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0
    context_window: int | None = None
    max_output_tokens: int | None = None


@attrs.frozen(kw_only=True)
class PermissionDenial:
    tool_name: str = ""
    tool_use_id: str = ""
    tool_input: dict[str, JSON] = attrs.field(factory=dict)


# ---------------------------------------------------------------------------------------
# system/* events
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SystemInit:
    """``system/init``: sent at the start of every turn (again after ``/compact``)."""

    session_id: str = ""
    uuid: str = ""
    cwd: str = ""
    model: str = ""
    permission_mode: str = ""
    tools: tuple[str, ...] = ()
    mcp_servers: tuple[dict[str, JSON], ...] = ()
    slash_commands: tuple[str, ...] = ()
    claude_code_version: str = ""
    api_key_source: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class SystemStatus:
    """``system/status``: ``requesting`` before an API call, ``compacting``, or a mode change
    (``status`` null and ``permission_mode`` set)."""

    status: str | None = None
    permission_mode: str | None = None
    compact_result: str | None = None
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class CompactMetadata:
    trigger: str = ""
    """``manual`` (``/compact``) or ``auto``."""
    pre_tokens: int | None = None
    post_tokens: int | None = None
    duration_ms: int | None = None


@attrs.frozen(kw_only=True)
class CompactBoundary:
    """``system/compact_boundary``: the conversation was summarised."""

    metadata: CompactMetadata = CompactMetadata()
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class HookStarted:
    """``system/hook_started`` (with ``--include-hook-events``)."""

    hook_id: str = ""
    hook_name: str = ""
    """e.g. ``PreToolUse:Bash``."""
    hook_event: str = ""
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class HookResponse:
    """``system/hook_response``: a hook finished."""

    hook_id: str = ""
    hook_name: str = ""
    hook_event: str = ""
    output: str = ""
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    outcome: str = ""
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class ApiRetry:
    """``system/api_retry``: the CLI will retry a failed API request."""

    attempt: int = 0
    max_retries: int = 0
    retry_delay_ms: float = 0.0
    error_status: int | None = None
    error: str = ""
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class ThinkingTokens:
    """``system/thinking_tokens``: a running estimate while the model thinks."""

    estimated_tokens: int = 0
    estimated_tokens_delta: int = 0
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class SessionStateChanged:
    """``system/session_state_changed`` (env ``CLAUDE_CODE_EMIT_SESSION_STATE_EVENTS=1``):
    ``running``, ``requires_action``, ``idle``."""

    state: str = ""
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class PermissionDenied:
    """``system/permission_denied``: a static rule refused a tool without asking."""

    tool_name: str = ""
    tool_use_id: str = ""
    message: str = ""
    decision_reason_type: str = ""
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class TaskStarted:
    """``system/task_started``: a background task (e.g. a long Bash run) began."""

    task_id: str = ""
    tool_use_id: str = ""
    task_type: str = ""
    """e.g. ``local_bash``."""
    description: str = ""
    is_backgrounded: bool = False
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class TaskNotification:
    """``system/task_notification``: a background task changed status."""

    task_id: str = ""
    tool_use_id: str = ""
    status: str = ""
    summary: str = ""
    output_file: str | None = None
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class TaskUpdated:
    """``system/task_updated``: fields of a background task changed (``patch``, e.g.
    ``{"status": "completed", "end_time": ...}``)."""

    task_id: str = ""
    patch: dict[str, JSON] = attrs.field(factory=dict)
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class BackgroundTasksChanged:
    """``system/background_tasks_changed``: the full list of running background tasks.

    When one finishes, the CLI starts a turn by itself (``init`` ... ``result``) to tell
    the model, with no user message: a bridge must expect turns it did not start."""

    tasks: tuple[dict[str, JSON], ...] = ()
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


# ---------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------

SYNTHETIC_MODEL = "<synthetic>"
"""The model name on assistant messages the CLI writes itself (API errors, not logged in)."""


@attrs.frozen(kw_only=True)
class AssistantMessage:
    """``assistant``: one content block of the model's reply (the blocks of one API message
    arrive as separate events sharing ``message_id``)."""

    message_id: str = ""
    model: str = ""
    content: tuple[Block, ...] = ()
    usage: Usage | None = None
    parent_tool_use_id: str | None = None
    """Set when a subagent (the ``Task``/``Agent`` tool) wrote this."""
    error: str | None = None
    """e.g. ``authentication_failed`` on synthetic error messages."""
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def is_synthetic(self) -> bool:
        """Written by the CLI itself, not the model (API error text)."""
        return self.model == SYNTHETIC_MODEL


@attrs.frozen(kw_only=True)
class UserMessage:
    """``user``: a tool result, an interrupt marker, a ``/command`` output or a replay."""

    content: str | tuple[Block, ...] = ()
    parent_tool_use_id: str | None = None
    tool_use_result: JSON = None
    """The tool's structured result (``{stdout, stderr, interrupted}`` for Bash, ...)."""
    is_replay: bool = False
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def tool_results(self) -> tuple[ToolResultBlock, ...]:
        if isinstance(self.content, str):
            return ()
        return tuple(b for b in self.content if isinstance(b, ToolResultBlock))

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(b.text for b in self.content if isinstance(b, TextBlock))


@attrs.frozen(kw_only=True)
class Result:
    """``result``: the end of a turn. ``subtype`` is ``success`` (even for API errors, which
    set ``is_error``), ``error_during_execution`` (interrupts, failed ``--resume``),
    ``error_max_turns``, ``error_max_budget_usd``, or something newer."""

    subtype: str = ""
    is_error: bool = False
    result: str | None = None
    """The final text (or the error text for API errors)."""
    errors: tuple[str, ...] = ()
    session_id: str = ""
    duration_ms: int | None = None
    duration_api_ms: int | None = None
    num_turns: int | None = None
    total_cost_usd: float | None = None
    """Accepted as ``total_cost_usd`` or the older ``cost_usd``."""
    usage: Usage | None = None
    model_usage: dict[str, ModelUsage] = attrs.field(factory=dict)
    permission_denials: tuple[PermissionDenial, ...] = ()
    stop_reason: str | None = None
    terminal_reason: str | None = None
    """``completed``, ``aborted_streaming``, ``aborted_tools``, ``api_error``, ``max_turns``."""
    api_error_status: int | None = None
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def error_text(self) -> str | None:
        """What went wrong, for a user: ``errors`` joined, else the result text; ``None``
        when the turn did not fail."""
        if not self.is_error and not self.subtype.startswith("error"):
            return None
        if self.errors:
            return "\n".join(self.errors)
        return self.result or self.subtype


@attrs.frozen(kw_only=True)
class StreamEvent:
    """``stream_event`` (with ``--include-partial-messages``): one raw Messages-API SSE event."""

    event: dict[str, JSON] = attrs.field(factory=dict)
    parent_tool_use_id: str | None = None
    session_id: str = ""
    uuid: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def event_type(self) -> str:
        return str(self.event.get("type", ""))

    @property
    def delta(self) -> dict[str, JSON]:
        delta = self.event.get("delta")
        return delta if isinstance(delta, dict) else {}

    @property
    def text_delta(self) -> str | None:
        """The text of a ``text_delta``, else ``None``."""
        if self.event_type == "content_block_delta" and self.delta.get("type") == "text_delta":
            return str(self.delta.get("text", ""))
        return None

    @property
    def thinking_delta(self) -> str | None:
        if self.event_type == "content_block_delta" and self.delta.get("type") == "thinking_delta":
            return str(self.delta.get("thinking", ""))
        return None

    @property
    def block_type(self) -> str | None:
        """For ``content_block_start``: the type of block that begins."""
        block = self.event.get("content_block")
        if self.event_type == "content_block_start" and isinstance(block, dict):
            return str(block.get("type", ""))
        return None


# ---------------------------------------------------------------------------------------
# Control protocol (CLI -> host)
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CanUseTool:
    """The CLI asks whether a tool may run (needs ``--permission-prompt-tool stdio``).
    Also how AskUserQuestion and ExitPlanMode reach the host."""

    tool_name: str = ""
    display_name: str = ""
    input: dict[str, JSON] = attrs.field(factory=dict)
    tool_use_id: str = ""
    description: str = ""
    permission_suggestions: tuple[dict[str, JSON], ...] = ()
    """Rule updates the CLI proposes (``addRules``, ``setMode``...), usable verbatim as
    ``updatedPermissions`` for an "always allow" answer."""
    blocked_path: str | None = None


@attrs.frozen(kw_only=True)
class Elicitation:
    """An MCP server asks the user for input (``form`` or ``url`` mode)."""

    mcp_server_name: str = ""
    message: str = ""
    mode: str = "form"
    requested_schema: dict[str, JSON] | None = None
    url: str | None = None
    elicitation_id: str | None = None


@attrs.frozen(kw_only=True)
class HookCallback:
    """An SDK hook registered through ``initialize`` fired."""

    callback_id: str = ""
    input: dict[str, JSON] = attrs.field(factory=dict)
    tool_use_id: str | None = None


@attrs.frozen(kw_only=True)
class OtherRequest:
    """A control request subtype we do not handle; answer it with an error response."""

    subtype: str = ""


ControlRequestBody = CanUseTool | Elicitation | HookCallback | OtherRequest


@attrs.frozen(kw_only=True)
class ControlRequest:
    """``control_request`` from the CLI; answer with the same ``request_id``."""

    request_id: str = ""
    request: ControlRequestBody = OtherRequest()
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class ControlResponse:
    """``control_response``: the CLI's answer to one of our control requests."""

    request_id: str = ""
    success: bool = False
    response: dict[str, JSON] = attrs.field(factory=dict)
    error: str | None = None
    error_code: str | None = None
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class ControlCancelRequest:
    """The CLI withdrew one of its pending requests (e.g. a ``can_use_tool`` after an
    interrupt): drop the prompt, do not answer it."""

    request_id: str = ""
    raw: dict[str, JSON] = attrs.field(factory=dict, eq=False, repr=False)


# ---------------------------------------------------------------------------------------
# Anything else
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Unknown:
    """A JSON object we do not recognise (a new type or subtype, or a known one whose fields
    did not fit). Kept whole so it can be logged or forwarded unchanged."""

    raw: dict[str, JSON] = attrs.field(factory=dict)
    reason: str = ""
    """Why it is unknown: ``unknown type 'x'`` or the structuring error."""

    @property
    def type(self) -> str:
        return str(self.raw.get("type", ""))


@attrs.frozen(kw_only=True)
class Malformed:
    """A stdout line that is not a JSON object (CLI noise, a truncated line, binary junk)."""

    line: bytes = b""
    reason: str = ""


Event = (
    SystemInit
    | SystemStatus
    | CompactBoundary
    | HookStarted
    | HookResponse
    | ApiRetry
    | ThinkingTokens
    | SessionStateChanged
    | PermissionDenied
    | TaskStarted
    | TaskNotification
    | TaskUpdated
    | BackgroundTasksChanged
    | AssistantMessage
    | UserMessage
    | Result
    | StreamEvent
    | ControlRequest
    | ControlResponse
    | ControlCancelRequest
    | Unknown
    | Malformed
)
