"""Benchmark of the whole bridge under N parallel sessions (issues 6 and 15).

    uv run python -m tests.bench.bridge [--sessions 10,50,100] [--seconds N] [--rate R]
                                        [--baseline-tree PATH]

For each N, a fresh child process runs the real bridge (``bridge.app.open_bridge``, with
``MAX_CONCURRENT_SESSIONS=N``) against the local Discord server started as its own process
(``ccbridge discord-local --realism faithful``), so the child's CPU time and RSS are the
bridge's alone: the server and the fake ``claude`` processes (a synthetic long turn built
from recorded CLI lines, ``tests.support.fake_claude.write_long_turn_claude``) are other
processes. The owner posts N messages in the session channel; each starts a thread whose
turn streams about ``--rate`` text deltas a second for ``--seconds`` seconds, with a Read
tool call every few seconds. The run ends when every thread shows the completion embed.

Printed per N:

* live: the most sessions streaming at the same time (threads are created at most 10 per
  10 s per channel, so with many sessions and short turns the first ones end before the
  last ones start; make ``--seconds`` longer than ``N / 1`` s to have all N at once);
* events: Claude stream-json lines the fakes wrote (N x lines of one turn);
* CPU s / 1k events: the bridge process's user+system CPU over the run, per 1,000 events;
* peak RSS: the child's own high-water RSS (``VmHWM`` in ``/proc/self/status``; the bridge
  and this script's small driver). Not ``ru_maxrss``: a child started by ``vfork`` + ``exec``
  inherits its parent's peak there, so it reported at least the launching script's ~65 MB
  (where ``/proc`` is missing, ``ru_maxrss`` is still the fallback). The parse floor,
  measured afterwards in the same child, writes its stream one turn at a time, so it does
  not raise the peak (the whole stream at once added ~210 KB per session). Children run
  from cached bytecode, as a deployed bridge does (:func:`child_env`);
* loop lag p99: how late a task that sleeps 10 ms on trio's clock wakes, 99th percentile;
* 429s: as counted by the server (``/_control/stats``) and by the bridge's REST client;
* edits, max, ratio: message edits (the streaming updates) the server applied, against the
  most the rate limits allow: per thread, the edit bucket (5 per 5 s per channel, fixed
  windows) over the span from its first to its last edit, summed; capped by the global
  budget (50 per second) over the run minus the bridge's other requests. A ratio near 1
  means the bridge streams as fast as Discord lets it; far below 1, it leaves budget unused.
* floor CPU s / 1k and x floor: the parse floor, measured in the same child right after the
  bridge run: the same stream (N x the turn's lines) read back from a file in 64 KiB chunks,
  split into lines and decoded with the standard library's ``json.loads``, nothing else
  (best of three). ``x floor`` is the bridge's CPU per event over that floor.
* peak RSS per extra session (a line under the table): (peak RSS at N - at the smallest N)
  / (N - the smallest N), from the rows of one invocation.
* answers: the share of threads whose messages contain the turn's final answer text, read
  once every thread shows its completion embed (in a tree from before the embed waited
  for the answer's last coalesced edit, that edit may land after it: each thread gets up
  to ``ANSWER_SETTLE`` s more, counted in the run).
* seen p50/p99: per message, seconds from the owner's post to the bridge's first visible
  sign that it was seen (a reaction on it or a message in its thread); beside it the bound
  the limits allow, in order of arrival (:func:`seen_bound`): the parent channel's
  reaction bucket (1 per 0.25 s) or, for a reply, its thread bucket (10 per 10 s), a
  reaction spent only on a message its thread would not show sooner.

``--tracemalloc DIR`` (a diagnosis, not a measurement: tracing slows the bridge and costs
memory of its own, so the other figures of that run are off) starts ``tracemalloc`` in
each child once the bridge is connected and writes three snapshots there,
``N-start.snap`` (connected, before any message), ``N-peak.snap`` (the most traced memory,
checked every second) and ``N-end.snap`` (every answer read), and prints the sites that
grew most from start to peak and from start to end, each by the innermost frame in the
bridge's own packages (``bridge``, ``protocol``, ``actors``); ``tracemalloc_report`` in this
module compares any two snapshots, e.g. the peaks of two session counts.

``--baseline-tree PATH`` runs the same child (this very file) a second time per N with
another checkout's code (its ``.venv`` python when it has one; the tree first on
``sys.path``), e.g. the commit before a change; both rows come from one invocation on one
machine, and a last table gives after/before ratios. The machine's load still differs
from one child to the next, so compare ratios and repeat runs, not single figures.

This is a benchmark, not a test: nothing here asserts (``test_bench_bridge_smoke.py`` runs
it briefly so it cannot rot), and it is not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import attrs
import httpx
import psutil
import trio

import bridge as bridge_package
from bridge.app import open_bridge
from bridge.config import load_config
from bridge.discord import WaitUntilConnected
from tests.support.fake_claude import long_turn_lines, write_long_turn_claude

ROOT = Path(bridge_package.__file__).resolve().parents[1]
"""The checkout whose code runs (this file's, or the ``--baseline-tree`` one)."""
THIS_FILE = Path(__file__).resolve()
LAG_INTERVAL = 0.01
"""Seconds the lag probe sleeps; its overshoot is the event-loop lag."""
EDIT_LIMIT, EDIT_WINDOW = 5, 5.0
"""The local server's message-edit bucket per channel (bridge/discord_local/_rest.py)."""
GLOBAL_PER_SECOND = 50
"""The local server's global budget (Realism.global_per_second, Discord's documented 50/s)."""
TOOL_EVERY = 5.0
"""Seconds of streaming between two tool calls in the synthetic turn."""
DONE = "✅ Done"
"""The completion embed's title (bridge/sessions/presentation/render.py): the turn has ended."""
RESULT_PREFIX = "RESULT "
EDIT_PATH = re.compile(r"/channels/(\d+)/messages/(\d+)$")
REACTION_PATH = re.compile(r"/channels/\d+/messages/(\d+)/reactions/")
POST_PATH = re.compile(r"/channels/(\d+)/messages$")
REACTION_INTERVAL = 0.25
"""The local server's reaction bucket per channel (Realism.reaction_interval): 1 per 0.25 s."""
THREAD_LIMIT, THREAD_WINDOW = 10, 10.0
"""The local server's thread-creation bucket per channel."""
FLOOR_REPEATS = 3
TRACE_FRAMES = 30
"""Frames kept per traced allocation: enough to reach the bridge's own code from deep
inside attrs, cattrs, httpx or trio."""
OWN_PACKAGES = ("bridge", "protocol", "actors")
TRACE_TOP = 30
ANSWER_SETTLE = 60.0
"""Seconds, after the last completion embed, that the final answers get to appear."""


@attrs.frozen
class Figures:
    """One run's results."""

    sessions: int
    events: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    lag_p99_ms: float
    server_429: int
    client_429: int
    edits_applied: int
    edits_max: int
    peak_live: int
    """The most sessions streaming at once (overlapping first-to-last edit spans)."""
    background_failures: int
    """``submit_*`` requests (reactions, edits) that failed for good (RestStats)."""
    floor_cpu_seconds: float
    """CPU to read and ``json.loads`` the same stream, nothing else (the parse floor)."""
    answered: int
    """Threads whose messages contain the turn's final answer."""
    seen_after: list[float]
    """Per message, in order of posting: seconds to its first reaction or reply."""
    seen_bound: list[float]
    """Per message: the least ``seen_after`` the limits allow (:func:`seen_bound`)."""

    @property
    def cpu_per_1k_events(self) -> float:
        return self.cpu_seconds / (self.events / 1000)

    @property
    def floor_per_1k_events(self) -> float:
        return self.floor_cpu_seconds / (self.events / 1000)

    @property
    def x_floor(self) -> float:
        return self.cpu_seconds / self.floor_cpu_seconds if self.floor_cpu_seconds else 0.0

    @property
    def answered_share(self) -> float:
        return self.answered / self.sessions

    @property
    def seen_p50(self) -> float:
        return percentile(self.seen_after, 0.5)

    @property
    def seen_p99(self) -> float:
        return percentile(self.seen_after, 0.99)

    @property
    def bound_p50(self) -> float:
        return percentile(self.seen_bound, 0.5)

    @property
    def bound_p99(self) -> float:
        return percentile(self.seen_bound, 0.99)

    @property
    def ratio(self) -> float:
        return self.edits_applied / self.edits_max if self.edits_max else 0.0


@attrs.frozen
class Sent:
    """One REST request the bridge made, as its transport saw it."""

    method: str
    path: str
    status: int
    at: float


class RecordingTransport(httpx.AsyncBaseTransport):
    """The network transport, noting each request's route, status and time."""

    def __init__(self) -> None:
        # The limits open_rest_client gives its own default transport.
        self._inner = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=200)
        )
        self.sent: list[Sent] = []
        # One string per distinct path (a message is edited many times): this record is in
        # the measured process, and ~15,000 copies of the path at N=100 are ~1.3 MB.
        self._paths: dict[str, str] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        path = request.url.path
        path = self._paths.setdefault(path, path)
        self.sent.append(Sent(request.method, path, response.status_code, trio.current_time()))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def edit_times(sent: list[Sent]) -> dict[str, list[float]]:
    """When each channel's message edits were applied."""
    edits: dict[str, list[float]] = defaultdict(list)
    for s in sent:
        match = EDIT_PATH.search(s.path) if s.method == "PATCH" else None
        if match and 200 <= s.status < 300:
            edits[match.group(1)].append(s.at)
    return edits


