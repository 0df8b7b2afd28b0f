"""``ClaudeCommand.system_prompt_snapshot``: the flag that keeps a per-turn appended system
prompt current on ``--resume`` (the real-CLI proof is
``tests/e2e/test_claude_cli_system_prompt.py``)."""

from __future__ import annotations

import itertools

import pytest

from protocol.claude.argv import ClaudeCommand, build_argv

SESSION = "0b9e2c1a-3f4d-4e5f-8a6b-7c8d9e0f1a2b"


def _flag(argv: list[str]) -> list[str]:
    return [value for flag, value in itertools.pairwise(argv) if flag == "--system-prompt-snapshot"]


@pytest.mark.parametrize(("snapshot", "value"), [(False, "off"), (True, "on")])
def test_snapshot_choice_becomes_the_flag(snapshot: bool, value: str) -> None:
    argv = build_argv(
        ClaudeCommand(resume=SESSION, append_system_prompt="ctx", system_prompt_snapshot=snapshot)
    )
    assert _flag(argv) == [value]
    assert argv[argv.index("--append-system-prompt") + 1] == "ctx"


def test_no_choice_leaves_the_cli_default() -> None:
    assert "--system-prompt-snapshot" not in build_argv(ClaudeCommand(append_system_prompt="x"))
