"""Supervision in the manner of OTP: specs, strategies, restart intensity, backoff, and
dynamic children.

Theory of operation. A supervisor is an ordinary actor whose behavior (``_supervise``)
owns its children's nursery: every child incarnation is a task in the supervisor's
``ctx.nursery``, so the restart loop runs in the task that owns the children (the lesson
of python-trio/trio#136), and cancelling the supervisor cancels its children with it.

A child incarnation that ends tells its owner (``child_exited``, synchronously, from the
child's task). The owner finalizes the child at once if it must not restart (a stop was
requested, or its ``Restart`` type says no for this exit); otherwise it queues a
``_ChildExited`` on the supervisor's own system lane, and the supervisor loop applies the
strategy: count the restart against the intensity window (trio's clock), stop the
affected siblings in reverse start order, wait for the backoff delay (a timer message, so
the supervisor stays responsive), then start them again in order, with the same ``Ref``
and mailbox. Cancellation of the supervisor restarts nothing: its children end as
CANCELLED, which never reaches the loop, and the loop also checks that its own scope is
not cancelled before a restart.
"""

from __future__ import annotations

import enum
import math
import random
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import attrs
import trio

from ._actor import BehaviorOf, Context, _Cell, _State
from ._ask import Ask
from ._errors import (
    ActorStopped,
    DuplicateChild,
    RestartIntensityExceeded,
    SpawnError,
    UnknownChild,
)
from ._events import SHUTDOWN, ExitKind, ExitReason, IntensityExceeded, Restarted
from ._mailbox import Mailbox
from ._ref import Ref

if TYPE_CHECKING:
    from ._system import System

M = TypeVar("M")


class Strategy(enum.Enum):
    """Which children restart when one fails."""

    ONE_FOR_ONE = "one_for_one"
    """Only the child that ended."""
    ONE_FOR_ALL = "one_for_all"
    """All children: the others are stopped (reverse start order), then all start again."""
    REST_FOR_ONE = "rest_for_one"
    """The child that ended and every child started after it."""


class Restart(enum.Enum):
    """When a child is restarted."""

    PERMANENT = "permanent"
    """Always, after a crash or a normal return (never after a requested stop)."""
    TRANSIENT = "transient"
    """Only after a crash."""
    TEMPORARY = "temporary"
    """Never; also not when a sibling's failure takes it down."""


def _should_restart(restart: Restart, reason: ExitReason) -> bool:
    if restart is Restart.PERMANENT:
        return reason.kind in (ExitKind.NORMAL, ExitKind.CRASH)
    if restart is Restart.TRANSIENT:
        return reason.kind is ExitKind.CRASH
    return False


@attrs.frozen
class Backoff:
    """Exponential backoff between restarts of one child, with jitter.

    The n-th consecutive restart waits ``min(maximum, initial * multiplier**n)`` seconds,
    times a random factor in ``[1 - jitter, 1 + jitter]``. The count resets when an
    incarnation has run for ``reset_after`` seconds.
    """

    initial: float = 0.1
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2
    reset_after: float = 60.0

    def delay(self, failures: int, rng: random.Random) -> float:
        base = min(self.maximum, self.initial * self.multiplier**failures)
        return max(0.0, base * (1.0 + rng.uniform(-self.jitter, self.jitter)))


def _args_tuple(args: Iterable[Any]) -> tuple[Any, ...]:
    # A named converter: the checker cannot infer ``tuple``'s type parameter as one.
    return tuple(args)


def _children_tuple(children: Iterable[ChildSpec[Any]]) -> tuple[ChildSpec[Any], ...]:
    return tuple(children)


