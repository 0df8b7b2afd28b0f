"""The limiter actor (C8): grants, visible queue positions, and no leaked slots."""

from __future__ import annotations

from typing import Any

import pytest
import trio

import actors
from actors.testing import Probe, open_test_system, settle
from bridge.sessions.limiter import LIMITER_MAILBOX, REDELIVERY_DELAY, limiter_actor
from bridge.sessions.messages import (
    AcquireSlot,
    DrainSlots,
    GetSlots,
    QueuePosition,
    ReleaseSlot,
    SlotGranted,
)

pytestmark = pytest.mark.usefixtures("autojump_clock")


async def _limiter(system: actors.System, limit: int) -> actors.Ref[Any]:
    return await system.spawn(limiter_actor, limit, name="limiter", mailbox=LIMITER_MAILBOX)


async def test_grants_up_to_the_limit_then_queues_in_order() -> None:
    async with open_test_system() as system:
        limiter = await _limiter(system, 2)
        probes = [await Probe.start(system, name=f"s{i}") for i in range(4)]
        for i, probe in enumerate(probes):
            limiter.tell(AcquireSlot(thread_id=i, requester=probe.ref))
        assert await probes[0].expect(SlotGranted, timeout=1) == SlotGranted(thread_id=0)
        assert await probes[1].expect(SlotGranted, timeout=1) == SlotGranted(thread_id=1)
        assert await probes[2].expect(QueuePosition, timeout=1) == QueuePosition(
            thread_id=2, position=1, running=2
        )
        assert await probes[3].expect(QueuePosition, timeout=1) == QueuePosition(
            thread_id=3, position=2, running=2
        )
        snapshot = await limiter.ask(GetSlots(), timeout=1)
        assert snapshot.limit == 2
        assert snapshot.running == frozenset({0, 1})
        assert snapshot.waiting == (2, 3)

        limiter.tell(ReleaseSlot(thread_id=0))
        assert await probes[2].expect(SlotGranted, timeout=1) == SlotGranted(thread_id=2)
        # The one behind moves up and is told so.
        assert await probes[3].expect(QueuePosition, timeout=1) == QueuePosition(
            thread_id=3, position=1, running=2
        )


async def test_leaving_the_queue_moves_those_behind() -> None:
    async with open_test_system() as system:
        limiter = await _limiter(system, 1)
        probes = [await Probe.start(system, name=f"s{i}") for i in range(3)]
        for i, probe in enumerate(probes):
            limiter.tell(AcquireSlot(thread_id=i, requester=probe.ref))
        await probes[2].expect(QueuePosition, timeout=1)
        limiter.tell(ReleaseSlot(thread_id=1))
        assert await probes[2].expect(QueuePosition, timeout=1) == QueuePosition(
            thread_id=2, position=1, running=1
        )
        await settle()
        assert probes[0].unconsumed() == [SlotGranted(thread_id=0)]


async def test_a_requester_that_ends_frees_its_slot() -> None:
    async with open_test_system() as system:
        limiter = await _limiter(system, 1)
        holder = await Probe.start(system, name="holder")
        waiter = await Probe.start(system, name="waiter")
        limiter.tell(AcquireSlot(thread_id=1, requester=holder.ref))
        await holder.expect(SlotGranted, timeout=1)
        limiter.tell(AcquireSlot(thread_id=2, requester=waiter.ref))
        await waiter.expect(QueuePosition, timeout=1)
        await holder.ref.stop()
        assert await waiter.expect(SlotGranted, timeout=1) == SlotGranted(thread_id=2)
        snapshot = await limiter.ask(GetSlots(), timeout=1)
        assert snapshot.running == frozenset({2})


async def _crashy(ctx: actors.Context[Any], seen: list[Any]) -> None:
    async for msg in ctx.mailbox:
        if msg == "boom":
            raise RuntimeError("the session crashed")
        seen.append((ctx.incarnation, msg))


async def test_a_crashed_and_restarted_requester_loses_its_slot() -> None:
    # A restart keeps the ref alive (no Down), so only the Crashed event tells the limiter.
    seen: list[Any] = []
    async with open_test_system() as system:
        limiter = await _limiter(system, 1)
        spec = actors.SupervisorSpec(
            children=[actors.ChildSpec(_crashy, args=(seen,), id="session")],
            max_restarts=5,
            within=10.0,
        )
        sup = await system.start_supervisor(spec, name="sessions")
        session = sup.child("session")
        assert session is not None
        waiter = await Probe.start(system, name="waiter")
        limiter.tell(AcquireSlot(thread_id=1, requester=session))
        limiter.tell(AcquireSlot(thread_id=2, requester=waiter.ref))
        await waiter.expect(QueuePosition, timeout=1)
        session.tell("boom")
        assert await waiter.expect(SlotGranted, timeout=5) == SlotGranted(thread_id=2)
        assert session.alive
        assert session.incarnation == 2
        assert seen == [(1, SlotGranted(thread_id=1))]


