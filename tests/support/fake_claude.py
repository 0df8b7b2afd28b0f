"""A fast fake ``claude`` executable that replays a recorded real CLI conversation.

The corpus in ``tests/fixtures/claude/`` holds, per scenario, what the real CLI wrote
(``<name>.stdout.jsonl``) and what we wrote to it (``<name>.stdin.jsonl``, each line with
the number of stdout lines read before it was sent). The fake replays stdout in order and,
before emitting line ``i``, waits until it has read every stdin line recorded with
``after <= i``; so a driver that answers a ``can_use_tool`` late sees the tool result late,
exactly as with the real CLI. Request ids the driver chooses for its own control requests
are mapped onto the recorded responses.

It is for unit and load tests of the process plumbing (starting ~50x faster than the real
CLI); it never proves that a feature works with Claude Code (tests/e2e does that).

Knobs (:func:`write_fake_claude`): ``line_delay`` between lines, ``hang_after`` (stop
writing after N lines and hang, for idle timeouts), ``stderr_bytes`` written at start (a
chatty stderr), ``ignore_signals`` (SIGINT/SIGTERM ignored, for escalation tests) and
``repeat`` (each further user message replays the conversation again) and ``read_stdin``
(False: never read stdin, so the pipe fills and writes block).

Signals behave like the real CLI: SIGINT exits 0, SIGTERM exits 143.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "claude"
_ROOT = Path(__file__).resolve().parents[2]


def scenario_names() -> list[str]:
    """Every recorded scenario."""
    return sorted(p.name.removesuffix(".stdout.jsonl") for p in FIXTURES.glob("*.stdout.jsonl"))


def stdout_lines(name: str) -> list[bytes]:
    """The recorded stdout of a scenario, one entry per line (without the newline)."""
    return (FIXTURES / f"{name}.stdout.jsonl").read_bytes().splitlines()


def stdin_entries(name: str) -> list[dict[str, Any]]:
    """What was written to the CLI's stdin: ``{"after": n, "data": {...}}`` entries."""
    path = FIXTURES / f"{name}.stdin.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def meta(name: str) -> dict[str, Any]:
    """Flags, extra env, exit code and CLI version of the recording."""
    return json.loads((FIXTURES / f"{name}.meta.json").read_text())


def write_fake_claude(
    directory: Path,
    scenario: str,
    *,
    line_delay: float = 0.0,
    hang_after: int | None = None,
    stderr_bytes: int = 0,
    ignore_signals: bool = False,
    repeat: bool = False,
    read_stdin: bool = True,
) -> Path:
    """Write an executable ``claude`` stand-in into ``directory`` and return its path.

    The file is a Python script run by this interpreter (so no shell and no PATH lookup);
    it ignores every command-line argument the bridge passes.
    """
    if scenario not in scenario_names():
        raise ValueError(f"no recorded scenario {scenario!r}; have {scenario_names()}")
    options = {
        "scenario": scenario,
        "line_delay": line_delay,
        "hang_after": hang_after,
        "stderr_bytes": stderr_bytes,
        "ignore_signals": ignore_signals,
        "repeat": repeat,
        "read_stdin": read_stdin,
    }
    path = directory / f"fake-claude-{scenario}"
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(_ROOT)!r})\n"
        "from tests.support.fake_claude import main\n"
        f"sys.exit(main({options!r}))\n"
    )
    path.chmod(0o755)
    return path


# ---------------------------------------------------------------------------------------
# The fake process
# ---------------------------------------------------------------------------------------


def _read_stdin(lines: queue.Queue[bytes | None]) -> None:
    for line in sys.stdin.buffer:
        lines.put(line)
    lines.put(None)


class _Replayer:
    def __init__(self, options: dict[str, Any]) -> None:
        name = options["scenario"]
        self.out = stdout_lines(name)
        self.expected = stdin_entries(name)
        recorded = meta(name)
        self.exit_code = int(recorded["exit_code"])
        self.exits_on_its_own = bool(recorded.get("exits_on_its_own", False))
        self.delay = float(options["line_delay"])
        self.hang_after = options["hang_after"]
        self.repeat = bool(options["repeat"])
        self.incoming: queue.Queue[bytes | None] = queue.Queue()
        self.eof = False
        self.written = 0

    def receive(self) -> dict[str, Any] | None:
        """The next stdin line as JSON; ``None`` at EOF."""
        if self.eof:
            return None
        while True:
            line = self.incoming.get()
            if line is None:
                self.eof = True
                return None
            if line.strip():
                try:
                    return json.loads(line)
                except ValueError:
                    continue

    def emit(self, line: bytes) -> None:
        if self.hang_after is not None and self.written >= self.hang_after:
            while True:
                time.sleep(3600)
        if self.delay:
            time.sleep(self.delay)
        sys.stdout.buffer.write(line + b"\n")
        sys.stdout.buffer.flush()
        self.written += 1

    def replay(self, first: dict[str, Any] | None) -> bool:
        """Replay the conversation once. ``first`` is an already-received stdin message.
        Returns False when stdin closed before the conversation could finish."""
        ids: dict[str, str] = {}
        pending = list(self.expected)
        for index, line in enumerate(self.out):
            while pending and pending[0]["after"] <= index:
                entry = pending.pop(0)
                got, first = (first, None) if first is not None else (self.receive(), None)
                if got is None:
                    return False
                recorded = entry["data"]
                if recorded.get("type") == "control_request" and "request_id" in got:
                    ids[recorded["request_id"]] = got["request_id"]
            self.emit(_rewrite_ids(line, ids))
        return True

    def run(self) -> int:
        if not self.replay(None) or self.exits_on_its_own:
            return self.exit_code
        while self.repeat:
            message = self.receive()
            if message is None:
                break
            if not self.replay(message):
                break
        while self.receive() is not None:
            pass
        return self.exit_code


def _rewrite_ids(line: bytes, ids: dict[str, str]) -> bytes:
    if not ids or b'"control_response"' not in line:
        return line
    event = json.loads(line)
    response = event.get("response", {})
    if response.get("request_id") in ids:
        response["request_id"] = ids[response["request_id"]]
        return json.dumps(event).encode()
    return line


def main(options: dict[str, Any]) -> NoReturn:
    if options.get("ignore_signals"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        # The real CLI exits 0 on SIGINT in print mode and 143 on SIGTERM.
        signal.signal(signal.SIGINT, lambda *_: os._exit(0))
        signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    if options.get("stderr_bytes"):
        chunk = b"fake claude stderr noise " * 40 + b"\n"
        left = int(options["stderr_bytes"])
        while left > 0:
            sys.stderr.buffer.write(chunk[:left])
            left -= len(chunk)
        sys.stderr.buffer.flush()
    replayer = _Replayer(options)
    if options.get("read_stdin", True):
        threading.Thread(target=_read_stdin, args=(replayer.incoming,), daemon=True).start()
    code = replayer.run()
    sys.stdout.buffer.flush()
    sys.stderr.flush()
    # os._exit: the stdin reader is a daemon thread blocked in read(); a normal interpreter
    # shutdown would abort on its buffer lock (SIGABRT) instead of exiting with ``code``.
    os._exit(code)
