"""Processes owned by actors: the whole process group dies on stop, crash or cancel
(issue 2, point 8). These run real processes, so they use the real clock and generous
``fail_after`` limits instead of a mock clock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import attrs
import psutil
import pytest
import trio
import trio.testing

import actors

# The child starts a grandchild (`sleep 300`) and prints its pid, echoes stdin lines back
# upper-cased on stdout, writes a line to stderr, and exits at end of stdin.
CHILD = r"""
import signal, subprocess, sys
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen(
    ["sleep", "300"],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
print(grandchild.pid, flush=True)
print("child ready", file=sys.stderr, flush=True)
for line in sys.stdin:
    print(line.strip().upper(), flush=True)
"""

LIMIT = 30  # seconds; real processes on a loaded 2-core machine


def child_cmd(*extra: str) -> list[str]:
    return [sys.executable, "-c", CHILD, *extra]


def is_running(pid: int) -> bool:
    """Alive and not a zombie (in a container PID 1 may never reap orphans)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def _first_line(proc: actors.OwnedProcess) -> int:
    async for line in proc.stdout_lines():
        return int(line)
    raise AssertionError("child printed nothing")


async def owner(
    ctx: actors.Context[Any], pids: dict[str, int], mode: str, extra: tuple[str, ...] = ()
) -> None:
    async with ctx.open_process(child_cmd(*extra), term_grace=1.0) as proc:
        pids["child"] = proc.pid
        pids["grandchild"] = await _first_line(proc)
        ctx.started()
        async for msg in ctx.mailbox:
            if msg == "crash":
                raise RuntimeError("owner crashed")


async def _wait_gone(pid: int) -> None:
    # SIGKILL has been sent when the owner ends, but the kernel tears a process down
    # asynchronously, and there is no event for the death of a process that is not our
    # child (nor for a zombie that PID 1 never reaps): poll the condition, bounded by the
    # caller's fail_after.
    while is_running(pid):  # noqa: ASYNC110
        await trio.sleep(0.01)


@pytest.mark.parametrize("how", ["stop", "crash", "cancel", "system_close"])
async def test_grandchild_is_gone_after_the_owner_ends(how: str) -> None:
    pids: dict[str, int] = {}
    with trio.fail_after(LIMIT):
        with trio.CancelScope() as outer:
            async with actors.open_system() as system:
                ref = await system.spawn(owner, pids, how)
                assert is_running(pids["child"])
                assert is_running(pids["grandchild"])
                assert os.getpgid(pids["grandchild"]) == pids["child"]  # same group
                if how == "stop":
                    await ref.stop()
                elif how == "crash":
                    ref.tell("crash")
                    reason = await ref.wait_stopped()
                    assert reason.kind is actors.ExitKind.CRASH
                elif how == "cancel":
                    outer.cancel()
                    await trio.sleep_forever()
            # system_close: leaving the block stops the actor
        await _wait_gone(pids["child"])
        await _wait_gone(pids["grandchild"])
    assert not is_running(pids["grandchild"])


async def test_sigterm_ignored_escalates_to_sigkill() -> None:
    pids: dict[str, int] = {}
    with trio.fail_after(LIMIT):
        async with actors.open_system() as system:
            # The child ignores SIGTERM (it still exits on stdin EOF, which comes first).
            ref = await system.spawn(owner, pids, "stop", ("--ignore-term",))
            await ref.stop()
        await _wait_gone(pids["grandchild"])
        await _wait_gone(pids["child"])


async def test_stubborn_child_gets_sigkill_after_the_grace() -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up', flush=True)\n"
        "time.sleep(300)\n"
    )
    with trio.fail_after(LIMIT):
        async with actors.open_process([sys.executable, "-c", script], term_grace=0.5) as proc:
            async for _ in proc.stdout_lines():
                break
            started = trio.current_time()
        assert proc.returncode == -signal.SIGKILL
        assert trio.current_time() - started >= 0.5


