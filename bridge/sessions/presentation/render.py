"""What a session shows in its Discord thread, as pure functions of its state.

Nothing here sends anything or reads a clock: the session's view (``view.py``) passes the
:class:`~protocol.claude.turn.TurnState`, the events and ``now`` in, and sends what comes
out. Every payload is built within :mod:`protocol.discord.limits` (long texts are cut with
a visible marker, never rejected by Discord with a 400), and a test checks each builder
against those limits.

Features: status emoji per activity (C2), streaming text split into messages (C3, C23),
tool embeds with elapsed time and result (C4), thinking as spoilers (C5), the completion
embed with usage and context fill (C18, C19), and the one-line notices for compaction
(C20), timeouts (C11), stalls (C22), queue position (C8) and interrupts (C21).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from bridge.discord.rest import FileUpload
from bridge.sessions.presentation import usage as u
from protocol.claude import events as ev
from protocol.claude.turn import Activity, ToolRun
from protocol.discord import limits
from protocol.discord import models as m
from protocol.discord.chunking import chunk_message

# ---------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class MessagePayload:
    """The body of one message to create or edit."""

    content: str | None = None
    embeds: tuple[m.Embed, ...] = ()
    components: tuple[m.ActionRow, ...] = ()
    files: tuple[FileUpload, ...] = ()
    """Attached when the message is posted (an edit keeps them)."""
    ping_user: int | None = None
    """The one user this message may notify (its content mentions them); nobody else, and
    nobody at all on edits (``allowed_mentions``, set by the REST client)."""


#: Embed colours (Discord's palette): running tools yellow, success green, errors red,
#: thinking purple, notices grey.
YELLOW: Final = 0xFEE75C
GREEN: Final = 0x57F287
RED: Final = 0xED4245
PURPLE: Final = 0x9B59B6
GREY: Final = 0x95A5A6
BLURPLE: Final = 0x5865F2

#: Tool output shown in a finished tool embed (the original used 3000; the rest of the
#: 4096-character description holds the header and the code fence).
TOOL_RESULT_CHARS: Final = 3000
#: Tool input shown in a tool embed title line / field.
TOOL_INPUT_CHARS: Final = 900
#: Messages are split a little under 2000 so a closing fence added by the splitter still
#: fits (the original used 2000 - 50).
CHUNK_CHARS: Final = limits.CONTENT - 50

ELLIPSIS: Final = "…"


def truncate(text: str, limit: int, marker: str = ELLIPSIS) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``marker`` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker


# ---------------------------------------------------------------------------------------
# C2: status emoji
# ---------------------------------------------------------------------------------------

#: One emoji per state, on the user's message. The original's set, plus the ones for
#: waiting on a human, retries and the queue (shared/research/seed-repo.md §1.4).
EMOJI_QUEUED: Final = "⏸️"
EMOJI_REQUESTING: Final = "🤔"
EMOJI_THINKING: Final = "🧠"
EMOJI_WRITING: Final = "✍️"
EMOJI_TOOL_READ: Final = "🛠️"
EMOJI_TOOL_EDIT: Final = "💻"
EMOJI_TOOL_WEB: Final = "🌐"
EMOJI_WAITING: Final = "🔐"
EMOJI_QUESTION: Final = "❓"
EMOJI_RETRYING: Final = "🔁"
EMOJI_COMPACTING: Final = "🗜️"
EMOJI_STALLED: Final = "⚠️"
EMOJI_DONE: Final = "✅"
EMOJI_ERROR: Final = "❌"
EMOJI_STOPPED: Final = "⏹️"

_EDIT_TOOLS: Final = frozenset({"Bash", "Edit", "Write", "MultiEdit", "NotebookEdit"})
_WEB_TOOLS: Final = frozenset({"WebFetch", "WebSearch"})


def tool_emoji(name: str) -> str:
    """Commands and edits 💻, web 🌐, everything else (reads, searches, tasks) 🛠️."""
    if name in _EDIT_TOOLS:
        return EMOJI_TOOL_EDIT
    if name in _WEB_TOOLS:
        return EMOJI_TOOL_WEB
    return EMOJI_TOOL_READ


def status_emoji(activity: Activity, tool: ToolRun | None = None, *, error: bool = False) -> str:
    """The reaction for what Claude is doing now (C2)."""
    if activity is Activity.DONE:
        return EMOJI_ERROR if error else EMOJI_DONE
    if activity is Activity.TOOL and tool is not None:
        return tool_emoji(tool.name)
    return _ACTIVITY_EMOJI.get(activity, EMOJI_REQUESTING)


_ACTIVITY_EMOJI: Final = {
    Activity.IDLE: EMOJI_QUEUED,
    Activity.REQUESTING: EMOJI_REQUESTING,
    Activity.THINKING: EMOJI_THINKING,
    Activity.WRITING: EMOJI_WRITING,
    Activity.TOOL: EMOJI_TOOL_READ,
    Activity.AWAITING_PERMISSION: EMOJI_WAITING,
    Activity.AWAITING_ANSWER: EMOJI_QUESTION,
    Activity.AWAITING_PLAN_APPROVAL: EMOJI_QUESTION,
    Activity.RETRYING: EMOJI_RETRYING,
    Activity.COMPACTING: EMOJI_COMPACTING,
}


def activity_phrase(activity: Activity, tool: ToolRun | None = None) -> str:
    """A few words for the coordinator's registry (K3): ``Bash: pytest -q``, ``thinking``."""
    if activity is Activity.TOOL and tool is not None:
        summary = tool_input_summary(tool.name, tool.input)
        return truncate(f"{tool.name}: {summary}" if summary else tool.name, 100)
    return activity.value.replace("_", " ")


