"""Bounded mailboxes: overflow policies, a system lane, and batch draining.

Theory of operation. A mailbox is two deques and at most one parked reader, not a trio
memory channel, because a channel can neither drop its oldest message nor let a priority
message jump the queue, and closing its receive side silently discards what is buffered
(research §1.7, §4.4).

* The *user lane* holds ``tell``/``send``/``ask`` messages and is bounded by ``capacity``;
  the ``Overflow`` policy decides what a full lane does.
* The *system lane* holds runtime messages (``Down``, timer messages, ``ask_into``
  results, a supervisor's child notifications). It bypasses the bound, so a monitor or a
  timer still gets through a full mailbox, and it is read first.
* The mailbox belongs to the actor's slot, not to one incarnation: it survives restarts,
  and messages sent during a restart wait for the next incarnation.
* Closing stops new messages (``ActorStopped``) but keeps what is queued, so the reader
  can drain it; what is still queued when the actor ends becomes dead letters.
* The reader hands out up to ``BATCH`` queued messages without yielding, then checkpoints
  once: a synchronous ``tell`` plus batch draining is what makes messaging cheap (§3),
  and the checkpoint per batch keeps one busy actor from starving the others.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import attrs
import trio

from ._ask import Ask
from ._errors import ActorStopped, MailboxFull

if TYPE_CHECKING:
    from ._ask import _ReplySlot

M = TypeVar("M")

BATCH = 64
"""Messages handed out between two checkpoints: large enough to amortise a scheduler pass
(~15 µs) over many ~1 µs messages, small enough that other tasks run every ~100 µs."""


class Overflow(enum.Enum):
    """What a full mailbox does with one more message."""

    REJECT = "reject"
    """``tell`` raises ``MailboxFull``; ``offer`` returns False (and emits ``Dropped``)."""
    DROP_NEWEST = "drop_newest"
    """The new message is dropped (``Dropped`` event; a dropped ask fails with ``MailboxFull``)."""
    DROP_OLDEST = "drop_oldest"
    """The oldest queued message is dropped to make room (``Dropped`` event, as above)."""
    BLOCK_SENDER = "block_sender"
    """``await ref.send(msg)`` and ``ask`` wait for room; ``tell`` (which never blocks)
    raises ``MailboxFull`` and ``offer`` returns False."""


@attrs.frozen
class Mailbox:
    """Mailbox configuration: a bound and an overflow policy."""

    capacity: int = attrs.field(default=64, validator=attrs.validators.ge(1))
    """How many user messages may wait; system messages (Down, timers) do not count."""
    overflow: Overflow = Overflow.REJECT
    """What happens when ``capacity`` messages are already waiting."""


class _Owner(Protocol):
    name: str
    open_asks: set[_ReplySlot] | None

    def on_dropped(self, msg: Any, policy: Overflow) -> None: ...


class MailboxQueue:
    """The queue behind one actor's mailbox (runtime-internal; users see ``Ref`` and
    ``MailboxReader``)."""

    __slots__ = ("_room", "_waiter", "capacity", "closed", "overflow", "owner", "system", "user")

    def __init__(self, config: Mailbox, owner: _Owner) -> None:
        self.user: deque[Any] = deque()
        # Made on first use, like ``_room``: an idle actor should cost little memory, and an
        # empty deque costs ~760 bytes.
        self.system: deque[Any] | None = None
        self.capacity = config.capacity
        self.overflow = config.overflow
        self.closed = False
        self.owner = owner
        self._waiter: trio.lowlevel.Task | None = None
        self._room: trio.lowlevel.ParkingLot | None = None  # senders waiting for room

    def __len__(self) -> int:
        return len(self.user) + (len(self.system) if self.system else 0)

    # -- senders ----------------------------------------------------------------------

    def put(self, msg: Any) -> None:
        """``tell``: enqueue or apply the overflow policy. Never blocks."""
        if self.closed:
            raise ActorStopped(self.owner.name)
        user = self.user
        if len(user) >= self.capacity:
            policy = self.overflow
            if policy is Overflow.DROP_NEWEST:
                self.owner.on_dropped(msg, policy)
                return
            if policy is Overflow.DROP_OLDEST:
                self.owner.on_dropped(user.popleft(), policy)
            else:
                raise MailboxFull(self.owner.name, self.capacity)
        user.append(msg)
        if self._waiter is not None:
            self._wake()

    def offer(self, msg: Any) -> bool:
        """Enqueue if the policy lets the message in now; never raises, never blocks."""
        if self.closed:
            self.owner.on_dropped(msg, self.overflow)
            return False
        if len(self.user) >= self.capacity and self.overflow in (
            Overflow.REJECT,
            Overflow.BLOCK_SENDER,
        ):
            self.owner.on_dropped(msg, self.overflow)
            return False
        self.put(msg)
        return True

    def try_send(self, msg: Any) -> bool:
        """Enqueue if the user lane has room now; otherwise leave it (False), whatever the
        policy: nothing is dropped and no ``Dropped`` event is emitted, because the caller
        keeps the message (e.g. to ``send`` it later, in order). Never blocks."""
        if self.closed:
            raise ActorStopped(self.owner.name)
        if len(self.user) >= self.capacity:
            return False
        self.user.append(msg)
        if self._waiter is not None:
            self._wake()
        return True

    async def send(self, msg: Any) -> None:
        """Enqueue, waiting for room if the policy is BLOCK_SENDER."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self.overflow is Overflow.BLOCK_SENDER:
            while len(self.user) >= self.capacity and not self.closed:
                if self._room is None:
                    self._room = trio.lowlevel.ParkingLot()
                await self._room.park()
        self.put(msg)
        await trio.lowlevel.cancel_shielded_checkpoint()

    def put_system(self, msg: Any) -> bool:
        """Enqueue on the system lane (no bound). False if the mailbox is closed."""
        if self.closed:
            return False
        if self.system is None:
            self.system = deque()
        self.system.append(msg)
        if self._waiter is not None:
            self._wake()
        return True

    # -- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        """Refuse new messages; queued ones stay for the reader to drain."""
        self.closed = True
        if self._room is not None:
            self._room.unpark_all()
        if self._waiter is not None:
            self._wake()

    def take_all(self) -> list[Any]:
        """Remove and return everything queued, system lane first."""
        out = list(self.system) if self.system else []
        out.extend(self.user)
        self.system = None
        self.user.clear()
        if self._room is not None:
            self._room.unpark_all()
        return out

    # -- the reader side --------------------------------------------------------------

    def _wake(self) -> None:
        task = self._waiter
        assert task is not None  # callers wake only a parked reader
        self._waiter = None
        trio.lowlevel.reschedule(task)

    def _abort_wait(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        self._waiter = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def wait_readable(self) -> None:
        if self._waiter is not None:
            raise RuntimeError(
                f"two tasks read the mailbox of actor {self.owner.name!r} at once; "
                "only one task (usually the behavior itself) may iterate ctx.mailbox"
            )
        self._waiter = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort_wait)

    def pop(self) -> Any:
        if self.system:
            return self.system.popleft()
        msg = self.user.popleft()
        if self._room and len(self.user) < self.capacity:
            self._room.unpark()
        return msg

    def has_system(self, msg: Any) -> bool:
        """Whether this exact object is queued on the system lane."""
        return self.system is not None and any(m is msg for m in self.system)


