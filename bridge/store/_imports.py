"""The store's record of Claude CLI sessions imported as threads (S1, ``/sync-sessions``).

One row per CLI session id ever imported, with the thread it became: a second sync finds
it here and imports nothing twice, even if the thread's own session id later changes.
:class:`ImportTables` is mixed into :class:`~bridge.store.Database`; like the rest of it,
it is called only by the store actor, one call at a time, with times passed in.
"""

from __future__ import annotations

import sqlite_utils

__all__ = ["ImportTables", "migrate_imports"]


def migrate_imports(db: sqlite_utils.Database) -> None:
    db.table("cli_imports").create(
        {"session_id": str, "thread_id": int, "imported_at": float},
        pk="session_id",
        not_null={"thread_id", "imported_at"},
    )


class ImportTables:
    """The methods on :class:`~bridge.store.Database` for ``cli_imports``."""

    _db: sqlite_utils.Database

    def cli_import_claim(self, session_id: str, thread_id: int, now: float) -> bool:
        """Record that ``session_id`` becomes thread ``thread_id``; False if it was
        imported before (nothing changes then)."""
        cursor = self._db.execute(
            "insert or ignore into cli_imports (session_id, thread_id, imported_at) "
            "values (?, ?, ?)",
            [session_id, thread_id, now],
        )
        return cursor.rowcount == 1

    def cli_import_forget(self, session_id: str) -> None:
        """Undo a claim whose thread could not be made, so a later sync tries again."""
        self._db.execute("delete from cli_imports where session_id = ?", [session_id])

    def cli_imported(self) -> dict[str, int]:
        """Every imported CLI session id, with its thread."""
        rows = self._db.execute("select session_id, thread_id from cli_imports").fetchall()
        return {str(sid): int(tid) for sid, tid in rows}

    def bridged_session_ids(self) -> set[str]:
        """The Claude session ids the bridge's own sessions hold (those are no CLI
        sessions to import: the bridge made them, in the same project directory)."""
        rows = self._db.execute(
            "select session_id from sessions where session_id is not null"
        ).fetchall()
        return {str(sid) for (sid,) in rows}
