"""One conformance suite, run on both implementations of the `claude` process: the real CLI
and the fake that replays its recorded output. A fake that drifted from the real CLI fails
here, so the fast unit tests built on it stay honest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import actors
from bridge.claude.process import ClaudeExited
from protocol.claude import events as ev
from protocol.claude.argv import ClaudeCommand
from protocol.claude.control import allow
from tests.support.claude_cli import open_claude_actor
from tests.support.fake_claude import write_fake_claude
from tests.support.model_server import ModelServer, Reply, ScriptStep

# The model side of each scenario: what tests/fixtures/claude/record.py scripted.
SCRIPTS: dict[str, list[ScriptStep]] = {
    "bash_allow": [
        Reply.bash("touch touched.txt", "touch a file"),
        Reply.text("Touched the file."),
    ],
    "permission_cancelled_by_interrupt": [Reply.bash("touch touched.txt", "touch a file")],
    "resume_missing": [],
}
# Flags a scenario was recorded with (see each <name>.meta.json).
FLAGS: dict[str, dict[str, Any]] = {
    "resume_missing": {"resume": "11111111-2222-3333-4444-555555555555"},
}

Launch = Callable[[str], tuple[ClaudeCommand, dict[str, str]]]


@pytest.fixture(params=["fake", "real"])
def launch(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    model_server: ModelServer,
    claude_env: dict[str, str],
) -> Launch:
    """``launch(scenario)`` -> the command and env for that scenario on this implementation."""

    def fake(scenario: str) -> tuple[ClaudeCommand, dict[str, str]]:
        return ClaudeCommand(executable=str(write_fake_claude(tmp_path, scenario))), {}

    def real(scenario: str) -> tuple[ClaudeCommand, dict[str, str]]:
        model_server.set_script(SCRIPTS[scenario])
        binary = request.getfixturevalue("claude_bin")
        return ClaudeCommand(executable=str(binary), **FLAGS.get(scenario, {})), claude_env

    return fake if request.param == "fake" else real


def _shape(events: list[Any]) -> list[str]:
    """The conversation's shape: event types without partial deltas and bookkeeping."""
    skip = (ev.StreamEvent, ev.SystemStatus, ev.ThinkingTokens, ev.SessionStateChanged)
    return [type(e).__name__ for e in events if not isinstance(e, skip)]


async def test_a_permission_round_trip(launch: Launch, claude_workdir: Path) -> None:
    command, env = launch("bash_allow")
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=env) as h,
    ):
        await h.claude.send_user("RUNTOUCH please")
        asked = await h.until_event(ev.ControlRequest)
        assert asked.request.tool_name == "Bash"
        assert asked.request.input == {
            "command": "touch touched.txt",
            "description": "touch a file",
        }
        await h.claude.answer(allow(asked.request_id, asked.request.input))
        result = await h.until_result()
        assert result.result == "Touched the file."
        assert h.claude.session_id == result.session_id
        assert await h.claude.close() == 0
        exited = await h.until_message(ClaudeExited)
        assert exited.results_seen == 1
        assert _shape(h.events()) == [
            "SystemInit",
            "AssistantMessage",
            "ControlRequest",
            "UserMessage",
            "AssistantMessage",
            "Result",
        ]


async def test_an_interrupt_withdraws_a_pending_prompt(
    launch: Launch, claude_workdir: Path
) -> None:
    command, env = launch("permission_cancelled_by_interrupt")
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=env) as h,
    ):
        await h.claude.send_user("RUNTOUCH please")
        asked = await h.until_event(ev.ControlRequest)
        await h.claude.interrupt()
        cancel = await h.until_event(ev.ControlCancelRequest)
        assert cancel.request_id == asked.request_id
        result = await h.until_result()
        assert result.subtype == "error_during_execution"
        assert h.claude.turn.pending is None
        assert h.claude.turn.interrupted
    assert not (claude_workdir / "touched.txt").exists()


async def test_a_failed_resume_ends_the_process_by_itself(
    launch: Launch, claude_workdir: Path
) -> None:
    command, env = launch("resume_missing")
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=env) as h,
    ):
        # No user message and no stdin EOF: the CLI reports and exits on its own.
        result = await h.until_result()
        assert result.subtype == "error_during_execution"
        assert "No conversation found" in (result.error_text or "")
        exited = await h.until_message(ClaudeExited)
        assert exited.returncode == 1
