"""The ccbridge database: synchronous, owned by exactly one store actor.

Only the store actor calls these methods, one at a time, from a worker thread (so SQLite
never blocks the trio loop). That single owner is why there are no locks here. Times are
parameters (``now``, seconds since the epoch) so tests control them.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import sqlite_utils

from bridge.store._automation import AutomationTables
from bridge.store._imports import ImportTables
from bridge.store._schema import migrate
from bridge.store._spending import SpendingTables
from bridge.store._usage_limit import UsageLimitTables


class SessionStatus(enum.StrEnum):
    IDLE = "idle"
    """No turn running; the next message resumes the session."""
    QUEUED = "queued"
    """A turn waits for a concurrency slot."""
    RUNNING = "running"
    """A ``claude`` process is working on a turn."""
    STOPPED = "stopped"
    """Stopped by /stop or a timeout; resumable."""
    ENDED = "ended"
    """The thread was archived or deleted; never resumed automatically."""
    PARKED = "parked"
    """Paused over its budget (no turn runs until an approver lets it continue) or at the
    account's usage limit (until the time in ``usage_parking``); messages typed meanwhile
    wait in the inbox."""


class InboxState(enum.StrEnum):
    PENDING = "pending"
    """Received, not yet given to Claude."""
    DELIVERED = "delivered"
    """Written to Claude's stdin; the turn has not finished."""
    DONE = "done"
    """The turn that carried it finished."""
    REJECTED = "rejected"
    """Answered with an explanation instead (unauthorized, too large, ...)."""