async def test_stdin_stdout_and_stderr_are_usable_concurrently() -> None:
    with trio.fail_after(LIMIT):
        async with actors.open_process(child_cmd()) as proc:
            assert proc.stdin is not None
            errors: list[bytes] = []
            lines = proc.stdout_lines()
            grandchild = int(await lines.__anext__())

            async def drain_stderr() -> None:
                async for line in proc.stderr_lines():
                    errors.append(line)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain_stderr)
                await proc.stdin.send_all(b"hello\nworld\n")
                assert await lines.__anext__() == b"HELLO"
                assert await lines.__anext__() == b"WORLD"
                await proc.close_stdin()
                assert await proc.wait() == 0  # the child exits at end of stdin
            assert errors == [b"child ready"]
        # The child exited by itself, but its grandchild was still in the group.
        await _wait_gone(grandchild)


async def test_terminate_kills_the_group_and_returns_the_status() -> None:
    with trio.fail_after(LIMIT):
        async with actors.open_process(child_cmd()) as proc:
            grandchild = await _first_line(proc)
            rc = await proc.terminate(grace=1)
            assert rc in (-signal.SIGTERM, 0)  # closing stdin may let it exit first
            await _wait_gone(grandchild)
            assert proc.returncode == rc


async def test_shell_strings_are_refused() -> None:
    with pytest.raises(TypeError, match="argument list"):
        async with actors.open_process("sleep 1"):  # type: ignore[arg-type]
            pass
    with pytest.raises(TypeError, match="shell"):
        async with actors.open_process(["true"], shell=True):
            pass


async def test_devnull_streams_and_exit_status() -> None:
    with trio.fail_after(LIMIT):
        async with actors.open_process(
            [sys.executable, "-c", "import sys; sys.exit(3)"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as proc:
            assert proc.stdin is None
            assert proc.stdout is None
            assert await proc.wait() == 3
        assert proc.returncode == 3


async def test_iter_lines_frames_and_limits() -> None:
    send, receive = trio.testing.memory_stream_pair()
    await send.send_all(b"a\nbb\n\nlast")
    await send.aclose()
    assert [line async for line in actors.iter_lines(receive)] == [b"a", b"bb", b"", b"last"]

    send, receive = trio.testing.memory_stream_pair()
    await send.send_all(b"x" * 100)
    with pytest.raises(ValueError, match="exceeded 10 bytes"):
        async for _ in actors.iter_lines(receive, max_line_bytes=10):
            pass


@attrs.frozen
class Say:
    text: str


@attrs.frozen
class Output:
    line: bytes


@attrs.frozen
class StdoutClosed:
    pass


async def session_like(
    ctx: actors.Context[Any], outputs: list[bytes], exits: list[actors.ProcessExited]
) -> None:
    """The shape of the bridge's session actor: one process per incarnation, stdout pumped
    into the mailbox by a helper task, stderr drained by another, exit reported as a
    message; it ends once the process has exited and its output is all handled."""
    async with ctx.open_process(child_cmd()) as proc:
        assert proc.stdin is not None

        async def pump_stdout() -> None:
            async for line in proc.stdout_lines():
                ctx.self.tell(Output(line))
            ctx.self.tell(StdoutClosed())

        async def drain_stderr() -> None:
            async for _ in proc.stderr_lines():
                pass

        async def report_exit() -> None:
            ctx.self.tell(actors.ProcessExited(proc.pid, await proc.wait()))

        for task in (pump_stdout, drain_stderr, report_exit):
            ctx.nursery.start_soon(task)
        stdout_open = True
        async for msg in ctx.mailbox:
            match msg:
                case Say("bye"):
                    await proc.close_stdin()
                case Say(text):
                    await proc.stdin.send_all(text.encode() + b"\n")
                case Output(line):
                    outputs.append(line)
                case StdoutClosed():
                    stdout_open = False
                case actors.ProcessExited() as exited:
                    exits.append(exited)
            if exits and not stdout_open:
                return


async def test_a_session_like_actor_drives_its_process() -> None:
    outputs: list[bytes] = []
    exits: list[actors.ProcessExited] = []
    with trio.fail_after(LIMIT):
        async with actors.open_system() as system:
            ref = await system.spawn(session_like, outputs, exits)
            for text in ("hello", "there", "bye"):
                ref.tell(Say(text))
            reason = await ref.wait_stopped()
    assert reason.kind is actors.ExitKind.NORMAL
    assert outputs[1:] == [b"HELLO", b"THERE"]  # the first line is the grandchild's pid
    assert [e.returncode for e in exits] == [0]
    with trio.fail_after(LIMIT):
        await _wait_gone(int(outputs[0]))  # the grandchild did not outlive its owner
