"""The turn template takes the session's stored model (issue 12: per-task models)."""

from __future__ import annotations

import logging

import pytest

from bridge.sessions.turn import session_command
from bridge.store import SessionRecord
from protocol.claude.argv import ClaudeCommand, build_argv

TEMPLATE = ClaudeCommand(executable="claude", model="sonnet", permission_mode="default")


def _record(model: str | None) -> SessionRecord:
    return SessionRecord(thread_id=1, channel_id=2, working_dir="/tmp", model=model)


def test_the_stored_model_replaces_the_default() -> None:
    command = session_command(TEMPLATE, _record("claude-haiku-4-5"), 1)
    assert command.model == "claude-haiku-4-5"
    argv = build_argv(command)
    assert argv[argv.index("--model") + 1] == "claude-haiku-4-5"
    assert command.permission_mode == "default"


def test_no_stored_model_keeps_the_template() -> None:
    assert session_command(TEMPLATE, _record(None), 1) is TEMPLATE


def test_a_stored_name_the_cli_cannot_take_falls_back_with_a_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        command = session_command(TEMPLATE, _record("-p"), 7)
    assert command.model == "sonnet"
    assert "thread 7" in caplog.text
