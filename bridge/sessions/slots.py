"""The concurrency limit's bookkeeping (C8), as a plain value with no IO.

At most ``limit`` holders run at once; the rest wait first-in first-out, each knowing its
queue position so the thread can show it. The limiter actor owns one :class:`SlotQueue`
and turns its :class:`SlotChange` results into messages to session actors. A session gives
its slot back whenever it waits for a human, so a slot is never held through such a wait.

:meth:`SlotQueue.hold` is the drain before an upgrade's restart (A3): from then on nothing
new is granted, and every request waits in the queue until the bridge stops.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

import attrs

K = TypeVar("K", bound=Hashable)


@attrs.frozen
class SlotChange(Generic[K]):
    """``key`` now runs (``position == 0``) or waits at ``position`` (1 = next in line)."""

    key: K
    position: int


class SlotQueue(Generic[K]):
    """A counting semaphore with a visible FIFO queue."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the concurrency limit must be at least 1, got {limit}")
        self.limit = limit
        self._running: set[K] = set()
        self._waiting: deque[K] = deque()
        self.held = False
        """Set by :meth:`hold`: no slot is granted any more."""

    @property
    def running(self) -> frozenset[K]:
        return frozenset(self._running)

    @property
    def waiting(self) -> tuple[K, ...]:
        return tuple(self._waiting)

    def acquire(self, key: K) -> SlotChange[K]:
        """Ask for a slot; returns position 0 if granted, else the queue position.

        Asking again while running or queued changes nothing and returns the current state.
        """
        if key in self._running:
            return SlotChange(key, 0)
        if key in self._waiting:
            return SlotChange(key, self._waiting.index(key) + 1)
        if len(self._running) < self.limit and not self._waiting and not self.held:
            self._running.add(key)
            return SlotChange(key, 0)
        self._waiting.append(key)
        return SlotChange(key, len(self._waiting))

    def release(self, key: K) -> list[SlotChange[K]]:
        """Give back ``key``'s slot, or leave the queue; returns everyone whose state moved.

        Releasing a key that holds nothing is a no-op (a stop racing a finish is normal).
        """
        if key in self._running:
            self._running.discard(key)
            changes: list[SlotChange[K]] = []
            while self._waiting and len(self._running) < self.limit and not self.held:
                granted = self._waiting.popleft()
                self._running.add(granted)
                changes.append(SlotChange(granted, 0))
            if changes:
                changes.extend(self._positions())
            return changes
        if key in self._waiting:
            index = self._waiting.index(key)
            self._waiting.remove(key)
            return self._positions(start=index)
        return []

    def hold(self) -> list[SlotChange[K]]:
        """Grant nothing from now on (running holders keep their slots until they release
        them); returns every waiting key's position, to tell them why they wait."""
        self.held = True
        return self._positions()

    def position(self, key: K) -> int | None:
        """0 if running, the queue position if waiting, None if neither."""
        if key in self._running:
            return 0
        if key in self._waiting:
            return self._waiting.index(key) + 1
        return None

    def _positions(self, start: int = 0) -> list[SlotChange[K]]:
        return [SlotChange(k, i + 1) for i, k in enumerate(self._waiting) if i >= start]
