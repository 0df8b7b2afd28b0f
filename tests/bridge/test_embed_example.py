"""examples/embed_bridge.py runs as documented: the bridge embedded in a trio program,
against the local Discord server, answers one question and shuts down."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import trio

from tests.support.fake_claude import write_fake_claude

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "embed_bridge.py"


async def test_embed_example_prints_claudes_answer(tmp_path: Path) -> None:
    fake = write_fake_claude(tmp_path, "text_thinking")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "CLAUDE", "CCBRIDGE"))
    }
    env.update(
        CLAUDE_COMMAND=str(fake),
        CLAUDE_WORKING_DIR=str(tmp_path),
        CCBRIDGE_DB_PATH=str(tmp_path / "ccbridge.db"),
    )
    with trio.fail_after(120):
        result = await trio.run_process(
            [sys.executable, str(EXAMPLE), "What is the answer?"],
            env=env,
            cwd=tmp_path,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "The answer is 42" in out
    assert "Done" in out