@attrs.frozen
class ChildSpec(Generic[M]):
    """How a supervisor starts and restarts one child. ``M`` is what the child's mailbox
    takes, read from the behavior's ``ctx: Context[M]``; ``start_child_spec`` returns a
    ``Ref[M]``."""

    behavior: BehaviorOf[M]
    """``async def behavior(ctx, *args)``."""
    args: tuple[Any, ...] = attrs.field(default=(), kw_only=True, converter=_args_tuple)
    """Positional arguments after ``ctx``."""
    id: Hashable | None = attrs.field(default=None, kw_only=True)
    """The child's key in the supervisor (default: its position in ``children``)."""
    name: str | None = attrs.field(default=None, kw_only=True)
    """For logs (default: ``"<supervisor>/<id>"``)."""
    restart: Restart = attrs.field(default=Restart.PERMANENT, kw_only=True)
    shutdown: float = attrs.field(default=5.0, kw_only=True)
    """Seconds a stop lets the child drain before cancelling it; 0 cancels at once."""
    backoff: Backoff | None = attrs.field(default=None, kw_only=True)
    """Delay restarts (None: restart at once)."""
    mailbox: Mailbox | None = attrs.field(default=None, kw_only=True)
    """Default: the system's."""
    start_timeout: float = attrs.field(default=10.0, kw_only=True)
    """Seconds to wait for ``ctx.started()``."""


@attrs.frozen
class SupervisorSpec:
    """A supervisor: a strategy, a restart intensity, static children and a dynamic template."""

    strategy: Strategy = Strategy.ONE_FOR_ONE
    max_restarts: int = 3
    """More than this many restarts within ``within`` seconds -> give up and escalate."""
    within: float = 5.0
    children: Sequence[ChildSpec[Any]] = attrs.field(default=(), converter=_children_tuple)
    """Started in order when the supervisor starts; stopped in reverse order."""
    dynamic: ChildSpec[Any] | None = None
    """Template for ``SupervisorRef.start_child(*args, id=...)``: its ``args`` come first."""

    def as_child(
        self,
        *,
        id: Hashable | None = None,
        name: str | None = None,
        restart: Restart = Restart.PERMANENT,
        shutdown: float = math.inf,
    ) -> SupervisorChildSpec:
        """This supervisor as a child of another one (a supervision tree). Its default
        ``shutdown`` is infinite: it stops its own children, each within their own limit.
        ``start_child_spec`` of it returns a :class:`SupervisorRef`."""
        return SupervisorChildSpec(
            _supervise,
            args=(self,),
            id=id,
            name=name,
            restart=restart,
            shutdown=shutdown,
            start_timeout=math.inf,
        )


@attrs.frozen
class SupervisorChildSpec(ChildSpec[Any]):
    """A supervisor as a child: made by :meth:`SupervisorSpec.as_child` (so that the checker
    knows ``start_child_spec`` of it returns a :class:`SupervisorRef`)."""


@attrs.frozen
class ChildInfo:
    """A snapshot of one child, from ``SupervisorRef.which_children()``."""

    id: Hashable
    ref: Ref[Any]
    restart: Restart
    running: bool
    """False while it waits to be restarted (e.g. during a backoff)."""
    incarnation: int


