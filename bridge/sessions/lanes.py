"""Lanes: work for one key runs in order, work for different keys runs side by side.

The router gives each Discord thread (and the main channel) a lane, so a thread waiting on
Discord (a rate-limited thread creation, a notice) delays that thread's later messages and
nobody else's, while one thread's messages keep their order.

Ownership: only the task that calls :meth:`Lanes.submit` (the router's loop) touches the
table of lanes. A lane's task only reads its own channel and ends when it finds it empty;
the next :meth:`submit` for that key notices the closed channel and starts a new lane. No
state has two writers.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Hashable
from typing import Final

import trio

__all__ = ["Job", "Lanes"]

Job = Callable[[], Awaitable[object]]

_PRUNE_AT: Final = 1024
"""Table size at which entries of finished lanes are dropped (memory, not correctness)."""


class Lanes:
    """Per-key FIFO runners in ``nursery``. Jobs run one at a time per key, in submission
    order; an exception in a job propagates into ``nursery`` (a bug, not the peer's fault:
    callers catch what they expect inside the job)."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._lanes: dict[Hashable, trio.MemorySendChannel[Job]] = {}

    def submit(self, key: Hashable, job: Job) -> None:
        """Queue ``job`` behind the key's earlier jobs; never blocks."""
        lane = self._lanes.get(key)
        if lane is not None:
            try:
                lane.send_nowait(job)
                return
            except trio.BrokenResourceError:
                pass  # that lane found itself empty and ended: start another
        if len(self._lanes) >= _PRUNE_AT:
            self._prune()
        send, receive = trio.open_memory_channel[Job](math.inf)
        send.send_nowait(job)
        self._lanes[key] = send
        self._nursery.start_soon(_run_lane, receive, name=f"lane {key}")

    def busy(self) -> int:
        """Lanes with work queued or running."""
        return sum(1 for s in self._lanes.values() if s.statistics().open_receive_channels)

    def _prune(self) -> None:
        for key in [k for k, s in self._lanes.items() if not s.statistics().open_receive_channels]:
            del self._lanes[key]


async def _run_lane(receive: trio.MemoryReceiveChannel[Job]) -> None:
    with receive:
        while True:
            try:
                job = receive.receive_nowait()
            except trio.WouldBlock:
                # Closed in the same step as the check: a submit either got in before
                # (and we run it) or finds the lane closed (and starts a new one).
                return
            await job()