def peak_streaming(edits: dict[str, list[float]]) -> int:
    """The most threads whose first-to-last edit spans overlapped: sessions live at once."""
    marks = sorted(
        [(min(ts), 1) for ts in edits.values()] + [(max(ts), -1) for ts in edits.values()]
    )
    live = peak = 0
    for _, step in marks:
        live += step
        peak = max(peak, live)
    return peak


def seen_bound(posted: list[float]) -> list[float]:
    """The earliest each message (posted at these times, in order) can show it was seen.

    Two ways, whichever the limits allow sooner. A reply: it needs the message's thread,
    and the channel's thread bucket creates ``THREAD_LIMIT`` per ``THREAD_WINDOW`` s
    (fixed windows from the first creation); the reply itself is the thread's first post.
    A reaction: all the messages are in one channel and share its reaction bucket (one per
    ``REACTION_INTERVAL`` s), so in order of arrival a reaction comes no sooner than its
    message, nor sooner than ``REACTION_INTERVAL`` after the one before. A message whose
    thread shows it no later than a reaction could spends no reaction slot (a bridge
    that reacts on every message anyway does worse than this bound, never better).
    """
    bounds: list[float] = []
    reaction = -math.inf
    used: dict[int, int] = defaultdict(int)
    for at in posted:
        window = math.floor((at - posted[0]) / THREAD_WINDOW)
        while used[window] >= THREAD_LIMIT:
            window += 1
        used[window] += 1
        thread = max(at, posted[0] + window * THREAD_WINDOW)
        react = max(at, reaction + REACTION_INTERVAL)
        if react < thread:
            reaction = react
        bounds.append(min(react, thread) - at)
    return bounds


