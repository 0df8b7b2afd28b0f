"""The lifeline watchdog: kills a system's process groups when the system's process dies.

Why it exists: ``open_process`` kills a child's whole process group on every exit path
that runs code, but if our own process is SIGKILLed (or crashes in C) nothing runs, and a
child that ignores stdin EOF (the real ``claude`` CLI finishes its turn first: minutes,
tools included) keeps running beside the next incarnation of the program.
``PR_SET_PDEATHSIG`` cannot help: trio forks from short-lived worker threads, and the
signal fires when the *forking thread* exits, not the process.

Theory of operation: one watchdog per actor ``System``, run as
``python -I -S _watchdog.py <grace>`` (stdlib only, no site, no environment hooks), in its
own session so a Ctrl-C aimed at the terminal's process group does not reach it (it also
ignores SIGINT). Its stdin is the read end of a pipe whose write end only the system's
process holds (the fd is close-on-exec, so no other child keeps it open). The system
writes ``+<pgid>`` after spawning a group and ``-<pgid>`` after reaping it. End of file on
stdin means the system's process is gone (for whatever reason) or closed the pipe at
shutdown: the watchdog SIGTERMs every group still registered, gives them ``grace``
seconds, SIGKILLs what is left, and exits 0. With nothing registered it exits at once.
Once SIGINT is blocked it writes ``armed`` to stdout (the system discards it).

Run as a script, never imported by the runtime (``actors/_lifeline.py`` starts it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

POLL_INTERVAL = 0.05
"""Seconds between checks that the SIGTERMed groups are gone (bounded by the grace)."""


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # The id now belongs to someone else's processes: ours are gone.
        return False
    return True


def _signal_groups(groups: set[int], sig: int) -> None:
    for pgid in groups:
        # Already gone (or the id was reused by someone else): nothing of ours to kill.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def parse_line(line: bytes, groups: set[int]) -> None:
    """Apply one ``+<pgid>`` / ``-<pgid>`` line to ``groups``.

    A malformed line is ignored: raising would end the watchdog and leave every
    registered group unguarded, which is worse than one lost registration.
    """
    text = line.strip()
    if len(text) < 2 or text[:1] not in (b"+", b"-") or not text[1:].isdigit():
        return
    pgid = int(text[1:])
    if pgid <= 1:
        return  # 0 and 1 would signal our own group or everything: never a child's group
    if text[:1] == b"+":
        groups.add(pgid)
    else:
        groups.discard(pgid)


def kill_groups(groups: set[int], grace: float) -> None:
    """SIGTERM every group, wait up to ``grace`` seconds for them to go, SIGKILL the rest."""
    if not groups:
        return
    _signal_groups(groups, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = {pgid for pgid in groups if _group_exists(pgid)}
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
        alive = {pgid for pgid in alive if _group_exists(pgid)}
    _signal_groups(alive, signal.SIGKILL)


def main(argv: list[str]) -> int:
    # Ctrl-C in a terminal must not disarm the lifeline; our own session already keeps the
    # terminal's SIGINT away, this covers a signal sent to the watchdog directly. Blocked
    # rather than given a handler: this program never wants it, and nothing here runs
    # Python signal handlers (the package installs none, a test checks).
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    # Armed: a line for whoever wants to know (tests); the system sends stdout to /dev/null.
    with contextlib.suppress(OSError):
        os.write(1, b"armed\n")
    grace = float(argv[1]) if len(argv) > 1 else 5.0
    groups: set[int] = set()
    stdin = sys.stdin.buffer
    for line in iter(stdin.readline, b""):
        parse_line(line, groups)
    kill_groups(groups, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
