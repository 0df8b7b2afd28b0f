"""``Ref``: the handle through which everyone talks to an actor, and the ask deadline service."""

from __future__ import annotations

import heapq
import itertools
import math
from typing import TYPE_CHECKING, Generic, TypeVar

import trio

from ._ask import Ask, _ReplySlot, _SlotState
from ._errors import AskedSelf, AskTimeout
from ._mailbox import Overflow

if TYPE_CHECKING:
    from ._actor import _Cell
    from ._events import ExitReason

# Contravariant: a ref that takes ``A | B`` will do wherever a ref that takes ``A`` is wanted.
M = TypeVar("M", contravariant=True)
R = TypeVar("R")


class Ref(Generic[M]):
    """A handle to an actor that takes messages of type ``M``. Cheap to copy around; compare
    and hash by identity.

    Type a ref by the union of the messages its actor accepts (``Ref[SessionMessage]``), so
    a type checker rejects ``tell``/``offer``/``send`` of a message the actor does not take.
    ``Ref`` is contravariant in ``M``: a ``Ref[A | B]`` is a ``Ref[A]``.

    A ``Ref`` names the actor's *slot*, not one incarnation: it stays valid when a
    supervisor restarts the actor, and messages sent meanwhile wait in the same mailbox.
    Refs are made by ``System.spawn``, ``System.start_supervisor`` and
    ``SupervisorRef.start_child``; never construct one yourself.
    """

    __slots__ = ("_box", "_cell")

    def __init__(self, cell: _Cell) -> None:
        self._cell = cell
        self._box = cell.box

    @property
    def name(self) -> str:
        """The actor's name (for logs and errors; names need not be unique)."""
        return self._cell.name

    @property
    def id(self) -> int:
        """A number unique within the system."""
        return self._cell.id

    @property
    def alive(self) -> bool:
        """False once the actor has ended for good (it will not be restarted)."""
        return self._cell.final_reason is None

    @property
    def incarnation(self) -> int:
        """1 for the first start, incremented by each restart."""
        return self._cell.incarnation

    @property
    def exit_reason(self) -> ExitReason | None:
        """Why the actor ended for good, or None while it is alive."""
        return self._cell.final_reason

    def __repr__(self) -> str:
        state = "alive" if self.alive else f"ended: {self._cell.final_reason}"
        return f"<Ref {self.name!r} #{self.id} ({state})>"

    # -- messages ---------------------------------------------------------------------

    def tell(self, msg: M) -> None:
        """Put ``msg`` in the actor's mailbox. Synchronous: never blocks, never yields.

        Raises:
            ActorStopped: the actor is stopping or stopped (nothing was queued).
            MailboxFull: the mailbox is full and its policy is REJECT or BLOCK_SENDER.

        With DROP_NEWEST / DROP_OLDEST a full mailbox drops a message instead (a
        ``Dropped`` event) and ``tell`` returns normally.
        """
        self._box.put(msg)

    def offer(self, msg: M) -> bool:
        """Like ``tell`` but never raises: returns False (and emits ``Dropped``) if the
        message was not queued because the mailbox is full or closed."""
        return self._box.offer(msg)

    def try_send(self, msg: M) -> bool:
        """Put ``msg`` in the mailbox if it has room now; False if it is full. Synchronous:
        never blocks, never yields.

        Unlike ``offer`` it never applies the overflow policy and never emits ``Dropped``:
        a False means the caller still holds the message, e.g. to ``await send`` it later.
        That makes it the fast path of an edge that wants backpressure without a task
        switch per message: try first, and only when the mailbox is full, wait for room
        (keeping order: once one message waits, later ones must wait behind it).

        Raises:
            ActorStopped: the actor is stopping or stopped (nothing was queued).
        """
        return self._box.try_send(msg)

    async def send(self, msg: M) -> None:
        """Put ``msg`` in the mailbox, waiting for room if the policy is BLOCK_SENDER.

        Meant for the edges of the system (e.g. a socket reader feeding an actor), where
        backpressure is wanted. Between actors prefer ``tell``: two actors that ``send`` to
        each other's full mailboxes wait for each other forever.

        Raises:
            ActorStopped: the actor is stopping or stopped.
            MailboxFull: the mailbox is full and the policy is REJECT.

        *Cancellation:* if cancelled while waiting for room, nothing was queued.
        """
        await self._box.send(msg)

    async def ask(self, msg: Ask[R], *, timeout: float) -> R:
        """Send ``msg`` and wait for its reply.

        Args:
            msg: a fresh ``Ask`` instance; the actor answers with ``msg.reply(value)``.
            timeout: seconds to wait (finite, > 0; mandatory, since trio has no deadlock
                detector). Measured on trio's clock, so ``MockClock`` drives it.

        Returns:
            The value passed to ``reply``.

        Raises:
            AskTimeout: no reply within ``timeout`` (a ``trio.TooSlowError``).
            ActorCrashed: the actor crashed while holding the ask.
            ActorStopped: the actor stopped (or was stopping) before answering.
            MailboxFull: the mailbox refused or dropped the message.
            AskedSelf: the actor's own task asked itself.
            Exception: whatever the actor passed to ``msg.fail(...)``.

        Exactly one of these outcomes happens. *Cancellation:* if the asker is cancelled,
        the ask is abandoned and a late reply is dropped.
        """
        cell = self._cell
        if not 0 < timeout < math.inf:
            raise ValueError(f"ask timeout must be a finite number of seconds > 0, got {timeout!r}")
        task = trio.lowlevel.current_task()
        if task is cell.main_task:
            raise AskedSelf(cell.name)
        await trio.lowlevel.checkpoint_if_cancelled()
        slot = _ReplySlot(task)
        object.__setattr__(msg, "_reply_slot", slot)
        deadline = trio.current_time() + timeout
        box = self._box
        if box.overflow is Overflow.BLOCK_SENDER and len(box.user) >= box.capacity:
            # The slow path: wait for room, within the same timeout.
            with trio.move_on_after(timeout) as waited:
                await box.send(msg)
            if waited.cancelled_caught:
                raise AskTimeout(cell.name, type(msg).__name__, timeout)
        else:
            box.put(msg)
        if slot.state is _SlotState.PENDING and not slot.answered:
            slot.deadline = deadline
            cell.system._deadlines.add(slot, cell.name, type(msg).__name__, timeout)
            slot.parked = True
            await trio.lowlevel.wait_task_rescheduled(slot.abort)
        if slot.state is _SlotState.REPLIED:
            return slot.value  # type: ignore[no-any-return]  # the slot holds what reply(R) gave
        assert slot.error is not None
        raise slot.error

    # -- lifecycle --------------------------------------------------------------------

    async def stop(self, *, drain: bool = True, timeout: float | None = None) -> ExitReason:
        """Stop the actor for good and wait until it has ended.

        1. The mailbox closes: new ``tell``/``ask`` raise ``ActorStopped``.
        2. With ``drain=True`` the behavior's ``async for msg in ctx.mailbox`` goes on
           handing out what is queued, then ends; with ``drain=False`` the queue is
           emptied at once (into dead letters; queued asks fail with ``ActorStopped``).
        3. If the behavior has not returned ``timeout`` seconds after the request
           (default: the actor's ``shutdown`` setting), its incarnation is cancelled;
           cleanup code should use ``ctx.cleanup_scope()`` to run shielded for a bounded
           grace period.
        4. Asks it still holds fail with ``ActorStopped``; unread messages become
           ``DeadLetter`` events; monitors get ``Down``; a supervisor does not restart it.

        Returns the final ``ExitReason`` (also when the actor had already ended).

        *Cancellation:* cancelling the caller abandons the wait, not the stop: the actor
        still ends by itself, within ``timeout``.
        """
        cell = self._cell
        if trio.lowlevel.current_task() is cell.main_task:
            raise RuntimeError(
                f"actor {cell.name!r} awaited its own stop(), which would wait for itself; "
                "call ctx.stop() and return from the behavior instead"
            )
        cell.request_stop(drain=drain, timeout=timeout)
        await cell.terminated.wait()
        assert cell.final_reason is not None
        return cell.final_reason

    async def wait_stopped(self) -> ExitReason:
        """Wait until the actor has ended for good; return why. Does not stop it."""
        await self._cell.terminated.wait()
        assert self._cell.final_reason is not None
        return self._cell.final_reason


