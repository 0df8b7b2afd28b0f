"""Cancellation is never a failure (issue 2, point 5): the shapes in which cancellation and
other BaseExceptions reach the runtime (research §4.1) are never restarted nor swallowed,
and only an Exception escaping a behavior is a crash."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import actors
from actors import ChildSpec, ExitKind, Restart, SupervisorSpec

from .helpers import drain_events


def _counting(starts: list[int], *, helpers: int = 0, cleanup_error: bool = False) -> Any:
    async def child(ctx: actors.Context[Any]) -> None:
        starts.append(ctx.incarnation)
        for _ in range(helpers):
            ctx.nursery.start_soon(trio.sleep_forever)
        ctx.started()
        try:
            await trio.sleep_forever()
        finally:
            if cleanup_error:
                raise RuntimeError("cleanup failed")

    return child


async def test_outer_cancel_of_actor_with_helpers_is_not_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Shape: BaseExceptionGroup[Cancelled, Cancelled] from an actor's own nursery."""
    starts: list[int] = []
    spec = SupervisorSpec(
        children=[ChildSpec(_counting(starts, helpers=2), id="c", restart=Restart.PERMANENT)]
    )
    reached_end = False
    with trio.move_on_after(5) as outer:
        async with actors.open_system() as system, system.subscribe() as events:
            sup = await system.start_supervisor(spec)
            child = sup.child("c")
            try:
                await trio.sleep_forever()
            finally:
                seen = drain_events(events)
        reached_end = True
    assert outer.cancelled_caught
    assert not reached_end  # the Cancelled was not swallowed on its way out
    assert starts == [1]
    assert not any(isinstance(e, (actors.Crashed, actors.Restarted)) for e in seen)
    assert child is not None
    assert child.exit_reason is not None
    assert child.exit_reason.kind is ExitKind.CANCELLED


async def test_cancel_whose_cleanup_raises_propagates_and_restarts_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Shape: BaseExceptionGroup[RuntimeError, Cancelled] (a helper's cleanup fails while
    the behavior is cancelled): never restarted, and the error reaches the caller."""
    starts: list[int] = []

    async def child(ctx: actors.Context[Any]) -> None:
        starts.append(ctx.incarnation)

        async def helper() -> None:
            try:
                await trio.sleep_forever()
            finally:
                raise RuntimeError("cleanup failed")

        ctx.nursery.start_soon(helper)
        ctx.started()
        await trio.sleep_forever()

    spec = SupervisorSpec(children=[ChildSpec(child, id="c")])
    with pytest.RaisesGroup(RuntimeError, flatten_subgroups=True, allow_unwrapped=True):
        with trio.move_on_after(5):
            async with actors.open_system() as system:
                await system.start_supervisor(spec)
                await trio.sleep_forever()
    assert starts == [1]


async def test_cleanup_error_replacing_cancelled_is_reported_not_restarted(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A behavior whose ``finally`` raises while it is being cancelled from outside turns
    the Cancelled into an Exception: it is reported as a crash (never silent), but the
    supervisor, itself being cancelled, restarts nothing."""
    starts: list[int] = []
    spec = SupervisorSpec(children=[ChildSpec(_counting(starts, cleanup_error=True), id="c")])
    with trio.move_on_after(5) as outer:
        async with actors.open_system() as system:
            sup = await system.start_supervisor(spec)
            child = sup.child("c")
            await trio.sleep_forever()
    assert outer.cancelled_caught
    assert starts == [1]
    logged = [r for r in caplog.records if r.name == "actors" and "crashed" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert str(logged[0].exc_info[1]) == "cleanup failed"
    assert child is not None
    assert child.exit_reason is not None
    assert child.exit_reason.kind is ExitKind.CRASH


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
async def test_base_exceptions_from_a_top_level_actor_propagate(
    autojump_clock: trio.testing.MockClock, exc_type: type[BaseException]
) -> None:
    async def interrupted(ctx: actors.Context[Any]) -> None:
        async for _ in ctx.mailbox:
            raise exc_type

    with pytest.RaisesGroup(exc_type, flatten_subgroups=True):
        async with actors.open_system() as system:
            ref = await system.spawn(interrupted)
            ref.tell("go")
            await trio.sleep_forever()
    assert ref.exit_reason is not None
    assert ref.exit_reason.kind is ExitKind.CANCELLED


async def test_keyboard_interrupt_from_a_helper_task_is_not_a_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Shape: BaseExceptionGroup[KeyboardInterrupt] out of the actor's nursery."""
    starts: list[int] = []

    async def child(ctx: actors.Context[Any]) -> None:
        starts.append(ctx.incarnation)

        async def helper() -> None:
            await trio.sleep(1)
            raise KeyboardInterrupt

        ctx.nursery.start_soon(helper)
        async for _ in ctx.mailbox:
            pass

    spec = SupervisorSpec(children=[ChildSpec(child, id="c")])
    with pytest.RaisesGroup(KeyboardInterrupt, flatten_subgroups=True):
        async with actors.open_system() as system:
            await system.start_supervisor(spec)
            await trio.sleep_forever()
    assert starts == [1]


async def test_exception_group_of_exceptions_is_a_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Shape: ExceptionGroup[ValueError] from helpers: an Exception, so a crash, restarted."""
    starts: list[int] = []

    async def child(ctx: actors.Context[Any]) -> None:
        starts.append(ctx.incarnation)

        async def helper() -> None:
            raise ValueError("helper")

        async for _ in ctx.mailbox:
            if ctx.incarnation == 1:
                ctx.nursery.start_soon(helper)

    spec = SupervisorSpec(children=[ChildSpec(child, id="c")])
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        ref = sup.child("c")
        assert ref is not None
        ref.tell("go")
        await trio.testing.wait_all_tasks_blocked()
        assert starts == [1, 2]


async def test_cancelled_supervisor_in_backoff_restarts_nothing_later(
    autojump_clock: trio.testing.MockClock,
) -> None:
    starts: list[int] = []

    async def child(ctx: actors.Context[Any]) -> None:
        starts.append(ctx.incarnation)
        async for _ in ctx.mailbox:
            raise ValueError("crash")

    backoff = actors.Backoff(initial=10, jitter=0)
    spec = SupervisorSpec(children=[ChildSpec(child, id="c", backoff=backoff)])
    async with actors.open_system() as system:
        with trio.CancelScope() as scope:
            sup_ref: list[actors.SupervisorRef] = []

            async def run_supervisor() -> None:
                # A supervisor inside a nested system, so that it can be cancelled alone.
                async with actors.open_system() as inner:
                    sup_ref.append(await inner.start_supervisor(spec))
                    await trio.sleep_forever()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_supervisor)
                await trio.testing.wait_all_tasks_blocked()
                c = sup_ref[0].child("c")
                assert c is not None
                c.tell("crash")
                await trio.sleep(1)  # now waiting 10 s to restart
                scope.cancel()
        await trio.sleep(30)
        assert system.actors() == []
    assert starts == [1]
    # It ended for good with the supervisor, keeping the reason of its last exit.
    assert c.exit_reason is not None
    assert c.exit_reason.kind is ExitKind.CRASH
    with pytest.raises(actors.ActorStopped):
        c.tell("anyone there?")
