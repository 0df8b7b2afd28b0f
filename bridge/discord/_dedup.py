"""Dropping dispatches Discord delivers twice.

Discord promises at-least-once delivery: an event "may be sent up to N times per client"
(docs, reference.mdx "Consistency"), and a RESUME replays from the sequence we last saw, so
an event can reach us on two connections. For events that name a new thing by its id the
second copy is a duplicate, so we drop it. Updates are not deduplicated: two MESSAGE_UPDATEs
for one message are usually two real edits.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final

__all__ = ["DEDUP_EVENTS", "DispatchDeduplicator"]

DEDUP_EVENTS: Final = frozenset(
    {
        "MESSAGE_CREATE",
        "INTERACTION_CREATE",
        "THREAD_CREATE",
        "CHANNEL_CREATE",
        "MESSAGE_DELETE",
    }
)
"""Events whose ``d.id`` names something created (or deleted) exactly once."""


class DispatchDeduplicator:
    """Remembers the last ``capacity`` (event, id) keys it let through."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._capacity = capacity
        self.dropped = 0

    def admit(self, name: str, data: Any) -> bool:
        """True the first time (name, id) is seen; False (and counted) after that."""
        if name not in DEDUP_EVENTS or not isinstance(data, dict):
            return True
        ident = data.get("id")
        if ident is None:
            return True
        key = (name, str(ident))
        if key in self._seen:
            self._seen.move_to_end(key)
            self.dropped += 1
            return False
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True
