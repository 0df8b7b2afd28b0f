"""``Ask``: the base class of messages that expect a reply, and its one-shot reply slot.

Theory of operation. ``Ref.ask`` attaches a fresh ``_ReplySlot`` to the message, puts the
message in the target's mailbox and parks the asking task with
``trio.lowlevel.wait_task_rescheduled``. Exactly one of these wakes it, and the slot's
``state`` records which: the callee's ``reply``/``fail``, the system's deadline service
(timeout), the runtime failing it (the callee crashed or stopped, or a full mailbox dropped
it), or the asker's own cancellation (the slot is abandoned). Whatever comes later is
ignored, so every ask resolves exactly once. The slot avoids a cancel scope per ask: a
scope with a deadline costs about as much as the round trip itself (research §3).
"""

from __future__ import annotations

import enum
from typing import Any, Generic, TypeVar

import trio

from ._errors import AlreadyReplied

R = TypeVar("R")


class _SlotState(enum.Enum):
    PENDING = "pending"
    REPLIED = "replied"
    FAILED = "failed"
    ABANDONED = "abandoned"  # the asker timed out or was cancelled; late answers go nowhere


class _ReplySlot:
    __slots__ = ("answered", "deadline", "error", "parked", "state", "task", "tracker", "value")

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.state = _SlotState.PENDING
        self.answered = False  # the callee called reply() or fail() (a second call is a bug)
        self.value: Any = None
        self.error: BaseException | None = None
        self.deadline = 0.0
        # True once the asker is parked in wait_task_rescheduled: only then may it be woken.
        # (A full DROP_NEWEST mailbox can fail the ask before the asker parks.)
        self.parked = False
        # The set of asks the receiving incarnation holds; a crash or stop fails what is left.
        self.tracker: set[_ReplySlot] | None = None

    def resolve(self, value: Any) -> None:
        if self.tracker is not None:
            self.tracker.discard(self)
            self.tracker = None
        if self.state is _SlotState.PENDING:
            self.state = _SlotState.REPLIED
            self.value = value
            if self.parked:
                trio.lowlevel.reschedule(self.task)

    def reject(self, error: BaseException) -> None:
        if self.tracker is not None:
            self.tracker.discard(self)
            self.tracker = None
        if self.state is _SlotState.PENDING:
            self.state = _SlotState.FAILED
            self.error = error
            if self.parked:
                trio.lowlevel.reschedule(self.task)

    def time_out(self, error: BaseException) -> None:
        if self.state is _SlotState.PENDING:
            self.state = _SlotState.ABANDONED
            self.error = error
            if self.parked:
                trio.lowlevel.reschedule(self.task)

    def abort(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        # The asker was cancelled: give up the slot so a late reply is dropped.
        self.state = _SlotState.ABANDONED
        return trio.lowlevel.Abort.SUCCEEDED


class Ask(Generic[R]):
    """Base class for a message that expects one reply of type ``R``.

    Subclass it (attrs classes work, frozen or not)::

        @attrs.frozen
        class GetCount(actors.Ask[int]):
            pass

        count = await ref.ask(GetCount(), timeout=5)      # the caller
        case GetCount() as q: q.reply(self.count)         # the actor

    The runtime attaches a one-shot reply slot when the message is sent with ``Ref.ask``.
    Send a fresh message object per ask. A message that was ``tell``-ed has no slot:
    ``reply`` and ``fail`` then do nothing, because nobody is waiting.
    """

    __slots__ = ("_reply_slot",)

    def reply(self, value: R) -> None:
        """Answer the ask. Never blocks.

        Raises:
            AlreadyReplied: this ask was already answered (``reply`` or ``fail``).

        A reply that arrives after the asker timed out or was cancelled is silently dropped.
        """
        slot: _ReplySlot | None = getattr(self, "_reply_slot", None)
        if slot is None:
            return
        if slot.answered:
            raise AlreadyReplied(type(self).__name__)
        slot.answered = True
        slot.resolve(value)

    def fail(self, error: Exception) -> None:
        """Answer the ask with an error: the asker's ``ask`` raises ``error``.

        Raises:
            AlreadyReplied: this ask was already answered.
        """
        slot: _ReplySlot | None = getattr(self, "_reply_slot", None)
        if slot is None:
            return
        if slot.answered:
            raise AlreadyReplied(type(self).__name__)
        slot.answered = True
        slot.reject(error)

    @property
    def awaiting_reply(self) -> bool:
        """True while an asker is still waiting for this message's reply."""
        slot: _ReplySlot | None = getattr(self, "_reply_slot", None)
        return slot is not None and slot.state is _SlotState.PENDING


def pending_slot(msg: object) -> _ReplySlot | None:
    """The reply slot of ``msg`` if it is an ask somebody still waits on, else None."""
    slot: _ReplySlot | None = getattr(msg, "_reply_slot", None)
    if slot is not None and slot.state is _SlotState.PENDING:
        return slot
    return None
