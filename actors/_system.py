"""``open_system`` / ``run_system`` and ``System``: the root nursery, top-level actors, the
event stream and the ask deadline service.

A system exists only inside ``async with open_system() as system:`` (or while
``run_system`` runs); the package keeps no module state, never calls ``trio.run``, installs
no signal handler and configures no logging (it only logs to ``logging.getLogger("actors")``).

Each system owns a ``Lifeline`` (``_lifeline.py``): a watchdog process, started with the
first ``open_process`` inside the system, that kills the system's process groups if our
process dies without running any cleanup (SIGKILL). The system makes its lifeline the
current one in the ``open_system`` block and in every actor's task, and closes it last.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import math
import random as _random
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import trio

from ._actor import Behavior, BehaviorOf, StartFailed, _Cell, run_incarnation
from ._errors import ActorCrashed, SpawnError, SystemClosed
from ._events import EVENT_TYPES, ExitKind, ExitReason
from ._lifeline import Lifeline, current_lifeline
from ._mailbox import Mailbox
from ._ref import AskDeadlines, Ref
from ._supervisor import SupervisorRef, SupervisorSpec, _supervise

M = TypeVar("M")
logger = logging.getLogger("actors")


class EventStream:
    """A bounded stream of lifecycle events: ``async for event in stream``.

    If the subscriber falls ``buffer`` events behind, newer events are lost and counted in
    ``lost``; the actors are never slowed down by a subscriber.
    """

    def __init__(self, kinds: tuple[type[Any], ...], buffer: int) -> None:
        self.kinds = kinds
        self._send, self._receive = trio.open_memory_channel[Any](buffer)
        self.lost = 0
        """How many events this subscriber lost because its buffer was full."""

    def _offer(self, event: Any) -> bool:
        try:
            self._send.send_nowait(event)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            self.lost += 1
            return False
        return True

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def receive(self) -> Any:
        """The next event (waits for one)."""
        return await self._receive.receive()

    def receive_nowait(self) -> Any:
        """The next buffered event; raises ``trio.WouldBlock`` if there is none."""
        return self._receive.receive_nowait()


async def start_cell(
    nursery: trio.Nursery, cell: _Cell, start_timeout: float
) -> StartFailed | None:
    """Start one incarnation of ``cell`` in ``nursery`` and wait for ``ctx.started()``.

    Returns None once started, or ``StartFailed`` if the behavior raised first, or if it
    did not start within ``start_timeout`` seconds (it is then cancelled).
    """
    with trio.move_on_after(start_timeout) as waited:
        result: StartFailed | None = await nursery.start(_run_in_system, cell)
        return result
    assert waited.cancelled_caught
    error = trio.TooSlowError(
        f"actor {cell.name!r} did not call ctx.started() within {start_timeout:g} s"
    )
    return StartFailed(ExitReason(ExitKind.CRASH, error))


async def _run_in_system(cell: _Cell, *, task_status: trio.TaskStatus[Any]) -> None:
    # The spawner may be a task outside the system (``await system.spawn(...)`` after
    # ``nursery.start(run_system)``), whose context has no lifeline: set the cell's own.
    current_lifeline.set(cell.system._lifeline)
    await run_incarnation(cell, task_status=task_status)


class System:
    """A running actor system. Made by ``open_system`` / ``run_system`` only."""

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        name: str,
        mailbox: Mailbox,
        shutdown_timeout: float,
        rng: _random.Random,
    ) -> None:
        self.name = name
        self.default_mailbox = mailbox
        self.shutdown_timeout = shutdown_timeout
        self.random = rng
        """The source of jitter for backoffs (seed it for reproducible tests)."""
        self._nursery = nursery
        self._deadlines = AskDeadlines()
        self._ids = itertools.count(1)  # actor ids and monitor keys, unique per system
        self._subscribers: list[EventStream] = []
        self._top: dict[_Cell, bool] = {}  # top-level cells in start order -> critical
        self._closing = False
        self._closed = trio.Event()
        self._service_scope = trio.CancelScope()
        self._lifeline = Lifeline()
        self.events_lost = 0
        """Events lost by all subscribers together (slow subscribers)."""

    # -- actors -----------------------------------------------------------------------

    async def spawn(
        self,
        behavior: BehaviorOf[M],
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox | None = None,
        shutdown: float | None = None,
        start_timeout: float = 10.0,
        critical: bool = False,
    ) -> Ref[M]:
        """Start a top-level actor running ``behavior(ctx, *args)`` and wait until it is ready.

        Args:
            behavior: ``async def behavior(ctx: Context[M], *args) -> None``; the ``Ref``
                returned is a ``Ref[M]``.
            name: for logs and errors (default: the function's name).
            mailbox: bound and overflow policy (default: the system's).
            shutdown: seconds a stop lets it drain before cancelling it (default: the
                system's ``shutdown_timeout``).
            start_timeout: seconds to wait for ``ctx.started()`` (or the first mailbox read).
            critical: if True, a crash of this actor fails the whole system: the
                ``open_system`` block raises (an ``ExceptionGroup`` holding ``ActorCrashed``).

        Returns:
            Its ``Ref``.

        Raises:
            SpawnError: the behavior raised (or did not start in time) before
                ``ctx.started()``; ``cause`` is the original exception.
            SystemClosed: the system is closing.

        A top-level actor is never restarted: when it crashes, the crash is logged and
        published as a ``Crashed`` event, and the actor ends. Put actors that must come
        back under a supervisor (``start_supervisor``).
        """
        cell = self._new_cell(behavior, args, name, mailbox, shutdown)
        self._top[cell] = critical
        await self._start_top(cell, start_timeout)
        return cell.ref

    async def start_supervisor(
        self,
        spec: SupervisorSpec,
        *,
        name: str | None = None,
        start_timeout: float = math.inf,
        critical: bool = False,
    ) -> SupervisorRef:
        """Start a top-level supervisor (``SupervisorSpec``) and its static children.

        Returns a ``SupervisorRef`` once every static child has started. If one fails to
        start, the ones already started are stopped and ``SpawnError`` is raised.

        A top-level supervisor that gives up (``RestartIntensityExceeded``) ends with a
        ``Crashed`` event and a log record; with ``critical=True`` it also fails the whole
        system, as a critical ``spawn`` does. Its stop timeout is infinite: it stops its
        children in reverse order, each within its own ``ChildSpec.shutdown``.
        """
        cell = self._new_cell(
            _supervise, (spec,), name or "supervisor", None, math.inf, SupervisorRef
        )
        self._top[cell] = critical
        await self._start_top(cell, start_timeout)
        assert isinstance(cell.ref, SupervisorRef)
        return cell.ref

    def _new_cell(
        self,
        behavior: Behavior,
        args: Sequence[Any],
        name: str | None,
        mailbox: Mailbox | None,
        shutdown: float | None,
        ref_class: type[Ref[Any]] = Ref,
    ) -> _Cell:
        if self._closing:
            raise SystemClosed(self.name)
        return _Cell(
            self,
            behavior,
            args,
            name=name or str(getattr(behavior, "__name__", "actor")),
            mailbox=mailbox or self.default_mailbox,
            owner=self,
            shutdown=self.shutdown_timeout if shutdown is None else shutdown,
            ref_class=ref_class,
        )

    async def _start_top(self, cell: _Cell, start_timeout: float) -> None:
        failed = await start_cell(self._nursery, cell, start_timeout)
        if failed is not None:
            cell.finalize(failed.reason)
            raise SpawnError(cell.name, failed.reason.error) from failed.reason.error

    def actors(self) -> list[Ref[Any]]:
        """The live top-level actors (and supervisors), in start order."""
        return [cell.ref for cell in self._top]

    # -- owner protocol for top-level cells -------------------------------------------

    def child_exited(self, cell: _Cell, reason: ExitReason) -> None:
        critical = self._top.get(cell, False)
        cell.finalize(reason)
        if critical and reason.kind is ExitKind.CRASH:
            raise ActorCrashed(cell.name, reason.error) from reason.error

    def forget(self, cell: _Cell) -> None:
        self._top.pop(cell, None)

    # -- events -----------------------------------------------------------------------

    def subscribe(
        self, *kinds: type[Any], buffer: int = 256
    ) -> AbstractAsyncContextManager[EventStream]:
        """Observe lifecycle events::

            async with system.subscribe(actors.Crashed, actors.Restarted) as events:
                async for event in events:
                    ...

        Args:
            kinds: event classes to receive (default: all of ``Started``, ``Stopped``,
                ``Crashed``, ``Restarted``, ``Dropped``, ``DeadLetter``, ``IntensityExceeded``).
            buffer: events held for this subscriber; beyond that they are lost and
                counted (``stream.lost``, ``system.events_lost``).
        """
        return self._subscription(kinds or EVENT_TYPES, buffer)

    @asynccontextmanager
    async def _subscription(
        self, kinds: tuple[type[Any], ...], buffer: int
    ) -> AsyncIterator[EventStream]:
        stream = EventStream(tuple(kinds), buffer)
        self._subscribers.append(stream)
        try:
            yield stream
        finally:
            self._subscribers.remove(stream)
            stream._send.close()
            stream._receive.close()

    def _emit(self, event: Any) -> None:
        for stream in self._subscribers:
            if isinstance(event, stream.kinds) and not stream._offer(event):
                self.events_lost += 1

    # -- shutdown ---------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop every top-level actor, in reverse start order, each with its own
        ``shutdown`` timeout (supervisors stop their children the same way), then stop the
        system's own service task. Idempotent; a second caller waits for the first.

        *Cancellation:* if cancelled, the actors not yet stopped are cancelled along with
        the system's nursery when the ``open_system`` block exits.
        """
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        while self._top:
            cell = next(reversed(self._top))
            await cell.ref.stop()
        self._service_scope.cancel()
        self._closed.set()

    @property
    def closed(self) -> bool:
        """True once ``aclose`` has finished."""
        return self._closed.is_set()

    async def _run_services(self) -> None:
        with self._service_scope:
            await self._deadlines.run()


@asynccontextmanager
async def open_system(
    *,
    name: str = "actors",
    mailbox: Mailbox | None = None,
    shutdown_timeout: float = 5.0,
    random: _random.Random | None = None,
) -> AsyncIterator[System]:
    """Open an actor system for the duration of an ``async with`` block.

    Args:
        name: for logs and errors.
        mailbox: the default mailbox of actors spawned without one (``Mailbox()``:
            64 messages, ``Overflow.REJECT``).
        shutdown_timeout: default seconds an actor may drain when stopped.
        random: jitter source for supervisor backoff (default: a fresh ``random.Random()``).

    When the block ends normally, ``System.aclose()`` stops every actor gracefully, in
    reverse start order. When it ends with an exception (or is cancelled), everything is
    cancelled at once and the exception propagates; actors' processes are still killed.
    No task is left behind either way.

    Processes opened in the system (``ctx.open_process``, or ``actors.open_process`` in
    an actor's task or in this block) are also guarded by the system's lifeline watchdog,
    which kills their process groups if this process is SIGKILLed. It is started with the
    first such process and stopped last, after every actor and process has ended (waited
    for, shielded and bounded), so no process is left behind here either.
    """
    if not 0 <= shutdown_timeout < math.inf:
        raise ValueError(f"shutdown_timeout must be finite and >= 0, got {shutdown_timeout!r}")
    lifeline: Lifeline | None = None
    token: contextvars.Token[Lifeline | None] | None = None
    try:
        async with trio.open_nursery() as nursery:
            system = System(
                nursery,
                name=name,
                mailbox=mailbox or Mailbox(),
                shutdown_timeout=shutdown_timeout,
                rng=random or _random.Random(),
            )
            lifeline = system._lifeline
            token = current_lifeline.set(lifeline)
            nursery.start_soon(system._run_services)
            yield system
            await system.aclose()
    finally:
        if token is not None:
            current_lifeline.reset(token)
        if lifeline is not None:
            await lifeline.aclose()


async def run_system(
    *,
    task_status: trio.TaskStatus[System] = trio.TASK_STATUS_IGNORED,
    **kwargs: Any,
) -> None:
    """Run a system as a service: ``system = await nursery.start(run_system)``.

    Takes the same keyword arguments as ``open_system``. Runs until ``await
    system.aclose()`` (a graceful stop) or until cancelled (everything is cancelled).
    """
    async with open_system(**kwargs) as system:
        task_status.started(system)
        await system._closed.wait()
