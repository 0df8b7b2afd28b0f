"""The coordinator actor: the registry of running sessions (K3), the AI Lounge (K4) and
coordination-channel broadcasts (K5).

It owns two pieces of state, both answered from memory so a turn never waits on SQLite or
Discord to learn its context:

* the **registry**: one :class:`ActiveSession` per running thread, kept current by
  ``SessionStarted`` / ``SessionActivity`` / ``SessionFinished``;
* the **recent lounge lines**: the last :data:`LOUNGE_LINES_SHOWN`, loaded from the store
  at start, appended to on every ``PostLounge`` and session start/end.

Start and end lines come once per *session*, not once per turn (:mod:`bridge.sessions.spans`):
a turn of a thread with no open span posts the start line; the end line comes once the
thread has had no turn for ``CoordinatorConfig.session_end_quiet`` seconds (a timer of this
actor), or when the coordinator stops. Every session report is also passed on, as it is,
to ``CoordinatorConfig.forward`` (the dashboard, C17).

It also removes a finished session's worktree when it is clean (K2, at session end; the
app does the same for all of them at start).

Everything that leaves the actor (persisting a lounge line, posting it to the lounge
channel, broadcasting a start/end to the coordination channel) is done in order by one
helper task, the *outbox*, so the actor itself never blocks on a peer; a stop lets the
outbox finish what is queued (within the actor's shutdown time). A Discord or store
failure there is logged with the line it concerned and the outbox carries on: the lounge
is advisory, and one lost post must not stop the next ones.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import trio

import actors
from bridge.sessions.messages import (
    GetRegistry,
    GetTurnContext,
    PostLounge,
    SessionActivity,
    SessionFinished,
    SessionStarted,
    TurnContext,
)
from bridge.sessions.presentation.system_prompt import (
    LOUNGE_LINES_SHOWN,
    ActiveSession,
    LoungeEntry,
    worktree_path,
)
from bridge.sessions.spans import SessionSpans, Span
from bridge.sessions.worktrees import CleanupOutcome, remove_if_clean
from bridge.store import Database
from bridge.store.actor import StoreMessage, store_call

__all__ = [
    "LOUNGE_AUTHOR_MAX",
    "LOUNGE_KEEP",
    "LOUNGE_TEXT_MAX",
    "ChannelPoster",
    "CoordinatorConfig",
    "coordinator_actor",
]

log = logging.getLogger(__name__)

ChannelPoster = Callable[[int, str], Awaitable[object]]
"""Posts ``text`` to the channel ``channel_id`` (the app wraps the REST client)."""

LOUNGE_AUTHOR_MAX = 50
LOUNGE_TEXT_MAX = 1000
"""Lounge label and message caps (the original's: keeps lines readable in a prompt)."""
LOUNGE_KEEP = 200
"""Lounge rows kept in the store (the original pruned to the newest 200)."""
STORE_TIMEOUT = 30.0
"""Seconds the outbox waits for the store; generous, since it runs behind the actor."""


@attrs.frozen(kw_only=True)
class CoordinatorConfig:
    lounge_channel_id: int | None = None
    """Lounge lines are posted here (K4) when set."""
    coordination_channel_id: int | None = None
    """Session starts and ends are broadcast here (K5) when set."""
    clock: Callable[[], float] = time.time
    """Wall-clock seconds for lounge timestamps (tests pass a fixed clock)."""
    worktree_base_dir: Path | None = None
    """K2: when a session finishes, its worktree ``wt-<thread id>`` here is removed if
    clean (never if it holds changes); ``None`` turns this off."""
    session_end_quiet: float = 0.0
    """Seconds a thread must be without a turn before its session's end line is posted
    (a turn within that time continues the session: no new start line)."""
    forward: Callable[[SessionStarted | SessionActivity | SessionFinished], object] | None = None
    """Called with every session report (the dashboard's ``offer``, C17)."""


@attrs.frozen
class _QuietOver:
    """The quiet timer of a finished turn fired (see :mod:`bridge.sessions.spans`)."""

    thread_id: int
    token: int


@attrs.frozen
class _Outgoing:
    lounge: LoungeEntry | None
    posts: tuple[tuple[int, str], ...]
    cleanup: int | None = None
    """A finished session's thread whose worktree to remove if clean (K2)."""


async def coordinator_actor(
    ctx: actors.Context[Any],
    store: actors.Ref[StoreMessage],
    post: ChannelPoster | None,
    config: CoordinatorConfig,
) -> None:
    """Serve the coordinator messages of :mod:`bridge.sessions.messages`.

    Args:
        store: the store actor (lounge lines are persisted there and loaded at start).
        post: sends a line to a Discord channel; ``None`` posts nothing (tests, headless).
        config: which channels to use, and the clock.
    """
    recent_lines = await store_call(
        store, lambda db: db.lounge_recent(LOUNGE_LINES_SHOWN), timeout=STORE_TIMEOUT
    )
    recent: deque[LoungeEntry] = deque(
        (
            LoungeEntry(
                author=line.author,
                text=line.text,
                created_at=line.created_at,
                thread_id=line.thread_id,
            )
            for line in recent_lines
        ),
        maxlen=LOUNGE_LINES_SHOWN,
    )
    registry: dict[int, ActiveSession] = {}
    spans = SessionSpans()
    send_out, receive_out = trio.open_memory_channel[_Outgoing](math.inf)
    drained = trio.Event()
    ctx.nursery.start_soon(_outbox, receive_out, store, post, drained, config.worktree_base_dir)

    def lounge(author: str, text: str, thread_id: int | None, *, broadcast: str | None) -> None:
        entry = LoungeEntry(
            author=_one_line(author)[:LOUNGE_AUTHOR_MAX] or "anonymous",
            text=text.strip()[:LOUNGE_TEXT_MAX],
            created_at=config.clock(),
            thread_id=thread_id,
        )
        recent.append(entry)
        posts: list[tuple[int, str]] = []
        if config.lounge_channel_id is not None:
            posts.append((config.lounge_channel_id, f"**[{entry.author}]** {entry.text}"))
        if broadcast is not None and config.coordination_channel_id is not None:
            posts.append((config.coordination_channel_id, broadcast))
        send_out.send_nowait(_Outgoing(entry, tuple(posts)))

    def end_line(thread_id: int, span: Span) -> None:
        lounge(
            f"thread {thread_id}",
            f"⏹️ session ended ({span.outcome}): {span.title}",
            thread_id,
            broadcast=f"✅ <#{thread_id}> **{span.title}** ended: {span.outcome}",
        )

    ctx.started()
    async for msg in ctx.mailbox:
        if config.forward is not None and isinstance(
            msg, SessionStarted | SessionActivity | SessionFinished
        ):
            config.forward(msg)
        match msg:
            case SessionStarted(thread_id=thread_id, title=title, working_dir=working_dir):
                registry[thread_id] = ActiveSession(
                    thread_id=thread_id, title=title, working_dir=working_dir, status="running"
                )
                if spans.started(thread_id, title, working_dir):
                    lounge(
                        f"thread {thread_id}",
                        f"▶️ session started: {title} (in {working_dir})",
                        thread_id,
                        broadcast=f"▶️ <#{thread_id}> started: **{title}** in `{working_dir}`",
                    )
            case SessionActivity(thread_id=thread_id, status=status, activity=activity):
                current = registry.get(thread_id)
                if current is not None:
                    registry[thread_id] = attrs.evolve(current, status=status, activity=activity)
            case SessionFinished(thread_id=thread_id, outcome=outcome):
                registry.pop(thread_id, None)
                token = spans.finished(thread_id, outcome)
                if token is not None:
                    if config.session_end_quiet > 0:
                        ctx.send_after(config.session_end_quiet, _QuietOver(thread_id, token))
                    else:
                        ended = spans.quiet_over(thread_id, token)
                        if ended is not None:
                            end_line(thread_id, ended)
                if config.worktree_base_dir is not None:
                    send_out.send_nowait(_Outgoing(None, (), cleanup=thread_id))
            case _QuietOver(thread_id=thread_id, token=token):
                ended = spans.quiet_over(thread_id, token)
                if ended is not None:
                    end_line(thread_id, ended)
            case PostLounge(author=author, text=text, thread_id=thread_id):
                lounge(author, text, thread_id, broadcast=None)
            case GetTurnContext(thread_id=thread_id):
                others = tuple(s for tid, s in registry.items() if tid != thread_id)
                msg.reply(TurnContext(others=others, lounge=tuple(recent)))
            case GetRegistry():
                msg.reply(tuple(registry.values()))
            case _:
                log.warning("coordinator: ignoring unexpected message %r", msg)
    # Stopping: the sessions at rest end now; the last lines still reach the store and the
    # channels, within the actor's shutdown time.
    for thread_id, span in spans.end_all_at_rest():
        end_line(thread_id, span)
    send_out.close()
    await drained.wait()


async def _outbox(
    receive: trio.MemoryReceiveChannel[_Outgoing],
    store: actors.Ref[StoreMessage],
    post: ChannelPoster | None,
    drained: trio.Event,
    worktree_base_dir: Path | None,
) -> None:
    async for item in receive:
        if item.cleanup is not None and worktree_base_dir is not None:
            await _cleanup_worktree(worktree_base_dir, item.cleanup)
        if item.lounge is not None:
            entry = item.lounge

            def persist(db: Database, entry: LoungeEntry = entry) -> None:
                db.lounge_add(entry.author, entry.text, entry.created_at, entry.thread_id)
                db.lounge_prune(LOUNGE_KEEP)

            try:
                await store_call(store, persist, timeout=STORE_TIMEOUT)
            except Exception:
                log.exception("coordinator: could not store the lounge line %r", entry.text)
        if post is None:
            continue
        for channel_id, text in item.posts:
            try:
                await post(channel_id, text)
            except Exception:
                log.exception("coordinator: could not post %r to channel %s", text, channel_id)
    drained.set()


async def _cleanup_worktree(base_dir: Path, thread_id: int) -> None:
    path = worktree_path(base_dir, thread_id)
    if not (path / ".git").exists():
        return  # the session made no worktree
    try:
        result = await remove_if_clean(path, thread_id)
    except OSError as exc:
        log.error("coordinator: could not check the worktree %s: %s", path, exc)
        return
    if result.outcome is CleanupOutcome.DIRTY:
        log.info("coordinator: kept the worktree %s: it has uncommitted changes", path)
    elif result.outcome is CleanupOutcome.FAILED:
        log.warning("coordinator: could not remove the worktree %s: %s", path, result.detail)


def _one_line(text: str) -> str:
    return " ".join(text.split())
