"""The command line and the child environment (X1–X4)."""

from __future__ import annotations

import pytest

from protocol.claude.argv import ClaudeCommand, build_argv, child_env, validate_session_id
from protocol.claude.control import ControlError

SID = "abe89856-1234-4abc-9def-0123456789ab"


def test_base_flags_enable_the_control_protocol() -> None:
    argv = build_argv(ClaudeCommand(executable="/opt/claude"))
    assert argv[0] == "/opt/claude"
    for flag in ("-p", "--verbose", "--include-partial-messages"):
        assert flag in argv
    assert argv[argv.index("--output-format") + 1] == "stream-json"
    assert argv[argv.index("--input-format") + 1] == "stream-json"
    assert argv[argv.index("--permission-prompt-tool") + 1] == "stdio"


def test_options_become_flags() -> None:
    argv = build_argv(
        ClaudeCommand(
            model="sonnet",
            permission_mode="plan",
            resume=SID,
            fork_session=True,
            append_system_prompt="be brief",
            allowed_tools=["Bash(git:*)", "Read"],
            disallowed_tools=["Bash(rm:*)"],
            add_dirs=["/srv/other"],
            max_turns=3,
            include_hook_events=True,
        )
    )
    assert argv[argv.index("--model") + 1] == "sonnet"
    assert argv[argv.index("--permission-mode") + 1] == "plan"
    assert argv[argv.index("--resume") + 1] == SID
    assert "--fork-session" in argv
    assert "--include-hook-events" in argv
    assert argv[argv.index("--allowedTools") + 1] == "Bash(git:*),Read"
    assert argv[argv.index("--max-turns") + 1] == "3"
    assert "--" not in argv


def test_a_prompt_in_argv_always_follows_double_dash() -> None:
    argv = build_argv(ClaudeCommand(), prompt="--dangerously-skip-permissions")
    assert argv[-2:] == ["--", "--dangerously-skip-permissions"]


@pytest.mark.parametrize(
    "bad", ["not-a-uuid", SID.upper(), SID + "\n", "--help", f"{SID} --x", "", "../../etc"]
)
def test_session_ids_are_validated_before_resume(bad: str) -> None:
    with pytest.raises(ControlError):
        validate_session_id(bad)
    with pytest.raises(ControlError):
        ClaudeCommand(resume=bad)


def test_invalid_options_are_refused() -> None:
    with pytest.raises(ControlError):
        ClaudeCommand(model="gpt-4")
    with pytest.raises(ControlError):
        ClaudeCommand(permission_mode="yolo")
    with pytest.raises(ControlError):
        ClaudeCommand(fork_session=True)
    with pytest.raises(ControlError):
        ClaudeCommand(allowed_tools=["Bash(x:*) --dangerously-skip-permissions"])
    with pytest.raises(ControlError):
        ClaudeCommand(max_turns=0)


def test_child_env_drops_secrets_by_name_and_value_and_adds_context() -> None:
    base = {
        "PATH": "/usr/bin",
        "DISCORD_BOT_TOKEN": "tok",
        "API_SECRET_KEY": "sec",
        "SOMETHING_ELSE": "tok",
        "CLAUDECODE": "1",
        "HOME": "/home/bot",
    }
    env = child_env(base, thread_id=1234, api_url="http://127.0.0.1:8080", secrets=["tok", "sec"])
    assert env["PATH"] == "/usr/bin"
    assert env["HOME"] == "/home/bot"
    for gone in ("DISCORD_BOT_TOKEN", "API_SECRET_KEY", "SOMETHING_ELSE", "CLAUDECODE"):
        assert gone not in env
    assert "tok" not in env.values()
    assert "sec" not in env.values()
    assert env["DISCORD_THREAD_ID"] == "1234"
    assert env["CCDB_API_URL"] == "http://127.0.0.1:8080"
    assert env["CLAUDE_CODE_ENABLE_TODO_TOOLS"] == "1"
    assert base["DISCORD_BOT_TOKEN"] == "tok"  # the input is untouched


def test_mcp_configuration_flags() -> None:
    argv = build_argv(ClaudeCommand(mcp_config='{"mcpServers": {}}', strict_mcp_config=True))
    assert argv[argv.index("--mcp-config") + 1] == '{"mcpServers": {}}'
    assert "--strict-mcp-config" in argv
    assert "--strict-mcp-config" not in build_argv(ClaudeCommand())
