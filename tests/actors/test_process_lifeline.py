"""The lifeline watchdog: a system's process groups die even when its process is SIGKILLed.

The SIGKILL tests run a small actor program as a real subprocess: it opens a system, an
actor opens a child that starts a grandchild (both ignore SIGTERM, as the real ``claude``
ignores stdin EOF mid-turn), and prints their pids. The test then SIGKILLs the program and
checks, by pid, that the child, the grandchild and the watchdog are all gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
import trio

import actors
from actors._lifeline import watchdog_argv

GONE_TIMEOUT = 30.0
"""Generous: the watchdog's grace (5 s) before its SIGKILL, on a loaded 2-core machine."""

IGNORE_TERM = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)"
GRANDCHILD = f"{IGNORE_TERM}; import time; time.sleep(600)"
CHILD = (
    f"{IGNORE_TERM}; import subprocess, sys, time; "
    f"g = subprocess.Popen([sys.executable, '-c', {GRANDCHILD!r}]); "
    "print(g.pid, flush=True); time.sleep(600)"
)

PROGRAM = textwrap.dedent(
    f"""
    import json, signal, sys

    import trio

    import actors

    if "--survive-ctrl-c" in sys.argv:
        # A parent that outlives a Ctrl-C (it would handle it); the SIGINT must not have
        # reached the watchdog meanwhile.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    CHILD = {CHILD!r}

    async def owner(ctx):
        async with ctx.open_process([sys.executable, "-c", CHILD]) as proc:
            async for line in proc.stdout_lines():
                print(json.dumps({{"child": proc.pid, "grandchild": int(line)}}), flush=True)
                break
            ctx.started()
            await trio.sleep_forever()

    async def main():
        async with actors.open_system() as system:
            await system.spawn(owner)
            await trio.sleep_forever()

    trio.run(main)
    """
)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _wait_gone(pids: list[int]) -> None:
    """Wait (in a worker thread, bounded) until every pid has exited; zombies count as gone
    (they are orphans now, reaped by init, not by us)."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = await trio.to_thread.run_sync(lambda: psutil.wait_procs(procs, timeout=GONE_TIMEOUT))
    assert all(_gone(proc.pid) for proc in alive), f"still running: {alive}"


def _watchdogs_of(pid: int) -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process(pid).children()
        if any(arg.endswith("_watchdog.py") for arg in child.cmdline())
    ]


def _kill_quietly(pids: list[int]) -> None:
    """The test's own cleanup if the product failed, so a failure leaves no orphans."""
    for pid in pids:
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("ctrl_c_first", [False, True], ids=["sigkill", "ctrl-c-then-sigkill"])
async def test_a_sigkilled_system_takes_its_process_groups_with_it(
    tmp_path: Path, ctrl_c_first: bool
) -> None:
    script = tmp_path / "program.py"
    script.write_text(PROGRAM)
    argv = [sys.executable, str(script)] + (["--survive-ctrl-c"] if ctrl_c_first else [])
    program = await trio.lowlevel.open_process(
        argv,
        stdout=subprocess.PIPE,
        # Its own group, as a terminal gives a job: the Ctrl-C below goes to that group.
        start_new_session=True,
        cwd=Path(__file__).parents[2],
    )
    pids: list[int] = []
    try:
        assert program.stdout is not None
        with trio.fail_after(GONE_TIMEOUT):
            async for line in actors.iter_lines(program.stdout):
                ready = json.loads(line)
                break
        pids = [ready["child"], ready["grandchild"]]
        (watchdog,) = _watchdogs_of(program.pid)
        pids.append(watchdog.pid)
        assert os.getsid(watchdog.pid) == watchdog.pid != os.getsid(program.pid)
        assert not any(_gone(pid) for pid in pids)

        if ctrl_c_first:
            os.killpg(program.pid, signal.SIGINT)
        program.kill()
        with trio.fail_after(GONE_TIMEOUT):
            assert await program.wait() == -signal.SIGKILL

        await _wait_gone(pids)
    finally:
        if program.returncode is None:
            program.kill()
            with trio.move_on_after(GONE_TIMEOUT):
                await program.wait()
        _kill_quietly(pids)


