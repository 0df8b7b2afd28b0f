"""The upgrade command runner (A3) with real processes: exec'd argv, exit status, the tail
of stderr, the timeout (the whole process group is stopped), a command that cannot start."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import trio

from bridge.upgrade import run_upgrade_command, scrubbed_environment
from bridge.upgrade._command import STDERR_KEEP, TAIL_LINES
from tests.e2e.bridge_harness import wait_gone

ENV = dict(os.environ)


def _script(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "cmd.py"
    path.write_text(text)
    return [sys.executable, str(path)]


async def test_success_is_status_0_with_the_stderr_tail(tmp_path: Path) -> None:
    argv = _script(tmp_path, "import sys\nprint('out')\nprint('fetched v2', file=sys.stderr)\n")
    ended = await run_upgrade_command(argv, 60, ENV)
    assert ended.succeeded
    assert ended.status == 0
    assert ended.stderr_tail == "fetched v2"


async def test_failure_keeps_the_last_lines_of_stderr(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        "import sys\nfor i in range(40): print(f'line {i}', file=sys.stderr)\nsys.exit(7)\n",
    )
    ended = await run_upgrade_command(argv, 60, ENV)
    assert not ended.succeeded
    assert ended.status == 7
    assert ended.stderr_tail.splitlines() == [f"line {i}" for i in range(40 - TAIL_LINES, 40)]


async def test_a_flood_of_stderr_is_kept_bounded(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        "import sys\nsys.stderr.write('x' * 3_000_000 + '\\nlast line\\n')\nsys.exit(1)\n",
    )
    ended = await run_upgrade_command(argv, 60, ENV)
    assert ended.status == 1
    assert len(ended.stderr_tail) <= STDERR_KEEP
    assert ended.stderr_tail.endswith("last line")


async def test_no_shell_reads_the_arguments(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    argv = [*_script(tmp_path, "import sys\nprint(sys.argv[1:], file=sys.stderr)\n")]
    argv += ["; touch", str(marker), "$(id)"]
    ended = await run_upgrade_command(argv, 60, ENV)
    assert ended.succeeded
    assert ended.stderr_tail == f"['; touch', '{marker}', '$(id)']"
    assert not marker.exists()


async def test_the_timeout_stops_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    argv = _script(
        tmp_path,
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('hanging', file=sys.stderr, flush=True)\n"
        "time.sleep(600)\n",
    )
    with trio.fail_after(60):
        ended = await run_upgrade_command(argv, 3.0, ENV)
    assert ended.timed_out
    assert not ended.succeeded
    assert ended.stderr_tail == "hanging"
    # SIGKILLed with its group; the kernel finishes it (and its new parent reaps it) in a
    # moment, so wait for that, bounded.
    assert await wait_gone(int(pid_file.read_text()), timeout=10), "a child outlived the timeout"


async def test_a_command_that_cannot_start_is_a_failure(tmp_path: Path) -> None:
    ended = await run_upgrade_command([str(tmp_path / "missing")], 60, ENV)
    assert not ended.succeeded
    assert ended.status is None
    assert ended.start_error is not None
    assert "No such file" in ended.start_error


def test_the_environment_loses_the_secrets() -> None:
    env = {
        "PATH": "/usr/bin",
        "DISCORD_BOT_TOKEN": "tok.en.value",
        "CCBRIDGE_API_SECRET": "s" * 20,
        "DEPLOY_URL": "https://x/?t=tok.en.value",
        "HOME": "/home/u",
    }
    assert scrubbed_environment(env, ["tok.en.value", "s" * 20]) == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
    }
