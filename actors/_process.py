"""A child process owned by an actor incarnation; its whole process group dies with it.

Why a process group: cancelling ``trio.run_process`` kills the child, but a grandchild
(``sh -c "sleep 300 &"``, or the tools a CLI runs) survives (python-trio/trio#3237,
research §4.6). So the child starts in its own session (``start_new_session=True``:
its pid is also its process group id), and on the way out the *group* is signalled:
SIGTERM, a grace period, then SIGKILL — and the child is always reaped. Only an exec
(an argument list) is accepted, never a shell string.

If our own process is SIGKILLed nothing here runs; inside an actor system the system's
lifeline watchdog (``_lifeline.py``, ``_watchdog.py``) covers that case: each group is
registered with it right after the spawn, and it kills them when our process dies.

Limits: a descendant that calls ``setsid()`` itself leaves the group and escapes; a
SIGKILL of our process in the instant between the spawn and the registration leaves that
child unguarded; ``open_process`` used outside any system has no watchdog.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import attrs
import trio

from ._lifeline import Lifeline, current_lifeline

REAP_TIMEOUT = 5.0
"""Seconds to wait for the kernel to report a SIGKILLed child's exit before giving up."""

MAX_LINE_BYTES = 16 * 1024 * 1024
"""Default longest line ``iter_lines`` accepts; stream-json lines can carry whole files."""


@attrs.frozen
class ProcessExited:
    """A message an actor may send itself when its process exits (see ``OwnedProcess.wait``)."""

    pid: int
    returncode: int
    """As in ``subprocess``: negative for death by signal."""


class LineTooLong(ValueError):
    """A line longer than the allowed maximum arrived; the stream is out of sync."""


async def iter_lines(
    stream: trio.abc.ReceiveStream, *, max_line_bytes: int = MAX_LINE_BYTES
) -> AsyncIterator[bytes]:
    """Yield the lines of a byte stream, without their ``\\n`` (a trailing ``\\r`` is kept).

    A last line without a newline is yielded at end of stream.

    Raises:
        LineTooLong: a line exceeded ``max_line_bytes``.
    """
    buf = bytearray()
    scanned = 0
    while True:
        chunk = await stream.receive_some(65536)
        if not chunk:
            if buf:
                yield bytes(buf)
            return
        buf += chunk
        while True:
            end = buf.find(b"\n", scanned)
            if end < 0:
                scanned = len(buf)
                break
            line = bytes(buf[:end])
            del buf[: end + 1]
            scanned = 0
            yield line
        if len(buf) > max_line_bytes:
            raise LineTooLong(f"a line exceeded {max_line_bytes} bytes without a newline")


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False if it no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # The group id was reused by someone else's processes: ours are gone.
        return False
    return True


class OwnedProcess:
    """A running child process, made by ``open_process`` (or ``ctx.open_process``).

    ``stdin`` / ``stdout`` / ``stderr`` are trio streams (when opened with ``PIPE``, the
    default); use them from any tasks you like, e.g. a writer in the behavior and one
    helper task per output stream in ``ctx.nursery``.
    """

    def __init__(
        self, process: trio.Process, term_grace: float, lifeline: Lifeline | None = None
    ) -> None:
        self._process = process
        self.term_grace = term_grace
        self._lifeline = lifeline
        self.pid: int = process.pid
        """The child's pid, which is also its process group id."""
        self.stdin: trio.abc.SendStream | None = process.stdin
        self.stdout: trio.abc.ReceiveStream | None = process.stdout
        self.stderr: trio.abc.ReceiveStream | None = process.stderr

    @property
    def pgid(self) -> int:
        """The process group id (equal to ``pid``: the child leads its own session)."""
        return self.pid

    @property
    def returncode(self) -> int | None:
        """None while running; the exit status once reaped (negative: killed by a signal)."""
        return self._process.returncode

    async def wait(self) -> int:
        """Wait for the child (not its descendants) to exit; return its exit status."""
        return await self._process.wait()

    def stdout_lines(self, *, max_line_bytes: int = MAX_LINE_BYTES) -> AsyncIterator[bytes]:
        """``async for line in proc.stdout_lines()``: see ``iter_lines``."""
        if self.stdout is None:
            raise RuntimeError("stdout was not opened with subprocess.PIPE")
        return iter_lines(self.stdout, max_line_bytes=max_line_bytes)

    def stderr_lines(self, *, max_line_bytes: int = MAX_LINE_BYTES) -> AsyncIterator[bytes]:
        """``async for line in proc.stderr_lines()``: see ``iter_lines``."""
        if self.stderr is None:
            raise RuntimeError("stderr was not opened with subprocess.PIPE")
        return iter_lines(self.stderr, max_line_bytes=max_line_bytes)

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the whole process group; False if the group is gone."""
        return _signal_group(self.pid, sig)

    async def close_stdin(self) -> None:
        """Close the child's stdin (it sees end of file)."""
        if self.stdin is not None:
            await self.stdin.aclose()

    async def terminate(self, grace: float | None = None) -> int:
        """Kill the whole group now: SIGTERM, up to ``grace`` seconds (default
        ``term_grace``) for the child to exit, then SIGKILL to the group; reap the child.
        Returns the exit status. Runs shielded, bounded by ``grace + REAP_TIMEOUT``, so it
        completes even in a cancelled task."""
        await _kill_group(self, self.term_grace if grace is None else grace)
        rc = self._process.returncode
        return -signal.SIGKILL if rc is None else rc