async def _sleep_behavior(ctx: actors.Context[None]) -> None:
    async with ctx.open_process([sys.executable, "-c", "import time; time.sleep(600)"]):
        async for _ in ctx.mailbox:  # until stopped
            pass


async def test_the_watchdog_starts_with_the_first_process_and_a_normal_close_ends_it() -> None:
    async with actors.open_system() as system:
        assert _watchdogs_of(os.getpid()) == []  # lazily started
        await system.spawn(_sleep_behavior)
        (watchdog,) = _watchdogs_of(os.getpid())
        await system.spawn(_sleep_behavior)
        assert _watchdogs_of(os.getpid()) == [watchdog]  # one per system, not per child
    # The system waited for it: exited and reaped.
    assert not watchdog.is_running()
    assert _watchdogs_of(os.getpid()) == []


async def test_open_process_in_the_system_block_is_guarded_too() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    async with actors.open_system(), actors.open_process(sleeper):
        assert len(_watchdogs_of(os.getpid())) == 1
    assert _watchdogs_of(os.getpid()) == []


async def test_open_process_outside_any_system_has_no_watchdog() -> None:
    async with actors.open_process([sys.executable, "-c", "import time; time.sleep(600)"]):
        assert _watchdogs_of(os.getpid()) == []


async def _open_watchdog(grace: float) -> trio.Process:
    watchdog = await trio.lowlevel.open_process(
        watchdog_argv(grace), stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
    )
    assert watchdog.stdout is not None
    with trio.fail_after(GONE_TIMEOUT):
        async for line in actors.iter_lines(watchdog.stdout):
            assert line == b"armed"
            break
    return watchdog


async def test_a_watchdog_with_nothing_registered_exits_at_once_on_eof() -> None:
    # A grace of an hour: exiting within the timeout proves it did not wait for it.
    watchdog = await _open_watchdog(3600.0)
    assert watchdog.stdin is not None
    await watchdog.stdin.send_all(b"+4000000\n-4000000\n")  # registered, then reaped
    await watchdog.stdin.aclose()
    with trio.fail_after(GONE_TIMEOUT):
        assert await watchdog.wait() == 0


async def test_a_watchdog_kills_a_group_ignoring_sigterm_after_its_grace() -> None:
    stubborn = await trio.lowlevel.open_process(
        [sys.executable, "-c", f"{IGNORE_TERM}; print(flush=True); import time; time.sleep(600)"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert stubborn.stdout is not None
        with trio.fail_after(GONE_TIMEOUT):
            await stubborn.stdout.receive_some(1)  # SIGTERM is ignored from now on
        watchdog = await _open_watchdog(0.2)
        assert watchdog.stdin is not None
        await watchdog.stdin.send_all(f"garbage\n+{stubborn.pid}\n".encode())
        await watchdog.stdin.aclose()
        with trio.fail_after(GONE_TIMEOUT):
            assert await watchdog.wait() == 0
            assert await stubborn.wait() == -signal.SIGKILL
    finally:
        if stubborn.returncode is None:
            stubborn.kill()
            await stubborn.wait()


async def test_a_watchdog_ignores_sigint() -> None:
    sleeper = await trio.lowlevel.open_process(
        [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
    )
    try:
        watchdog = await _open_watchdog(5.0)
        assert watchdog.stdin is not None
        watchdog.send_signal(signal.SIGINT)  # a Ctrl-C sent to it directly
        await watchdog.stdin.send_all(f"+{sleeper.pid}\n".encode())
        await watchdog.stdin.aclose()
        with trio.fail_after(GONE_TIMEOUT):
            assert await watchdog.wait() == 0  # not -SIGINT: it lived to do its job
            assert await sleeper.wait() == -signal.SIGTERM
    finally:
        if sleeper.returncode is None:
            sleeper.kill()
            await sleeper.wait()
