"""The bridge benchmark (``python -m tests.bench.bridge``) runs end to end and prints sane
figures: a short run with 2 sessions, so the script cannot rot. Timings are not judged."""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from protocol.claude import events as ev
from protocol.claude.converter import parse_line
from tests.bench.bridge import COLUMNS, seen_bound
from tests.support.fake_claude import long_turn_lines

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0  # three processes (server, bridge, fakes) on a loaded 2-core machine


async def test_a_short_run_prints_one_row_of_sane_figures() -> None:
    with trio.fail_after(TIMEOUT):
        done = await trio.run_process(
            [sys.executable, "-m", "tests.bench.bridge", "--sessions", "2", "--seconds", "2"],
            cwd=ROOT,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()[-3000:]
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["sessions"])
    values = lines[header + 1].split()
    assert len(values) == len(COLUMNS), lines[header + 1]
    row = {attr: float(v) for (_, _, attr), v in zip(COLUMNS, values, strict=True)}

    assert row["sessions"] == 2
    assert row["events"] > 0
    assert row["wall_seconds"] >= 2.0  # each turn streams for 2 s
    assert row["cpu_seconds"] > 0
    assert row["cpu_per_1k_events"] > 0
    assert row["peak_rss_mb"] > 0
    assert row["lag_p99_ms"] >= 0
    assert row["server_429"] >= 0
    assert row["client_429"] >= 0
    assert row["edits_applied"] > 0  # the streamed text was edited in place
    assert row["edits_max"] > 0
    assert 0 < row["ratio"] <= 1.5
    assert abs(row["ratio"] - row["edits_applied"] / row["edits_max"]) < 0.01
    assert row["floor_per_1k_events"] > 0
    assert row["x_floor"] > 0
    assert row["answered_share"] == 1.0  # every thread ends with the turn's final answer
    assert 0 <= row["seen_p50"] <= row["seen_p99"]
    assert 0 <= row["bound_p50"] <= row["bound_p99"]


def test_the_seen_bound_follows_the_reaction_and_thread_buckets() -> None:
    # 12 messages at once: the first 10 threads open at once (a reply can follow at once)
    # and need no reaction; the 11th and 12th take the first reaction slots, 0.25 s apart.
    # (A bound that charged a slot to every message was beaten by the bridge, issue 15.)
    assert seen_bound([0.0] * 12) == [0.0] * 10 + [0.0, 0.25]
    # Spread-out messages are each seen as soon as they arrive.
    assert seen_bound([0.0, 1.0, 2.0]) == [0.0, 0.0, 0.0]
    # 25 at once: threads 11-25 wait for later windows (10 s, 20 s); reactions come sooner,
    # the 11th at once and each next one 0.25 s later.
    assert seen_bound([0.0] * 25)[10:] == [0.25 * k for k in range(15)]


def test_the_synthetic_long_turn_is_made_of_events_the_real_cli_sends() -> None:
    lines = long_turn_lines(steps=3, deltas_per_step=7)
    events = [parse_line(line) for line in lines]
    assert [e for e in events if isinstance(e, ev.Unknown | ev.Malformed)] == []
    deltas = [e for e in events if isinstance(e, ev.StreamEvent) and e.text_delta is not None]
    assert len(deltas) == 3 * 7
    tool_results = [e for e in events if isinstance(e, ev.UserMessage)]
    assert len(tool_results) == 2  # a Read call after every step but the last
    assert isinstance(events[0], ev.SystemInit)
    assert isinstance(events[-1], ev.Result)
    assert events[-1].result == "".join(e.text_delta or "" for e in deltas[-7:]).strip()
