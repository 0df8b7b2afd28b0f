"""The store's usage-limit parking table (issue 13).

``usage_parking`` has a row per thread that hit the account's usage limit and has not
finished a turn since: how many times in a row (``strikes``, the retry interval grows
with them) and, while it is parked, when it tries again (``resume_at``; ``NULL`` once
it resumed). :class:`UsageLimitTables` is mixed into :class:`~bridge.store.Database`:
only the store actor calls it, one call at a time, so choosing a parked session's time
(after every other parked one, staggered) and recording it is one step.
"""

from __future__ import annotations

import sqlite_utils

from bridge.usage_limit import resume_at

__all__ = ["UsageLimitTables", "migrate_usage_limit"]


def migrate_usage_limit(db: sqlite_utils.Database) -> None:
    db.table("usage_parking").create(
        {"thread_id": int, "strikes": int, "parked_at": float, "resume_at": float},
        pk="thread_id",
        not_null={"strikes", "parked_at"},
    )


class UsageLimitTables:
    _db: sqlite_utils.Database

    def usage_park(
        self,
        thread_id: int,
        *,
        now: float,
        resets_at: float | None,
        retry_seconds: float,
        stagger_seconds: float,
    ) -> float:
        """Park ``thread_id`` at the usage limit; the time it tries again."""
        row = self._db.execute(
            "SELECT strikes FROM usage_parking WHERE thread_id = ?", [thread_id]
        ).fetchone()
        strikes = int(row[0]) if row is not None else 0
        waiting = [
            float(r[0])
            for r in self._db.execute(
                "SELECT resume_at FROM usage_parking WHERE resume_at IS NOT NULL"
                " AND thread_id != ?",
                [thread_id],
            ).fetchall()
        ]
        at = resume_at(
            now=now,
            resets_at=resets_at,
            strikes=strikes,
            retry_seconds=retry_seconds,
            stagger_seconds=stagger_seconds,
            waiting=waiting,
        )
        self._db.table("usage_parking").upsert(
            {"thread_id": thread_id, "strikes": strikes + 1, "parked_at": now, "resume_at": at},
            pk="thread_id",
        )
        return at

    def usage_parked_until(self, thread_id: int) -> float | None:
        """When the parked ``thread_id`` tries again, or ``None`` (not parked for it)."""
        row = self._db.execute(
            "SELECT resume_at FROM usage_parking WHERE thread_id = ?", [thread_id]
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def usage_parked_threads(self) -> list[int]:
        """Threads waiting to try again, in the order they will."""
        rows = self._db.execute(
            "SELECT thread_id FROM usage_parking WHERE resume_at IS NOT NULL ORDER BY resume_at"
        ).fetchall()
        return [int(r[0]) for r in rows]

    def usage_resumed(self, thread_id: int) -> None:
        """It tries again now (its strikes stay until a turn gets through)."""
        self._db.execute(
            "UPDATE usage_parking SET resume_at = NULL WHERE thread_id = ?", [thread_id]
        )

    def usage_cleared(self, thread_id: int) -> None:
        """A turn got through: the next hit starts from the shortest wait again."""
        self._db.execute("DELETE FROM usage_parking WHERE thread_id = ?", [thread_id])
