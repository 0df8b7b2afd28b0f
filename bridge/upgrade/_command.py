"""Running the upgrade command (A3): exec'd from an argument list, never through a shell,
bounded by a timeout, in its own process group (killed whole on timeout or shutdown).

Only what a failure report needs is kept: the exit status and the last lines of stderr.
Its stdout is discarded (a pipe nobody reads could block it) and stdin is ``/dev/null``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Protocol

import trio

import actors
from bridge.upgrade._machine import CommandEnded
from protocol.claude.argv import SECRET_VARIABLES

__all__ = ["STDERR_KEEP", "TAIL_LINES", "run_upgrade_command", "scrubbed_environment"]

TAIL_LINES: Final = 12
"""Lines of stderr shown when the command fails."""
STDERR_KEEP: Final = 8192
"""Bytes of stderr kept (the end): enough for the tail, bounded whatever it writes."""
EOF_GRACE: Final = 2.0
"""Seconds to finish reading stderr after the command exited (a grandchild may hold it)."""


class _Opener(Protocol):
    def __call__(
        self, cmd: Sequence[str], **kwargs: Any
    ) -> AbstractAsyncContextManager[actors.OwnedProcess]: ...


async def run_upgrade_command(
    argv: Sequence[str],
    timeout: float,
    env: Mapping[str, str],
    open_process: _Opener = actors.open_process,
) -> CommandEnded:
    """Run ``argv`` to its end or ``timeout``; what happened, as the machine's event."""
    kept = bytearray()
    status: int | None = None
    try:
        async with open_process(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=dict(env),
        ) as proc:
            stream = proc.stderr
            assert stream is not None

            async def read() -> None:
                with trio.move_on_after(timeout + EOF_GRACE):
                    while chunk := await stream.receive_some(65536):
                        kept.extend(chunk)
                        del kept[:-STDERR_KEEP]

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                with trio.move_on_after(timeout):
                    status = await proc.wait()
                if status is None:
                    nursery.cancel_scope.cancel()
                else:
                    nursery.cancel_scope.deadline = trio.current_time() + EOF_GRACE
    except OSError as exc:
        return CommandEnded(status=None, start_error=exc.strerror or str(exc))
    tail = _tail(bytes(kept))
    if status is None:
        return CommandEnded(status=None, timed_out=True, stderr_tail=tail)
    return CommandEnded(status=status, stderr_tail=tail)


def _tail(data: bytes) -> str:
    lines = data.decode("utf-8", errors="replace").rstrip().splitlines()
    return "\n".join(lines[-TAIL_LINES:])


def scrubbed_environment(environ: Mapping[str, str], secrets: Sequence[str]) -> dict[str, str]:
    """The bridge's environment without its secrets: the upgrade command needs neither the
    bot token nor the API secret (X4's rule, as for ``claude``)."""
    return {
        name: value
        for name, value in environ.items()
        if name not in SECRET_VARIABLES and not any(s and s in value for s in secrets)
    }
