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
import random
import signal
import sys
import threading
import time
import uuid
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


# ---------------------------------------------------------------------------------------
# A synthetic long turn for load tests, assembled from recorded lines
# ---------------------------------------------------------------------------------------
#
# The recorded corpus holds short turns; a benchmark needs one that streams for a while.
# Every line here is a recorded line (text_thinking for the streaming shape, bash_allow for
# the tool call and its result) with only its ids, text and tool fields replaced, so the
# bridge parses exactly what the real CLI sends. It lives outside tests/fixtures/claude/:
# the corpus stays "what the real CLI wrote".

LONG_TURN = "long_turn"
"""The scenario name :func:`write_long_turn_claude` writes."""

_PROSE = (
    "the session reads the module then checks each caller before it edits anything "
    "because a rename must reach every import and the tests should still pass after "
    "the change so it runs them again and reports what it found in a short summary"
)


def long_turn_lines(*, steps: int, deltas_per_step: int, seed: int = 0) -> list[bytes]:
    """A turn of ``steps`` assistant messages, each streaming ``deltas_per_step`` text
    deltas and (all but the last) calling the Read tool, then the result line.

    Lines are compact JSON like the CLI's. The stream opens with the recorded thinking block.
    """
    rng = random.Random(seed)
    words_pool = _PROSE.split()
    text = [json.loads(line) for line in stdout_lines("text_thinking")]
    tool = [json.loads(line) for line in stdout_lines("bash_allow")]
    session = text[0]["session_id"]
    tool_use = next(d for d in tool if d["type"] == "assistant")
    tool_result = next(d for d in tool if d["type"] == "user")
    starts = [d for d in text if d.get("event", {}).get("type") == "content_block_start"]
    deltas = [d for d in text if d.get("event", {}).get("type") == "content_block_delta"]
    by_event = {d["event"]["type"]: d for d in text if d["type"] == "stream_event"}
    text_message = [d for d in text if d["type"] == "assistant"][-1]
    out: list[dict[str, Any]] = text[:2]  # init, status: requesting

    def fresh(template: dict[str, Any], message_id: str, **event: Any) -> dict[str, Any]:
        line = json.loads(json.dumps(template))
        line["uuid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if "session_id" in line:
            line["session_id"] = session
        if "api_message_id" in line:
            line["api_message_id"] = message_id
        if event:
            line["event"].update(event)
        return line

    final_text = ""
    for step in range(steps):
        message_id = f"msg_long_{step}"
        start = fresh(by_event["message_start"], message_id)
        start["event"]["message"]["id"] = message_id
        out.append(start)
        index = 0
        if step == 0:  # the recorded thinking block, as the real turn began
            out += [fresh(d, message_id) for d in text[3:11]]
            index = 1
        out.append(fresh(starts[1], message_id, index=index))
        words: list[str] = []
        for n in range(deltas_per_step):
            chunk = " ".join(rng.choice(words_pool) for _ in range(2))
            chunk = (chunk.capitalize() if n % 12 == 0 else chunk) + (". " if n % 12 == 11 else " ")
            words.append(chunk)
            out.append(
                fresh(
                    deltas[-1],
                    message_id,
                    index=index,
                    delta={"type": "text_delta", "text": chunk},
                )
            )
        final_text = "".join(words).strip()
        said = fresh(text_message, message_id)
        said["message"].update(id=message_id, content=[{"type": "text", "text": final_text}])
        said["request_id"] = f"req_{message_id}"
        out += [said, fresh(by_event["content_block_stop"], message_id, index=index)]
        if step < steps - 1:
            tool_id = f"toolu_long_{step}"
            path = f"src/module_{step}.py"
            out.append(
                fresh(
                    starts[1],
                    message_id,
                    index=index + 1,
                    content_block={"type": "tool_use", "id": tool_id, "name": "Read", "input": {}},
                )
            )
            for part in ('{"file_path": ', json.dumps(path) + "}"):
                out.append(
                    fresh(
                        deltas[-1],
                        message_id,
                        index=index + 1,
                        delta={"type": "input_json_delta", "partial_json": part},
                    )
                )
            call = fresh(tool_use, message_id)
            call["message"].update(
                id=message_id,
                content=[
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": "Read",
                        "input": {"file_path": path},
                    }
                ],
            )
            call["request_id"] = f"req_{message_id}"
            out += [call, fresh(by_event["content_block_stop"], message_id, index=index + 1)]
            stop = fresh(by_event["message_delta"], message_id)
            stop["event"]["delta"]["stop_reason"] = "tool_use"
            out += [stop, fresh(by_event["message_stop"], message_id)]
            body = "".join(f"{i}\tline {i} of {path}\n" for i in range(1, 41))
            result = fresh(tool_result, message_id)
            result["message"]["content"] = [
                {"tool_use_id": tool_id, "type": "tool_result", "content": body, "is_error": False}
            ]
            result["tool_use_result"] = {
                "type": "text",
                "file": {
                    "filePath": path,
                    "content": body,
                    "numLines": 40,
                    "startLine": 1,
                    "totalLines": 40,
                },
            }
            result["tool_result_meta"] = [
                {"id": tool_id, "permission_decision": {"decision": "accept", "source": "config"}}
            ]
            out.append(result)
        else:
            out += [
                fresh(by_event["message_delta"], message_id),
                fresh(by_event["message_stop"], message_id),
            ]
    done = fresh(text[-1], "")
    done.pop("api_message_id", None)
    done.update(result=final_text, num_turns=steps, begun_message_ids=[f"msg_long_{steps - 1}"])
    out.append(done)
    return [json.dumps(line, separators=(",", ":")).encode() for line in out]


def write_long_turn_claude(
    directory: Path,
    *,
    steps: int,
    deltas_per_step: int,
    line_delay: float = 0.0,
    seed: int = 0,
) -> tuple[Path, int]:
    """Write a fake ``claude`` that answers one message with :func:`long_turn_lines`.

    The scenario files go to ``directory/long_turn/`` and the executable (``line_delay``
    seconds before each line) to ``directory``; it replays like :func:`write_fake_claude`.

    Returns:
        The executable's path and the number of stdout lines (Claude events) of one turn.
    """
    lines = long_turn_lines(steps=steps, deltas_per_step=deltas_per_step, seed=seed)
    scenario_dir = directory / LONG_TURN
    scenario_dir.mkdir(parents=True, exist_ok=True)
    (scenario_dir / f"{LONG_TURN}.stdout.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    (scenario_dir / f"{LONG_TURN}.stdin.jsonl").write_text(
        (FIXTURES / "text_thinking.stdin.jsonl").read_text()
    )
    (scenario_dir / f"{LONG_TURN}.meta.json").write_text(
        (FIXTURES / "text_thinking.meta.json").read_text()
    )
    options = {
        "scenario": LONG_TURN,
        "line_delay": line_delay,
        "hang_after": None,
        "stderr_bytes": 0,
        "ignore_signals": False,
        "repeat": False,
        "read_stdin": True,
    }
    path = directory / f"fake-claude-{LONG_TURN}"
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "from pathlib import Path\n"
        f"sys.path.insert(0, {str(_ROOT)!r})\n"
        "import tests.support.fake_claude as fake\n"
        # stdout_lines() and friends read the module's FIXTURES when called.
        f"fake.FIXTURES = Path({str(scenario_dir)!r})\n"
        f"sys.exit(fake.main({options!r}))\n"
    )
    path.chmod(0o755)
    return path, len(lines)
