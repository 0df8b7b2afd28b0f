"""An imported CLI session's recent conversation as Discord messages (S1), pure.

Each entry of the transcript (:func:`protocol.claude.sessions.session_transcript`) becomes
a block headed by who spoke (the person at the terminal, or Claude), its text, and one
short line per tool Claude called. Blocks are split by the shared chunker under Discord's
2000 characters (code fences closed and reopened), and every text passes through
:func:`~bridge.sessions.presentation.render.quiet`, so an ``@everyone`` typed in the
terminal shows as text and pings nobody (the REST client's ``allowed_mentions`` stops
pings besides).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bridge.sessions.presentation.render import (
    CHUNK_CHARS,
    quiet,
    split_text,
    tool_emoji,
    tool_input_summary,
    truncate,
)
from protocol.claude.sessions import ToolCall, TranscriptEntry

__all__ = ["BACKFILL_ENTRIES", "TOOL_LINE_CHARS", "backfill_messages"]

BACKFILL_ENTRIES: Final = 20
"""How many of a session's newest messages a thread shows when it is imported: enough to
see where the conversation stands, few enough that an import costs a handful of posts."""
TOOL_LINE_CHARS: Final = 150
"""A tool call's one-line summary is cut here: the line says what ran, not its output."""

USER_HEADER: Final = "**🧑 You** (terminal)"
CLAUDE_HEADER: Final = "**🤖 Claude**"


def _tool_line(call: ToolCall) -> str:
    summary = truncate(tool_input_summary(call.name, call.input), TOOL_LINE_CHARS)
    # Inside inline code a backtick would end the span early: shown as a look-alike.
    shown = f" `{summary.replace('`', 'ˋ')}`" if summary else ""
    return f"-# {tool_emoji(call.name)} {call.name}{shown}"


def _block(entry: TranscriptEntry) -> str:
    header = USER_HEADER if entry.role == "user" else CLAUDE_HEADER
    lines = [header]
    if entry.text:
        lines.append(entry.text)
    lines.extend(_tool_line(call) for call in entry.tools)
    return quiet("\n".join(lines))


def backfill_messages(
    entries: Sequence[TranscriptEntry],
    *,
    keep: int = BACKFILL_ENTRIES,
    limit: int = CHUNK_CHARS,
) -> list[str]:
    """The messages that show the newest ``keep`` entries, oldest first.

    The first message says how much of the conversation is shown. Every message is at
    most ``limit`` characters and not blank.
    """
    shown = list(entries)[-keep:] if keep > 0 else []
    total = len(entries)
    if not shown:
        intro = "-# 📥 This terminal session has no messages to show yet."
    elif len(shown) < total:
        intro = f"-# 📥 The last {len(shown)} of {total} messages of this terminal session:"
    else:
        intro = f"-# 📥 The {total} message{'s' if total != 1 else ''} of this terminal session:"
    messages = [intro]
    for entry in shown:
        messages.extend(split_text(_block(entry), limit))
    return messages