class SupervisorRef(Ref[Any]):
    """The ``Ref`` of a supervisor, with methods to manage its children."""

    __slots__ = ()

    def _children(self) -> dict[Hashable, _Child]:
        if self._cell.final_reason is not None:
            raise ActorStopped(self.name, self._cell.final_reason)
        sup: _Supervisor | None = self._cell.extra
        # None while the supervisor itself is being restarted: it has no children then.
        return {} if sup is None else sup.children

    async def start_child(
        self, *args: Any, id: Hashable, name: str | None = None, timeout: float = 60.0
    ) -> Ref[Any]:
        """Start a child from the ``dynamic`` template with ``template.args + args``, keyed by
        ``id`` (e.g. one session per Discord thread). Waits until it has started.

        Raises:
            DuplicateChild: a child with this id exists.
            SpawnError: the behavior failed before ``ctx.started()`` (it is not restarted).
            ValueError: the spec has no ``dynamic`` template.
            ActorStopped: the supervisor is stopped.
        """
        return await self.ask(_StartChild(_DynamicArgs(args, id, name)), timeout=timeout)

    @overload
    async def start_child_spec(
        self, spec: SupervisorChildSpec, *, timeout: float = 60.0
    ) -> SupervisorRef: ...

    @overload
    async def start_child_spec(self, spec: ChildSpec[M], *, timeout: float = 60.0) -> Ref[M]: ...

    async def start_child_spec(self, spec: ChildSpec[Any], *, timeout: float = 60.0) -> Ref[Any]:
        """Start a child from a full ``ChildSpec`` (its ``id`` must be set). Returns a
        ``Ref[M]`` typed by the behavior's ``ctx: Context[M]`` (a ``SupervisorRef`` for a
        ``SupervisorSpec.as_child()``)."""
        return await self.ask(_StartChild(spec), timeout=timeout)

    async def terminate_child(
        self, id: Hashable, *, drain: bool = True, timeout: float | None = None
    ) -> ExitReason:
        """Stop the child ``id`` for good (it is not restarted) and wait until it ended.

        Raises:
            UnknownChild: no such child (it may have ended already).
        """
        child = self._children().get(id)
        if child is None:
            raise UnknownChild(self.name, id)
        return await child.cell.ref.stop(drain=drain, timeout=timeout)

    async def restart_child(self, id: Hashable, *, timeout: float = 60.0) -> Ref[Any]:
        """Cancel the child's current incarnation and start a fresh one: same ``Ref``, same
        mailbox (queued messages wait for the new incarnation), asks it held fail with
        ``ActorStopped``. Does not count toward the restart intensity. Returns the ref once
        the new incarnation has started.

        Raises:
            UnknownChild: no such child.
            SpawnError: the new incarnation failed to start (it is then handled like a
                crash: restarted per its ``Restart`` type, counted toward the intensity).
        """
        result: Ref[Any] = await self.ask(_RestartChild(id), timeout=timeout)
        return result

    def child(self, id: Hashable) -> Ref[Any] | None:
        """The child's ``Ref``, or None. Synchronous snapshot.

        Raises:
            ActorStopped: the supervisor has ended.
        """
        child = self._children().get(id)
        return None if child is None else child.cell.ref

    def which_children(self) -> Mapping[Hashable, ChildInfo]:
        """A snapshot of the children, in start order. Synchronous; never blocks."""
        return {
            key: ChildInfo(
                key,
                c.cell.ref,
                c.spec.restart,
                c.cell.state == _State.RUNNING,
                c.cell.incarnation,
            )
            for key, c in self._children().items()
        }


@attrs.frozen
class _DynamicArgs:
    args: tuple[Any, ...]
    id: Hashable
    name: str | None


@attrs.define(eq=False)
class _StartChild(Ask[Ref[Any]]):
    spec: ChildSpec[Any] | _DynamicArgs


@attrs.define(eq=False)
class _RestartChild(Ask[Ref[Any]]):
    id: Hashable


@attrs.frozen
class _ChildExited:
    child: _Child
    incarnation: int
    reason: ExitReason


@attrs.frozen
class _RestartDue:
    children: tuple[_Child, ...]
    delay: float


@attrs.define(eq=False)
class _Child:
    key: Hashable
    spec: ChildSpec[Any]
    cell: _Cell
    failures: int = 0
    started_at: float = 0.0
    terminating: bool = False  # stopped by the strategy, to be restarted: ignore its exit


