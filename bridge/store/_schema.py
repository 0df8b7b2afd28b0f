"""Versioned migrations for the ccbridge database.

The schema version lives in SQLite's ``PRAGMA user_version``. Each migration is a function
applied in one transaction together with the version bump, so a crash mid-migration leaves
the previous version intact. Migrations are append-only: never edit one that has shipped;
add the next.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from bridge.store._automation import migrate_automation
from bridge.store._imports import migrate_imports
from bridge.store._spending import migrate_spending
from bridge.store._usage_limit import migrate_usage_limit

Migration = Callable[[sqlite_utils.Database], None]


def _v1_initial(db: sqlite_utils.Database) -> None:
    db.table("sessions").create(
        {
            "thread_id": int,
            "channel_id": int,
            "guild_id": int,
            "session_id": str,
            "title": str,
            "origin": str,
            "working_dir": str,
            "worktree": str,
            "model": str,
            "status": str,
            "resume_reason": str,
            "created_at": float,
            "updated_at": float,
        },
        pk="thread_id",
        not_null={"channel_id", "origin", "working_dir", "status", "created_at", "updated_at"},
    )
    db.table("sessions").create_index(["status"])
    # Every message a user typed to a session, kept until Claude has answered it, so that
    # nothing typed is lost across interrupts, crashes and restarts.
    db.table("inbox").create(
        {
            "message_id": int,
            "thread_id": int,
            "author_id": int,
            "content": str,
            "attachments": str,
            "received_at": float,
            "state": str,
        },
        pk="message_id",
        not_null={"thread_id", "author_id", "content", "received_at", "state"},
    )
    db.table("inbox").create_index(["thread_id", "state"])
    # Questions put to a human (permission, AskUserQuestion, plan, elicitation): persisted so
    # they can still be answered after a restart, and resolved at most once.
    db.table("prompts").create(
        {
            "prompt_id": str,
            "thread_id": int,
            "kind": str,
            "request_id": str,
            "payload": str,
            "message_id": int,
            "created_at": float,
            "expires_at": float,
            "state": str,
            "answer": str,
            "answered_by": int,
        },
        pk="prompt_id",
        not_null={"thread_id", "kind", "payload", "created_at", "expires_at", "state"},
    )
    db.table("prompts").create_index(["state"])
    db.table("lounge").create(
        {"id": int, "thread_id": int, "author": str, "text": str, "created_at": float},
        pk="id",
        not_null={"author", "text", "created_at"},
    )


def _v2_cursors(db: sqlite_utils.Database) -> None:
    # Catch-up (docs/architecture.md "Catch-up"): the newest message id the router handled
    # per channel or session thread, so that after a restart the history after it is read.
    db.table("cursors").create(
        {"channel_id": int, "message_id": int, "updated_at": float},
        pk="channel_id",
        not_null={"message_id", "updated_at"},
    )


MIGRATIONS: tuple[Migration, ...] = (
    _v1_initial,
    _v2_cursors,
    migrate_automation,
    migrate_imports,
    migrate_spending,
    migrate_usage_limit,
)
"""Migration ``i`` takes the schema from version ``i`` to ``i + 1``."""


def migrate(db: sqlite_utils.Database) -> int:
    """Bring ``db`` to the latest version; returns the version it is at afterwards.

    Raises:
        RuntimeError: the file was written by a newer ccbridge (its version is unknown here).
    """
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"the database is at schema version {current}, newer than this ccbridge knows "
            f"({len(MIGRATIONS)}); upgrade ccbridge or point CCBRIDGE_DB_PATH elsewhere"
        )
    for version in range(current, len(MIGRATIONS)):
        # An explicit transaction: Python's sqlite3 would otherwise run DDL in autocommit,
        # and a failed migration would leave half a schema behind.
        db.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return len(MIGRATIONS)
