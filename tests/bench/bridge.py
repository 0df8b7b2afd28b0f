"""Benchmark of the whole bridge under N parallel sessions (issue 6).

    uv run python -m tests.bench.bridge [--sessions 10,50,100] [--seconds N] [--rate R]

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
* peak RSS: the child's ``ru_maxrss`` (the bridge and this script's small driver);
* loop lag p99: how late a task that sleeps 10 ms on trio's clock wakes, 99th percentile;
* 429s: as counted by the server (``/_control/stats``) and by the bridge's REST client;
* edits, max, ratio: message edits (the streaming updates) the server applied, against the
  most the rate limits allow: per thread, the edit bucket (5 per 5 s per channel, fixed
  windows) over the span from its first to its last edit, summed; capped by the global
  budget (50 per second) over the run minus the bridge's other requests. A ratio near 1
  means the bridge streams as fast as Discord lets it; far below 1, it leaves budget unused.

This is a benchmark, not a test: nothing here asserts (``test_bench_bridge_smoke.py`` runs
it briefly so it cannot rot), and it is not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import resource
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import attrs
import httpx
import psutil
import trio

from bridge.app import open_bridge
from bridge.config import load_config
from bridge.discord import WaitUntilConnected
from tests.support.fake_claude import write_long_turn_claude

ROOT = Path(__file__).resolve().parents[2]
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

    @property
    def cpu_per_1k_events(self) -> float:
        return self.cpu_seconds / (self.events / 1000)

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

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        self.sent.append(
            Sent(request.method, request.url.path, response.status_code, trio.current_time())
        )
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


async def run_one(sessions: int, seconds: float, rate: float) -> Figures:
    """Run the bridge with ``sessions`` parallel sessions and measure it (this process)."""
    me = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="ccbridge-bench-") as tmp_name:
        tmp = Path(tmp_name)
        steps = max(2, round(seconds / TOOL_EVERY))
        deltas = max(1, math.ceil(rate * seconds / steps))
        # A first pass counts the lines, so the delay can spread them over ``seconds``.
        _, lines = write_long_turn_claude(tmp, steps=steps, deltas_per_step=deltas)
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
                    lags: list[float] = []
                    nursery.start_soon(probe_lag, lags)
                    cpu0, t0 = me.cpu_times(), trio.current_time()
                    threads = []
                    for i in range(sessions):
                        posted = await http.post(
                            f"/channels/{channel}/messages",
                            json={"author_id": owner, "content": f"Session {i}: refactor it"},
                        )
                        threads.append(posted.json()["id"])  # the thread takes this id
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
                    cpu1, t1 = me.cpu_times(), trio.current_time()
                    client_429 = bridge.rest.stats.responses_429
                    failures = bridge.rest.stats.background_failures
                server_stats = (await http.get("/stats")).json()
            nursery.cancel_scope.cancel()
    wall = t1 - t0
    during = [s for s in transport.sent if t0 <= s.at <= t1]
    applied, allowed = edit_budget(during, wall)
    return Figures(
        sessions=sessions,
        events=sessions * lines,
        wall_seconds=wall,
        cpu_seconds=(cpu1.user + cpu1.system) - (cpu0.user + cpu0.system),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        lag_p99_ms=percentile(lags, 0.99) * 1000,
        server_429=int(server_stats["responses_429"]),
        client_429=client_429,
        edits_applied=applied,
        edits_max=allowed,
        peak_live=peak_streaming(edit_times(during)),
        background_failures=failures,
    )


COLUMNS = (
    ("sessions", "{:>8}", "sessions"),
    ("live", "{:>5}", "peak_live"),
    ("events", "{:>8}", "events"),
    ("wall s", "{:>7.1f}", "wall_seconds"),
    ("CPU s", "{:>7.2f}", "cpu_seconds"),
    ("CPU s/1k ev", "{:>11.3f}", "cpu_per_1k_events"),
    ("RSS MB", "{:>7.1f}", "peak_rss_mb"),
    ("lag p99 ms", "{:>10.2f}", "lag_p99_ms"),
    ("429 srv", "{:>7}", "server_429"),
    ("429 cli", "{:>7}", "client_429"),
    ("edits", "{:>6}", "edits_applied"),
    ("max", "{:>6}", "edits_max"),
    ("ratio", "{:>6.2f}", "ratio"),
    ("bg fail", "{:>7}", "background_failures"),
)


def table(rows: list[Figures]) -> str:
    """A header line, then one line per run; columns are right-aligned and space-separated."""
    widths = [int(re.search(r">(\d+)", fmt).group(1)) for _, fmt, _ in COLUMNS]  # type: ignore[union-attr]
    lines = [" ".join(f"{name:>{w}}" for (name, _, _), w in zip(COLUMNS, widths, strict=True))]
    for row in rows:
        lines.append(" ".join(fmt.format(getattr(row, attr)) for _, fmt, attr in COLUMNS))
    return "\n".join(lines)


def child_main(args: argparse.Namespace) -> None:
    figures = trio.run(run_one, args.child, args.seconds, args.rate)
    print(RESULT_PREFIX + json.dumps(attrs.asdict(figures)), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bridge", description=__doc__)
    parser.add_argument("--sessions", default="10,50,100", help="comma-separated session counts")
    parser.add_argument("--seconds", type=float, default=30.0, help="streaming time of a turn")
    parser.add_argument("--rate", type=float, default=20.0, help="text deltas per second")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child_main(args)
        return 0
    rows: list[Figures] = []
    logs: list[Path] = []
    for n in [int(x) for x in args.sessions.split(",")]:
        # A fresh process per N, so CPU time and peak RSS belong to that run alone.
        argv_child = [sys.executable, "-m", "tests.bench.bridge", "--child", str(n)]
        argv_child += ["--seconds", str(args.seconds), "--rate", str(args.rate)]
        log = Path(tempfile.gettempdir()) / f"ccbridge-bench-{n}.log"
        with log.open("w") as stderr:
            done = subprocess.run(
                argv_child, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True, check=False
            )
        results = [x for x in done.stdout.splitlines() if x.startswith(RESULT_PREFIX)]
        if done.returncode != 0 or not results:
            print(f"the run with {n} sessions failed (exit {done.returncode}); see {log}")
            return 1
        logs.append(log)
        rows.append(Figures(**json.loads(results[-1].removeprefix(RESULT_PREFIX))))
    print(
        f"ccbridge bridge benchmark: --seconds {args.seconds:g} of streaming per turn, "
        f"--rate {args.rate:g} text deltas/s, local Discord realism=faithful"
    )
    print(table(rows))
    print("the bridge's log (stderr) of each run: " + ", ".join(str(p) for p in logs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
