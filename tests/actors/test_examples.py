"""The examples run, so they cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import trio
import trio.testing

from examples.actors_worker_pool import run_pool

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def test_worker_pool_survives_poison_jobs(autojump_clock: trio.testing.MockClock) -> None:
    results = await run_pool([1, 2, -3, 4, -5, 6], workers=2)
    assert results[1] == 1
    assert results[2] == 4
    assert results[4] == 16
    assert results[6] == 36
    assert isinstance(results[-3], str)
    assert "job -3 failed" in results[-3]
    assert "crashed before replying" in results[-3]
    assert "job -5 failed" in str(results[-5])


def test_worker_pool_example_runs_as_a_script() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "actors_worker_pool.py")],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    lines = out.splitlines()
    assert "  3 -> 9" in lines
    assert " -4 -> job -4 failed: actor 'workers/w" in out
    assert len(lines) == 8
