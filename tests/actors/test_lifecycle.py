"""Behaviors and their Context: started, init errors, helper tasks, timers, monitors,
events and graceful stop with drain (issue 2, points 2, 6 and 7)."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest
import trio
import trio.testing

import actors

from .helpers import Block, Crash, Echo, Hold, drain_events, recorder

# -- started() and init errors -------------------------------------------------------------


async def test_spawn_waits_for_started(autojump_clock: trio.testing.MockClock) -> None:
    steps: list[str] = []

    async def slow_init(ctx: actors.Context[Any]) -> None:
        await trio.sleep(5)
        steps.append("ready")
        ctx.started()
        async for _ in ctx.mailbox:
            pass

    async with actors.open_system() as system:
        await system.spawn(slow_init)
        assert steps == ["ready"]
        assert trio.current_time() == pytest.approx(5)


async def test_init_error_surfaces_to_the_spawner(autojump_clock: trio.testing.MockClock) -> None:
    async def bad_init(ctx: actors.Context[Any]) -> None:
        raise OSError("config missing")

    async with actors.open_system() as system, system.subscribe() as events:
        with pytest.raises(actors.SpawnError) as info:
            await system.spawn(bad_init, name="bad")
        assert isinstance(info.value.cause, OSError)
        assert info.value.__cause__ is info.value.cause
        assert str(info.value) == "actor 'bad' failed to start (OSError: config missing)"
        stopped = [e for e in drain_events(events) if isinstance(e, actors.Stopped)]
        assert stopped[0].reason.kind is actors.ExitKind.CRASH
        assert system.actors() == []


async def test_spawn_times_out_if_started_is_never_called(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def never_ready(ctx: actors.Context[Any]) -> None:
        await trio.sleep_forever()

    async with actors.open_system() as system:
        with pytest.raises(actors.SpawnError) as info:
            await system.spawn(never_ready, start_timeout=2)
        assert isinstance(info.value.cause, trio.TooSlowError)
        assert trio.current_time() == pytest.approx(2)


async def test_iterating_the_mailbox_counts_as_started(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)  # never calls ctx.started() itself
        assert ref.alive


async def test_behavior_returning_before_started_is_a_normal_exit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def quick(ctx: actors.Context[Any]) -> None:
        return

    async with actors.open_system() as system:
        ref = await system.spawn(quick)
        reason = await ref.wait_stopped()
        assert reason.kind is actors.ExitKind.NORMAL


async def test_spawn_after_close_raises_system_closed() -> None:
    async with actors.open_system(name="s1") as system:
        pass
    assert system.closed
    with pytest.raises(actors.SystemClosed, match="s1"):
        await system.spawn(recorder)


# -- helper tasks --------------------------------------------------------------------------


async def test_helper_tasks_end_with_the_incarnation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    helper_done = trio.Event()

    async def with_helper(ctx: actors.Context[Any]) -> None:
        async def helper() -> None:
            try:
                await trio.sleep_forever()
            finally:
                helper_done.set()

        ctx.nursery.start_soon(helper)
        async for _ in ctx.mailbox:
            return

    async with actors.open_system() as system:
        ref = await system.spawn(with_helper)
        ref.tell("quit")
        assert (await ref.wait_stopped()).kind is actors.ExitKind.NORMAL
        assert helper_done.is_set()


async def test_a_failing_helper_task_crashes_the_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def with_bad_helper(ctx: actors.Context[Any]) -> None:
        async def helper() -> None:
            await trio.sleep(1)
            raise LookupError("helper broke")

        ctx.nursery.start_soon(helper)
        async for _ in ctx.mailbox:
            pass

    async with actors.open_system() as system:
        ref = await system.spawn(with_bad_helper)
        reason = await ref.wait_stopped()
        assert reason.kind is actors.ExitKind.CRASH
        assert isinstance(reason.error, ExceptionGroup)
        assert reason.error.subgroup(LookupError) is not None


# -- timers --------------------------------------------------------------------------------


async def test_send_after_uses_trios_clock(autojump_clock: trio.testing.MockClock) -> None:
    arrivals: list[tuple[str, float]] = []

    async def sleeper(ctx: actors.Context[Any]) -> None:
        ctx.send_after(3, "wake")
        cancelled = ctx.send_after(1, "never")
        cancelled.cancel()
        assert not cancelled.active
        async for msg in ctx.mailbox:
            arrivals.append((msg, trio.current_time()))

    async with actors.open_system() as system:
        await system.spawn(sleeper)
        await trio.sleep(10)
    assert arrivals == [("wake", pytest.approx(3))]


async def test_periodic_timer_ticks_without_drift(autojump_clock: trio.testing.MockClock) -> None:
    ticks: list[float] = []

    async def ticker(ctx: actors.Context[Any]) -> None:
        handle = ctx.start_timer(2, "tick")
        async for _ in ctx.mailbox:
            ticks.append(trio.current_time())
            await trio.sleep(0.5)  # handling takes time; ticks stay on the 2 s grid
            if len(ticks) == 4:
                handle.cancel()

    async with actors.open_system() as system:
        await system.spawn(ticker)
        await trio.sleep(20)
    assert ticks == [pytest.approx(t) for t in (2, 4, 6, 8)]


async def test_timer_interval_must_be_positive(autojump_clock: trio.testing.MockClock) -> None:
    errors: list[Exception] = []

    async def bad(ctx: actors.Context[Any]) -> None:
        try:
            ctx.start_timer(0, "x")
        except ValueError as exc:
            errors.append(exc)
        ctx.started()

    async with actors.open_system() as system:
        await system.spawn(bad)
    assert errors


# -- monitors ------------------------------------------------------------------------------


async def _watcher(ctx: actors.Context[Any], target: actors.Ref[Any], got: list[Any]) -> None:
    ctx.monitor(target)
    async for msg in ctx.mailbox:
        got.append(msg)


async def test_monitor_gets_down_with_the_reason(autojump_clock: trio.testing.MockClock) -> None:
    got: list[Any] = []
    async with actors.open_system() as system:
        target = await system.spawn(recorder)
        await system.spawn(_watcher, target, got)
        target.tell(Crash("bad"))
        await trio.testing.wait_all_tasks_blocked()
    down = got[0]
    assert isinstance(down, actors.Down)
    assert down.ref is target
    assert down.reason.kind is actors.ExitKind.CRASH
    assert str(down.reason.error) == "bad"


async def test_monitoring_a_dead_actor_delivers_down_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    got: list[Any] = []
    async with actors.open_system() as system:
        target = await system.spawn(recorder)
        await target.stop()
        await system.spawn(_watcher, target, got)
        await trio.testing.wait_all_tasks_blocked()
    assert got == [actors.Down(target, actors.ExitReason(actors.ExitKind.SHUTDOWN))]


async def test_monitor_with_custom_message_and_cancel(
    autojump_clock: trio.testing.MockClock,
) -> None:
    got: list[Any] = []

    async def watcher(ctx: actors.Context[Any], a: actors.Ref[Any], b: actors.Ref[Any]) -> None:
        ctx.monitor(a, as_msg=lambda down: ("a-ended", down.reason.kind))
        handle = ctx.monitor(b)
        handle.cancel()
        async for msg in ctx.mailbox:
            got.append(msg)

    async with actors.open_system() as system:
        a = await system.spawn(recorder)
        b = await system.spawn(recorder)
        await system.spawn(watcher, a, b)
        await b.stop()
        await a.stop()
        await trio.testing.wait_all_tasks_blocked()
    assert got == [("a-ended", actors.ExitKind.SHUTDOWN)]


# -- events --------------------------------------------------------------------------------


async def test_crashes_are_published_and_logged(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with actors.open_system() as system:
        async with system.subscribe(actors.Crashed, actors.Stopped) as events:
            ref = await system.spawn(recorder, name="fragile")
            ref.tell(Crash("oops"))
            first = await events.receive()
            second = await events.receive()
        assert isinstance(first, actors.Crashed)
        assert first.ref is ref
        assert first.incarnation == 1
        assert str(first.error) == "oops"
        assert isinstance(second, actors.Stopped)
        assert second.reason.kind is actors.ExitKind.CRASH
    records = [r for r in caplog.records if r.name == "actors"]
    assert records[0].levelno == logging.ERROR
    assert "fragile" in records[0].getMessage()
    assert records[0].exc_info is not None


async def test_slow_subscriber_loses_events_counted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actors.open_system() as system:
        async with system.subscribe(actors.Started, buffer=2) as events:
            for _ in range(5):
                await system.spawn(recorder)
            assert events.lost == 3
            assert system.events_lost == 3
            received = [await events.receive(), await events.receive()]
        assert all(isinstance(e, actors.Started) for e in received)


async def test_event_filter_by_type(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system, system.subscribe(actors.Stopped) as events:
        ref = await system.spawn(recorder)
        await ref.stop()
        assert [type(e) for e in drain_events(events)] == [actors.Stopped]


# -- graceful stop with drain --------------------------------------------------------------


async def test_stop_drains_queued_messages(autojump_clock: trio.testing.MockClock) -> None:
    log: list[Any] = []
    gate = trio.Event()
    async with actors.open_system() as system:
        ref = await system.spawn(recorder, log)
        ref.tell(Block(gate))
        for i in range(5):
            ref.tell(i)
        async with trio.open_nursery() as nursery:

            async def stopper() -> None:
                reason = await ref.stop(timeout=10)
                assert reason.kind is actors.ExitKind.SHUTDOWN

            nursery.start_soon(stopper)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(actors.ActorStopped):
                ref.tell("too late")  # the mailbox closed at once
            gate.set()
    assert log == [0, 1, 2, 3, 4]


async def test_stop_without_drain_dead_letters_the_queue(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[Any] = []
    gate = trio.Event()
    async with actors.open_system() as system, system.subscribe(actors.DeadLetter) as events:
        ref = await system.spawn(recorder, log)
        ref.tell(Block(gate))
        await trio.testing.wait_all_tasks_blocked()
        for i in range(3):
            ref.tell(i)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(functools.partial(ref.stop, drain=False, timeout=10))
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
        assert [e.message for e in drain_events(events)] == [0, 1, 2]
    assert log == []


async def test_stop_cancels_after_the_timeout_and_cleanup_runs_shielded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cleaned: list[float] = []

    async def stubborn(ctx: actors.Context[Any]) -> None:
        ctx.started()
        try:
            await trio.sleep_forever()  # ignores its mailbox
        finally:
            with ctx.cleanup_scope(grace=3):
                await trio.sleep(1)  # cleanup that awaits still runs when cancelled
                cleaned.append(trio.current_time())

    async with actors.open_system() as system, system.subscribe(actors.DeadLetter) as events:
        ref = await system.spawn(stubborn)
        ref.tell("never read")
        reason = await ref.stop(timeout=2)
        assert reason.kind is actors.ExitKind.SHUTDOWN
        assert cleaned == [pytest.approx(3)]
        assert [e.message for e in drain_events(events)] == ["never read"]


async def test_cleanup_scope_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    async def hangs_in_cleanup(ctx: actors.Context[Any]) -> None:
        ctx.started()
        try:
            await trio.sleep_forever()
        finally:
            with ctx.cleanup_scope(grace=1):
                await trio.sleep_forever()

    async with actors.open_system() as system:
        ref = await system.spawn(hangs_in_cleanup)
        await ref.stop(timeout=1)
        assert trio.current_time() == pytest.approx(2)


async def test_stop_is_idempotent_and_concurrent(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)
        reasons: list[actors.ExitReason] = []

        async def stop() -> None:
            reasons.append(await ref.stop())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop)
            nursery.start_soon(stop)
        reasons.append(await ref.stop())
        assert [r.kind for r in reasons] == [actors.ExitKind.SHUTDOWN] * 3
        assert not ref.alive
        assert ref.exit_reason is reasons[0]


async def test_ctx_stop_drains_and_ends(autojump_clock: trio.testing.MockClock) -> None:
    seen: list[Any] = []

    async def self_stopper(ctx: actors.Context[Any]) -> None:
        async for msg in ctx.mailbox:
            seen.append(msg)
            if msg == "enough":
                ctx.stop()

    async with actors.open_system() as system:
        ref = await system.spawn(self_stopper)
        for m in ("a", "enough", "b"):
            ref.tell(m)
        assert (await ref.wait_stopped()).kind is actors.ExitKind.SHUTDOWN
    assert seen == ["a", "enough", "b"]


async def test_awaiting_own_stop_is_refused(autojump_clock: trio.testing.MockClock) -> None:
    errors: list[Exception] = []

    async def selfish(ctx: actors.Context[Any]) -> None:
        ctx.started()
        try:
            await ctx.self.stop()
        except RuntimeError as exc:
            errors.append(exc)

    async with actors.open_system() as system:
        await system.spawn(selfish)
    assert "its own stop" in str(errors[0])


async def test_messages_are_either_handled_or_dead_lettered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A crash mid-queue: handled + dead-lettered == sent, and nothing is both."""
    log: list[Any] = []
    async with actors.open_system() as system, system.subscribe(actors.DeadLetter) as events:
        ref = await system.spawn(recorder, log)
        for i in range(3):
            ref.tell(i)
        ref.tell(Crash())
        for i in range(3, 6):
            ref.tell(i)
        await ref.wait_stopped()
        dead = [e.message for e in drain_events(events)]
    assert log == [0, 1, 2]
    assert dead == [3, 4, 5]


async def test_held_ask_fails_with_actor_stopped_on_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)
        outcome: list[Any] = []

        async def ask() -> None:
            try:
                await ref.ask(Hold(), timeout=100)
            except actors.ActorStopped as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            await ref.stop()
        assert len(outcome) == 1
        assert outcome[0].reason.kind is actors.ExitKind.SHUTDOWN


async def test_echo_still_answers_while_draining(autojump_clock: trio.testing.MockClock) -> None:
    gate = trio.Event()
    async with actors.open_system() as system:
        ref = await system.spawn(recorder)
        ref.tell(Block(gate))
        results: list[Any] = []

        async def ask() -> None:
            results.append(await ref.ask(Echo("queued before stop"), timeout=10))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(ref.stop)
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
        assert results == ["queued before stop"]
