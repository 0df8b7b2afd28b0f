"""Store tables for scheduled work and spawned sessions (A1, A5, R3, R4).

``tasks`` holds scheduled Claude tasks (R4) with their next slot, so a restart continues
the same schedule; ``task_runs`` every run, skip and failure of a task; ``notifications``
scheduled notifications (R3) until delivered; ``spawns`` the parent of every session
started through ``POST /api/spawn`` and its depth (A5). :class:`AutomationTables` is
mixed into :class:`~bridge.store.Database`; like the rest of it, it is called only by
the store actor, one call at a time, with times passed in.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs
import sqlite_utils

__all__ = [
    "AutomationTables",
    "NotificationRecord",
    "NotificationState",
    "RunOutcome",
    "SpawnRecord",
    "TaskRecord",
    "TaskRun",
    "migrate_automation",
]


class RunOutcome(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    """The session finished the run's turn (Claude's own errors show in its thread)."""
    FAILED = "failed"
    """The run could not start (Discord or the bridge failed); the reason is in ``detail``."""
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    """Due while the previous run was still going; not started."""
    INTERRUPTED = "interrupted"
    """The bridge stopped while it ran (the session itself resumes, A4)."""


class NotificationState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class TaskRecord:
    id: int
    name: str
    prompt: str
    working_dir: str
    model: str | None = None
    timeout_seconds: float
    interval_seconds: float | None = None
    cron: str | None = None
    timezone: str = "UTC"
    enabled: bool = True
    thread_mode: str = "new"
    """``new``: a new thread per run; ``own``: every run posts in the task's one thread."""
    thread_id: int | None = None
    """The task's own thread (``own`` mode), once its first run made it."""
    anchor_at: float
    """Interval schedules count from here (the creation time)."""
    next_run_at: float | None = None
    """The next slot, saved by the scheduler; ``None``: compute it from the schedule."""
    created_at: float
    updated_at: float


@attrs.frozen(kw_only=True)
class TaskRun:
    id: int
    task_id: int
    due_at: float
    started_at: float
    outcome: RunOutcome
    thread_id: int | None = None
    message_id: int | None = None
    ended_at: float | None = None
    detail: str = ""


@attrs.frozen(kw_only=True)
class NotificationRecord:
    id: int
    message: str
    channel_id: int
    due_at: float
    created_at: float
    owner_thread_id: int | None = None
    """The session that scheduled it (it may list and cancel only its own)."""
    state: NotificationState = NotificationState.PENDING
    delivered_at: float | None = None
    late: bool = False


@attrs.frozen(kw_only=True)
class SpawnRecord:
    thread_id: int
    parent_thread_id: int | None
    depth: int
    """0 for a session started by the admin (or a person), parent's depth + 1 otherwise."""
    created_at: float


def migrate_automation(db: sqlite_utils.Database) -> None:
    db.table("tasks").create(
        {
            "id": int,
            "name": str,
            "prompt": str,
            "working_dir": str,
            "model": str,
            "timeout_seconds": float,
            "interval_seconds": float,
            "cron": str,
            "timezone": str,
            "enabled": int,
            "thread_mode": str,
            "thread_id": int,
            "anchor_at": float,
            "next_run_at": float,
            "created_at": float,
            "updated_at": float,
        },
        pk="id",
        not_null={"name", "prompt", "working_dir", "timeout_seconds", "timezone", "enabled"},
    )
    db.table("task_runs").create(
        {
            "id": int,
            "task_id": int,
            "due_at": float,
            "started_at": float,
            "ended_at": float,
            "thread_id": int,
            "message_id": int,
            "outcome": str,
            "detail": str,
        },
        pk="id",
        not_null={"task_id", "due_at", "started_at", "outcome"},
    )
    db.table("task_runs").create_index(["task_id", "id"])
    db.table("task_runs").create_index(["outcome"])
    db.table("notifications").create(
        {
            "id": int,
            "message": str,
            "channel_id": int,
            "owner_thread_id": int,
            "due_at": float,
            "created_at": float,
            "state": str,
            "delivered_at": float,
            "late": int,
        },
        pk="id",
        not_null={"message", "channel_id", "due_at", "created_at", "state"},
    )
    db.table("notifications").create_index(["state", "due_at"])
    db.table("spawns").create(
        {"thread_id": int, "parent_thread_id": int, "depth": int, "created_at": float},
        pk="thread_id",
        not_null={"depth", "created_at"},
    )
    db.table("spawns").create_index(["parent_thread_id", "created_at"])


