"""Claude session files on disk: find, list and read them (the IO around
:mod:`protocol.claude.sessions`).

File reads run in a worker thread (``trio.to_thread``), so a large session file never
blocks the event loop. A session file may be appended to while we read it; a torn last
line is skipped by the parser.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import trio

from protocol.claude.argv import validate_session_id
from protocol.claude.sessions import (
    MAX_MANGLED_LENGTH,
    SessionMessage,
    SessionSummary,
    TranscriptEntry,
    mangle_cwd,
    session_messages,
    session_transcript,
    summarize_session,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the CLI keeps its state: ``$CLAUDE_CONFIG_DIR``, else ``$HOME/.claude``."""
    environ = os.environ if environ is None else environ
    configured = environ.get("CLAUDE_CONFIG_DIR")
    if configured:
        return Path(configured)
    return Path(environ.get("HOME") or Path.home()) / ".claude"


def _project_dir(config: Path, cwd: Path) -> Path | None:
    projects = config / "projects"
    mangled = mangle_cwd(os.path.realpath(cwd))
    exact = projects / mangled
    if exact.is_dir():
        return exact
    if len(mangled) > MAX_MANGLED_LENGTH and projects.is_dir():
        # Long names end in a hash we compute as the SDK does; if the CLI's differs, the
        # 200-character prefix still identifies the directory.
        prefix = mangled[:MAX_MANGLED_LENGTH]
        for candidate in sorted(projects.iterdir()):
            if candidate.name.startswith(prefix):
                return candidate
    return None


def _find(config: Path, cwd: Path, session_id: str) -> Path | None:
    project = _project_dir(config, cwd)
    if project is None:
        return None
    path = project / f"{session_id}.jsonl"
    return path if path.is_file() else None


async def find_session_file(config: Path, cwd: Path, session_id: str) -> Path | None:
    """The JSONL file of ``session_id`` started in ``cwd``, or ``None``.

    Raises:
        ControlError: ``session_id`` is not a session id (it would be used in a path).
    """
    validate_session_id(session_id)
    return await trio.to_thread.run_sync(_find, config, cwd, session_id)


async def read_session_messages(path: Path) -> list[SessionMessage]:
    """The user/assistant conversation of a session file, oldest first."""
    text = await trio.to_thread.run_sync(path.read_text, "utf-8", "replace")
    return session_messages(text.splitlines())


async def read_session_transcript(path: Path) -> list[TranscriptEntry]:
    """The conversation of a session file with its tool calls, oldest first (S1)."""
    text = await trio.to_thread.run_sync(path.read_text, "utf-8", "replace")
    return session_transcript(text.splitlines())


def _list(config: Path, cwd: Path) -> list[SessionSummary]:
    project = _project_dir(config, cwd)
    if project is None:
        return []
    summaries = []
    for path in project.glob("*.jsonl"):
        with path.open(encoding="utf-8", errors="replace") as lines:
            summaries.append(summarize_session(path.stem, lines))
    summaries.sort(key=lambda s: s.last_activity or _EPOCH, reverse=True)
    return summaries


async def list_sessions(config: Path, cwd: Path) -> list[SessionSummary]:
    """The sessions started in ``cwd``, most recently active first."""
    return await trio.to_thread.run_sync(_list, config, cwd)