class PromptState(enum.StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class SessionRecord:
    thread_id: int
    channel_id: int
    working_dir: str
    origin: str = "discord"
    """Where the session came from: ``discord``, ``api`` or ``cli``."""
    status: SessionStatus = SessionStatus.IDLE
    session_id: str | None = None
    """The Claude CLI session id, for ``--resume``."""
    guild_id: int | None = None
    title: str | None = None
    worktree: str | None = None
    model: str | None = None
    resume_reason: str | None = None
    """Set when the session must continue at the next start (``shutdown``, ``crash``, ``api``)."""
    created_at: float = 0.0
    updated_at: float = 0.0


@attrs.frozen(kw_only=True)
class InboxItem:
    message_id: int
    thread_id: int
    author_id: int
    content: str
    attachments: tuple[dict[str, Any], ...] = ()
    received_at: float = 0.0
    state: InboxState = InboxState.PENDING


@attrs.frozen(kw_only=True)
class PromptRecord:
    prompt_id: str
    thread_id: int
    kind: str
    """``permission``, ``question``, ``plan`` or ``elicitation``."""
    payload: dict[str, Any]
    created_at: float
    expires_at: float
    request_id: str | None = None
    """The CLI's control request id this prompt answers."""
    message_id: int | None = None
    state: PromptState = PromptState.PENDING
    answer: dict[str, Any] | None = None
    answered_by: int | None = None


@attrs.frozen(kw_only=True)
class LoungeLine:
    id: int
    author: str
    text: str
    created_at: float
    thread_id: int | None = None


_SESSION_FIELDS = frozenset(a.name for a in attrs.fields(SessionRecord))


class Database(AutomationTables, ImportTables, SpendingTables, UsageLimitTables):
    """The SQLite file, in WAL mode, at the latest schema version."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db

    @classmethod
    def open(cls, path: Path | str) -> Database:
        """Open (creating if needed) and migrate the database at ``path``.

        ``check_same_thread=False`` because trio's worker threads vary; the single store
        actor still makes every call one at a time.
        """
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA busy_timeout = 5000")
        migrate(db)
        return cls(db)

    def close(self) -> None:
        self._db.conn.close()

    @property
    def journal_mode(self) -> str:
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    # --- sessions -----------------------------------------------------------------------

    def put_session(self, record: SessionRecord) -> None:
        """Insert or replace the session of ``record.thread_id``."""
        self._db.table("sessions").upsert(_session_row(record), pk="thread_id")

    def update_session(self, thread_id: int, now: float, **fields: Any) -> SessionRecord:
        """Change some fields of a session; returns the updated record.

        Raises:
            KeyError: no session for this thread, or an unknown field name.
        """
        unknown = set(fields) - _SESSION_FIELDS
        if unknown:
            raise KeyError(f"unknown session fields: {sorted(unknown)}")
        if self.get_session(thread_id) is None:
            raise KeyError(f"no session for thread {thread_id}")
        row = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in fields.items()}
        self._db.table("sessions").update(thread_id, {**row, "updated_at": now})
        updated = self.get_session(thread_id)
        assert updated is not None
        return updated

    def get_session(self, thread_id: int) -> SessionRecord | None:
        rows = list(self._db.table("sessions").rows_where("thread_id = ?", [thread_id]))
        return _session_from_row(rows[0]) if rows else None

    def sessions(self, *statuses: SessionStatus) -> list[SessionRecord]:
        """All sessions, or those in one of ``statuses``, oldest first."""
        if statuses:
            marks = ",".join("?" for _ in statuses)
            rows = self._db.table("sessions").rows_where(
                f"status in ({marks})", [s.value for s in statuses], order_by="created_at"
            )
        else:
            rows = self._db.table("sessions").rows_where(order_by="created_at")
        return [_session_from_row(r) for r in rows]

    def mark_active_for_resume(self, reason: str, now: float) -> list[int]:
        """Mark every queued or running session to continue at the next start.

        Used at shutdown (``reason="shutdown"``) and at start-up for sessions a crash left
        marked running (``reason="crash"``). Returns the thread ids marked.
        """
        active = self.sessions(SessionStatus.RUNNING, SessionStatus.QUEUED)
        for record in active:
            self.update_session(
                record.thread_id, now, resume_reason=reason, status=SessionStatus.IDLE
            )
        return [r.thread_id for r in active]

    def sessions_to_resume(self) -> list[SessionRecord]:
        return [
            _session_from_row(r)
            for r in self._db.table("sessions").rows_where(
                "resume_reason is not null", order_by="updated_at"
            )
        ]

    # --- inbox --------------------------------------------------------------------------

    def inbox_add(self, item: InboxItem) -> bool:
        """Record a received message; False if it was already recorded (a redelivery)."""
        try:
            self._db.table("inbox").insert(
                {
                    "message_id": item.message_id,
                    "thread_id": item.thread_id,
                    "author_id": item.author_id,
                    "content": item.content,
                    "attachments": json.dumps(list(item.attachments)),
                    "received_at": item.received_at,
                    "state": item.state.value,
                },
                pk="message_id",
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def inbox_set_state(self, message_ids: Iterable[int], state: InboxState) -> None:
        for message_id in message_ids:
            self._db.table("inbox").update(message_id, {"state": state.value})

    def inbox(self, thread_id: int, *states: InboxState) -> list[InboxItem]:
        """A thread's messages in the given states (default: not yet finished), in order."""
        wanted = states or (InboxState.PENDING, InboxState.DELIVERED)
        marks = ",".join("?" for _ in wanted)
        rows = self._db.table("inbox").rows_where(
            f"thread_id = ? and state in ({marks})",
            [thread_id, *(s.value for s in wanted)],
            order_by="received_at, message_id",
        )
        return [
            InboxItem(
                message_id=r["message_id"],
                thread_id=r["thread_id"],
                author_id=r["author_id"],
                content=r["content"],
                attachments=tuple(json.loads(r["attachments"] or "[]")),
                received_at=r["received_at"],
                state=InboxState(r["state"]),
            )
            for r in rows
        ]

    def threads_with_unfinished_inbox(self) -> list[int]:
        """Threads holding messages not yet finished (pending or delivered), by thread id.

        At start-up these sessions are resumed even if nothing marked them: a message
        stored just before a crash must still reach Claude.
        """
        rows = self._db.execute(
            "select distinct thread_id from inbox where state in (?, ?) order by thread_id",
            [InboxState.PENDING.value, InboxState.DELIVERED.value],
        ).fetchall()
        return [int(row[0]) for row in rows]

    def inbox_last_id(self, thread_id: int) -> int | None:
        """The newest message id recorded for a thread, in any state (None: none)."""
        row = self._db.execute(
            "select max(message_id) from inbox where thread_id = ?", [thread_id]
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def inbox_states(self, message_ids: Iterable[int]) -> dict[int, InboxState]:
        """The state of each of these messages that the inbox holds."""
        ids = list(message_ids)
        if not ids:
            return {}
        marks = ",".join("?" for _ in ids)
        rows = self._db.execute(
            f"select message_id, state from inbox where message_id in ({marks})", ids
        ).fetchall()
        return {int(mid): InboxState(state) for mid, state in rows}

    # --- catch-up cursors ---------------------------------------------------------------

    def cursor_get(self, channel_id: int) -> int | None:
        """The newest message id handled in a channel or thread (None: never recorded)."""
        row = self._db.execute(
            "select message_id from cursors where channel_id = ?", [channel_id]
        ).fetchone()
        return None if row is None else int(row[0])

    def cursor_advance(self, channel_id: int, message_id: int, now: float) -> None:
        """Move a channel's cursor to ``message_id``; never backwards (ids grow with time,
        and a late or repeated message must not make the next catch-up read old history)."""
        self._db.execute(
            "insert into cursors (channel_id, message_id, updated_at) values (?, ?, ?) "
            "on conflict(channel_id) do update set "
            "message_id = max(message_id, excluded.message_id), updated_at = excluded.updated_at",
            [channel_id, message_id, now],
        )

    # --- prompts ------------------------------------------------------------------------

    def prompt_add(self, prompt: PromptRecord) -> None:
        self._db.table("prompts").insert(_prompt_row(prompt), pk="prompt_id")

    def prompt_set_message(self, prompt_id: str, message_id: int) -> None:
        self._db.table("prompts").update(prompt_id, {"message_id": message_id})

    def prompt_get(self, prompt_id: str) -> PromptRecord | None:
        rows = list(self._db.table("prompts").rows_where("prompt_id = ?", [prompt_id]))
        return _prompt_from_row(rows[0]) if rows else None

    def prompt_resolve(
        self,
        prompt_id: str,
        state: PromptState,
        answer: dict[str, Any] | None = None,
        answered_by: int | None = None,
    ) -> PromptRecord | None:
        """Resolve a pending prompt once; returns it, or None if it was not pending.

        The ``state = 'pending'`` guard in one UPDATE makes "at most once" hold even when a
        click and the expiry timer race.
        """
        cursor = self._db.execute(
            "update prompts set state = ?, answer = ?, answered_by = ? "
            "where prompt_id = ? and state = ?",
            [
                state.value,
                json.dumps(answer) if answer is not None else None,
                answered_by,
                prompt_id,
                PromptState.PENDING.value,
            ],
        )
        if cursor.rowcount != 1:
            return None
        return self.prompt_get(prompt_id)

    def prompts_pending(self, thread_id: int | None = None) -> list[PromptRecord]:
        where = "state = ?"
        args: list[object] = [PromptState.PENDING.value]
        if thread_id is not None:
            where, args = where + " and thread_id = ?", [*args, thread_id]
        rows = self._db.table("prompts").rows_where(where, args, order_by="created_at")
        return [_prompt_from_row(r) for r in rows]

    def prompts(self, thread_id: int, *states: PromptState) -> list[PromptRecord]:
        """A thread's prompts in ``states`` (default: all), oldest first."""
        where = "thread_id = ?"
        args: list[object] = [thread_id]
        if states:
            marks = ",".join("?" for _ in states)
            where, args = f"{where} and state in ({marks})", [*args, *(s.value for s in states)]
        rows = self._db.table("prompts").rows_where(where, args, order_by="created_at")
        return [_prompt_from_row(r) for r in rows]

    def prompt_set_answer(self, prompt_id: str, answer: dict[str, Any]) -> None:
        """Replace a resolved prompt's answer (e.g. to record that it reached the CLI after
        a restart); the state is not touched, so "resolved once" still holds."""
        self._db.table("prompts").update(prompt_id, {"answer": json.dumps(answer)})

    # --- lounge -------------------------------------------------------------------------

    def lounge_add(self, author: str, text: str, now: float, thread_id: int | None = None) -> int:
        table = self._db.table("lounge").insert(
            {"author": author, "text": text, "created_at": now, "thread_id": thread_id}
        )
        assert table.last_pk is not None  # an insert into a rowid table always has one
        return int(table.last_pk)

    def lounge_prune(self, keep: int) -> int:
        """Delete all but the ``keep`` newest lounge lines; returns how many went."""
        cursor = self._db.execute(
            "delete from lounge where id not in (select id from lounge order by id desc limit ?)",
            [keep],
        )
        return cursor.rowcount

    def lounge_recent(self, limit: int) -> list[LoungeLine]:
        """The ``limit`` most recent lounge lines, oldest first."""
        rows = list(self._db.table("lounge").rows_where(order_by="id desc", limit=limit))
        return [LoungeLine(**r) for r in reversed(rows)]


def _session_row(record: SessionRecord) -> dict[str, Any]:
    row = attrs.asdict(record)
    row["status"] = record.status.value
    return row


def _session_from_row(row: dict[str, Any]) -> SessionRecord:
    return SessionRecord(**{**row, "status": SessionStatus(row["status"])})


def _prompt_row(prompt: PromptRecord) -> dict[str, Any]:
    row = attrs.asdict(prompt)
    row["payload"] = json.dumps(prompt.payload)
    row["answer"] = json.dumps(prompt.answer) if prompt.answer is not None else None
    row["state"] = prompt.state.value
    return row


def _prompt_from_row(row: dict[str, Any]) -> PromptRecord:
    return PromptRecord(
        **{
            **row,
            "payload": json.loads(row["payload"]),
            "answer": json.loads(row["answer"]) if row["answer"] is not None else None,
            "state": PromptState(row["state"]),
        }
    )
