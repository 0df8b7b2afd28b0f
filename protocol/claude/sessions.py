"""Claude session files: where they live, what they say (pure; the caller reads the files).

The CLI stores each session as JSONL at
``${CLAUDE_CONFIG_DIR:-$HOME/.claude}/projects/<mangled cwd>/<session_id>.jsonl``. The
mangled cwd is ``realpath(cwd)`` with every character outside ``[A-Za-z0-9]`` replaced by
``-``; names over 200 characters are cut and get a hash suffix (claude-agent-sdk's
``_sanitize_path``; not observed, so :mod:`bridge.claude.sessions` also matches by prefix).

Each line is one record: ``user`` / ``assistant`` messages (one line per content block,
chained by ``parentUuid``), and metadata lines (``custom-title``, ``ai-title``,
``last-prompt``, ``summary``, ``queue-operation``...). To read the conversation we do what
the SDK's ``get_session_messages`` does (``shared/research/claude-cli.md`` §d): take the
newest main-chain leaf, walk ``parentUuid`` back to the root, drop meta and sidechain
lines, group assistant lines by ``message.id``, and strip CLI-injected text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import PurePath
from typing import Any, Final

import attrs

#: Mangled directory names longer than this are cut and get a hash suffix (SDK source).
MAX_MANGLED_LENGTH: Final = 200

_NOT_ALNUM: Final = re.compile(r"[^A-Za-z0-9]")

#: Text the CLI injects into user messages; not something a human typed.
_INJECTED_PREFIXES: Final = (
    "<system-reminder>",
    "<local-command-",
    "<command-name>",
    "<command-message>",
    "[Request interrupted",
    "Caveat:",
)


def _js_string_hash(text: str) -> str:
    """The 32-bit ``hash = hash*31 + code`` string hash, in base 36 (as the SDK does)."""
    value = 0
    for char in text:
        value = (value * 31 + ord(char)) & 0xFFFFFFFF
    if value >= 0x80000000:
        value -= 0x100000000
    value = abs(value)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
        if value == 0:
            return out


def mangle_cwd(resolved_cwd: str) -> str:
    """The project directory name for a cwd (already resolved with ``realpath``)."""
    mangled = _NOT_ALNUM.sub("-", resolved_cwd)
    if len(mangled) <= MAX_MANGLED_LENGTH:
        return mangled
    return f"{mangled[:MAX_MANGLED_LENGTH]}-{_js_string_hash(resolved_cwd)}"


def project_dir(config_dir: PurePath, resolved_cwd: str) -> PurePath:
    """``<config_dir>/projects/<mangled cwd>``."""
    return config_dir / "projects" / mangle_cwd(resolved_cwd)


def session_path(config_dir: PurePath, resolved_cwd: str, session_id: str) -> PurePath:
    """Where the CLI writes session ``session_id`` started in ``resolved_cwd``."""
    return project_dir(config_dir, resolved_cwd) / f"{session_id}.jsonl"


# ---------------------------------------------------------------------------------------
# Reading a session file
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SessionMessage:
    """One user or assistant message of a session, as a human would read it."""

    role: str
    """``user`` or ``assistant``."""
    text: str
    uuid: str
    timestamp: datetime | None = None


@attrs.frozen(kw_only=True)
class SessionSummary:
    """What a session list shows for one session."""

    session_id: str
    cwd: str | None
    started_at: datetime | None
    last_activity: datetime | None
    title: str
    """``customTitle``, else ``aiTitle``, else the last prompt, else the first prompt."""
    git_branch: str | None = None
    message_count: int = 0


def _records(lines: Iterable[str | bytes]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue  # a torn last line while the CLI writes; skip it
        if isinstance(record, dict):
            out.append(record)
    return out


def _timestamp(record: dict[str, Any]) -> datetime | None:
    value = record.get("timestamp")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _human_text(content: Any) -> str:
    """The visible text of a message's content, without CLI-injected blocks."""
    if isinstance(content, str):
        parts = [content]
    elif isinstance(content, list):
        parts = [
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        ]
    else:
        parts = []
    kept = [p for p in parts if p.strip() and not p.lstrip().startswith(_INJECTED_PREFIXES)]
    return "\n".join(kept).strip()


def _is_chain_message(record: dict[str, Any]) -> bool:
    return record.get("type") in ("user", "assistant") and isinstance(record.get("uuid"), str)


def _is_visible(record: dict[str, Any]) -> bool:
    return not (record.get("isMeta") or record.get("isSidechain") or record.get("teamName"))


def _main_chain(lines: Iterable[str | bytes]) -> list[dict[str, Any]]:
    """The records of the main conversation, root first."""
    # Every record with a uuid is a link of the parentUuid chain: 2.1.x threads its
    # ``attachment`` lines into it too, so they must be walked through, not dropped.
    linked = [r for r in _records(lines) if isinstance(r.get("uuid"), str)]
    by_uuid = {r["uuid"]: r for r in linked}
    leaves = [r for r in linked if not r.get("isSidechain") and not r.get("isMeta")]
    if not leaves:
        return []
    # The newest leaf is the last main-chain line written; walk back to the root.
    path: list[dict[str, Any]] = []
    seen: set[str] = set()
    node: dict[str, Any] | None = leaves[-1]
    while node is not None and node["uuid"] not in seen:
        seen.add(node["uuid"])
        path.append(node)
        parent = node.get("parentUuid")
        node = by_uuid.get(parent) if isinstance(parent, str) else None
    path.reverse()
    return path


