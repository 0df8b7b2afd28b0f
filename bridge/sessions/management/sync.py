"""``/sync-sessions`` (S1): the Claude CLI's sessions of the working directory become
threads that continue them.

:func:`choose_imports` decides (pure): sessions active within the window, not already
bridged, the newest ``count`` of them, imported oldest first so the newest ends up lowest
in the channel. :func:`sync_sessions` does it, one session at a time, each like a session
started from a message (``bridge.sessions.router``): a starter message in the main
channel, then, in one store call, the session record (``origin="cli"``, the CLI's
session id, so the thread's first turn runs ``claude --resume <id>``) and the import
claim, then the thread (which takes the starter's id), then the backfill of recent
messages. The claim is what makes a second sync import nothing: it is keyed by the CLI
session id and never forgotten once the thread exists. A thread that cannot be started
ends its record and forgets its claim, so a later sync tries again.

Sessions the bridge made itself live in the same project directory; their ids are in the
session records and they are never offered.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol

import attrs

from bridge.claude.sessions import find_session_file, list_sessions, read_session_transcript
from bridge.discord.errors import DiscordError
from bridge.sessions.management.backfill import backfill_messages
from bridge.sessions.presentation.render import quiet
from bridge.sessions.presentation.usage import thread_name
from bridge.store import Database, SessionRecord, SessionStatus
from protocol.claude.argv import validate_session_id
from protocol.claude.control import ControlError
from protocol.claude.sessions import SessionSummary
from protocol.discord import models as m

__all__ = [
    "COUNT_DEFAULT",
    "COUNT_MAX",
    "SyncReport",
    "SyncRest",
    "choose_imports",
    "sync_sessions",
]

log = logging.getLogger(__name__)

COUNT_DEFAULT: Final = 10
"""Sessions one ``/sync-sessions`` imports when no count is given."""
COUNT_MAX: Final = 25
"""The most one run imports: each import posts a starter, a thread and a backfill, and a
larger batch would hold the command for minutes under Discord's rate limits."""

Store = Callable[[Callable[[Database], Any]], Awaitable[Any]]


class SyncRest(Protocol):
    async def create_message(self, channel_id: int, *, content: str | None = ...) -> m.Message: ...

    async def start_thread_from_message(
        self, channel_id: int, message_id: int, *, name: str
    ) -> m.Channel: ...

    async def delete_message(self, channel_id: int, message_id: int) -> None: ...


@attrs.frozen(kw_only=True)
class SyncReport:
    imported: tuple[tuple[int, str], ...] = ()
    """``(thread_id, title)`` of each session imported now, in order."""
    already: int = 0
    """Sessions in the window that were imported (or made by the bridge) before."""
    failed: tuple[str, ...] = ()
    """Why some could not be imported (they will be tried again next time)."""


def choose_imports(
    summaries: Sequence[SessionSummary],
    taken: set[str],
    now: datetime,
    *,
    hours: float | None,
    count: int,
) -> tuple[list[SessionSummary], int]:
    """Which sessions to import, oldest first, and how many in the window were taken.

    A session is in the window when its last activity is within ``hours`` of ``now``
    (any age when ``hours`` is ``None``; a session with no timestamp only then).
    """
    since = now - timedelta(hours=hours) if hours is not None else None

    def in_window(summary: SessionSummary) -> bool:
        if since is None:
            return True
        return summary.last_activity is not None and summary.last_activity >= since

    window = [s for s in summaries if in_window(s)]
    fresh = [s for s in window if s.session_id not in taken]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    fresh.sort(key=lambda s: s.last_activity or epoch, reverse=True)
    chosen = fresh[: max(0, count)]
    chosen.reverse()
    return chosen, len(window) - len(fresh)


def starter_text(summary: SessionSummary) -> str:
    return (
        f"📥 **{quiet(thread_name(summary.title))}**\n"
        f"-# A Claude Code session from the terminal (`{summary.session_id}`), "
        "continued in this thread."
    )


