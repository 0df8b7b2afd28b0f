"""The text appended to Claude's system prompt on every turn (K1, K3, K4).

It is passed with ``--append-system-prompt`` and rebuilt fresh for each turn, so it is never
stored in the session's history and cannot accumulate (the original's "prompt is too
long" failure came from injecting such text into messages). Pure functions: the session
actor passes in the registry snapshot and the lounge lines it got from the coordinator.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from bridge.mcp.config import SERVER_NAME

LOUNGE_LINES_SHOWN = 10
"""How many recent lounge lines each turn sees (the original showed 10)."""


@attrs.frozen(kw_only=True)
class ActiveSession:
    """One running session as the coordinator's registry describes it (K3)."""

    thread_id: int
    title: str
    working_dir: str
    status: str
    """``running``, ``queued`` or ``waiting`` (for a human)."""
    activity: str = ""
    """What Claude is doing now, e.g. ``Bash: pytest -q`` or ``writing``."""


@attrs.frozen(kw_only=True)
class LoungeEntry:
    author: str
    text: str
    created_at: float
    thread_id: int | None = None


def worktree_path(base_dir: Path, thread_id: int) -> Path:
    """Where the session of ``thread_id`` keeps its worktree (K1)."""
    return base_dir / f"wt-{thread_id}"


def build_appended_prompt(
    *,
    thread_id: int,
    working_dir: str,
    worktree_base_dir: Path | None,
    others: Sequence[ActiveSession],
    lounge: Sequence[LoungeEntry],
    api_url: str | None,
) -> str:
    """The whole appended system prompt for one turn of the session in ``thread_id``."""
    parts = [
        _worktree_notice(thread_id, working_dir, worktree_base_dir),
        _active_sessions(thread_id, others),
        _lounge(thread_id, lounge, api_url),
    ]
    if api_url:
        parts.append(_tools())
    return "\n\n".join(parts)


def _worktree_notice(thread_id: int, working_dir: str, base_dir: Path | None) -> str:
    worktree = worktree_path(base_dir, thread_id) if base_dir else Path(f"../wt-{thread_id}")
    return (
        "[CONCURRENCY NOTICE: MANDATORY]\n"
        f"You are one of several Claude Code sessions running in parallel; this is the session "
        f"of Discord thread {thread_id}, started in {working_dir}.\n"
        "1. Never change files in the main working directory. Before changing anything, create "
        f"your own git worktree and work only there: `git worktree add {worktree} "
        f"-b session/{thread_id}`. If the worktree already exists from an earlier turn, use "
        f"it; if only the branch exists, `git worktree add {worktree} session/{thread_id}`. "
        "Commit your work there before you finish.\n"
        "2. Check `git status` before overwriting files; other sessions may be editing nearby.\n"
        "3. Ports, lock files, shared databases and rate-limited APIs may be in use by other "
        "sessions.\n"
        "4. Your shell's working directory does not persist between messages: use absolute paths.\n"
        "5. If another session below works on the same repository and the same files, use a "
        "separate worktree or stop and say so."
    )


def _active_sessions(thread_id: int, others: Sequence[ActiveSession]) -> str:
    peers = [s for s in others if s.thread_id != thread_id]
    if not peers:
        return "ACTIVE SESSIONS RIGHT NOW: none besides you."
    lines = ["ACTIVE SESSIONS RIGHT NOW (other than you):"]
    for s in peers:
        doing = f", doing: {s.activity}" if s.activity else ""
        lines.append(f'- thread {s.thread_id} "{s.title}" in {s.working_dir} ({s.status}{doing})')
    return "\n".join(lines)


def _tools() -> str:
    prefix = f"mcp__{SERVER_NAME}__"
    return (
        "BRIDGE TOOLS (MCP server `ccbridge`, acting as this thread; no permission needed):\n"
        f"- {prefix}notify: post a message in your Discord thread now.\n"
        f"- {prefix}schedule_notification: post one later (delay_seconds or at); "
        f"{prefix}list_scheduled and {prefix}cancel_scheduled manage them.\n"
        f"- {prefix}spawn_session: start a child session in a new thread with a prompt "
        "(limited depth and rate; use it for independent side work, not to split a small task).\n"
        f"- {prefix}lounge_post / {prefix}lounge_read: the AI lounge."
    )


def _lounge(thread_id: int, lounge: Sequence[LoungeEntry], api_url: str | None) -> str:
    # The tools are ccbridge's MCP server (bridge/mcp), which every session is given; it
    # reaches the API through the session's own CCDB_API_URL, so without one it has no use.
    how = (
        "Post a one-line intent before you start and a closing note when done with the "
        f"`mcp__{SERVER_NAME}__lounge_post` tool (`mcp__{SERVER_NAME}__lounge_read` shows "
        "more lines). "
        if api_url
        else ""
    )
    lines = [
        "AI LOUNGE (shared notes between sessions; read before destructive operations such "
        "as restarts, force pushes or database changes). " + how
    ]
    recent = list(lounge)[-LOUNGE_LINES_SHOWN:]
    if not recent:
        lines.append("No lounge messages yet: be the first to say what you are doing.")
    for entry in recent:
        mine = " [this thread]" if entry.thread_id == thread_id else ""
        stamp = time.strftime("%H:%M", time.gmtime(entry.created_at))
        lines.append(f"[{stamp} UTC] {entry.author}{mine}: {entry.text}")
    return "\n".join(lines)
