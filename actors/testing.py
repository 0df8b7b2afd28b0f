"""Helpers for testing code built on ``actors`` (in the spirit of ``trio.testing``).

* ``open_test_system``: ``open_system`` with a seeded ``random`` and short timeouts.
* ``settle``: wait until every task is blocked (only meaningful without real I/O).
* ``Probe``: an actor that records what it receives, with ``await probe.expect(...)``
  (Akka's TestProbe).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing

from ._actor import Context
from ._ref import Ref
from ._system import System, open_system


@asynccontextmanager
async def open_test_system(
    *, seed: int = 0, shutdown_timeout: float = 1.0, **kwargs: Any
) -> AsyncIterator[System]:
    """``open_system`` with ``random.Random(seed)`` and a 1 s default shutdown timeout."""
    async with open_system(
        random=random.Random(seed), shutdown_timeout=shutdown_timeout, **kwargs
    ) as system:
        yield system


async def settle() -> None:
    """Wait until every task is blocked: messages sent so far have been handled.

    Sound only when no real I/O (sockets, subprocesses) is in flight."""
    await trio.testing.wait_all_tasks_blocked()


class Probe:
    """An actor that records every message it receives.

    ``probe = await Probe.start(system)``; hand ``probe.ref`` to the code under test; then
    ``msg = await probe.expect(SomeType, timeout=1)``. ``probe.messages`` is everything
    received so far, in order; ``expect`` consumes from the front.
    """

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._cursor = 0
        self._changed = trio.Event()
        self.ref: Ref[Any] = None  # type: ignore[assignment]  # set by start()

    @classmethod
    async def start(cls, system: System, *, name: str = "probe") -> Probe:
        probe = cls()
        probe.ref = await system.spawn(probe._behavior, name=name)
        return probe

    async def _behavior(self, ctx: Context[Any]) -> None:
        async for msg in ctx.mailbox:
            self.messages.append(msg)
            self._changed.set()
            self._changed = trio.Event()

    async def expect(
        self, match: type[Any] | Callable[[Any], bool] = object, *, timeout: float
    ) -> Any:
        """The next unconsumed message; it must match (an ``isinstance`` type or a
        predicate). Raises ``AssertionError`` if it does not, ``trio.TooSlowError`` if
        nothing arrives within ``timeout`` seconds of trio's clock."""
        with trio.fail_after(timeout):
            while self._cursor >= len(self.messages):
                await self._changed.wait()
        msg = self.messages[self._cursor]
        self._cursor += 1
        ok = isinstance(msg, match) if isinstance(match, type) else match(msg)
        assert ok, f"probe {self.ref.name!r} expected {match!r}, got {msg!r}"
        return msg

    def unconsumed(self) -> list[Any]:
        """Messages received but not yet consumed by ``expect``."""
        return self.messages[self._cursor :]