_TASK_FIELDS = frozenset(a.name for a in attrs.fields(TaskRecord)) - {"id", "created_at"}


class AutomationTables:
    """The methods on :class:`~bridge.store.Database` for the tables above."""

    _db: sqlite_utils.Database

    # --- tasks --------------------------------------------------------------------------

    def task_add(self, **fields: Any) -> TaskRecord:
        """Insert a task (the :class:`TaskRecord` fields but ``id``; those with a default
        may be left out); returns it."""
        defaults = {
            a.name: a.default
            for a in attrs.fields(TaskRecord)
            if a.name != "id" and a.default is not attrs.NOTHING
        }
        row = _task_row({**defaults, **fields})
        table = self._db.table("tasks").insert(row)
        task = self.task_get(_last_pk(table))
        assert task is not None
        return task

    def task_get(self, task_id: int) -> TaskRecord | None:
        rows = list(self._db.table("tasks").rows_where("id = ?", [task_id]))
        return _task_from_row(rows[0]) if rows else None

    def tasks(self) -> list[TaskRecord]:
        return [_task_from_row(r) for r in self._db.table("tasks").rows_where(order_by="id")]

    def task_update(self, task_id: int, now: float, **fields: Any) -> TaskRecord | None:
        """Change some fields of a task; ``None`` if there is no such task.

        Raises:
            KeyError: an unknown field name.
        """
        unknown = set(fields) - _TASK_FIELDS
        if unknown:
            raise KeyError(f"unknown task fields: {sorted(unknown)}")
        if self.task_get(task_id) is None:
            return None
        self._db.table("tasks").update(task_id, {**_task_row(fields), "updated_at": now})
        return self.task_get(task_id)

    def task_delete(self, task_id: int) -> bool:
        cursor = self._db.execute("delete from tasks where id = ?", [task_id])
        return cursor.rowcount == 1

    # --- runs ---------------------------------------------------------------------------

    def run_add(
        self,
        task_id: int,
        due_at: float,
        now: float,
        outcome: RunOutcome = RunOutcome.RUNNING,
        detail: str = "",
    ) -> TaskRun:
        row = {
            "task_id": task_id,
            "due_at": due_at,
            "started_at": now,
            "outcome": outcome.value,
            "detail": detail,
            "ended_at": None if outcome is RunOutcome.RUNNING else now,
        }
        run_id = _last_pk(self._db.table("task_runs").insert(row))
        run = self.run_get(run_id)
        assert run is not None
        return run

    def run_get(self, run_id: int) -> TaskRun | None:
        rows = list(self._db.table("task_runs").rows_where("id = ?", [run_id]))
        return _run_from_row(rows[0]) if rows else None

    def run_update(self, run_id: int, **fields: Any) -> None:
        row = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in fields.items()}
        self._db.table("task_runs").update(run_id, row)

    def runs(self, task_id: int, limit: int = 20) -> list[TaskRun]:
        """The task's ``limit`` most recent runs, newest first."""
        rows = self._db.table("task_runs").rows_where(
            "task_id = ?", [task_id], order_by="id desc", limit=limit
        )
        return [_run_from_row(r) for r in rows]

    def runs_interrupt_running(self, now: float) -> int:
        """At start: runs left ``running`` by the previous process are ``interrupted``."""
        cursor = self._db.execute(
            "update task_runs set outcome = ?, ended_at = ? where outcome = ?",
            [RunOutcome.INTERRUPTED.value, now, RunOutcome.RUNNING.value],
        )
        return cursor.rowcount

    # --- notifications ------------------------------------------------------------------

    def notification_add(
        self,
        message: str,
        channel_id: int,
        due_at: float,
        now: float,
        owner_thread_id: int | None = None,
    ) -> NotificationRecord:
        row = {
            "message": message,
            "channel_id": channel_id,
            "owner_thread_id": owner_thread_id,
            "due_at": due_at,
            "created_at": now,
            "state": NotificationState.PENDING.value,
            "late": 0,
        }
        nid = _last_pk(self._db.table("notifications").insert(row))
        record = self.notification_get(nid)
        assert record is not None
        return record

    def notification_get(self, notification_id: int) -> NotificationRecord | None:
        rows = list(self._db.table("notifications").rows_where("id = ?", [notification_id]))
        return _notification_from_row(rows[0]) if rows else None

    def notifications(self, *states: NotificationState) -> list[NotificationRecord]:
        """Notifications in ``states`` (default: all), by due time."""
        where, args = None, []
        if states:
            where = f"state in ({','.join('?' for _ in states)})"
            args = [s.value for s in states]
        rows = self._db.table("notifications").rows_where(where, args, order_by="due_at, id")
        return [_notification_from_row(r) for r in rows]

    def notification_delete(self, notification_id: int) -> bool:
        cursor = self._db.execute("delete from notifications where id = ?", [notification_id])
        return cursor.rowcount == 1

    def notification_mark(
        self, notification_id: int, state: NotificationState, now: float, *, late: bool
    ) -> bool:
        """Move a pending notification to ``state`` once; False if it was not pending."""
        cursor = self._db.execute(
            "update notifications set state = ?, delivered_at = ?, late = ? "
            "where id = ? and state = ?",
            [state.value, now, int(late), notification_id, NotificationState.PENDING.value],
        )
        return cursor.rowcount == 1

    # --- spawns -------------------------------------------------------------------------

    def spawn_add(self, record: SpawnRecord) -> None:
        self._db.table("spawns").upsert(attrs.asdict(record), pk="thread_id")

    def spawn_get(self, thread_id: int) -> SpawnRecord | None:
        rows = list(self._db.table("spawns").rows_where("thread_id = ?", [thread_id]))
        return SpawnRecord(**rows[0]) if rows else None

    def spawns(self) -> list[SpawnRecord]:
        return [
            SpawnRecord(**r) for r in self._db.table("spawns").rows_where(order_by="created_at")
        ]

    def spawn_count_since(self, parent_thread_id: int, since: float) -> int:
        row = self._db.execute(
            "select count(*) from spawns where parent_thread_id = ? and created_at >= ?",
            [parent_thread_id, since],
        ).fetchone()
        return int(row[0])


def _task_row(fields: dict[str, Any]) -> dict[str, Any]:
    row = dict(fields)
    if "enabled" in row:
        row["enabled"] = int(bool(row["enabled"]))
    return row


def _task_from_row(row: dict[str, Any]) -> TaskRecord:
    return TaskRecord(**{**row, "enabled": bool(row["enabled"])})


def _run_from_row(row: dict[str, Any]) -> TaskRun:
    return TaskRun(**{**row, "outcome": RunOutcome(row["outcome"]), "detail": row["detail"] or ""})


def _notification_from_row(row: dict[str, Any]) -> NotificationRecord:
    return NotificationRecord(
        **{**row, "state": NotificationState(row["state"]), "late": bool(row["late"])}
    )


def _last_pk(table: sqlite_utils.db.Table) -> int:
    """The rowid an ``insert`` just gave (sqlite-utils types it as optional)."""
    assert table.last_pk is not None
    return int(table.last_pk)
