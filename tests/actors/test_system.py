"""Systems: no globals, embedding as a context or a service, and closing in reverse start
order with nothing left behind (issue 2, points 1 and 7)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import actors

from .helpers import Crash, Echo, recorder

PACKAGE = Path(actors.__file__).parent


def _count_tasks(task: trio.lowlevel.Task) -> int:
    return 1 + sum(_count_tasks(t) for n in task.child_nurseries for t in n.child_tasks)


async def _logged(ctx: actors.Context[Any], key: str, log: list[str]) -> None:
    try:
        async for _ in ctx.mailbox:
            pass
    finally:
        log.append(key)


async def test_close_stops_actors_in_reverse_start_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with actors.open_system() as system:
        for key in "abc":
            await system.spawn(_logged, key, log)
        sup = await system.start_supervisor(
            actors.SupervisorSpec(
                children=[actors.ChildSpec(_logged, args=(k, log), id=k) for k in "xy"]
            )
        )
        await system.spawn(_logged, "d", log)
        assert [r.name for r in system.actors()] == ["_logged"] * 3 + ["supervisor", "_logged"]
    assert log == ["d", "y", "x", "c", "b", "a"]
    assert not sup.alive


async def test_close_leaves_no_task_behind(autojump_clock: trio.testing.MockClock) -> None:
    me = trio.lowlevel.current_task()
    before = _count_tasks(me)
    async with actors.open_system() as system:
        for _ in range(5):
            ref = await system.spawn(recorder)
            ref.tell(Echo(1))
        spec = actors.SupervisorSpec(dynamic=actors.ChildSpec(recorder))
        sup = await system.start_supervisor(spec)
        for i in range(3):
            await sup.start_child(id=i)
        assert _count_tasks(me) > before + 8
    assert _count_tasks(me) == before
    assert system.closed


async def test_run_system_as_a_service(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        system: actors.System = await nursery.start(actors.run_system)
        ref = await system.spawn(recorder)
        assert await ref.ask(Echo("up"), timeout=1) == "up"
        await system.aclose()  # run_system returns: the nursery can exit
    assert not ref.alive
    assert ref.exit_reason == actors.ExitReason(actors.ExitKind.SHUTDOWN)


async def test_run_system_cancelled_cancels_its_actors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        system: actors.System = await nursery.start(actors.run_system)
        ref = await system.spawn(recorder)
        nursery.cancel_scope.cancel()
    assert ref.exit_reason is not None
    assert ref.exit_reason.kind is actors.ExitKind.CANCELLED


async def test_two_systems_are_independent(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system(name="one") as one, actors.open_system(name="two") as two:
        a = await one.spawn(recorder)
        b = await two.spawn(recorder)
        assert one.actors() == [a]
        assert two.actors() == [b]
        await one.aclose()
        assert not a.alive
        assert b.alive


async def test_a_top_level_crash_does_not_stop_the_system(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actors.open_system() as system:
        fragile = await system.spawn(recorder)
        sturdy = await system.spawn(recorder)
        fragile.tell(Crash())
        assert (await fragile.wait_stopped()).kind is actors.ExitKind.CRASH
        assert await sturdy.ask(Echo("still here"), timeout=1) == "still here"
        assert system.actors() == [sturdy]


async def test_a_critical_actor_crash_fails_the_system(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with pytest.RaisesGroup(actors.ActorCrashed) as info:
        async with actors.open_system() as system:
            ref = await system.spawn(recorder, critical=True)
            ref.tell(Crash("fatal"))
            await trio.sleep_forever()
    crashed = info.value.exceptions[0]
    assert isinstance(crashed, actors.ActorCrashed)
    assert str(crashed.cause) == "fatal"


async def test_aclose_is_idempotent(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.open_system() as system:
        await system.spawn(recorder)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(system.aclose)
            nursery.start_soon(system.aclose)
        assert system.closed
        with pytest.raises(actors.SystemClosed):
            await system.start_supervisor(actors.SupervisorSpec())


def test_open_system_validates_shutdown_timeout() -> None:
    async def main() -> None:
        async with actors.open_system(shutdown_timeout=-1):
            pass

    with pytest.raises(ValueError, match="shutdown_timeout"):
        trio.run(main)


def _calls_in_package() -> set[str]:
    """Dotted names of everything the package calls."""
    names: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                names.add(ast.unparse(node.func))
    return names


def test_the_package_never_runs_trio_touches_signals_or_configures_logging() -> None:
    calls = _calls_in_package()
    forbidden = {
        "trio.run",
        "signal.signal",
        "signal.set_wakeup_fd",
        "logging.basicConfig",
        "trio.open_signal_receiver",
        "logger.addHandler",
        "logger.setLevel",
    }
    assert not calls & forbidden
    assert not {c for c in calls if c.endswith(("addHandler", "setLevel", "basicConfig"))}


def test_the_package_keeps_no_mutable_module_state() -> None:
    """Module-level assignments are type variables, loggers or frozen constants only."""
    # A ContextVar is per-task context (each task sees what its system set), not shared
    # mutable state: that is how open_process finds the current system's lifeline.
    allowed_calls = {"TypeVar", "logging.getLogger", "ExitReason", "ContextVar"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
                func = ast.unparse(node.value.func)
                assert func in allowed_calls, f"{path.name}: module-level {func}()"