async def _kill_group(proc: OwnedProcess, grace: float) -> None:
    process = proc._process
    with trio.CancelScope(shield=True):
        # Closing stdin first lets a well-behaved child (like a CLI reading stdin) exit on
        # EOF; errors here must not stop the kill.
        for stream in (proc.stdin,):
            if stream is not None:
                with trio.move_on_after(grace):
                    with suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        await stream.aclose()
        if process.returncode is None and _signal_group(proc.pid, signal.SIGTERM):
            with trio.move_on_after(grace):
                await process.wait()
        else:
            # The child is gone, but descendants may linger in its group.
            _signal_group(proc.pid, signal.SIGTERM)
        # Whatever is left in the group (the child if it ignored SIGTERM, grandchildren).
        _signal_group(proc.pid, signal.SIGKILL)
        if process.returncode is None:
            with trio.move_on_after(REAP_TIMEOUT):
                await process.wait()
        if proc._lifeline is not None and process.returncode is not None:
            # Reaped after a group SIGKILL: nothing of the group is left. (If the reap
            # timed out the group stays registered, and the watchdog tries again at close.)
            proc._lifeline.unregister(proc.pid)
            proc._lifeline = None
        for reader in (proc.stdout, proc.stderr):
            if reader is not None:
                await reader.aclose()


@asynccontextmanager
async def open_process(
    cmd: Sequence[str],
    *,
    stdin: int | None = subprocess.PIPE,
    stdout: int | None = subprocess.PIPE,
    stderr: int | None = subprocess.PIPE,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    term_grace: float = 5.0,
    **popen: Any,
) -> AsyncIterator[OwnedProcess]:
    """Run ``cmd`` (exec, no shell) in its own session for the duration of the block::

        async with ctx.open_process(["claude", "-p", "--input-format", "stream-json"]) as proc:
            ctx.nursery.start_soon(read_events, proc)      # async for line in proc.stdout_lines()
            ctx.nursery.start_soon(drain_stderr, proc)
            await proc.stdin.send_all(b"...\\n")

    Args:
        cmd: program and arguments; a string is refused (no shell).
        stdin, stdout, stderr: ``subprocess.PIPE`` (default: a trio stream on the
            ``OwnedProcess``), ``subprocess.DEVNULL``, a file descriptor, or None (inherit).
        cwd, env: as for ``subprocess``.
        term_grace: seconds between SIGTERM and SIGKILL when the block exits.
        popen: other ``subprocess.Popen`` keywords (not ``shell``, not ``start_new_session``).

    *Resource handling:* however the block exits — normally, by an exception, a crash of
    the owning actor, a stop or a cancel — the child's stdin is closed, its process group
    gets SIGTERM, the child gets ``term_grace`` seconds to exit, then the group gets SIGKILL
    and the child is reaped. This runs shielded and bounded (``term_grace`` +
    ``REAP_TIMEOUT``), so no process and no grandchild outlives the block.

    If our own process is SIGKILLed, no code runs here; inside an actor system (an actor's
    task, its helper tasks, or the ``open_system`` block) the system's lifeline watchdog
    then SIGTERMs the group, and SIGKILLs it after the system's default grace (5 s).
    Outside any system there is no watchdog: a child that does not exit on stdin EOF
    outlives a SIGKILLed parent.
    """
    if isinstance(cmd, (str, bytes)):
        raise TypeError(
            "open_process takes an argument list (exec), not a shell string; "
            f"got {cmd!r} - split it into [program, arg, ...]"
        )
    for forbidden in ("shell", "start_new_session", "process_group", "preexec_fn"):
        if forbidden in popen:
            raise TypeError(f"open_process does not accept {forbidden}=: it owns the session")
    lifeline = current_lifeline.get()
    if lifeline is not None:
        await lifeline.ensure_started()
    process = await trio.lowlevel.open_process(
        list(cmd),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        start_new_session=True,
        **popen,
    )
    # Registered at once, synchronously: only a SIGKILL in this instant escapes the watchdog.
    if lifeline is not None:
        lifeline.register(process.pid)
    owned = OwnedProcess(process, term_grace, lifeline)
    try:
        yield owned
    finally:
        await _kill_group(owned, term_grace)
