"""How long /stop takes to take effect behind a backlog of Claude events (issue 9).

    uv run python -m tests.bench.session_stop [--runs N] [--events N]

A session runs a turn against the in-process local Discord server with a stand-in
``claude`` (written here): it answers the user message with the recorded start of a real
turn (init, thinking, the start of a text block), then ``--events`` text deltas at once,
then signals that it has written them all (a marker file) and waits; an interrupt is
answered with the recorded ``result``, and stdin's end makes it exit, as with the real
CLI. Once the marker is there (the events are in the session's mailbox or already
handled), the bench tells the session ``StopTurn`` and measures two times:

* *handled*: until the session has taken the stop (a ``GetSessionStatus`` asked right
  after it is answered; mailboxes are FIFO);
* *stopped*: until the session reports ``stopped`` (the interrupt reached the process,
  it exited, the turn ended).

Prints the median and p99 of each, in milliseconds; the target is p99 under 50 ms.
This is a benchmark, not a test: nothing here asserts, and it is not collected by pytest.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

from bridge.sessions.messages import GetSessionStatus, StopTurn
from tests.bridge.sessions.harness import Bridge, open_bridge, wait_until
from tests.support.fake_claude import FIXTURES

SCENARIO = "text_thinking"
PREFIX_LINES = 12
"""Recorded lines through the start of the text block, so the deltas extend it."""

_CLAUDE = """\
import json, os, sys
prefix = open({prefix!r}, 'rb').read().splitlines()[:{lines}]
delta = [l for l in open({prefix!r}, 'rb').read().splitlines() if b'text_delta' in l][0]
result = [l for l in open({prefix!r}, 'rb').read().splitlines() if b'"type":"result"' in l][0]
marker = {marker!r}
for line in sys.stdin.buffer:
    if b'"interrupt"' in line:
        sys.stdout.buffer.write(result + b'\\n')
        sys.stdout.buffer.flush()
        continue
    if b'"type":"user"' in line.replace(b' ', b''):
        out = sys.stdout.buffer
        for l in prefix:
            out.write(l + b'\\n')
        for _ in range({events}):
            out.write(delta + b'\\n')
        out.flush()
        open(marker, 'w').close()
"""


def _write_claude(directory: Path, events: int) -> tuple[Path, Path]:
    marker = directory / "written"
    script = directory / "claude_bench.py"
    script.write_text(
        _CLAUDE.format(
            prefix=str(FIXTURES / f"{SCENARIO}.stdout.jsonl"),
            lines=PREFIX_LINES,
            marker=str(marker),
            events=events,
        )
    )
    executable = directory / "claude"
    executable.write_text(f"#!{sys.executable}\nexec(open({str(script)!r}).read())\n")
    executable.chmod(0o755)
    return executable, marker


async def _status(bridge: Bridge, thread: int) -> str:
    return (await bridge.status(thread)).status


async def _measure(runs: int, events: int) -> tuple[list[float], list[float]]:
    handled: list[float] = []
    stopped: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        executable, marker = _write_claude(directory, events)
        async with open_bridge(
            directory, SCENARIO, claude_executable=str(executable), session_timeout_seconds=3600
        ) as bridge:
            thread = bridge.thread()
            for run in range(runs):
                marker.unlink(missing_ok=True)
                await bridge.say(thread, f"turn {run}")
                await wait_until(marker.exists, what="the events to be written", timeout=60)
                ref = await bridge.session(thread)
                started = time.perf_counter()
                ref.tell(StopTurn(requested_by=bridge.human_id))
                await ref.ask(GetSessionStatus(), timeout=60)
                handled.append(time.perf_counter() - started)
                await wait_until(
                    lambda: _stopped(bridge, thread), what="the turn to stop", timeout=60
                )
                stopped.append(time.perf_counter() - started)
    return handled, stopped


async def _stopped(bridge: Bridge, thread: int) -> bool:
    return await _status(bridge, thread) == "stopped"


def _line(name: str, figures: list[float]) -> str:
    ordered = sorted(figures)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"  {name}: median {statistics.median(ordered) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms ({p99 * 1000 / 50:.2f}x the 50 ms target)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    handled, stopped = trio.run(_measure, args.runs, args.events)
    print(f"/stop behind {args.events} Claude events, {args.runs} runs (pid {os.getpid()}):")
    print(_line("handled", handled))
    print(_line("stopped", stopped))


if __name__ == "__main__":
    main()