# ---------------------------------------------------------------------------------------
# C3 / C23: text split into messages
# ---------------------------------------------------------------------------------------


def split_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Split ``text`` into messages of at most ``limit`` characters (C23).

    The shared chunker (:mod:`protocol.discord.chunking`) prefers paragraph, then line,
    then word boundaries, closes and reopens code fences with their language, and repeats a
    markdown table's header in the next chunk. Whitespace-only chunks are dropped because
    Discord refuses empty messages; they carry no visible text.
    """
    if len(text) <= limit and "```" not in text and "~~~" not in text:
        # What the chunker gives for text that fits and opens no code fence (nothing to
        # close, nothing to reopen), without its work: a streamed segment is split again
        # at every text delta.
        return [text] if text.strip() else []
    return [c.text for c in chunk_message(text, limit) if c.text.strip()]


# ---------------------------------------------------------------------------------------
# C4: tool embeds
# ---------------------------------------------------------------------------------------

#: The input field that best says what a tool call does, per tool.
_SUMMARY_KEYS: Final = (
    "command",
    "file_path",
    "path",
    "pattern",
    "url",
    "query",
    "description",
    "subject",
    "prompt",
)


def tool_input_summary(name: str, tool_input: Mapping[str, Any]) -> str:
    """One line describing a tool call: the command, path, pattern or URL."""
    for key in _SUMMARY_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str) and value.strip():
            return truncate(" ".join(value.split()), TOOL_INPUT_CHARS)
    if not tool_input:
        return ""
    return truncate(json.dumps(tool_input, ensure_ascii=False), TOOL_INPUT_CHARS)


def format_elapsed(seconds: float) -> str:
    """``7s``, ``2m 05s``, ``1h 02m``."""
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def tool_embed(run: ToolRun, now: float) -> m.Embed:
    """The embed of one tool call: running (yellow, elapsed time ticking) or finished
    (green, or red on error, with the result's first lines)."""
    summary = tool_input_summary(run.name, run.input)
    title = truncate(f"{tool_emoji(run.name)} {run.name}", limits.EMBED_TITLE)
    header = f"`{_escape_code(summary)}`" if summary else ""
    elapsed = format_elapsed(run.elapsed(now))
    if run.running:
        description = "\n".join(p for p in (header, f"⏳ {elapsed} elapsed…") if p)
        return m.Embed(title=title, description=description, color=YELLOW)
    result = (run.result_text or "").strip()
    status = "❌ failed" if run.is_error else "✅ done"
    parts = [header, f"{status} in {elapsed}"]
    if result:
        parts.append(_code_block(truncate(result, TOOL_RESULT_CHARS, "\n… (truncated)")))
    description = truncate("\n".join(p for p in parts if p), limits.EMBED_DESCRIPTION)
    return m.Embed(title=title, description=description, color=RED if run.is_error else GREEN)


def _escape_code(text: str) -> str:
    return text.replace("`", "ˋ")


def _code_block(text: str) -> str:
    # A ``` inside the output would end the block early; a zero-width space breaks it up.
    return "```\n" + text.replace("```", "`\u200b``") + "\n```"


# ---------------------------------------------------------------------------------------
# C5: thinking
# ---------------------------------------------------------------------------------------


def thinking_embed(thinking: str) -> m.Embed:
    """Reasoning as a spoiler (click to reveal), without a code block: spoilers do not
    hide code blocks inside embeds (shared/research/seed-repo.md §1.7)."""
    # "||" inside the text would end the spoiler early and reveal the rest.
    text = thinking.strip().replace("||", "|\u200b|")
    body = truncate(text, limits.EMBED_DESCRIPTION - 4)
    return m.Embed(title="💭 Thinking", description=f"||{body}||", color=PURPLE)


def redacted_thinking_embed() -> m.Embed:
    return m.Embed(title="🔒 Thinking (redacted)", color=PURPLE)


# ---------------------------------------------------------------------------------------
# C18 / C19: the completion embed
# ---------------------------------------------------------------------------------------


def turn_usage(result: ev.Result) -> u.TurnUsage:
    """The turn's totals from its ``result`` event."""
    usage = result.usage or ev.Usage()
    return u.TurnUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        cache_creation_tokens=usage.cache_creation_input_tokens,
        cost_usd=result.total_cost_usd,
        duration_ms=result.duration_ms,
    )


