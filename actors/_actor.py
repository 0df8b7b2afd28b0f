"""The incarnation loop, ``Context``, and exit classification.

Theory of operation. An actor is a *cell*: a name, a mailbox and a ``Ref`` that outlive
any one run of the behavior. Each run is an *incarnation*: one trio task, started with
``nursery.start`` in its owner's nursery (the system's root nursery or a supervisor's),
so errors raised before ``ctx.started()`` reach whoever started it. Inside the task:

    CancelScope (the runtime's handle: stop deadlines, restart cancellation)
    └── nursery (``ctx.nursery``: helper tasks and timers die with the incarnation)
        └── await behavior(ctx, *args)

When the incarnation ends it is classified (see ``ExitKind``):

* the behavior returned, and nobody asked it to stop      -> NORMAL
* it ended because the runtime asked (stop flag set first) -> SHUTDOWN
* an ``Exception`` escaped the behavior or a helper task   -> CRASH
* anything else (``Cancelled`` from an enclosing scope, ``KeyboardInterrupt``, a group
  holding them) is never caught: the cell is finalized as CANCELLED and the exception
  propagates, so no supervisor sees it as a failure and nothing restarts.

Then the cell's *owner* decides. The system (for top-level actors) finalizes the cell. A
supervisor either finalizes it or, if the restart policy says so, queues a notification
on its own mailbox and starts a new incarnation from its loop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Protocol, TypeAlias, TypeVar

import attrs
import trio

from ._ask import Ask, _ReplySlot, pending_slot
from ._errors import ActorCrashed, ActorStopped, MailboxFull
from ._events import (
    NORMAL,
    SHUTDOWN,
    Crashed,
    DeadLetter,
    Down,
    Dropped,
    ExitKind,
    ExitReason,
    Started,
    Stopped,
)
from ._mailbox import Mailbox, MailboxQueue, MailboxReader, Overflow
from ._ref import Ref

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from ._process import OwnedProcess
    from ._system import System

M = TypeVar("M")
A = TypeVar("A", bound=Ask[Any])  # an ask the target's mailbox takes
logger = logging.getLogger("actors")

Behavior = Callable[..., Awaitable[None]]
"""An actor behavior: ``async def behavior(ctx: Context[M], *args) -> None``. Untyped: see
:data:`BehaviorOf` for the form that types the ``Ref`` a spawn returns."""


class _CellOwner(Protocol):
    def child_exited(self, cell: _Cell, reason: ExitReason) -> None: ...

    def forget(self, cell: _Cell) -> None: ...


class _State:
    STARTING = "starting"
    RUNNING = "running"
    EXITED = "exited"  # an incarnation ended; the owner has not decided yet (or backoff)
    DEAD = "dead"


class _Cell:
    """One actor slot: the mailbox, the Ref, and the current incarnation's handles.

    Slotted, with events, monitor table and held-ask set made on first use: an idle actor
    should cost a few KB (the benchmark's target is 10 KB, task and nursery included).
    """

    __slots__ = (
        "_inc_done",
        "_terminated",
        "args",
        "behavior",
        "box",
        "extra",
        "final_reason",
        "id",
        "incarnation",
        "last_reason",
        "main_task",
        "monitors",
        "name",
        "open_asks",
        "owner",
        "ref",
        "runtime_cancel",
        "scope",
        "shutdown",
        "state",
        "stop_deadline",
        "stop_requested",
        "system",
    )

    def __init__(
        self,
        system: System,
        behavior: Behavior,
        args: Sequence[Any],
        *,
        name: str,
        mailbox: Mailbox,
        owner: _CellOwner,
        shutdown: float,
        ref_class: type[Ref[Any]] = Ref,
    ) -> None:
        self.system = system
        self.behavior = behavior
        self.args = tuple(args)
        self.name = name
        self.id = next(system._ids)
        self.owner = owner
        self.shutdown = shutdown
        self.box = MailboxQueue(mailbox, self)
        self.ref: Ref[Any] = ref_class(self)
        self.incarnation = 0
        self.state = _State.STARTING
        self.scope: trio.CancelScope | None = None
        self.main_task: trio.lowlevel.Task | None = None
        self.open_asks: set[_ReplySlot] | None = None  # asks the incarnation holds
        self.stop_requested = False
        self.runtime_cancel = False  # a supervisor cancelled it to restart it
        self.stop_deadline = math.inf
        self.final_reason: ExitReason | None = None
        self.last_reason: ExitReason | None = None  # how the latest incarnation ended
        self._terminated: trio.Event | None = None
        self._inc_done: trio.Event | None = None
        self.monitors: dict[int, Callable[[ExitReason], None]] | None = None
        self.extra: Any = None  # a supervisor keeps its state here

    @property
    def terminated(self) -> trio.Event:
        """Set once the cell has ended for good."""
        event = self._terminated
        if event is None:
            event = self._terminated = trio.Event()
            if self.state == _State.DEAD:
                event.set()
        return event

    @property
    def inc_done(self) -> trio.Event:
        """Set once the current incarnation has ended."""
        event = self._inc_done
        if event is None:
            event = self._inc_done = trio.Event()
            if self.state in (_State.EXITED, _State.DEAD):
                event.set()
        return event

    # -- called by the mailbox ---------------------------------------------------------

    def on_dropped(self, msg: Any, policy: Overflow) -> None:
        slot = pending_slot(msg)
        if slot is not None:
            slot.reject(MailboxFull(self.name, self.box.capacity))
        self.system._emit(Dropped(self.ref, msg, policy))

    # -- stop -------------------------------------------------------------------------

    def request_stop(self, *, drain: bool, timeout: float | None) -> None:
        if self.state == _State.DEAD:
            return
        self.stop_requested = True
        self.box.close()
        if not drain:
            self._dead_letter(self.box.take_all(), ExitReason(ExitKind.SHUTDOWN))
        if self.state == _State.EXITED:
            # Between incarnations (e.g. waiting for a backoff): nothing runs to drain.
            self.finalize(SHUTDOWN)
            return
        grace = self.shutdown if timeout is None else timeout
        self.stop_deadline = min(self.stop_deadline, trio.current_time() + grace)
        if self.scope is not None:
            self.scope.deadline = self.stop_deadline

    # -- the end of an incarnation, the end of the cell --------------------------------

    def end_incarnation(self, reason: ExitReason, ctx: Context[Any]) -> None:
        self.state = _State.EXITED
        self.last_reason = reason
        self.scope = None
        self.main_task = None
        ctx._release_monitors()
        held = list(self.open_asks or ())
        self.open_asks = None
        for slot in held:
            slot.tracker = None
            slot.reject(self._ask_error(reason))
        if reason.kind is ExitKind.CRASH:
            assert reason.error is not None
            logger.error(
                "actor %r (incarnation %d) crashed",
                self.name,
                self.incarnation,
                exc_info=reason.error,
            )
            self.system._emit(Crashed(self.ref, self.incarnation, reason.error))
        if self._inc_done is not None:
            self._inc_done.set()

    def _ask_error(self, reason: ExitReason) -> Exception:
        if reason.kind is ExitKind.CRASH:
            return ActorCrashed(self.name, reason.error)
        return ActorStopped(self.name, reason)

    def _dead_letter(self, msgs: list[Any], reason: ExitReason) -> None:
        for msg in msgs:
            slot = pending_slot(msg)
            if slot is not None:
                # Never read, so never held: the actor stopped for it, whatever the reason
                # (ActorCrashed is only for asks the crashed incarnation held).
                slot.reject(ActorStopped(self.name, reason))
            self.system._emit(DeadLetter(self.ref, msg))

    def finalize(self, reason: ExitReason) -> None:
        """The cell ends for good: close, dead-letter, notify monitors, publish."""
        if self.state == _State.DEAD:
            return
        self.state = _State.DEAD
        self.final_reason = reason
        self.box.close()
        self._dead_letter(self.box.take_all(), reason)
        monitors = list(self.monitors.values()) if self.monitors else []
        self.monitors = None
        for notify in monitors:
            notify(reason)
        self.owner.forget(self)
        self.system._emit(Stopped(self.ref, reason))
        if self._terminated is not None:
            self._terminated.set()

    def add_monitor(self, notify: Callable[[ExitReason], None]) -> int:
        key = next(self.system._ids)
        if self.final_reason is not None:
            notify(self.final_reason)
        else:
            if self.monitors is None:
                self.monitors = {}
            self.monitors[key] = notify
        return key


@attrs.frozen
class StartFailed:
    """Passed through ``task_status.started`` when a behavior failed before starting."""

    reason: ExitReason


class TimerHandle:
    """A timer started by ``ctx.send_after`` or ``ctx.start_timer``; ``cancel()`` stops it."""

    __slots__ = ("_scope",)

    def __init__(self, scope: trio.CancelScope) -> None:
        self._scope = scope

    def cancel(self) -> None:
        """Stop the timer; a message it already queued stays queued. Idempotent."""
        self._scope.cancel()

    @property
    def active(self) -> bool:
        """False once cancelled (or, for ``send_after``, once the message was sent)."""
        return not self._scope.cancel_called


class MonitorHandle:
    """Returned by ``ctx.monitor``; ``cancel()`` stops watching (no ``Down`` afterwards)."""

    __slots__ = ("_cell", "_key")

    def __init__(self, cell: _Cell, key: int) -> None:
        self._cell = cell
        self._key = key

    def cancel(self) -> None:
        """Stop watching. Idempotent."""
        if self._cell.monitors:
            self._cell.monitors.pop(self._key, None)


class Context(Generic[M]):
    """What a behavior receives: its identity, mailbox, nursery, timers and monitors.

    A ``Context`` belongs to one incarnation. Helper tasks in ``ctx.nursery`` and timers are
    cancelled when the incarnation ends (return, crash, stop, or restart).
    """

    __slots__ = (
        "_cell",
        "_has_started",
        "_monitors",
        "_task_status",
        "incarnation",
        "mailbox",
        "name",
        "nursery",
        "self",
    )

    def __init__(self, cell: _Cell, task_status: trio.TaskStatus[Any]) -> None:
        self._cell = cell
        self._task_status = task_status
        self._has_started = False
        self._monitors: list[MonitorHandle] | None = None
        self.self: Ref[M] = cell.ref
        """This actor's own ``Ref`` (stable across restarts)."""
        self.name: str = cell.name
        """This actor's name."""
        self.incarnation: int = cell.incarnation
        """1 for the first run of the behavior, 2 after the first restart, ..."""
        self.mailbox: MailboxReader[M] = MailboxReader(cell.box, self.started)
        """``async for msg in ctx.mailbox``: see ``MailboxReader``."""
        self.nursery: trio.Nursery = None  # type: ignore[assignment]  # set before the behavior runs
        """A nursery owned by this incarnation, for helper tasks; cancelled when it ends.
        A helper task that raises crashes the actor."""

    @property
    def system(self) -> System:
        """The system this actor runs in (to spawn top-level actors or subscribe to events)."""
        return self._cell.system

    def started(self) -> None:
        """Signal readiness: ``spawn`` / ``start_child`` return now. Idempotent.

        Until then, an exception from the behavior is reported to the spawner as
        ``SpawnError`` instead of being a crash. Iterating ``ctx.mailbox`` calls it for you.
        """
        if self._has_started:
            return
        self._has_started = True
        cell = self._cell
        cell.state = _State.RUNNING
        self._task_status.started(None)
        cell.system._emit(Started(cell.ref, cell.incarnation))

    def stop(self) -> None:
        """Ask this actor to stop for good: its mailbox closes, the ``async for`` drains what
        is queued and ends. Returns at once; the behavior should then return."""
        self._cell.request_stop(drain=True, timeout=None)

    def cleanup_scope(self, grace: float | None = None) -> trio.CancelScope:
        """A shielded scope bounded by ``grace`` seconds (default: this actor's ``shutdown``)
        for cleanup that must run even when the incarnation is being cancelled::

            finally:
                with ctx.cleanup_scope():
                    await conn.aclose()
        """
        return trio.move_on_after(self._cell.shutdown if grace is None else grace, shield=True)

    # -- timers -----------------------------------------------------------------------

    def send_after(self, delay: float, msg: M) -> TimerHandle:
        """Deliver ``msg`` to this actor's own mailbox (system lane) after ``delay`` seconds of
        trio's clock. Cancelled when the incarnation ends."""
        scope = trio.CancelScope()
        deadline = trio.current_time() + delay
        self.nursery.start_soon(self._after, scope, deadline, msg)
        return TimerHandle(scope)

    async def _after(self, scope: trio.CancelScope, deadline: float, msg: M) -> None:
        with scope:
            await trio.sleep_until(deadline)
            self._cell.box.put_system(msg)
            scope.cancel()  # marks the handle inactive

    def start_timer(self, interval: float, msg: M, *, first: float | None = None) -> TimerHandle:
        """Deliver ``msg`` every ``interval`` seconds (first after ``first``, default
        ``interval``). Ticks are anchored to the start time so they do not drift; a tick is
        skipped rather than queued twice if the actor is late."""
        if interval <= 0:
            raise ValueError(f"timer interval must be > 0 seconds, got {interval!r}")
        scope = trio.CancelScope()
        start = trio.current_time() + (interval if first is None else first)
        self.nursery.start_soon(self._every, scope, start, interval, msg)
        return TimerHandle(scope)

    async def _every(self, scope: trio.CancelScope, at: float, interval: float, msg: M) -> None:
        box = self._cell.box
        with scope:
            while True:
                await trio.sleep_until(at)
                if not box.has_system(msg):
                    box.put_system(msg)
                at += interval
                now = trio.current_time()
                if at <= now:  # we fell behind: skip missed ticks, keep the phase
                    at += math.ceil((now - at) / interval) * interval

    # -- monitors and asks from inside ------------------------------------------------

    def monitor(self, ref: Ref[Any], *, as_msg: Callable[[Down], M] | None = None) -> MonitorHandle:
        """Watch ``ref``: when it ends for good, ``Down(ref, reason)`` (or ``as_msg(down)``)
        arrives in this actor's mailbox (system lane). If it has already ended, the message
        is queued at once. The watch ends with this incarnation."""
        box = self._cell.box

        def notify(reason: ExitReason) -> None:
            down = Down(ref, reason)
            box.put_system(as_msg(down) if as_msg is not None else down)

        handle = MonitorHandle(ref._cell, ref._cell.add_monitor(notify))
        if self._monitors is None:
            self._monitors = []
        self._monitors.append(handle)
        return handle

    def _release_monitors(self) -> None:
        for handle in self._monitors or ():
            handle.cancel()
        self._monitors = None

    def ask_into(
        self,
        target: Ref[A],
        msg: A,
        *,
        timeout: float,
        map: Callable[[Any], M],
    ) -> None:
        """Ask ``target`` from a helper task and post ``map(result)`` to this actor's own
        mailbox (system lane), so the behavior never blocks on a peer (Akka's
        ``ctx.ask``). ``result`` is the reply, or the exception the ask raised
        (``AskTimeout``, ``ActorCrashed``, ``ActorStopped``, ``MailboxFull`` or what the
        callee passed to ``fail``)."""

        async def go() -> None:
            try:
                result: Any = await target.ask(msg, timeout=timeout)
            except Exception as exc:
                result = exc
            self._cell.box.put_system(map(result))

        self.nursery.start_soon(go)

    # -- processes --------------------------------------------------------------------

    def open_process(
        self, cmd: Sequence[str], **kwargs: Any
    ) -> AbstractAsyncContextManager[OwnedProcess]:
        """``actors.open_process`` with this actor's ``shutdown`` as the default grace (5 s if
        that is infinite): a child
        process (in its own session) whose whole process group is killed when the block
        exits — normally, by a crash, a stop or a cancel. See ``open_process``."""
        from ._process import open_process

        shutdown = self._cell.shutdown
        # An infinite shutdown (supervisors) must not mean waiting forever after SIGTERM.
        kwargs.setdefault("term_grace", shutdown if shutdown < math.inf else 5.0)
        return open_process(cmd, **kwargs)


BehaviorOf: TypeAlias = Callable[Concatenate[Context[M], ...], Awaitable[None]]
"""A behavior whose mailbox takes ``M``: ``System.spawn`` and ``ChildSpec`` read ``M`` from the
``ctx`` annotation, so the ``Ref`` they give back is a ``Ref[M]``."""


async def run_incarnation(cell: _Cell, *, task_status: trio.TaskStatus[Any]) -> None:
    """The body of one incarnation's task. Started with ``nursery.start``: reports
    ``None`` when the behavior calls ``ctx.started()``, or a ``StartFailed`` value."""
    cell.incarnation += 1
    cell.state = _State.STARTING
    cell._inc_done = None
    cell.runtime_cancel = False
    if not cell.stop_requested:
        # Only a final stop closes a mailbox for good; a supervisor also closes its own
        # while it shuts down, and a restart of it must be able to read again.
        cell.box.closed = False
    ctx: Context[Any] = Context(cell, task_status)
    cell.main_task = trio.lowlevel.current_task()
    try:
        reason = await _run_behavior(cell, ctx)
    except BaseException as exc:
        # Cancelled from outside, KeyboardInterrupt, or a group holding them: never a
        # failure to restart, and never swallowed.
        reason = ExitReason(ExitKind.CANCELLED, exc)
        cell.end_incarnation(reason, ctx)
        cell.finalize(reason)
        raise
    cell.end_incarnation(reason, ctx)
    if not ctx._has_started:
        ctx._has_started = True
        if reason.kind is ExitKind.CRASH:
            task_status.started(StartFailed(reason))
            return  # whoever started it decides (spawn raises; a supervisor counts a crash)
        task_status.started(None)
    cell.owner.child_exited(cell, reason)


async def _run_behavior(cell: _Cell, ctx: Context[Any]) -> ExitReason:
    body_error: Exception | None = None
    try:
        # The nursery's own cancel scope is the runtime's handle on the incarnation (stop
        # deadline, restart cancel): one scope fewer per actor. Only the runtime cancels it
        # before the behavior returns, and it sets a flag first, which is how a cancel we
        # caused is told apart from one coming from outside (that one propagates).
        async with trio.open_nursery() as nursery:
            ctx.nursery = nursery
            cell.scope = nursery.cancel_scope
            nursery.cancel_scope.deadline = cell.stop_deadline
            try:
                await cell.behavior(ctx, *cell.args)
            except Exception as exc:
                body_error = exc
            nursery.cancel_scope.cancel()  # helpers and timers end with the behavior
    except Exception as exc:  # a helper task failed: an ExceptionGroup
        if body_error is not None:  # the behavior failed too: report both
            exc = ExceptionGroup(
                f"actor {cell.name!r} and its helper tasks failed", [body_error, exc]
            )
        return ExitReason(ExitKind.CRASH, exc)
    finally:
        cell.scope = None
    if body_error is not None:
        return ExitReason(ExitKind.CRASH, body_error)
    if cell.stop_requested or cell.runtime_cancel:
        return SHUTDOWN
    return NORMAL