class _Supervisor:
    """One supervisor incarnation's state; also the owner of its children's cells."""

    def __init__(self, ctx: Context[Any], spec: SupervisorSpec) -> None:
        self.ctx = ctx
        self.spec = spec
        self.system: System = ctx.system
        self.children: dict[Hashable, _Child] = {}
        self.by_cell: dict[_Cell, _Child] = {}
        self.restarts: deque[float] = deque()
        self.stopping = False

    # -- owner protocol (called from the children's tasks) -----------------------------

    def child_exited(self, cell: _Cell, reason: ExitReason) -> None:
        child = self.by_cell.get(cell)
        if child is None:
            cell.finalize(reason)
            return
        if child.terminating:
            return  # the loop is waiting for this and restarts it
        if self.stopping or cell.stop_requested or not _should_restart(child.spec.restart, reason):
            cell.finalize(reason)
            return
        if not self.ctx._cell.box.put_system(_ChildExited(child, cell.incarnation, reason)):
            cell.finalize(reason)

    def forget(self, cell: _Cell) -> None:
        child = self.by_cell.pop(cell, None)
        if child is not None and self.children.get(child.key) is child:
            del self.children[child.key]

    # -- starting ---------------------------------------------------------------------

    def _make_child(self, spec: ChildSpec[Any], key: Hashable) -> _Child:
        if key in self.children:
            raise DuplicateChild(self.ctx.name, key)
        ref_class: type[Ref[Any]] = Ref
        if spec.behavior is _supervise:
            ref_class = SupervisorRef
        cell = _Cell(
            self.system,
            spec.behavior,
            spec.args,
            name=spec.name or f"{self.ctx.name}/{key}",
            mailbox=spec.mailbox or self.system.default_mailbox,
            owner=self,
            shutdown=spec.shutdown,
            ref_class=ref_class,
        )
        child = _Child(key, spec, cell)
        self.children[key] = child
        self.by_cell[cell] = child
        return child

    async def start_new(self, spec: ChildSpec[Any], key: Hashable) -> Ref[Any]:
        """Start a child for the first time; a failure is the caller's (not restarted)."""
        from ._system import start_cell

        child = self._make_child(spec, key)
        child.started_at = trio.current_time()
        failed = await start_cell(self.ctx.nursery, child.cell, spec.start_timeout)
        if failed is not None:
            child.cell.finalize(failed.reason)
            raise SpawnError(child.cell.name, failed.reason.error) from failed.reason.error
        return child.cell.ref

    async def _restart(self, child: _Child, delay: float) -> None:
        from ._system import start_cell

        cell = child.cell
        if cell.state == _State.DEAD or cell.stop_requested or self.stopping:
            return
        child.started_at = trio.current_time()
        failed = await start_cell(self.ctx.nursery, cell, child.spec.start_timeout)
        if failed is not None:
            # Counts as a crash of the new incarnation: the loop handles it like any other.
            self.child_exited(cell, failed.reason)
            return
        self.system._emit(Restarted(cell.ref, cell.incarnation, delay))

    # -- the strategy -----------------------------------------------------------------

    def _group(self, child: _Child) -> list[_Child]:
        order = list(self.children.values())
        if self.spec.strategy is Strategy.ONE_FOR_ALL:
            return order
        if self.spec.strategy is Strategy.REST_FOR_ONE:
            return order[order.index(child) :]
        return [child]

    async def handle_exit(self, msg: _ChildExited) -> None:
        child = msg.child
        cell = child.cell
        if (
            self.children.get(child.key) is not child
            or cell.incarnation != msg.incarnation
            or cell.state != _State.EXITED
        ):
            return  # stale: already restarted as part of a group, or gone
        if trio.current_effective_deadline() == -math.inf:
            return  # we are being cancelled: restart nothing
        if self.ctx._cell.stop_requested:
            cell.finalize(msg.reason)  # we are stopping: restart nothing either
            return
        now = trio.current_time()
        window = self.spec.within
        while self.restarts and self.restarts[0] <= now - window:
            self.restarts.popleft()
        self.restarts.append(now)
        if len(self.restarts) > self.spec.max_restarts:
            self.system._emit(IntensityExceeded(self.ctx.self, len(self.restarts), window))
            cell.finalize(msg.reason)
            await self.shutdown()
            raise RestartIntensityExceeded(
                self.ctx.name, self.spec.max_restarts, window, msg.reason.error
            ) from msg.reason.error
        group = self._group(child)
        for other in reversed(group):
            if other is not child:
                await self._terminate_for_restart(other)
        again: list[_Child] = []
        for member in group:
            if member is not child and member.spec.restart is Restart.TEMPORARY:
                member.cell.finalize(SHUTDOWN)
            elif member.cell.state == _State.EXITED:
                again.append(member)
        delay = 0.0
        backoff = child.spec.backoff
        if backoff is not None:
            if now - child.started_at >= backoff.reset_after:
                child.failures = 0
            delay = backoff.delay(child.failures, self.system.random)
            child.failures += 1
        if delay > 0:
            self.ctx.send_after(delay, _RestartDue(tuple(again), delay))
        else:
            await self.restart_group(_RestartDue(tuple(again), 0.0))

    async def restart_group(self, due: _RestartDue) -> None:
        for member in due.children:
            if self.children.get(member.key) is member and member.cell.state == _State.EXITED:
                await self._restart(member, due.delay)

    async def _terminate_for_restart(self, child: _Child) -> None:
        cell = child.cell
        if cell.state == _State.DEAD or cell.state == _State.EXITED:
            return
        child.terminating = True
        try:
            if cell.scope is not None:
                cell.runtime_cancel = True
                cell.scope.cancel()
            await cell.inc_done.wait()
        finally:
            child.terminating = False

    async def shutdown(self) -> None:
        """Stop every child for good, in reverse start order."""
        self.stopping = True
        # Refuse new requests at once (start_child raises ActorStopped) instead of queueing
        # them behind a shutdown that may take each child's full shutdown timeout.
        self.ctx._cell.box.close()
        for child in reversed(list(self.children.values())):
            await child.cell.ref.stop(timeout=child.spec.shutdown)