class MailboxReader(Generic[M]):
    """An actor's view of its own mailbox: ``async for msg in ctx.mailbox``.

    Iteration yields system messages (``Down``, timer messages) before user messages and
    ends when the mailbox has been closed (the actor is stopping) *and* everything queued
    has been handed out — so a stop drains the queue. Starting to iterate counts as
    ``ctx.started()``.

    *Cancellation:* up to ``BATCH`` queued messages are handed out without a checkpoint;
    then, or whenever the mailbox is empty, ``__anext__`` yields to trio and may raise
    ``Cancelled``. A cancelled wait takes no message out of the mailbox.
    """

    __slots__ = ("_budget", "_on_first", "_queue")

    def __init__(self, queue: MailboxQueue, on_first: Any = None) -> None:
        self._queue = queue
        self._budget = 0
        self._on_first = on_first

    def __aiter__(self) -> MailboxReader[M]:
        if self._on_first is not None:
            on_first, self._on_first = self._on_first, None
            on_first()
        return self

    async def __anext__(self) -> M:
        # The hot path of every actor: keep it to a few attribute reads (pop is inlined).
        q = self._queue
        user = q.user
        if self._budget and (user or q.system):
            self._budget -= 1
        else:
            if user or q.system:
                await trio.lowlevel.checkpoint()
            while not (user or q.system):
                if q.closed:
                    raise StopAsyncIteration
                await q.wait_readable()
            self._budget = BATCH - 1
        if q.system:
            msg = q.system.popleft()
        else:
            msg = user.popleft()
            if q._room and len(user) < q.capacity:
                q._room.unpark()
        if isinstance(msg, Ask):
            self._hold(msg)
        return msg  # type: ignore[no-any-return]  # the queue holds what tell(M) was given

    def _hold(self, msg: Ask[Any]) -> None:
        slot: _ReplySlot | None = getattr(msg, "_reply_slot", None)
        if slot is not None and not slot.answered:
            # Held by this incarnation until answered: a crash or stop fails it.
            owner = self._queue.owner
            held = owner.open_asks
            if held is None:
                held = owner.open_asks = set()
            slot.tracker = held
            held.add(slot)

    async def receive(self) -> M:
        """The next message; raises ``ActorStopped`` once the mailbox is closed and empty.
        Like iterating, the first call counts as ``ctx.started()``."""
        self.__aiter__()
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise ActorStopped(self._queue.owner.name) from None

    def __len__(self) -> int:
        """How many messages are queued (both lanes)."""
        return len(self._queue)
