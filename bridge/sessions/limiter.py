"""The limiter actor (C8): at most ``limit`` ``claude`` processes, the rest queued visibly.

The bookkeeping is :class:`~bridge.sessions.slots.SlotQueue`; this actor only turns its
changes into messages. A session tells :class:`AcquireSlot` and is told back
:class:`SlotGranted` or :class:`QueuePosition` (then more positions as the queue moves,
and the grant when its turn comes); it tells :class:`ReleaseSlot` when the turn ends *and*
whenever it starts waiting for a human, so a slot is never held through such a wait.

A slot must never leak, so the limiter lets go of a holder's slot or queue place when:

* the requester actor ends for good (a monitor's ``Down``);
* the incarnation that asked crashes (a ``Crashed`` event; the supervisor may restart
  the actor under the same ref, and the new incarnation knows nothing of the old slot);
* a grant cannot be delivered because the requester is stopping or gone.

A requester whose mailbox is momentarily full gets the message again shortly after
(:data:`REDELIVERY_DELAY`), so a grant is never lost silently.

:class:`DrainSlots` (an upgrade's drain, A3) holds the queue: nothing is granted any more,
every waiting thread is told its position again with ``held`` (its notice says why), and
the answer comes once the last slot is given back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeAlias

import attrs

import actors
from bridge.sessions.messages import (
    AcquireSlot,
    DrainSlots,
    GetSlots,
    LimiterMessage,
    QueuePosition,
    ReleaseSlot,
    SlotGranted,
    SlotsSnapshot,
)
from bridge.sessions.slots import SlotChange, SlotQueue

__all__ = ["LIMITER_MAILBOX", "REDELIVERY_DELAY", "limiter_actor"]

log = logging.getLogger(__name__)

REDELIVERY_DELAY = 0.5
"""Seconds before retrying a grant or position a full mailbox refused."""

LIMITER_MAILBOX = actors.Mailbox(capacity=4096, overflow=actors.Overflow.REJECT)
"""Large: every session talks to the limiter, and a refused ReleaseSlot would leak a slot."""


@attrs.frozen
class _Holder:
    """Who asked for a thread's slot: the ref and the incarnation that asked."""

    ref: actors.Ref[SlotGranted | QueuePosition]
    incarnation: int
    monitor: actors.MonitorHandle = attrs.field(eq=False)


@attrs.frozen
class _RequesterDown:
    thread_id: int
    ref_id: int


@attrs.frozen
class _RequesterCrashed:
    ref_id: int
    incarnation: int


@attrs.frozen
class _Redeliver:
    thread_id: int
    incarnation: int


_Mailbox: TypeAlias = LimiterMessage | _RequesterDown | _RequesterCrashed | _Redeliver
"""What others tell the limiter, and what its monitors, event watcher and timers post."""


def _requester_down(thread_id: int) -> Callable[[actors.Down], _RequesterDown]:
    return lambda down: _RequesterDown(thread_id, down.ref.id)


async def limiter_actor(ctx: actors.Context[_Mailbox], limit: int) -> None:
    """Serve :class:`AcquireSlot`, :class:`ReleaseSlot` and :class:`GetSlots`.

    Args:
        limit: ``MAX_CONCURRENT_SESSIONS``, at least 1.
    """
    queue: SlotQueue[int] = SlotQueue(limit)
    holders: dict[int, _Holder] = {}
    drains: list[DrainSlots] = []

    def answer_drains() -> None:
        if queue.held and not queue.running:
            for ask in drains:
                ask.reply(None)
            drains.clear()

    def notify(change: SlotChange[int]) -> None:
        holder = holders.get(change.key)
        if holder is None:
            return
        msg: SlotGranted | QueuePosition
        if change.position == 0:
            msg = SlotGranted(thread_id=change.key)
        else:
            msg = QueuePosition(
                thread_id=change.key,
                position=change.position,
                running=len(queue.running),
                held=queue.held,
            )
        try:
            holder.ref.tell(msg)
        except actors.MailboxFull:
            ctx.send_after(REDELIVERY_DELAY, _Redeliver(change.key, holder.incarnation))
        except actors.ActorStopped:
            log.info("limiter: thread %s is stopping; freeing its slot", change.key)
            release(change.key)

    def release(thread_id: int) -> None:
        holder = holders.pop(thread_id, None)
        if holder is not None:
            holder.monitor.cancel()
        for change in queue.release(thread_id):
            notify(change)
        answer_drains()

    def acquire(msg: AcquireSlot) -> None:
        current = holders.get(msg.thread_id)
        if current is None or current.ref.id != msg.requester.id:
            if current is not None:
                current.monitor.cancel()
            handle = ctx.monitor(
                msg.requester,
                as_msg=_requester_down(msg.thread_id),
            )
            holders[msg.thread_id] = _Holder(msg.requester, msg.requester.incarnation, handle)
        else:
            holders[msg.thread_id] = attrs.evolve(current, incarnation=msg.requester.incarnation)
        notify(queue.acquire(msg.thread_id))

    ctx.nursery.start_soon(_watch_crashes, ctx)
    ctx.started()
    async for msg in ctx.mailbox:
        match msg:
            case AcquireSlot():
                acquire(msg)
            case ReleaseSlot(thread_id=thread_id):
                release(thread_id)
            case _RequesterDown(thread_id=thread_id, ref_id=ref_id):
                holder = holders.get(thread_id)
                if holder is not None and holder.ref.id == ref_id:
                    release(thread_id)
            case _RequesterCrashed(ref_id=ref_id, incarnation=incarnation):
                crashed = [
                    tid
                    for tid, h in holders.items()
                    if h.ref.id == ref_id and h.incarnation == incarnation
                ]
                for thread_id in crashed:
                    log.info(
                        "limiter: the session of thread %s crashed; freeing its slot", thread_id
                    )
                    release(thread_id)
            case _Redeliver(thread_id=thread_id, incarnation=incarnation):
                holder = holders.get(thread_id)
                position = queue.position(thread_id)
                if (
                    holder is not None
                    and holder.incarnation == incarnation
                    and position is not None
                ):
                    notify(SlotChange(thread_id, position))
            case DrainSlots():
                drains.append(msg)
                for change in queue.hold():
                    notify(change)
                answer_drains()
            case GetSlots():
                msg.reply(
                    SlotsSnapshot(limit=queue.limit, running=queue.running, waiting=queue.waiting)
                )
            case _:
                log.warning("limiter: ignoring unexpected message %r", msg)


async def _watch_crashes(ctx: actors.Context[_Mailbox]) -> None:
    # A crash followed by a restart sends no Down (the ref lives on), so the lifecycle
    # events are the only way to learn that the incarnation holding a slot is gone.
    async with ctx.system.subscribe(actors.Crashed) as events:
        async for event in events:
            ctx.self.offer(_RequesterCrashed(event.ref.id, event.incarnation))
