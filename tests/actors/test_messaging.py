"""Refs: tell, offer, send, ask; mailbox bounds and overflow policies (issue 2, point 3)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.testing

import actors

from .helpers import Block, Crash, Echo, Get, Hold, drain_events, recorder


async def test_tell_is_sync_and_delivers_in_order(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)
        for i in range(50):
            assert ref.tell(i) is None
        assert await ref.ask(Get(), timeout=1) == list(range(50))


async def test_ask_returns_the_reply(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)
        assert await ref.ask(Echo("hi"), timeout=1) == "hi"


async def test_ask_timeout_is_mandatory_and_finite() -> None:
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)
        with pytest.raises(TypeError):
            await ref.ask(Echo(1))  # type: ignore[call-arg]
        for bad in (0, -1, float("inf"), float("nan")):
            with pytest.raises(ValueError, match="finite"):
                await ref.ask(Echo(1), timeout=bad)


async def test_ask_times_out_with_a_clear_error(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)
        t0 = trio.current_time()
        with pytest.raises(actors.AskTimeout) as info:
            await ref.ask(Hold(), timeout=3)
        assert trio.current_time() - t0 == pytest.approx(3)
        assert isinstance(info.value, trio.TooSlowError)
        assert info.value.actor == "recorder"
        assert info.value.message_type == "Hold"
        assert "did not reply to Hold within 3 s" in str(info.value)


async def test_late_reply_after_timeout_goes_nowhere(
    autojump_clock: trio.testing.MockClock,
) -> None:
    held: list[Any] = []

    async def keeper(ctx: actors.Context[Any]) -> None:
        async for msg in ctx.mailbox:
            held.append(msg)

    async with actors.open_system() as system:
        ref = await system.spawn(keeper)
        with pytest.raises(actors.AskTimeout):
            await ref.ask(Echo(1), timeout=1)
        assert not held[0].awaiting_reply
        held[0].reply("late")  # no error, no effect
        with pytest.raises(actors.AlreadyReplied):
            held[0].reply("twice")


async def test_reply_can_be_given_once(autojump_clock: trio.testing.MockClock) -> None:
    errors: list[Exception] = []

    async def double(ctx: actors.Context[Any]) -> None:
        async for msg in ctx.mailbox:
            msg.reply(1)
            try:
                msg.reply(2)
            except actors.AlreadyReplied as exc:
                errors.append(exc)
            try:
                msg.fail(RuntimeError("x"))
            except actors.AlreadyReplied as exc:
                errors.append(exc)

    async with actors.open_system() as system:
        ref = await system.spawn(double)
        assert await ref.ask(Echo(0), timeout=1) == 1
        assert len(errors) == 2
        assert "already answered" in str(errors[0])


async def test_fail_raises_in_the_asker(autojump_clock: trio.testing.MockClock) -> None:
    async def failing(ctx: actors.Context[Any]) -> None:
        async for msg in ctx.mailbox:
            msg.fail(KeyError("nope"))

    async with actors.open_system() as system:
        ref = await system.spawn(failing)
        with pytest.raises(KeyError, match="nope"):
            await ref.ask(Echo(0), timeout=1)
        assert ref.alive


async def test_ask_to_a_crashing_actor_raises_actor_crashed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def crasher(ctx: actors.Context[Any]) -> None:
        async for _ in ctx.mailbox:
            raise RuntimeError("kaput")

    async with actors.open_system() as system:
        ref = await system.spawn(crasher)
        with pytest.raises(actors.ActorCrashed) as info:
            await ref.ask(Echo(0), timeout=5)
        assert isinstance(info.value.cause, RuntimeError)
        assert "crashed before replying" in str(info.value)
        assert not ref.alive


async def test_held_ask_fails_with_actor_crashed_when_a_later_message_crashes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)
        async with trio.open_nursery() as nursery:
            result: list[BaseException] = []

            async def asker() -> None:
                try:
                    await ref.ask(Hold(), timeout=60)
                except actors.ActorCrashed as exc:
                    result.append(exc)

            nursery.start_soon(asker)
            await trio.testing.wait_all_tasks_blocked()
            ref.tell(Crash())
        assert len(result) == 1
        assert trio.current_time() < 60


async def test_ask_to_stopped_actor_raises_actor_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)
        await ref.stop()
        with pytest.raises(actors.ActorStopped):
            await ref.ask(Echo(0), timeout=1)
        with pytest.raises(actors.ActorStopped) as info:
            ref.tell(1)
        assert "is stopped" in str(info.value)
        assert ref.offer(1) is False


async def test_pending_asks_fail_when_the_actor_is_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = trio.Event()
    outcomes: list[Any] = []
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)

        async def ask(msg: Any) -> None:
            try:
                outcomes.append(await ref.ask(msg, timeout=100))
            except actors.ActorsError as exc:
                outcomes.append(type(exc))

        async with trio.open_nursery() as nursery:
            ref.tell(Block(gate))
            nursery.start_soon(ask, Hold())  # queued behind Block, then held
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(ask, Echo(1))
            await trio.testing.wait_all_tasks_blocked()
            await ref.stop(drain=False, timeout=1)
        # drain=False: both were still queued -> dead letters, asks fail with ActorStopped
        assert outcomes == [actors.ActorStopped, actors.ActorStopped]


async def test_asking_yourself_fails_fast(autojump_clock: trio.testing.MockClock) -> None:
    caught: list[Exception] = []

    async def narcissus(ctx: actors.Context[Any]) -> None:
        ctx.started()
        try:
            await ctx.self.ask(Echo(1), timeout=10)
        except actors.AskedSelf as exc:
            caught.append(exc)
        async for _ in ctx.mailbox:
            pass

    async with actors.open_system() as system:
        await system.spawn(narcissus)
        await trio.testing.wait_all_tasks_blocked()
    assert len(caught) == 1
    assert trio.current_time() < 10


async def test_ask_into_posts_the_result_as_a_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    results: list[Any] = []

    async def middle(ctx: actors.Context[Any], target: actors.Ref[Any]) -> None:
        async for msg in ctx.mailbox:
            match msg:
                case ("go", value):
                    ctx.ask_into(target, Echo(value), timeout=1, map=lambda r: ("got", r))
                    ctx.ask_into(target, Hold(), timeout=1, map=lambda r: ("got", r))
                case ("got", r):
                    results.append(r)

    async with actors.open_system() as system:
        target = await system.spawn(recorder)
        mid = await system.spawn(middle, target)
        mid.tell(("go", 7))
        await trio.sleep(2)
    assert results[0] == 7
    assert isinstance(results[1], actors.AskTimeout)


# -- mailbox bounds and overflow policies --------------------------------------------------


async def _blocked(system: actors.System, mailbox: actors.Mailbox) -> tuple[Any, trio.Event]:
    gate = trio.Event()
    log: list[Any] = []
    ref = await system.spawn(recorder, log, mailbox=mailbox)
    ref.tell(Block(gate))
    await trio.testing.wait_all_tasks_blocked()  # the actor is now stuck on the gate
    return ref, gate


async def test_reject_policy_raises_mailbox_full(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system:
        ref, gate = await _blocked(system, actors.Mailbox(2, actors.Overflow.REJECT))
        ref.tell(1)
        ref.tell(2)
        with pytest.raises(actors.MailboxFull) as info:
            ref.tell(3)
        assert info.value.capacity == 2
        assert ref.offer(3) is False
        with pytest.raises(actors.MailboxFull):
            await ref.send(3)
        with pytest.raises(actors.MailboxFull):
            await ref.ask(Echo(3), timeout=1)
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask(Get(), timeout=1) == [1, 2]


async def test_drop_newest_policy(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system:
        async with system.subscribe(actors.Dropped) as events:
            ref, gate = await _blocked(system, actors.Mailbox(2, actors.Overflow.DROP_NEWEST))
            for i in range(5):
                ref.tell(i)
            with pytest.raises(actors.MailboxFull):
                await ref.ask(Echo("x"), timeout=1)  # the ask itself is dropped: it fails
            gate.set()
            await trio.testing.wait_all_tasks_blocked()
            assert await ref.ask(Get(), timeout=1) == [0, 1]
            dropped = drain_events(events)
        assert [e.message for e in dropped[:3]] == [2, 3, 4]
        assert all(e.policy is actors.Overflow.DROP_NEWEST for e in dropped)


async def test_drop_oldest_policy(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system, system.subscribe(actors.Dropped) as events:
        ref, gate = await _blocked(system, actors.Mailbox(2, actors.Overflow.DROP_OLDEST))
        for i in range(5):
            ref.tell(i)
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask(Get(), timeout=1) == [3, 4]
        assert [e.message for e in drain_events(events)] == [0, 1, 2]


async def test_drop_oldest_fails_a_dropped_ask(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system:
        ref, gate = await _blocked(system, actors.Mailbox(1, actors.Overflow.DROP_OLDEST))
        outcome: list[Any] = []

        async def ask() -> None:
            try:
                await ref.ask(Echo(1), timeout=5)
            except actors.MailboxFull as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            ref.tell("newer")  # pushes the queued ask out
        assert len(outcome) == 1
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask(Get(), timeout=1) == ["newer"]


async def test_block_sender_policy_send_waits_for_room(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actors.open_system() as system:
        ref, gate = await _blocked(system, actors.Mailbox(2, actors.Overflow.BLOCK_SENDER))
        ref.tell(1)
        await ref.send(2)
        with pytest.raises(actors.MailboxFull):
            ref.tell(3)  # tell never blocks
        sent = trio.Event()

        async def sender() -> None:
            await ref.send(3)
            sent.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            assert not sent.is_set()  # waiting for room
            gate.set()
        assert sent.is_set()
        assert await ref.ask(Get(), timeout=1) == [1, 2, 3]


@pytest.mark.parametrize("overflow", list(actors.Overflow))
async def test_try_send_queues_while_there_is_room_and_never_drops(
    autojump_clock: trio.testing.MockClock, overflow: actors.Overflow
) -> None:
    async with actors.open_system() as system, system.subscribe(actors.Dropped) as events:
        ref, gate = await _blocked(system, actors.Mailbox(2, overflow))
        assert ref.try_send(1) is True
        assert ref.try_send(2) is True
        assert ref.try_send(3) is False  # full: the caller keeps it, whatever the policy
        assert drain_events(events) == []
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert ref.try_send(3) is True  # room again
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask(Get(), timeout=1) == [1, 2, 3]
        await ref.stop()
        with pytest.raises(actors.ActorStopped):
            ref.try_send(4)


async def test_block_sender_send_cancelled_queues_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actors.open_system() as system:
        ref, gate = await _blocked(system, actors.Mailbox(1, actors.Overflow.BLOCK_SENDER))
        ref.tell(1)
        with trio.move_on_after(1) as scope:
            await ref.send(2)
        assert scope.cancelled_caught
        with pytest.raises(actors.AskTimeout):
            await ref.ask(Echo(0), timeout=1)  # waits for room within its timeout
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask(Get(), timeout=1) == [1]


async def test_send_to_stopped_actor_raises(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)
        await ref.stop()
        with pytest.raises(actors.ActorStopped):
            await ref.send(1)


async def test_system_lane_bypasses_a_full_mailbox(
    autojump_clock: trio.testing.MockClock,
) -> None:
    got: list[Any] = []

    async def watcher(ctx: actors.Context[Any], other: actors.Ref[Any]) -> None:
        ctx.monitor(other)
        ctx.started()
        await gate.wait()
        async for msg in ctx.mailbox:
            got.append(msg)

    gate = trio.Event()
    async with actors.open_system() as system:
        other = await system.spawn(recorder)
        ref = await system.spawn(watcher, other, mailbox=actors.Mailbox(1))
        ref.tell("user")
        with pytest.raises(actors.MailboxFull):
            ref.tell("more")
        await other.stop()
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert isinstance(got[0], actors.Down)  # system lane first, despite the full mailbox
    assert got[1] == "user"


async def test_mailbox_config_validates_capacity() -> None:
    with pytest.raises(ValueError):
        actors.Mailbox(0)


async def test_ask_messages_may_be_plain_attrs_classes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    @attrs.define
    class Mutable(actors.Ask[int]):
        x: int

    async def doubler(ctx: actors.Context[Any]) -> None:
        async for msg in ctx.mailbox:
            msg.reply(msg.x * 2)

    async with actors.open_system() as system:
        ref = await system.spawn(doubler)
        assert await ref.ask(Mutable(21), timeout=1) == 42