async def _supervise(ctx: Context[Any], spec: SupervisorSpec) -> None:
    sup = _Supervisor(ctx, spec)
    ctx._cell.extra = sup
    try:
        await _run_supervisor(ctx, sup, spec)
    finally:
        ctx._cell.extra = None
        sup.stopping = True  # children that end after this are finalized, not queued
        # Children waiting for a restart that will now never come (we are being cancelled,
        # or crashed) end here, so their mailboxes close and their asks and monitors resolve.
        # Running children end by themselves as the nursery cancels them.
        for child in list(sup.children.values()):
            if child.cell.state == _State.EXITED:
                child.cell.finalize(child.cell.last_reason or SHUTDOWN)


async def _run_supervisor(ctx: Context[Any], sup: _Supervisor, spec: SupervisorSpec) -> None:
    try:
        for index, child_spec in enumerate(spec.children):
            key = index if child_spec.id is None else child_spec.id
            await sup.start_new(child_spec, key)
    except Exception:
        # A child failed to start: stop the ones already started (in reverse order), then
        # fail our own start. (On cancellation the nursery simply cancels them.)
        await sup.shutdown()
        raise
    ctx.started()
    async for msg in ctx.mailbox:
        if isinstance(msg, _ChildExited):
            await sup.handle_exit(msg)
        elif isinstance(msg, _RestartDue):
            await sup.restart_group(msg)
        elif isinstance(msg, _StartChild):
            await _start_child(sup, msg)
        elif isinstance(msg, _RestartChild):
            await _restart_child(sup, msg)
    await sup.shutdown()


async def _restart_child(sup: _Supervisor, msg: _RestartChild) -> None:
    child = sup.children.get(msg.id)
    if child is None or child.cell.stop_requested:
        msg.fail(UnknownChild(sup.ctx.name, msg.id))
        return
    await sup._terminate_for_restart(child)
    if child.cell.state != _State.EXITED:
        msg.fail(UnknownChild(sup.ctx.name, msg.id))  # it ended for good meanwhile
        return
    incarnation = child.cell.incarnation
    await sup._restart(child, 0.0)
    if child.cell.incarnation > incarnation and child.cell.state == _State.RUNNING:
        msg.reply(child.cell.ref)
    else:
        msg.fail(SpawnError(child.cell.name, None))


async def _start_child(sup: _Supervisor, msg: _StartChild) -> None:
    request = msg.spec
    try:
        if isinstance(request, _DynamicArgs):
            template = sup.spec.dynamic
            if template is None:
                raise ValueError(
                    f"supervisor {sup.ctx.name!r} has no dynamic child template; "
                    "set SupervisorSpec(dynamic=ChildSpec(...)) or use start_child_spec"
                )
            spec = attrs.evolve(
                template, args=template.args + request.args, id=request.id, name=request.name
            )
        else:
            spec = request
        if spec.id is None:
            raise ValueError("a child started at run time needs an id")
        ref = await sup.start_new(spec, spec.id)
    except Exception as exc:
        msg.fail(exc)
    else:
        msg.reply(ref)