def context_window(result: ev.Result) -> int | None:
    """The largest context window among the models the turn used."""
    windows = [mu.context_window for mu in result.model_usage.values() if mu.context_window]
    return max(windows) if windows else None


MODELS_SHOWN: Final = 3


def model_line(result: ev.Result) -> str | None:
    """C24: ``🤖 claude-sonnet-5`` (the models the turn used, from the result's
    ``modelUsage``, the one that wrote most first; the CLI's own helpers, such as a small
    model naming the session, may appear after it)."""
    used = sorted(result.model_usage.items(), key=lambda item: (-item[1].output_tokens, item[0]))
    names = [quiet_code(name) for name, _ in used[:MODELS_SHOWN]]
    if not names:
        return None
    more = len(used) - MODELS_SHOWN
    return "🤖 " + ", ".join(names) + (f" (+{more})" if more > 0 else "")


def quiet_code(text: str) -> str:
    """``text`` as inline code (backticks removed, so it cannot break out)."""
    return "`" + text.replace("`", "")[:100] + "`"


def completion_embed(
    result: ev.Result, last_call: ev.Usage | None, *, interrupted: bool = False
) -> m.Embed:
    """The embed that closes a turn: outcome, usage line (C18), context line (C19).

    ``last_call`` is the usage of the turn's last API call (the last main-thread
    ``assistant`` message): the result's usage is summed over every call and would
    overstate the context fill.
    """
    error = result.error_text
    if interrupted:
        title, color = "⏹️ Interrupted", GREY
    elif error is not None:
        title, color = "❌ Finished with an error", RED
    else:
        title, color = "✅ Done", GREEN
    lines = [u.usage_line(turn_usage(result))]
    models = model_line(result)
    if models:
        lines.append(models)
    window = context_window(result)
    if last_call is not None and window:
        call = u.TurnUsage(
            input_tokens=last_call.input_tokens,
            cache_read_tokens=last_call.cache_read_input_tokens,
            cache_creation_tokens=last_call.cache_creation_input_tokens,
        )
        lines.append(u.context_line(u.context_fill(call, window)))
    if error is not None and not interrupted:
        lines.append(truncate(error.strip(), 1500))
    if result.permission_denials:
        names = ", ".join(sorted({d.tool_name for d in result.permission_denials}))
        lines.append(f"🚫 Denied: {names}")
    return m.Embed(
        title=title, description=truncate("\n".join(lines), limits.EMBED_DESCRIPTION), color=color
    )


# ---------------------------------------------------------------------------------------
# Notices (one line, Discord's small "-#" subtext)
# ---------------------------------------------------------------------------------------


def compaction_notice(event: ev.CompactBoundary) -> str:
    """C20: ``-# 🗜️ Context compacted (auto): was 151,234 tokens``."""
    meta = event.metadata
    trigger = meta.trigger or "auto"
    if meta.pre_tokens:
        return f"-# 🗜️ Context compacted ({trigger}): was {meta.pre_tokens:,} tokens"
    return f"-# 🗜️ Context compacted ({trigger})"


