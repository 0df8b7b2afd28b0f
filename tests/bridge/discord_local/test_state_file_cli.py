"""``ccbridge run`` in local mode with a state file it cannot load: status 3, one line naming
the file, and the file left untouched for the person to look at."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import trio

from bridge.cli import EXIT_BAD_CONFIG
from tests.support.fake_claude import write_fake_claude


async def test_a_damaged_state_file_is_a_bad_configuration(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    state = data / "discord-local.json"
    state.write_text("{not json")
    env_file = tmp_path / "empty.env"  # --env-file must name a file that exists
    env_file.write_text("")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "CLAUDE", "CCBRIDGE"))
    }
    env.update(
        CLAUDE_COMMAND=str(write_fake_claude(tmp_path, "text_thinking")),
        CLAUDE_WORKING_DIR=str(tmp_path),
        CCBRIDGE_DB_PATH=str(data / "ccbridge.db"),
    )
    with trio.fail_after(60):
        result = await trio.run_process(
            [sys.executable, "-m", "bridge", "run", "--env-file", str(env_file)],
            env=env,
            cwd=tmp_path,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == EXIT_BAD_CONFIG
    (line,) = result.stderr.decode().strip().splitlines()
    assert line.startswith("ccbridge: cannot load the local Discord state: ")
    assert str(state) in line
    assert state.read_text() == "{not json"