def session_messages(lines: Iterable[str | bytes]) -> list[SessionMessage]:
    """The main conversation of a session file, oldest first.

    Args:
        lines: The file's lines (a torn or malformed line is skipped).
    """
    path = _main_chain(lines)
    messages: list[SessionMessage] = []
    # The API message id of messages[-1] when it is an assistant message: the CLI writes
    # one line per content block, and the lines of one reply become one message.
    open_reply: str | None = None
    for record in path:
        if not _is_chain_message(record) or not _is_visible(record):
            continue
        message = message if isinstance(message := record.get("message"), dict) else {}
        text = _human_text(message.get("content"))
        role = str(record["type"])
        message_id = message.get("id") if role == "assistant" else None
        if not text:
            continue
        if message_id is not None and message_id == open_reply:
            previous = messages[-1]
            messages[-1] = attrs.evolve(previous, text=f"{previous.text}\n\n{text}")
            continue
        messages.append(
            SessionMessage(role=role, text=text, uuid=record["uuid"], timestamp=_timestamp(record))
        )
        open_reply = message_id
    return messages


def summarize_session(session_id: str, lines: Iterable[str | bytes]) -> SessionSummary:
    """A :class:`SessionSummary` from a session file's lines."""
    records = _records(lines)
    custom_title = ai_title = last_prompt = first_prompt = None
    cwd = branch = None
    stamps: list[datetime] = []
    count = 0
    for record in records:
        kind = record.get("type")
        if kind == "custom-title" and isinstance(record.get("customTitle"), str):
            custom_title = record["customTitle"]
        elif kind == "ai-title" and isinstance(record.get("aiTitle"), str):
            ai_title = record["aiTitle"]
        elif kind == "last-prompt" and isinstance(record.get("lastPrompt"), str):
            last_prompt = record["lastPrompt"]
        if (stamp := _timestamp(record)) is not None:
            stamps.append(stamp)
        if isinstance(record.get("cwd"), str):
            cwd = cwd or record["cwd"]
        if isinstance(record.get("gitBranch"), str):
            branch = record["gitBranch"]
        if _is_chain_message(record) and _is_visible(record):
            count += 1
            if first_prompt is None and kind == "user":
                message = message if isinstance(message := record.get("message"), dict) else {}
                first_prompt = _human_text(message.get("content")) or None
    title = custom_title or ai_title or last_prompt or first_prompt or "(untitled session)"
    return SessionSummary(
        session_id=session_id,
        cwd=cwd,
        started_at=min(stamps) if stamps else None,
        last_activity=max(stamps) if stamps else None,
        title=title.strip().splitlines()[0][:200] if title.strip() else "(untitled session)",
        git_branch=branch,
        message_count=count,
    )


# ---------------------------------------------------------------------------------------
# A session as a transcript to show again (S1)
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ToolCall:
    """A tool the assistant called: its name and input (its result is not kept)."""

    name: str
    input: dict[str, Any]


@attrs.frozen(kw_only=True)
class TranscriptEntry:
    """One user or assistant message of the main conversation, with the tools an
    assistant message called, in order."""

    role: str
    """``user`` or ``assistant``."""
    text: str
    tools: tuple[ToolCall, ...] = ()
    timestamp: datetime | None = None


def _tool_calls(content: Any) -> list[ToolCall]:
    if not isinstance(content, list):
        return []
    calls = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_use":
            name = block.get("name")
            raw = block.get("input")
            calls.append(
                ToolCall(
                    name=name if isinstance(name, str) and name else "tool",
                    input=raw if isinstance(raw, dict) else {},
                )
            )
    return calls


def session_transcript(lines: Iterable[str | bytes]) -> list[TranscriptEntry]:
    """The main conversation of a session file as a person would read it again, oldest
    first: what was typed, what Claude wrote, and which tools it called.

    Like :func:`session_messages` (the same chain, the same injected text left out), but
    an assistant reply keeps its ``tool_use`` blocks, and a reply made only of tool calls
    is kept. Tool results (user records holding ``tool_result`` blocks) carry no typed
    text and are left out.
    """
    entries: list[TranscriptEntry] = []
    open_reply: str | None = None
    for record in _main_chain(lines):
        if not _is_chain_message(record) or not _is_visible(record):
            continue
        message = message if isinstance(message := record.get("message"), dict) else {}
        role = str(record["type"])
        text = _human_text(message.get("content"))
        tools = tuple(_tool_calls(message.get("content"))) if role == "assistant" else ()
        if not text and not tools:
            continue
        message_id = message.get("id") if role == "assistant" else None
        if message_id is not None and message_id == open_reply:
            previous = entries[-1]
            joined = (
                f"{previous.text}\n\n{text}" if previous.text and text else previous.text or text
            )
            entries[-1] = attrs.evolve(previous, text=joined, tools=previous.tools + tools)
            continue
        entries.append(
            TranscriptEntry(role=role, text=text, tools=tools, timestamp=_timestamp(record))
        )
        open_reply = message_id
    return entries
