"""``actors.testing`` helpers and the public export list."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import trio
import trio.testing

import actors
import actors.testing


async def test_probe_records_and_expects(autojump_clock: trio.testing.MockClock) -> None:
    async with actors.testing.open_test_system() as system:
        probe = await actors.testing.Probe.start(system)
        probe.ref.tell("hello")
        probe.ref.tell(42)
        assert await probe.expect(str, timeout=1) == "hello"
        assert await probe.expect(lambda m: m == 42, timeout=1) == 42
        with pytest.raises(trio.TooSlowError):
            await probe.expect(timeout=5)
        probe.ref.tell(1.5)
        await actors.testing.settle()
        assert probe.unconsumed() == [1.5]
        with pytest.raises(AssertionError, match="expected"):
            await probe.expect(str, timeout=1)
        assert probe.messages == ["hello", 42, 1.5]


async def test_probe_receives_down_from_monitors(autojump_clock: trio.testing.MockClock) -> None:
    async def watcher(ctx: actors.Context[Any], target: actors.Ref[Any], out: Any) -> None:
        ctx.monitor(target, as_msg=out.tell)
        async for _ in ctx.mailbox:
            pass

    async with actors.testing.open_test_system() as system:
        probe = await actors.testing.Probe.start(system)
        target = await actors.testing.Probe.start(system, name="target")
        await system.spawn(watcher, target.ref, probe.ref)
        await target.ref.stop()
        await actors.testing.settle()
        # as_msg=probe.ref.tell returns None, so the watcher gets None and the probe the Down
        down = await probe.expect(actors.Down, timeout=1)
        assert down.ref is target.ref


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(actors).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(actors.__all__) == public
    assert len(actors.__all__) == len(set(actors.__all__))


def test_every_public_name_is_documented() -> None:
    missing = [
        name
        for name in actors.__all__
        if (inspect.isclass(getattr(actors, name)) or inspect.isfunction(getattr(actors, name)))
        and not inspect.getdoc(getattr(actors, name))
    ]
    assert missing == []