async def test_the_restarted_incarnation_keeps_a_slot_it_asks_for_again() -> None:
    seen: list[Any] = []
    async with open_test_system() as system:
        limiter = await _limiter(system, 1)
        spec = actors.SupervisorSpec(
            children=[actors.ChildSpec(_crashy, args=(seen,), id="session")]
        )
        sup = await system.start_supervisor(spec, name="sessions")
        session = sup.child("session")
        assert session is not None
        limiter.tell(AcquireSlot(thread_id=1, requester=session))
        await settle()
        session.tell("boom")
        await settle()
        limiter.tell(AcquireSlot(thread_id=1, requester=session))
        await settle()
        assert seen[-1] == (2, SlotGranted(thread_id=1))
        snapshot = await limiter.ask(GetSlots(), timeout=1)
        assert snapshot.running == frozenset({1})


async def _slow_reader(ctx: actors.Context[Any], go: trio.Event, seen: list[Any]) -> None:
    ctx.started()
    await go.wait()
    async for msg in ctx.mailbox:
        seen.append(msg)


async def test_a_grant_refused_by_a_full_mailbox_is_delivered_later() -> None:
    seen: list[Any] = []
    go = trio.Event()
    async with open_test_system() as system:
        limiter = await _limiter(system, 1)
        session = await system.spawn(
            _slow_reader, go, seen, mailbox=actors.Mailbox(capacity=1), name="full"
        )
        session.tell("filler")
        limiter.tell(AcquireSlot(thread_id=1, requester=session))
        await settle()
        go.set()
        await settle()
        assert seen == ["filler"]
        await trio.sleep(REDELIVERY_DELAY * 2)
        await settle()
        assert seen == ["filler", SlotGranted(thread_id=1)]


async def test_release_of_nothing_is_harmless() -> None:
    async with open_test_system() as system:
        limiter = await _limiter(system, 2)
        limiter.tell(ReleaseSlot(thread_id=42))
        snapshot = await limiter.ask(GetSlots(), timeout=1)
        assert snapshot.running == frozenset()
        assert snapshot.waiting == ()


async def test_a_drain_grants_nothing_more_and_answers_when_the_last_slot_is_given_back() -> None:
    async with open_test_system() as system:
        limiter = await _limiter(system, 2)
        probes = [await Probe.start(system, name=f"s{i}") for i in range(4)]
        for i, probe in enumerate(probes[:3]):
            limiter.tell(AcquireSlot(thread_id=i, requester=probe.ref))
        await probes[0].expect(SlotGranted, timeout=1)
        await probes[1].expect(SlotGranted, timeout=1)
        await probes[2].expect(QueuePosition, timeout=1)
        drained = trio.Event()

        async def drain() -> None:
            await limiter.ask(DrainSlots(), timeout=60)
            drained.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain)
            # The waiting thread is told again, now that it waits for the restart.
            assert await probes[2].expect(QueuePosition, timeout=1) == QueuePosition(
                thread_id=2, position=1, running=2, held=True
            )
            limiter.tell(AcquireSlot(thread_id=3, requester=probes[3].ref))
            assert await probes[3].expect(QueuePosition, timeout=1) == QueuePosition(
                thread_id=3, position=2, running=2, held=True
            )
            limiter.tell(ReleaseSlot(thread_id=0))
            await settle()
            snapshot = await limiter.ask(GetSlots(), timeout=1)
            assert snapshot.running == frozenset({1}), "a freed slot is not granted"
            assert snapshot.waiting == (2, 3)
            assert not drained.is_set()
            limiter.tell(ReleaseSlot(thread_id=1))
            with trio.fail_after(5):
                await drained.wait()
        await settle()
        for probe in probes[2:]:
            assert not any(isinstance(m, SlotGranted) for m in probe.messages)


async def test_a_drain_with_nothing_running_answers_at_once() -> None:
    async with open_test_system() as system:
        limiter = await _limiter(system, 1)
        await limiter.ask(DrainSlots(), timeout=1)
        probe = await Probe.start(system, name="late")
        limiter.tell(AcquireSlot(thread_id=9, requester=probe.ref))
        assert await probe.expect(QueuePosition, timeout=1) == QueuePosition(
            thread_id=9, position=1, running=0, held=True
        )