def first_seen(sent: list[Sent], posted: dict[str, float]) -> list[float]:
    """Per posted message (in order of posting): seconds from its post to the first reaction
    on it or the first message in its thread (the thread takes the message's id); a message
    never seen counts as the whole run."""
    seen: dict[str, float] = {}
    for s in sent:
        if not 200 <= s.status < 300:
            continue
        reaction = REACTION_PATH.search(s.path) if s.method == "PUT" else None
        reply = POST_PATH.search(s.path) if s.method == "POST" else None
        match = reaction or reply
        if match and match.group(1) in posted and match.group(1) not in seen:
            seen[match.group(1)] = s.at
    last = max((s.at for s in sent), default=0.0)
    return [seen.get(mid, last) - at for mid, at in posted.items()]


def final_answer(steps: int, deltas: int) -> str:
    """The ``result`` text of the synthetic turn."""
    return str(json.loads(long_turn_lines(steps=steps, deltas_per_step=deltas)[-1])["result"])


def squeeze(text: str) -> str:
    """Text without whitespace: message splits may move or drop it at the boundaries."""
    return "".join(text.split())


def parse_floor(lines: list[bytes], sessions: int, directory: Path) -> float:
    """CPU seconds to read the whole stream back and decode each line with ``json.loads``.

    The best of ``FLOOR_REPEATS`` tries: the least a Python process must spend on the
    stream before doing anything with it."""
    stream = directory / "floor.jsonl"
    one_turn = b"".join(line + b"\n" for line in lines)
    with stream.open("wb") as f:
        # One turn at a time: the whole stream in memory at once (~170 KB per session)
        # would raise this process's peak RSS, which is reported as the bridge's.
        for _ in range(sessions):
            f.write(one_turn)
    best = math.inf
    for _ in range(FLOOR_REPEATS):
        start = time.process_time()
        with stream.open("rb", buffering=0) as f:
            rest = b""
            while chunk := f.read(65536):
                *complete, rest = (rest + chunk).split(b"\n")
                for line in complete:
                    json.loads(line)
        best = min(best, time.process_time() - start)
    return best


