"""Which sessions continue when the bridge starts (A4), and starting them.

The store answers the question (:func:`resume_facts`, run in the store's thread), the
policy decides (:func:`sessions_to_resume`, pure), and :func:`resume_sessions` starts each
session and tells it to continue. ``bridge/app.py`` only wires these together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import attrs

import actors
from bridge.sessions.messages import ResumeSession
from bridge.store import Database
from bridge.store.actor import StoreMessage, store_call
from protocol.claude.sessions import SessionMessage

log = logging.getLogger(__name__)

__all__ = [
    "ResumeFacts",
    "recorded_messages",
    "resume_facts",
    "resume_sessions",
    "sessions_to_resume",
]


@attrs.frozen(kw_only=True)
class ResumeFacts:
    """What the store knows at start-up."""

    marked: tuple[tuple[int, str | None], ...]
    """Sessions marked to continue, with the reason the mark gives."""
    unfinished: tuple[int, ...]
    """Threads whose inbox holds messages not finished (pending or delivered), and whose
    session has not ended."""
    usage_parked: tuple[int, ...] = ()
    """Threads parked at the account's usage limit: their session must run to try again
    at the stored time (it stays parked until then; the resume itself is moot)."""


def resume_facts(db: Database, now: float) -> ResumeFacts:
    """Read (and bring up to date) what the resume policy needs. Runs in the store's thread.

    Sessions still recorded as running or queued were cut off by a crash (a clean shutdown
    marks them idle with the reason ``shutdown``), so they are marked ``crash`` first.
    """
    db.mark_active_for_resume("crash", now)
    marked = tuple((r.thread_id, r.resume_reason) for r in db.sessions_to_resume())
    unfinished = []
    for thread_id in db.threads_with_unfinished_inbox():
        record = db.get_session(thread_id)
        if record is not None and record.status != "ended":
            unfinished.append(thread_id)
    usage_parked = tuple(
        tid
        for tid in db.usage_parked_threads()
        if (record := db.get_session(tid)) is not None and record.status == "parked"
    )
    return ResumeFacts(marked=marked, unfinished=tuple(unfinished), usage_parked=usage_parked)


def sessions_to_resume(facts: ResumeFacts) -> list[tuple[int, str]]:
    """Every session to continue, by thread id, with the reason its notice shows.

    A marked session keeps its mark's reason (``crash`` when the mark has none); a session
    holding unfinished messages continues too, as ``crash``: nothing typed is lost, even
    if no mark was written. A session parked at the usage limit is started too
    (``usage-limit``), so that it tries again at its time; it stays parked until then.
    """
    reasons: dict[int, str] = {tid: reason or "crash" for tid, reason in facts.marked}
    for thread_id in facts.unfinished:
        reasons.setdefault(thread_id, "crash")
    for thread_id in facts.usage_parked:
        reasons.setdefault(thread_id, "usage-limit")
    return sorted(reasons.items())


def recorded_messages(
    cut_off: Sequence[tuple[int, str]], conversation: Sequence[SessionMessage]
) -> tuple[int, ...]:
    """Which messages of a cut-off turn the CLI's session file already holds.

    ``cut_off`` are the ``(message id, text)`` of the messages delivered, in order, to a
    turn that never finished (a crash); ``conversation`` is the session file read by
    :func:`bridge.claude.sessions.read_session_messages`. They went to the CLI as one
    user message, their texts joined by blank lines (``bridge.sessions.turn``), so they
    were recorded, all of them, when the last user message the CLI wrote is that text
    (followed by their text files, if any): sending them again would show them twice
    in the conversation (issue 10, point 7), and "please continue" resumes the turn
    instead. Anything else (no text to recognise, attachments only, a different last
    message) counts as not recorded and is sent again, which loses nothing.
    """
    joined = "\n\n".join(text for _, text in cut_off if text.strip()).strip()
    last = next((m.text for m in reversed(conversation) if m.role == "user"), None)
    if not joined or last is None:
        return ()
    # Text files follow the typed text as further blocks, which the file joins with "\n".
    if last != joined and not last.startswith(joined + "\n"):
        return ()
    return tuple(mid for mid, _ in cut_off)


def _clear_mark(thread_id: int) -> Callable[[Database], object]:
    def clear(db: Database) -> object:
        return db.update_session(thread_id, time.time(), resume_reason=None)

    return clear


async def resume_sessions(
    store: actors.Ref[StoreMessage],
    sessions: actors.SupervisorRef,
    to_resume: list[tuple[int, str]],
    *,
    store_timeout: float,
) -> tuple[tuple[int, str], ...]:
    """Start each session and tell it to continue; returns the ones that took it.

    A session's mark is cleared only once the session has the message, so a crash in
    between resumes it again, and a resume that works is not repeated at every start.
    """
    resumed = []
    for thread_id, reason in to_resume:
        try:
            session = await sessions.start_child(thread_id, id=thread_id)
            session.tell(ResumeSession(reason=reason))
        except actors.ActorsError as exc:
            # The mark stays: the next start tries again.
            log.error("bridge: could not resume the session of thread %s: %s", thread_id, exc)
            continue
        await store_call(store, _clear_mark(thread_id), timeout=store_timeout)
        resumed.append((thread_id, reason))
    return tuple(resumed)
