"""What a resumed turn learns about the other sessions and the lounge (K3, K4).

Why this exists: the appended system prompt (``system_prompt.py``) is built fresh for every
turn, but the real CLI (2.1.330) snapshots the system prompt of a conversation's first
turn in its session file and sends that snapshot again on every ``--resume``, whatever
``--append-system-prompt`` (or ``initialize``'s ``appendSystemPrompt``) says; checked
against the scripted model server. So from the second turn on, Claude would see the other
sessions and the lounge as they were when the conversation began.

The fix keeps the system prompt for what never changes (K1, and the first turn's picture)
and sends what *changed since this conversation last saw it* as a short, clearly labelled
block at the start of the turn's user message. Only changes are sent (the list of other
sessions when it differs, lounge lines newer than the last one shown), so the history
grows by what is new, not by a full copy every turn (the original's "prompt is too long"
came from re-injecting everything each time). Pure: the session keeps the
:class:`ContextSeen` and passes ``now``-free inputs in.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import attrs

from bridge.sessions.system_prompt import LOUNGE_LINES_SHOWN, ActiveSession, LoungeEntry

__all__ = ["ContextSeen", "context_update", "seen_at_start"]


@attrs.frozen(kw_only=True)
class ContextSeen:
    """What the conversation has been shown so far."""

    sessions: tuple[tuple[int, str, str, str], ...]
    """The other sessions as (thread, title, status, activity)."""
    lounge_until: float
    """``created_at`` of the newest lounge line shown (lines up to it are known)."""


def _sessions_key(
    thread_id: int, others: Sequence[ActiveSession]
) -> tuple[tuple[int, str, str, str], ...]:
    return tuple(
        sorted(
            (s.thread_id, s.title, s.status, s.activity) for s in others if s.thread_id != thread_id
        )
    )


def seen_at_start(
    thread_id: int, others: Sequence[ActiveSession], lounge: Sequence[LoungeEntry]
) -> ContextSeen:
    """What a new conversation saw in its first turn's appended system prompt."""
    shown = list(lounge)[-LOUNGE_LINES_SHOWN:]
    return ContextSeen(
        sessions=_sessions_key(thread_id, others),
        lounge_until=max((e.created_at for e in shown), default=0.0),
    )


def context_update(
    *,
    thread_id: int,
    others: Sequence[ActiveSession],
    lounge: Sequence[LoungeEntry],
    seen: ContextSeen | None,
) -> tuple[str | None, ContextSeen]:
    """The block to put before the user's text on a resumed turn, and the new ``seen``.

    Args:
        seen: What the conversation was shown before; ``None`` when unknown (the bridge
            restarted): then everything current is sent once.

    Returns:
        ``(None, seen)`` when nothing changed.
    """
    sessions = _sessions_key(thread_id, others)
    since = seen.lounge_until if seen is not None else float("-inf")
    fresh = [e for e in list(lounge)[-LOUNGE_LINES_SHOWN:] if e.created_at > since]
    # This thread's own lines (its start and end notes) tell Claude nothing new.
    new_lines = [e for e in fresh if e.thread_id != thread_id]
    parts: list[str] = []
    if seen is None or sessions != seen.sessions:
        parts.append(_sessions_text(sessions))
    if new_lines:
        parts.append(_lounge_text(new_lines))
    known = seen.lounge_until if seen is not None else 0.0
    updated = ContextSeen(
        sessions=sessions,
        lounge_until=max((e.created_at for e in fresh), default=known),
    )
    if not parts:
        return None, updated
    body = "\n\n".join(parts)
    block = (
        "<bridge-update>\n"
        "(From ccbridge, not from the user: what changed since you last heard about the "
        "other sessions and the AI Lounge. It replaces what your system prompt says about "
        "them.)\n"
        f"{body}\n"
        "</bridge-update>"
    )
    return block, updated


def _sessions_text(sessions: tuple[tuple[int, str, str, str], ...]) -> str:
    if not sessions:
        return "ACTIVE SESSIONS RIGHT NOW: none besides you."
    lines = ["ACTIVE SESSIONS RIGHT NOW (other than you):"]
    for thread, title, status, activity in sessions:
        doing = f", doing: {activity}" if activity else ""
        lines.append(f'- thread {thread} "{title}" ({status}{doing})')
    return "\n".join(lines)


def _lounge_text(lines: Sequence[LoungeEntry]) -> str:
    out = ["NEW AI LOUNGE LINES:"]
    for entry in lines:
        stamp = time.strftime("%H:%M", time.gmtime(entry.created_at))
        out.append(f"[{stamp} UTC] {entry.author}: {entry.text}")
    return "\n".join(out)