def edit_budget(sent: list[Sent], wall: float) -> tuple[int, int]:
    """Edits applied, and the most the server's limits allow (see the module docstring)."""
    edits = edit_times(sent)
    applied = sum(len(ts) for ts in edits.values())
    others = sum(1 for s in sent if s.status != 429) - applied
    per_channel = sum(
        EDIT_LIMIT * (math.floor((max(ts) - min(ts)) / EDIT_WINDOW) + 1) for ts in edits.values()
    )
    global_left = GLOBAL_PER_SECOND * math.ceil(wall) - others
    return applied, max(0, min(per_channel, global_left))


def peak_rss_mb() -> float:
    """This process's own peak RSS in MB (see the module docstring: not ``ru_maxrss``)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_site(trace: tracemalloc.Traceback) -> str:
    """The innermost frame of an allocation in the bridge's own packages (else the
    innermost frame): where the bridge asked for the memory."""
    for frame in reversed(trace):  # a Traceback lists the outermost frame first
        parts = Path(frame.filename).parts
        if ".venv" not in parts and any(p in parts for p in OWN_PACKAGES):
            rel = (
                Path(frame.filename).relative_to(ROOT)
                if frame.filename.startswith(str(ROOT))
                else frame.filename
            )
            return f"{rel}:{frame.lineno}"
    return f"{trace[-1].filename}:{trace[-1].lineno}" if len(trace) else "?"


def tracemalloc_report(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, title: str
) -> str:
    """The sites (:func:`own_site`) whose live memory grew most from ``before`` to
    ``after``, with the growth in KB and in live blocks."""
    grown: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for stat in after.compare_to(before, "traceback"):
        site = grown[own_site(stat.traceback)]
        site[0] += stat.size_diff
        site[1] += stat.count_diff
    total = sum(size for size, _ in grown.values())
    lines = [f"{title}: {total / 1024:+.0f} KB traced"]
    for where, (size, count) in sorted(grown.items(), key=lambda kv: -kv[1][0])[:TRACE_TOP]:
        lines.append(f"  {size / 1024:+9.1f} KB {count:+8d} blocks  {where}")
    return "\n".join(lines)


class TraceWatch:
    """Snapshots for ``--tracemalloc``: at start, at the most traced memory, at the end."""

    def __init__(self, directory: Path, sessions: int) -> None:
        self._directory = directory
        self._sessions = sessions
        tracemalloc.start(TRACE_FRAMES)
        self.start = tracemalloc.take_snapshot()
        self.peak = self.start
        self._peak_bytes = tracemalloc.get_traced_memory()[0]

    async def watch(self) -> None:
        while True:
            await trio.sleep(1.0)
            now = tracemalloc.get_traced_memory()[0]
            if now > self._peak_bytes * 1.01:
                self._peak_bytes = now
                self.peak = tracemalloc.take_snapshot()

    def finish(self) -> None:
        end = tracemalloc.take_snapshot()
        tracemalloc.stop()
        self._directory.mkdir(parents=True, exist_ok=True)
        for name, snap in (("start", self.start), ("peak", self.peak), ("end", end)):
            snap.dump(str(self._directory / f"{self._sessions}-{name}.snap"))
        print(
            tracemalloc_report(self.start, self.peak, f"N={self._sessions} start -> peak"),
            file=sys.stderr,
        )
        print(
            tracemalloc_report(self.start, end, f"N={self._sessions} start -> end"), file=sys.stderr
        )


async def probe_lag(lags: list[float]) -> None:
    while True:
        start = trio.current_time()
        await trio.sleep(LAG_INTERVAL)
        lags.append(trio.current_time() - start - LAG_INTERVAL)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def start_local_discord(*, task_status: trio.TaskStatus[dict[str, str]]) -> None:
    """``ccbridge discord-local`` as a child process; started with its URLs, ended by SIGTERM."""
    argv = [sys.executable, "-m", "bridge", "discord-local", "--realism", "faithful"]
    proc = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert proc.stdout is not None
        buffer = b""
        with trio.fail_after(60):
            while b"\n" not in buffer:
                chunk = await proc.stdout.receive_some(65536)
                if not chunk:
                    raise RuntimeError("ccbridge discord-local exited before printing its URLs")
                buffer += chunk
        task_status.started(json.loads(buffer.split(b"\n", 1)[0]))
        await trio.sleep_forever()
    finally:
        with trio.CancelScope(shield=True):
            proc.terminate()
            await proc.wait()


async def run_one(
    sessions: int, seconds: float, rate: float, trace_dir: Path | None = None
) -> Figures:
    """Run the bridge with ``sessions`` parallel sessions and measure it (this process)."""
    me = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="ccbridge-bench-") as tmp_name:
        tmp = Path(tmp_name)
        steps = max(2, round(seconds / TOOL_EVERY))
        deltas = max(1, math.ceil(rate * seconds / steps))
        # A first pass counts the lines, so the delay can spread them over ``seconds``.
        _, lines = write_long_turn_claude(tmp, steps=steps, deltas_per_step=deltas)
        answer_text = final_answer(steps, deltas)
        answer, tail = squeeze(answer_text), answer_text[-40:]
        fake, _ = write_long_turn_claude(
            tmp, steps=steps, deltas_per_step=deltas, line_delay=seconds / lines
        )
        workdir = tmp / "work"
        workdir.mkdir()
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(start_local_discord)
            control = urls["control_url"]
            async with httpx.AsyncClient(base_url=control, timeout=30) as http:
                state = (await http.get("/state")).json()
                owner = next(u["id"] for u in state["users"] if u["username"] == "owner")
                channel = state["default_channel_id"]
                config = load_config(
                    {
                        "DISCORD_BOT_TOKEN": urls["token"],
                        "DISCORD_API_BASE_URL": urls["rest_url"],
                        "DISCORD_CHANNEL_ID": channel,
                        "DISCORD_OWNER_ID": owner,
                        "ALLOWED_USER_IDS": owner,
                        "MAX_CONCURRENT_SESSIONS": str(sessions),
                        "CLAUDE_COMMAND": str(fake),
                        "CLAUDE_WORKING_DIR": str(workdir),
                        "CCBRIDGE_DB_PATH": str(tmp / "ccbridge.db"),
                    },
                    dotenv_path=tmp / "none.env",
                )
                transport = RecordingTransport()
                async with open_bridge(config, rest_transport=transport) as bridge:
                    await bridge.gateway.ask(WaitUntilConnected(), timeout=60)
                    # Caught up (the empty channel's history read): the messages below are
                    # live ones, as in steady operation, not found by the start-up catch-up.
                    with trio.fail_after(60):
                        await bridge.wait_ready()
                    lags: list[float] = []
                    nursery.start_soon(probe_lag, lags)
                    trace = TraceWatch(trace_dir, sessions) if trace_dir else None
                    if trace is not None:
                        nursery.start_soon(trace.watch)
                    cpu0, t0 = me.cpu_times(), trio.current_time()
                    threads = []
                    posted_at: dict[str, float] = {}
                    for i in range(sessions):
                        at = trio.current_time()
                        posted = await http.post(
                            f"/channels/{channel}/messages",
                            json={"author_id": owner, "content": f"Session {i}: refactor it"},
                        )
                        threads.append(posted.json()["id"])  # the thread takes this id
                        posted_at[threads[-1]] = at
                    budget = 120 + 2 * seconds + 2 * sessions  # thread creation is 1/s
                    with trio.fail_after(budget):
                        for thread_id in threads:  # each answers at once when already done
                            done = await http.get(
                                "/wait",
                                params={"channel_id": thread_id, "contains": DONE, "timeout": 600},
                                timeout=budget,
                            )
                            if done.status_code != 200:
                                raise RuntimeError(f"thread {thread_id}: {done.text}")
                    settle = trio.current_time() + ANSWER_SETTLE
                    for thread_id in threads:
                        # In a tree from before issue 15's item 5 (a baseline), the completion
                        # embed can land before the last coalesced text edit.
                        # (Bodies not decoded: this process's CPU is the bridge's figure.)
                        left = max(0.0, settle - trio.current_time())
                        await http.get(
                            "/wait",
                            params={"channel_id": thread_id, "contains": tail, "timeout": left},
                            timeout=left + 30,
                        )
                    cpu1, t1 = me.cpu_times(), trio.current_time()
                    if trace is not None:
                        trace.finish()
                    client_429 = bridge.rest.stats.responses_429
                    failures = bridge.rest.stats.background_failures
                    answered = 0
                    for thread_id in threads:
                        said = (await http.get(f"/channels/{thread_id}/messages")).json()
                        answered += answer in squeeze("".join(str(m["content"]) for m in said))
                server_stats = (await http.get("/stats")).json()
            nursery.cancel_scope.cancel()
        floor = parse_floor(long_turn_lines(steps=steps, deltas_per_step=deltas), sessions, tmp)
    wall = t1 - t0
    during = [s for s in transport.sent if t0 <= s.at <= t1]
    applied, allowed = edit_budget(during, wall)
    return Figures(
        sessions=sessions,
        events=sessions * lines,
        wall_seconds=wall,
        cpu_seconds=(cpu1.user + cpu1.system) - (cpu0.user + cpu0.system),
        peak_rss_mb=peak_rss_mb(),
        lag_p99_ms=percentile(lags, 0.99) * 1000,
        server_429=int(server_stats["responses_429"]),
        client_429=client_429,
        edits_applied=applied,
        edits_max=allowed,
        peak_live=peak_streaming(edit_times(during)),
        background_failures=failures,
        floor_cpu_seconds=floor,
        answered=answered,
        seen_after=first_seen(during, posted_at),
        seen_bound=seen_bound(list(posted_at.values())),
    )


COLUMNS = (
    ("sessions", "{:>8}", "sessions"),
    ("live", "{:>5}", "peak_live"),
    ("events", "{:>7}", "events"),
    ("wall s", "{:>7.1f}", "wall_seconds"),
    ("CPU s", "{:>6.2f}", "cpu_seconds"),
    ("CPU s/1k ev", "{:>11.3f}", "cpu_per_1k_events"),
    ("floor/1k", "{:>8.4f}", "floor_per_1k_events"),
    ("x floor", "{:>7.1f}", "x_floor"),
    ("RSS MB", "{:>6.1f}", "peak_rss_mb"),
    ("lag p99 ms", "{:>10.2f}", "lag_p99_ms"),
    ("429 srv", "{:>7}", "server_429"),
    ("429 cli", "{:>7}", "client_429"),
    ("edits", "{:>6}", "edits_applied"),
    ("max", "{:>6}", "edits_max"),
    ("ratio", "{:>5.2f}", "ratio"),
    ("answers", "{:>7.2f}", "answered_share"),
    ("seen p50", "{:>8.2f}", "seen_p50"),
    ("bound p50", "{:>9.2f}", "bound_p50"),
    ("seen p99", "{:>8.2f}", "seen_p99"),
    ("bound p99", "{:>9.2f}", "bound_p99"),
    ("bg fail", "{:>7}", "background_failures"),
)

RATIO_COLUMNS = (
    ("CPU s/1k ev", "cpu_per_1k_events"),
    ("x floor", "x_floor"),
    ("RSS MB", "peak_rss_mb"),
    ("lag p99 ms", "lag_p99_ms"),
    ("ratio", "ratio"),
    ("answers", "answered_share"),
    ("seen p50", "seen_p50"),
    ("seen p99", "seen_p99"),
)
"""The figures compared as after / before when ``--baseline-tree`` is given."""


def _width(fmt: str) -> int:
    match = re.search(r">(\d+)", fmt)
    assert match is not None, fmt
    return int(match.group(1))


def table(rows: list[Figures]) -> str:
    """A header line, then one line per run; columns are right-aligned and space-separated."""
    widths = [_width(fmt) for _, fmt, _ in COLUMNS]
    lines = [" ".join(f"{name:>{w}}" for (name, _, _), w in zip(COLUMNS, widths, strict=True))]
    for row in rows:
        lines.append(" ".join(fmt.format(getattr(row, attr)) for _, fmt, attr in COLUMNS))
    return "\n".join(lines)


def ratio_table(after: list[Figures], before: list[Figures]) -> str:
    """after / before per N for the figures in ``RATIO_COLUMNS`` (below 1: smaller after)."""
    names = ["sessions", *(name for name, _ in RATIO_COLUMNS)]
    widths = [max(8, len(name)) for name in names]
    lines = [" ".join(f"{name:>{w}}" for name, w in zip(names, widths, strict=True))]
    for a, b in zip(after, before, strict=True):
        cells = [f"{a.sessions:>{widths[0]}}"]
        for (_, attr), w in zip(RATIO_COLUMNS, widths[1:], strict=True):
            old, new = getattr(b, attr), getattr(a, attr)
            cells.append(f"{new / old:>{w}.2f}" if old else f"{'-':>{w}}")
        lines.append(" ".join(cells))
    return "\n".join(lines)


def per_extra_session(rows: list[Figures]) -> str:
    """Peak RSS growth per session beyond the smallest run, in KB."""
    first = min(rows, key=lambda r: r.sessions)
    parts = [
        f"N={first.sessions}->{r.sessions}: "
        f"{(r.peak_rss_mb - first.peak_rss_mb) * 1024 / (r.sessions - first.sessions):.0f} KB"
        for r in rows
        if r.sessions > first.sessions
    ]
    return "peak RSS per extra session: " + (", ".join(parts) or "(needs two session counts)")


def child_main(args: argparse.Namespace) -> None:
    figures = trio.run(run_one, args.child, args.seconds, args.rate, args.tracemalloc)
    print(RESULT_PREFIX + json.dumps(attrs.asdict(figures)), flush=True)


def child_argv(tree: Path | None, n: int, args: argparse.Namespace) -> list[str]:
    """The command running one measured child: this tree's module, or this very file with
    another tree's code (its own ``.venv`` python if it has one; the tree is the working
    directory, so first on ``sys.path``)."""
    options = ["--child", str(n), "--seconds", str(args.seconds), "--rate", str(args.rate)]
    if args.tracemalloc is not None:
        options += ["--tracemalloc", str(args.tracemalloc.resolve())]
    if tree is None:
        return [sys.executable, "-m", "tests.bench.bridge", *options]
    python = tree / ".venv" / "bin" / "python"
    run_this = (
        "import runpy, sys; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    return [
        str(python) if python.exists() else sys.executable,
        "-c",
        run_this,
        str(THIS_FILE),
        *options,
    ]


def child_env() -> dict[str, str]:
    """The children's environment: bytecode caching on, in a cache of the benchmark's own.

    A deployed bridge imports compiled bytecode (written at its first start, or by the
    installer); with ``PYTHONDONTWRITEBYTECODE`` set, as on some CI machines, every child
    would compile every module from source at start-up, and compiling one of them
    (hpack's Huffman table, imported by Hypercorn) alone raises the peak RSS by ~10 MB
    for a moment. ``PYTHONPYCACHEPREFIX`` keeps the cache out of the checkouts."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "ccbridge-bench-pycache")
    return env


def warm_bytecode(tree: Path | None) -> None:
    """Import what a child imports once, so every measured child starts from cached
    bytecode (see :func:`child_env`), the first one included."""
    python = tree / ".venv" / "bin" / "python" if tree is not None else None
    subprocess.run(
        [
            str(python) if python is not None and python.exists() else sys.executable,
            "-c",
            "import bridge.app, tests.support.fake_claude, httpx, psutil, trio",
        ],
        cwd=tree or ROOT,
        env=child_env(),
        check=True,
    )


def run_child(tree: Path | None, n: int, args: argparse.Namespace, log: Path) -> Figures | None:
    with log.open("w") as stderr:
        done = subprocess.run(
            child_argv(tree, n, args),
            cwd=tree or ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            check=False,
        )
    results = [x for x in done.stdout.splitlines() if x.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not results:
        print(f"the run with {n} sessions failed (exit {done.returncode}); see {log}")
        return None
    return Figures(**json.loads(results[-1].removeprefix(RESULT_PREFIX)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bridge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sessions", default="10,50,100", help="comma-separated session counts")
    parser.add_argument("--seconds", type=float, default=30.0, help="streaming time of a turn")
    parser.add_argument("--rate", type=float, default=20.0, help="text deltas per second")
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        default=None,
        help="another checkout to measure the same way in the same run (e.g. the commit "
        "before a change); prints its rows and the after/before ratios",
    )
    parser.add_argument(
        "--tracemalloc",
        type=Path,
        default=None,
        metavar="DIR",
        help="diagnosis: trace allocations in each child, write snapshots to DIR and print "
        "the sites that grew most into the child's log (the run's other figures are off)",
    )
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child_main(args)
        return 0
    base_tree: Path | None = args.baseline_tree.resolve() if args.baseline_tree else None
    if base_tree is not None and not (base_tree / "bridge" / "__init__.py").exists():
        print(f"--baseline-tree {base_tree}: not a ccbridge checkout (no bridge/__init__.py)")
        return 2
    rows: list[Figures] = []
    before: list[Figures] = []
    logs: list[Path] = []
    tmp = Path(tempfile.gettempdir())
    warm_bytecode(None)
    if base_tree is not None:
        warm_bytecode(base_tree)
    for n in [int(x) for x in args.sessions.split(",")]:
        # A fresh process per N (and per tree), so CPU time and peak RSS belong to it alone.
        # The baseline runs first, then this tree, N by N, so slow drifts in the machine's
        # load fall on both alike.
        if base_tree is not None:
            log = tmp / f"ccbridge-bench-{n}-baseline.log"
            figures = run_child(base_tree, n, args, log)
            if figures is None:
                return 1
            logs.append(log)
            before.append(figures)
        log = tmp / f"ccbridge-bench-{n}.log"
        figures = run_child(None, n, args, log)
        if figures is None:
            return 1
        logs.append(log)
        rows.append(figures)
    print(
        f"ccbridge bridge benchmark: --seconds {args.seconds:g} of streaming per turn, "
        f"--rate {args.rate:g} text deltas/s, local Discord realism=faithful"
    )
    print(f"this tree ({ROOT}):")
    print(table(rows))
    print(per_extra_session(rows))
    if base_tree is not None:
        print(f"baseline tree ({base_tree}):")
        print(table(before))
        print(per_extra_session(before))
        print("after / before (this tree over the baseline, same run):")
        print(ratio_table(rows, before))
    print("the bridge's log (stderr) of each run: " + ", ".join(str(p) for p in logs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