async def sync_sessions(
    rest: SyncRest,
    store: Store,
    *,
    channel_id: int,
    guild_id: int | None,
    working_dir: str,
    claude_config_dir: Path,
    now: float,
    hours: float | None,
    count: int,
    started: Callable[[int], Awaitable[None]],
) -> SyncReport:
    """Import the chosen sessions (see the module's docstring).

    ``started(thread_id)`` is awaited for each thread made (the router catches it up at
    later READYs). Discord refusing one import is reported and the others go on.
    """
    # A file not named by a session id (a backup, a stray copy) is nothing to resume.
    summaries = [
        s
        for s in await list_sessions(claude_config_dir, Path(working_dir))
        if _is_session_id(s.session_id)
    ]
    taken: set[str] = await store(lambda db: set(db.cli_imported()) | db.bridged_session_ids())
    chosen, already = choose_imports(
        summaries, taken, datetime.fromtimestamp(now, UTC), hours=hours, count=count
    )
    imported: list[tuple[int, str]] = []
    failed: list[str] = []
    for summary in chosen:
        try:
            thread_id = await _import_one(
                rest, store, summary, channel_id, guild_id, working_dir, now
            )
        except DiscordError as exc:
            log.warning("sync: could not import CLI session %s: %s", summary.session_id, exc)
            failed.append(f"`{summary.session_id}`: {exc}")
            continue
        if thread_id is None:
            already += 1
            continue
        await started(thread_id)
        await _backfill(rest, claude_config_dir, working_dir, summary.session_id, thread_id)
        imported.append((thread_id, thread_name(summary.title)))
    return SyncReport(imported=tuple(imported), already=already, failed=tuple(failed))


async def _import_one(
    rest: SyncRest,
    store: Store,
    summary: SessionSummary,
    channel_id: int,
    guild_id: int | None,
    working_dir: str,
    now: float,
) -> int | None:
    """The new thread's id, or ``None`` if another sync imported it meanwhile."""
    title = thread_name(summary.title)
    starter = await rest.create_message(channel_id, content=starter_text(summary))
    thread_id = starter.id
    record = SessionRecord(
        thread_id=thread_id,
        channel_id=channel_id,
        guild_id=guild_id if guild_id is not None else _guild(starter),
        working_dir=working_dir,
        origin="cli",
        status=SessionStatus.IDLE,
        session_id=summary.session_id,
        title=title,
        created_at=now,
        updated_at=now,
    )
    sid = summary.session_id

    def claim(db: Database) -> bool:
        if not db.cli_import_claim(sid, thread_id, now):
            return False
        db.put_session(record)
        # The starter is ours and handled: catch-up after a restart starts at it.
        db.cursor_advance(channel_id, thread_id, now)
        return True

    if not await store(claim):
        await rest.delete_message(channel_id, thread_id)
        return None
    try:
        await rest.start_thread_from_message(channel_id, thread_id, name=title)
    except DiscordError:

        def abandon(db: Database) -> None:
            # Ended and without the CLI's id, so the next sync offers the session again.
            db.update_session(thread_id, now, status=SessionStatus.ENDED, session_id=None)
            db.cli_import_forget(sid)

        await store(abandon)
        with contextlib.suppress(DiscordError):
            await rest.delete_message(channel_id, thread_id)
        raise
    return thread_id


def _is_session_id(text: str) -> bool:
    try:
        validate_session_id(text)
    except ControlError:
        return False
    return True


def _guild(message: m.Message) -> int | None:
    return message.guild_id if isinstance(message.guild_id, int) else None


async def _backfill(
    rest: SyncRest, config_dir: Path, working_dir: str, session_id: str, thread_id: int
) -> None:
    """Post the session's recent messages in its thread; a failure is logged (the
    thread works without them)."""
    path = await find_session_file(config_dir, Path(working_dir), session_id)
    if path is None:
        return
    for message in backfill_messages(await read_session_transcript(path)):
        try:
            await rest.create_message(thread_id, content=message)
        except DiscordError as exc:
            log.warning("sync: backfill of thread %s stopped: %s", thread_id, exc)
            return