def stall_notice(silent_seconds: float) -> str:
    """C22: shown after a silence; deleted when Claude speaks again."""
    return (
        f"-# ⚠️ No activity from Claude for {format_elapsed(silent_seconds)}: it may be "
        "thinking at length or compacting its context. This notice goes away when it resumes."
    )


def queue_notice(position: int, running: int, *, held: bool = False) -> str:
    """C8: where this thread waits for a free Claude slot; ``held``: the bridge drains
    for an upgrade (A3), so it waits for the restart."""
    if held:
        return (
            "-# ⏸️ Waiting: the bridge is restarting for an upgrade. This message is kept "
            "and handled when it is back."
        )
    sessions = "session is" if running == 1 else "sessions are"
    return (
        f"-# ⏸️ Queued: position {position}. {running} {sessions} running; "
        "this one starts when a slot frees up."
    )


def interrupt_notice() -> str:
    """C21: a new message interrupted the running turn."""
    return "-# ⚡ Interrupted: continuing with your new message."


def stopped_notice(dropped: int = 0) -> str:
    """C9: /stop ended the turn; the session stays resumable."""
    text = "⏹️ Stopped. The session is kept: send a message to continue where it left off."
    if dropped:
        plural = "message was" if dropped == 1 else "messages were"
        text += f" {dropped} queued {plural} not sent to Claude; send again if still wanted."
    return text


def nothing_to_stop_notice() -> str:
    return "-# Nothing is running in this thread."


def timeout_embed(limit_seconds: float, elapsed_seconds: float) -> m.Embed:
    """C11: the turn ran past the session timeout and was stopped."""
    return m.Embed(
        title="⏱️ Session timed out",
        description=(
            f"This turn ran for {format_elapsed(elapsed_seconds)}, past the limit of "
            f"{format_elapsed(limit_seconds)}, and was stopped. The session is kept: send a "
            "message to continue, or start over in a new thread."
        ),
        color=RED,
    )


def crashed_notice(returncode: int, stderr_tail: str) -> MessagePayload:
    """Claude exited without finishing the turn."""
    detail = stderr_tail.strip().splitlines()[-5:]
    description = f"`claude` exited with status {returncode} before finishing the turn."
    if detail:
        description += "\n" + _code_block(truncate("\n".join(detail), 1500))
    description += "\nThe session is kept: send a message to try again."
    return MessagePayload(
        embeds=(
            m.Embed(title="💥 Claude stopped unexpectedly", description=description, color=RED),
        )
    )


def resumed_notice(reason: str) -> str:
    """A4: the bridge restarted and this session continues."""
    why = "was shut down" if reason == "shutdown" else "stopped unexpectedly"
    return f"-# 🔄 The bridge {why} while this session was working; continuing now."


def shutting_down_notice() -> str:
    return (
        "-# 🔄 The bridge is restarting; your message is saved and will be handled when it is back."
    )


def start_failed_notice(error: str) -> MessagePayload:
    return MessagePayload(
        embeds=(
            m.Embed(
                title="💥 Could not start Claude",
                description=truncate(error, limits.EMBED_DESCRIPTION),
                color=RED,
            ),
        )
    )


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


def check_payload(payload: MessagePayload) -> None:
    """Raise :class:`~protocol.discord.limits.LimitExceeded` if Discord would refuse it."""
    limits.check_content(payload.content)
    limits.check_embeds(list(payload.embeds))
    limits.check_components(list(payload.components))


def plain(content: str) -> MessagePayload:
    return MessagePayload(content=content)


def embeds_only(*embeds: m.Embed) -> MessagePayload:
    return MessagePayload(embeds=tuple(embeds))


def all_texts(payloads: Sequence[MessagePayload]) -> str:
    """Every content and embed text of ``payloads`` (for tests and logs)."""
    parts: list[str] = []
    for p in payloads:
        if p.content:
            parts.append(p.content)
        for e in p.embeds:
            parts += [x for x in (e.title, e.description) if isinstance(x, str)]
    return "\n".join(parts)


def quiet(text: str) -> str:
    """``text`` that shows no mention: a zero-width space after every ``@`` breaks
    ``@everyone``, ``@here`` and ``<@id>`` / ``<@&id>`` (the REST client's
    ``allowed_mentions`` already stops the ping; this keeps the text from looking like one)."""
    return text.replace("@", "@\u200b")
