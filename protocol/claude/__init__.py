"""Sans-IO Claude Code CLI: stream-json events, control protocol, argv and session files.

Nothing here starts a process, reads a pipe or a clock: ``bridge/claude/`` feeds stdout
bytes and ``now`` in and writes what the builders return.

Modules:

* :mod:`~protocol.claude.events`: frozen event values, ``Unknown(raw)``, ``Malformed``.
* :mod:`~protocol.claude.converter`: ``make_converter``, ``parse_event``, ``parse_line``;
  the only place that knows wire spellings and their drift across CLI versions.
* :mod:`~protocol.claude.framing`: ``StreamJsonReader`` (h11-style ``receive_data`` /
  ``next_event``, bounded lines).
* :mod:`~protocol.claude.turn`: ``TurnState``, what Claude is doing now.
* :mod:`~protocol.claude.control`: user messages, our control requests (with our ids),
  answers to the CLI's requests, mode and model validation.
* :mod:`~protocol.claude.argv`: ``ClaudeCommand``, ``build_argv``, ``child_env`` (X1–X4).
* :mod:`~protocol.claude.sessions`: session file location and reading.

The most used names are re-exported here.
"""

from protocol.claude import events
from protocol.claude.argv import ClaudeCommand, build_argv, child_env, validate_session_id
from protocol.claude.control import (
    PERMISSION_MODES,
    ControlError,
    ImageAttachment,
    RequestIds,
    TextAttachment,
    allow,
    allow_always,
    answer_questions,
    automatic_reply,
    deny,
    elicitation_response,
    encode_line,
    error_response,
    initialize_request,
    interrupt_request,
    set_model_request,
    set_permission_mode_request,
    user_message,
    validate_model,
    validate_permission_mode,
)
from protocol.claude.converter import dump_event, make_converter, parse_event, parse_line
from protocol.claude.framing import END, NEED_DATA, StreamJsonReader
from protocol.claude.sessions import (
    SessionMessage,
    SessionSummary,
    mangle_cwd,
    session_messages,
    session_path,
    summarize_session,
)
from protocol.claude.turn import Activity, PendingKind, TaskItem, ToolRun, TurnState
from protocol.claude.usage import UsageLimit, usage_limit

__all__ = [
    "END",
    "NEED_DATA",
    "PERMISSION_MODES",
    "Activity",
    "ClaudeCommand",
    "ControlError",
    "ImageAttachment",
    "PendingKind",
    "RequestIds",
    "SessionMessage",
    "SessionSummary",
    "StreamJsonReader",
    "TaskItem",
    "TextAttachment",
    "ToolRun",
    "TurnState",
    "UsageLimit",
    "allow",
    "allow_always",
    "answer_questions",
    "automatic_reply",
    "build_argv",
    "child_env",
    "deny",
    "dump_event",
    "elicitation_response",
    "encode_line",
    "error_response",
    "events",
    "initialize_request",
    "interrupt_request",
    "make_converter",
    "mangle_cwd",
    "parse_event",
    "parse_line",
    "session_messages",
    "session_path",
    "set_model_request",
    "set_permission_mode_request",
    "summarize_session",
    "usage_limit",
    "user_message",
    "validate_model",
    "validate_permission_mode",
    "validate_session_id",
]
