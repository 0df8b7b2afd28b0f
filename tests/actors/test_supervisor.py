"""Supervision: strategies, restart types, intensity, backoff, dynamic children, refs across
restarts and the cancellation shapes (issue 2, points 3, 4 and 5)."""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio
import trio.testing

import actors
from actors import ChildSpec, ExitKind, Restart, Strategy, SupervisorSpec

from .helpers import Block, Crash, Echo, Get, Hold, drain_events, recorder


async def _ask_ok(ref: actors.Ref[Any]) -> Any:
    return await ref.ask(Echo("ok"), timeout=1)


async def test_one_for_one_restarts_only_the_crashed_child(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = SupervisorSpec(
        children=[ChildSpec(recorder, id="a"), ChildSpec(recorder, id="b")],
    )
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        a, b = sup.child("a"), sup.child("b")
        assert a is not None
        assert b is not None
        b.tell("kept")
        a.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert (a.incarnation, b.incarnation) == (2, 1)
        assert await _ask_ok(a) == "ok"
        assert await b.ask(Get(), timeout=1) == ["kept"]


async def test_ref_stays_valid_and_queued_messages_survive_a_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = SupervisorSpec(children=[ChildSpec(recorder, id="w")])
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        w = sup.child("w")
        assert w is not None
        w.tell(Crash())
        w.tell("after")  # queued behind the crash: handled by the next incarnation
        assert await w.ask(Get(), timeout=1) == ["after"]
        assert w.incarnation == 2
        assert sup.child("w") is w


async def _order_log(ctx: actors.Context[Any], key: str, log: list[str]) -> None:
    log.append(f"start {key}")
    try:
        async for msg in ctx.mailbox:
            if isinstance(msg, Crash):
                raise ValueError(key)
    finally:
        log.append(f"end {key}")


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Strategy.ONE_FOR_ONE, ["end b", "start b"]),
        (Strategy.ONE_FOR_ALL, ["end b", "end c", "end a", "start a", "start b", "start c"]),
        (Strategy.REST_FOR_ONE, ["end b", "end c", "start b", "start c"]),
    ],
)
async def test_strategies(
    autojump_clock: trio.testing.MockClock, strategy: Strategy, expected: list[str]
) -> None:
    log: list[str] = []
    spec = SupervisorSpec(
        strategy=strategy,
        children=[ChildSpec(_order_log, args=(k, log), id=k) for k in "abc"],
    )
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        assert log == ["start a", "start b", "start c"]
        log.clear()
        b = sup.child("b")
        assert b is not None
        b.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert log == expected
        log.clear()
    # closing: children stop in reverse start order
    assert log == ["end c", "end b", "end a"]


async def test_one_for_all_keeps_siblings_mailboxes(autojump_clock: trio.testing.MockClock) -> None:
    spec = SupervisorSpec(
        strategy=Strategy.ONE_FOR_ALL,
        children=[ChildSpec(recorder, id="a"), ChildSpec(recorder, id="b")],
    )
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        a, b = sup.child("a"), sup.child("b")
        assert a is not None
        assert b is not None
        b.tell(Block(trio.Event()))  # b is stuck here when a crashes
        b.tell("for the next incarnation")
        await trio.testing.wait_all_tasks_blocked()
        a.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert b.incarnation == 2
        assert await b.ask(Get(), timeout=1) == ["for the next incarnation"]


