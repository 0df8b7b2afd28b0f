"""The parent side of the lifeline watchdog (see ``_watchdog.py`` for why and how).

One ``Lifeline`` per ``System``. It starts the watchdog lazily, on the first
``open_process`` made inside the system, then registers each child's process group right
after the spawn and unregisters it once the group is killed and the child reaped. Both are
a synchronous ``os.write`` of a few bytes (atomic on a pipe, below ``PIPE_BUF``), so they
work in cancelled tasks and shielded cleanup. At system close, after every actor and
process has ended, ``aclose`` closes the write end and waits, bounded, for the watchdog
to exit: a normal close leaves no process behind.

``open_process`` finds the lifeline of the system it runs in through
``current_lifeline``, a context variable that the system sets in the ``open_system`` block
and in each actor's task (trio tasks inherit the context of the task that spawns them).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from contextvars import ContextVar
from pathlib import Path

import trio

DEFAULT_GRACE = 5.0
"""Seconds the watchdog gives SIGTERMed groups before SIGKILL: ``open_process``'s default
``term_grace``."""

EXIT_TIMEOUT = 5.0
"""Seconds, beyond the grace, to wait at system close for the watchdog to exit."""

logger = logging.getLogger("actors")


def watchdog_argv(grace: float) -> list[str]:
    """The watchdog's command line: this interpreter, isolated (``-I``: no environment
    variables, no user site) and without ``site`` (``-S``), running ``_watchdog.py``."""
    path = Path(__file__).with_name("_watchdog.py").resolve()
    return [sys.executable, "-I", "-S", str(path), repr(grace)]


class Lifeline:
    """The write end of one watchdog's pipe, and the watchdog process."""

    def __init__(self, *, grace: float = DEFAULT_GRACE) -> None:
        self.grace = grace
        self._lock = trio.Lock()
        self._fd: int | None = None
        self._process: trio.Process | None = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The watchdog's pid, once started."""
        return self._process.pid if self._process is not None else None

    async def ensure_started(self) -> None:
        """Start the watchdog if it is not running yet (concurrent callers start one).

        Raises:
            RuntimeError: the system is closing; no new process may be guarded.
            OSError: the watchdog could not be started.
        """
        async with self._lock:
            if self._closed:
                raise RuntimeError("the actor system is closed: no process can be started in it")
            if self._process is not None:
                return
            # os.pipe() fds are close-on-exec: only the watchdog (as its stdin, dup'ed by
            # Popen) and this process hold the pipe, so the watchdog sees EOF exactly when
            # this process closes the write end or dies.
            read_fd, write_fd = os.pipe()
            try:
                self._process = await trio.lowlevel.open_process(
                    watchdog_argv(self.grace),
                    stdin=read_fd,
                    stdout=subprocess.DEVNULL,
                    # Not our stderr: a test or a supervisor reading it to EOF would wait
                    # for the watchdog too.
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                    close_fds=True,
                )
            except BaseException:
                os.close(write_fd)
                raise
            finally:
                os.close(read_fd)
            self._fd = write_fd

    def register(self, pgid: int) -> None:
        """Tell the watchdog to kill group ``pgid`` if this process dies."""
        self._write(f"+{pgid}\n")

    def unregister(self, pgid: int) -> None:
        """The group ``pgid`` is gone (killed and its leader reaped): forget it."""
        self._write(f"-{pgid}\n")

    def _write(self, line: str) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, line.encode("ascii"))
        except BrokenPipeError:
            # The watchdog died (someone killed it): processes are still killed on every
            # exit path that runs code, only the SIGKILL-of-us guarantee is lost.
            logger.error(
                "the lifeline watchdog (pid %s) is gone: child processes will not be "
                "killed if this process is SIGKILLed",
                self.pid,
            )
            self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    async def aclose(self) -> None:
        """Close the pipe and wait for the watchdog to exit (it kills any group still
        registered first). Bounded by ``grace + EXIT_TIMEOUT``; shielded, so it completes
        in a cancelled task. Idempotent."""
        self._closed = True
        self._close_fd()
        process = self._process
        if process is None or process.returncode is not None:
            return
        with trio.CancelScope(shield=True):
            with trio.move_on_after(self.grace + EXIT_TIMEOUT):
                await process.wait()
                return
            logger.error("the lifeline watchdog (pid %s) did not exit; killing it", process.pid)
            process.send_signal(signal.SIGKILL)
            with trio.move_on_after(EXIT_TIMEOUT):
                await process.wait()


current_lifeline: ContextVar[Lifeline | None] = ContextVar("actors_lifeline", default=None)
"""The lifeline of the system the current task runs in (None outside any system). A
context variable is per-task context, not shared mutable module state: each trio task sees
the value its system set for it."""