class AskDeadlines:
    """Times out pending asks: one task per system instead of a cancel scope per ask.

    A heap of (deadline, seq, slot). The service task sleeps in a cancel scope whose
    deadline is the earliest one in the heap; an earlier new deadline moves it. Slots that
    were answered stay in the heap until popped or until a compaction sweeps them.
    """

    _COMPACT_MIN = 1024

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _ReplySlot, str, str, float]] = []
        self._seq = itertools.count()
        self._scope: trio.CancelScope | None = None
        self._compact_at = self._COMPACT_MIN

    def add(self, slot: _ReplySlot, actor: str, message_type: str, timeout: float) -> None:
        heap = self._heap
        heapq.heappush(heap, (slot.deadline, next(self._seq), slot, actor, message_type, timeout))
        scope = self._scope
        if scope is not None and slot.deadline < scope.deadline:
            scope.deadline = slot.deadline
        if len(heap) >= self._compact_at:
            heap[:] = [e for e in heap if e[2].state is _SlotState.PENDING]
            heapq.heapify(heap)
            self._compact_at = max(self._COMPACT_MIN, 2 * len(heap))

    def _expire(self, now: float) -> None:
        heap = self._heap
        while heap and (heap[0][0] <= now or heap[0][2].state is not _SlotState.PENDING):
            _, _, slot, actor, message_type, timeout = heapq.heappop(heap)
            if slot.state is _SlotState.PENDING:
                slot.time_out(AskTimeout(actor, message_type, timeout))

    async def run(self) -> None:
        """Runs until cancelled (by the system when it closes)."""
        while True:
            self._expire(trio.current_time())
            with trio.CancelScope(deadline=self._heap[0][0] if self._heap else math.inf) as sc:
                self._scope = sc
                await trio.sleep_forever()
            self._scope = None