async def test_one_for_all_does_not_restart_temporary_siblings(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = SupervisorSpec(
        strategy=Strategy.ONE_FOR_ALL,
        children=[
            ChildSpec(recorder, id="temp", restart=Restart.TEMPORARY),
            ChildSpec(recorder, id="perm"),
        ],
    )
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        temp, perm = sup.child("temp"), sup.child("perm")
        assert temp is not None
        assert perm is not None
        perm.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert not temp.alive
        assert perm.incarnation == 2
        assert list(sup.which_children()) == ["perm"]


@pytest.mark.parametrize(
    ("restart", "exit_kind", "restarted"),
    [
        (Restart.PERMANENT, "crash", True),
        (Restart.PERMANENT, "normal", True),
        (Restart.PERMANENT, "stop", False),
        (Restart.TRANSIENT, "crash", True),
        (Restart.TRANSIENT, "normal", False),
        (Restart.TRANSIENT, "stop", False),
        (Restart.TEMPORARY, "crash", False),
        (Restart.TEMPORARY, "normal", False),
        (Restart.TEMPORARY, "stop", False),
    ],
)
async def test_restart_types(
    autojump_clock: trio.testing.MockClock, restart: Restart, exit_kind: str, restarted: bool
) -> None:
    async def child(ctx: actors.Context[Any]) -> None:
        async for msg in ctx.mailbox:
            if msg == "crash":
                raise ValueError("crash")
            if msg == "normal":
                return

    spec = SupervisorSpec(children=[ChildSpec(child, id="c", restart=restart)])
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        ref = sup.child("c")
        assert ref is not None
        if exit_kind == "stop":
            await ref.stop()
        else:
            ref.tell(exit_kind)
        await trio.testing.wait_all_tasks_blocked()
        assert ref.alive is restarted
        assert (ref.incarnation == 2) is restarted
        assert (sup.child("c") is ref) is restarted


async def test_restart_intensity_escalates(autojump_clock: trio.testing.MockClock) -> None:
    inner = SupervisorSpec(max_restarts=2, within=10, children=[ChildSpec(recorder, id="w")])
    outer = SupervisorSpec(max_restarts=5, within=10, children=[inner.as_child(id="inner")])
    async with actors.open_system() as system:
        async with system.subscribe(actors.IntensityExceeded, actors.Crashed) as events:
            root = await system.start_supervisor(outer, name="root")
            inner_ref = root.child("inner")
            assert isinstance(inner_ref, actors.SupervisorRef)
            worker = inner_ref.child("w")
            assert worker is not None
            for _ in range(3):
                await trio.sleep(1)
                worker.tell(Crash())
                await trio.testing.wait_all_tasks_blocked()
            seen = drain_events(events)
        exceeded = [e for e in seen if isinstance(e, actors.IntensityExceeded)]
        assert len(exceeded) == 1
        assert exceeded[0].ref is inner_ref
        assert exceeded[0].restarts == 3
        # The inner supervisor crashed with RestartIntensityExceeded; the outer restarted it.
        inner_crash = [e for e in seen if isinstance(e, actors.Crashed) and e.ref is inner_ref]
        assert isinstance(inner_crash[0].error, actors.RestartIntensityExceeded)
        assert inner_ref.incarnation == 2
        assert not worker.alive  # the old worker ended; the new inner has a fresh child
        new_worker = inner_ref.child("w")
        assert new_worker is not None
        assert new_worker is not worker
        assert await _ask_ok(new_worker) == "ok"


async def test_restarts_outside_the_window_do_not_count(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = SupervisorSpec(max_restarts=1, within=5, children=[ChildSpec(recorder, id="w")])
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        w = sup.child("w")
        assert w is not None
        for _ in range(4):
            w.tell(Crash())
            await trio.testing.wait_all_tasks_blocked()
            await trio.sleep(6)  # each restart falls out of the window before the next
        assert sup.alive
        assert w.incarnation == 5


async def test_top_level_supervisor_that_gives_up_ends_and_is_reported(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = SupervisorSpec(max_restarts=0, children=[ChildSpec(recorder, id="w")])
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        w = sup.child("w")
        assert w is not None
        w.tell(Crash())
        reason = await sup.wait_stopped()
        assert reason.kind is ExitKind.CRASH
        assert isinstance(reason.error, actors.RestartIntensityExceeded)
        assert "gave up" in str(reason.error)


async def test_critical_supervisor_failure_fails_the_system(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = SupervisorSpec(max_restarts=0, children=[ChildSpec(recorder, id="w")])
    with pytest.RaisesGroup(actors.ActorCrashed):
        async with actors.open_system() as system:
            sup = await system.start_supervisor(spec, critical=True)
            w = sup.child("w")
            assert w is not None
            w.tell(Crash())
            await trio.sleep_forever()


async def test_backoff_delays_restarts_exponentially(
    autojump_clock: trio.testing.MockClock,
) -> None:
    backoff = actors.Backoff(initial=1, maximum=4, multiplier=2, jitter=0, reset_after=100)
    spec = SupervisorSpec(
        max_restarts=10, within=100, children=[ChildSpec(recorder, id="w", backoff=backoff)]
    )
    async with actors.open_system() as system, system.subscribe(actors.Restarted) as events:
        sup = await system.start_supervisor(spec)
        w = sup.child("w")
        assert w is not None
        delays: list[float] = []
        for _ in range(4):
            w.tell(Crash())
            crashed_at = trio.current_time()
            event = await events.receive()
            delays.append(trio.current_time() - crashed_at)
            assert event.delay == pytest.approx(delays[-1])
        assert delays == [pytest.approx(d) for d in (1, 2, 4, 4)]


async def test_backoff_buffers_messages_and_applies_jitter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    backoff = actors.Backoff(initial=10, jitter=0.5)
    spec = SupervisorSpec(children=[ChildSpec(recorder, id="w", backoff=backoff)])
    async with actors.open_system(random=random.Random(7)) as system:
        sup = await system.start_supervisor(spec)
        w = sup.child("w")
        assert w is not None
        w.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        info = sup.which_children()["w"]
        assert not info.running
        w.tell("while down")
        assert await w.ask(Get(), timeout=20) == ["while down"]
        expected = 10 * (1 + random.Random(7).uniform(-0.5, 0.5))
        assert trio.current_time() == pytest.approx(expected)


async def test_stop_during_backoff_ends_the_child(autojump_clock: trio.testing.MockClock) -> None:
    spec = SupervisorSpec(
        children=[ChildSpec(recorder, id="w", backoff=actors.Backoff(initial=10, jitter=0))]
    )
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        w = sup.child("w")
        assert w is not None
        w.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        reason = await w.stop()
        assert reason.kind is ExitKind.SHUTDOWN
        await trio.sleep(20)
        assert w.incarnation == 1
        assert sup.which_children() == {}


# -- dynamic children ----------------------------------------------------------------------


async def _session(ctx: actors.Context[Any], prefix: str, key: int) -> None:
    async for msg in ctx.mailbox:
        match msg:
            case Echo(value) as q:
                q.reply(f"{prefix}{key}:{value}")
            case Crash():
                raise ValueError("session crash")


async def test_dynamic_children_by_key(autojump_clock: trio.testing.MockClock) -> None:
    spec = SupervisorSpec(dynamic=ChildSpec(_session, args=("s",), restart=Restart.TRANSIENT))
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec, name="sessions")
        one = await sup.start_child(1, id=101)
        two = await sup.start_child(2, id=102)
        assert one.name == "sessions/101"
        assert await one.ask(Echo("x"), timeout=1) == "s1:x"
        assert sup.child(102) is two
        with pytest.raises(actors.DuplicateChild):
            await sup.start_child(1, id=101)
        one.tell(Crash())
        assert await one.ask(Echo("y"), timeout=1) == "s1:y"  # transient: restarted
        reason = await sup.terminate_child(101)
        assert reason.kind is ExitKind.SHUTDOWN
        assert sup.child(101) is None
        assert list(sup.which_children()) == [102]
        with pytest.raises(actors.UnknownChild):
            await sup.terminate_child(101)


async def test_dynamic_child_init_failure_is_reported_not_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def bad(ctx: actors.Context[Any]) -> None:
        raise RuntimeError("cannot start")

    spec = SupervisorSpec(dynamic=ChildSpec(bad))
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        with pytest.raises(actors.SpawnError) as info:
            await sup.start_child(id="x")
        assert isinstance(info.value.cause, RuntimeError)
        assert sup.which_children() == {}
        assert sup.alive


async def test_start_child_without_template_fails_clearly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actors.open_system() as system:
        sup = await system.start_supervisor(SupervisorSpec())
        with pytest.raises(ValueError, match="no dynamic child template"):
            await sup.start_child(id=1)
        ref = await sup.start_child_spec(ChildSpec(recorder, id="full"))
        assert sup.child("full") is ref


async def test_static_child_init_failure_fails_the_supervisor_start(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []

    async def bad(ctx: actors.Context[Any]) -> None:
        raise RuntimeError("no")

    spec = SupervisorSpec(
        children=[ChildSpec(_order_log, args=("a", log), id="a"), ChildSpec(bad, id="bad")]
    )
    async with actors.open_system() as system:
        with pytest.raises(actors.SpawnError):
            await system.start_supervisor(spec)
    assert log == ["start a", "end a"]  # the started child was stopped, not leaked


# -- cancellation is never a failure -------------------------------------------------------


async def test_supervisor_cancelled_from_outside_restarts_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    starts: list[int] = []

    async def child(ctx: actors.Context[Any]) -> None:
        starts.append(ctx.incarnation)
        async for _ in ctx.mailbox:
            pass

    spec = SupervisorSpec(
        strategy=Strategy.ONE_FOR_ALL,
        children=[ChildSpec(child, id=i, restart=Restart.PERMANENT) for i in range(3)],
    )
    with trio.CancelScope() as outer:
        async with actors.open_system() as system, system.subscribe() as events:
            sup = await system.start_supervisor(spec)
            children = [sup.child(i) for i in range(3)]
            outer.cancel()
            try:
                await trio.sleep_forever()
            finally:
                seen = drain_events(events)
    assert outer.cancelled_caught
    assert starts == [1, 1, 1]
    assert not any(isinstance(e, (actors.Restarted, actors.Crashed)) for e in seen)
    for ref in children:
        assert ref is not None
        assert ref.exit_reason is not None
        assert ref.exit_reason.kind is ExitKind.CANCELLED


async def test_keyboard_interrupt_in_an_actor_is_never_restarted_nor_swallowed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    starts: list[int] = []

    async def interrupted(ctx: actors.Context[Any]) -> None:
        starts.append(ctx.incarnation)
        async for _ in ctx.mailbox:
            raise KeyboardInterrupt

    spec = SupervisorSpec(children=[ChildSpec(interrupted, id="k")])
    with pytest.RaisesGroup(KeyboardInterrupt, flatten_subgroups=True):
        async with actors.open_system() as system:
            sup = await system.start_supervisor(spec)
            k = sup.child("k")
            assert k is not None
            k.tell("go")
            await trio.sleep_forever()
    assert starts == [1]
    assert k.exit_reason is not None
    assert k.exit_reason.kind is ExitKind.CANCELLED


async def test_cancelled_raised_inside_a_behavior_is_not_a_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A behavior whose own inner scope is cancelled and whose nursery then raises a group
    holding Cancelled: the runtime must let it propagate, not restart it."""
    starts: list[int] = []

    async def child(ctx: actors.Context[Any]) -> None:
        starts.append(ctx.incarnation)
        ctx.started()
        await trio.sleep_forever()

    spec = SupervisorSpec(children=[ChildSpec(child, id="c")])
    with trio.move_on_after(5) as scope:
        async with actors.open_system() as system:
            await system.start_supervisor(spec)
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert starts == [1]


async def test_held_ask_of_a_restarted_child_fails_with_actor_crashed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = SupervisorSpec(children=[ChildSpec(recorder, id="w")])
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        w = sup.child("w")
        assert w is not None
        outcome: list[Any] = []

        async def ask() -> None:
            try:
                await w.ask(Hold(), timeout=100)
            except actors.ActorCrashed as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            w.tell(Crash())
        assert len(outcome) == 1
        await trio.testing.wait_all_tasks_blocked()
        assert w.alive
        assert w.incarnation == 2


async def test_down_is_sent_only_when_a_supervised_child_ends_for_good(
    autojump_clock: trio.testing.MockClock,
) -> None:
    got: list[Any] = []

    async def watcher(ctx: actors.Context[Any], target: actors.Ref[Any]) -> None:
        ctx.monitor(target)
        async for msg in ctx.mailbox:
            got.append(msg)

    spec = SupervisorSpec(children=[ChildSpec(recorder, id="w", restart=Restart.TRANSIENT)])
    async with actors.open_system() as system:
        sup = await system.start_supervisor(spec)
        w = sup.child("w")
        assert w is not None
        await system.spawn(watcher, w)
        w.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert got == []  # restarted: not down
        await sup.terminate_child("w")
        await trio.testing.wait_all_tasks_blocked()
    assert [type(m) for m in got] == [actors.Down]
    assert got[0].reason.kind is ExitKind.SHUTDOWN


async def test_restart_child_keeps_ref_and_queue_and_fails_held_asks(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = SupervisorSpec(max_restarts=0, dynamic=ChildSpec(recorder))
    async with actors.open_system() as system, system.subscribe(actors.Restarted) as events:
        sup = await system.start_supervisor(spec)
        ref = await sup.start_child(id="r")
        outcome: list[Any] = []

        async def ask() -> None:
            try:
                await ref.ask(Hold(), timeout=100)
            except actors.ActorStopped as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            ref.tell(Block(trio.Event()))
            ref.tell("queued")
            await trio.testing.wait_all_tasks_blocked()
            assert await sup.restart_child("r") is ref
        assert len(outcome) == 1
        assert ref.incarnation == 2
        assert await ref.ask(Get(), timeout=1) == ["queued"]
        # max_restarts=0, yet the supervisor is alive: a requested restart is not a failure
        assert sup.alive
        assert [e.incarnation for e in drain_events(events)] == [2]
        with pytest.raises(actors.UnknownChild):
            await sup.restart_child("nope")
