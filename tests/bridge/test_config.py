"""Configuration: defaults, overrides, and one clear error per bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, check_claude_command, load_config

TOKEN_ENV = {
    "DISCORD_BOT_TOKEN": "token",
    "DISCORD_CHANNEL_ID": "123",
    "ALLOWED_USER_IDS": "5, 6",
}


def _load(tmp_path: Path, env: dict[str, str], dotenv: str | None = None):
    path = tmp_path / ".env"
    if dotenv is not None:
        path.write_text(dotenv)
    return load_config(env, dotenv_path=path)


def test_no_token_is_local_mode_with_defaults(tmp_path: Path) -> None:
    config = _load(tmp_path, {"CLAUDE_WORKING_DIR": str(tmp_path)})
    assert config.local_mode
    assert config.max_concurrent_sessions == 3
    assert config.claude_command == "claude"
    assert config.claude_permission_mode == "default"
    assert config.discord_api_base_url == "https://discord.com/api/v10"
    assert config.claude_working_dir == tmp_path
    assert config.stall_notice_seconds == 30.0
    assert config.permission_timeout_seconds == 120.0
    assert config.api_port == 0
    assert config.api_secret is None


def test_api_variables(tmp_path: Path) -> None:
    secret = "s" * 32
    config = _load(tmp_path, {"CCBRIDGE_API_PORT": "8765", "CCBRIDGE_API_SECRET": secret})
    assert config.api_port == 8765
    assert config.api_secret == secret
    assert secret not in repr(config)


def test_token_config_parses_ids_and_adds_owner(tmp_path: Path) -> None:
    config = _load(tmp_path, {**TOKEN_ENV, "DISCORD_OWNER_ID": "7"})
    assert not config.local_mode
    assert config.discord_channel_id == 123
    assert config.allowed_user_ids == {5, 6, 7}
    assert config.is_allowed(7)
    assert not config.is_allowed(8)


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        {"MAX_CONCURRENT_SESSIONS": "9"},
        dotenv="MAX_CONCURRENT_SESSIONS=2\nCLAUDE_MODEL=opus\n",
    )
    assert config.max_concurrent_sessions == 9
    assert config.claude_model == "opus"


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({"DISCORD_BOT_TOKEN": "t"}, "DISCORD_CHANNEL_ID", "is required"),
        ({**TOKEN_ENV, "DISCORD_CHANNEL_ID": "general"}, "DISCORD_CHANNEL_ID", "'general'"),
        ({**TOKEN_ENV, "ALLOWED_USER_IDS": ""}, "ALLOWED_USER_IDS", "no one is allowed"),
        ({**TOKEN_ENV, "ALLOWED_USER_IDS": "5,bob"}, "ALLOWED_USER_IDS", "'bob'"),
        ({"MAX_CONCURRENT_SESSIONS": "0"}, "MAX_CONCURRENT_SESSIONS", "at least 1"),
        ({"MAX_CONCURRENT_SESSIONS": "many"}, "MAX_CONCURRENT_SESSIONS", "whole number"),
        ({"SESSION_TIMEOUT_SECONDS": "-1"}, "SESSION_TIMEOUT_SECONDS", "positive"),
        ({"CLAUDE_PERMISSION_MODE": "yolo"}, "CLAUDE_PERMISSION_MODE", "acceptEdits"),
        ({"CLAUDE_WORKING_DIR": "/does/not/exist"}, "CLAUDE_WORKING_DIR", "not an existing"),
        ({"DISCORD_API_BASE_URL": "discord.com"}, "DISCORD_API_BASE_URL", "http(s) URL"),
        ({"DISCORD_OWNER_ID": "-4"}, "DISCORD_OWNER_ID", "numeric Discord id"),
        ({"CCBRIDGE_API_PORT": "70000"}, "CCBRIDGE_API_PORT", "TCP port"),
        ({"CCBRIDGE_API_PORT": "http"}, "CCBRIDGE_API_PORT", "whole number"),
        ({"CCBRIDGE_API_SECRET": "short"}, "CCBRIDGE_API_SECRET", "at least 16"),
    ],
)
def test_bad_variable_names_itself(
    tmp_path: Path, env: dict[str, str], variable: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, env)
    assert exc.value.variable == variable
    assert fragment in str(exc.value)
    assert str(exc.value).startswith(f"{variable}: ")


def test_claude_command_must_be_an_executable(tmp_path: Path) -> None:
    config = _load(tmp_path, {"CLAUDE_COMMAND": "no-such-claude-xyz"})
    with pytest.raises(ConfigError) as exc:
        check_claude_command(config, path=str(tmp_path))
    assert exc.value.variable == "CLAUDE_COMMAND"
    assert "npm install -g @anthropic-ai/claude-code" in str(exc.value)
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    named = _load(tmp_path, {})
    assert check_claude_command(named, path=str(tmp_path)) == str(fake)
    by_path = _load(tmp_path, {"CLAUDE_COMMAND": str(fake)})
    assert check_claude_command(by_path, path="") == str(fake)
