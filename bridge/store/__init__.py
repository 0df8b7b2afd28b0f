"""Storage: one SQLite file in WAL mode, owned by the store actor.

:class:`Database` is the synchronous core; only the store actor calls it, from a worker
thread, one call at a time.
"""

from bridge.store._automation import (
    NotificationRecord,
    NotificationState,
    RunOutcome,
    SpawnRecord,
    TaskRecord,
    TaskRun,
)
from bridge.store._database import (
    Database,
    InboxItem,
    InboxState,
    LoungeLine,
    PromptRecord,
    PromptState,
    SessionRecord,
    SessionStatus,
)
from bridge.store._schema import MIGRATIONS, migrate
from bridge.store._spending import UsageReport, utc_day

__all__ = [
    "MIGRATIONS",
    "Database",
    "InboxItem",
    "InboxState",
    "LoungeLine",
    "NotificationRecord",
    "NotificationState",
    "PromptRecord",
    "PromptState",
    "RunOutcome",
    "SessionRecord",
    "SessionStatus",
    "SpawnRecord",
    "TaskRecord",
    "TaskRun",
    "UsageReport",
    "migrate",
    "utc_day",
]
