"""Configuration: defaults, overrides, and one clear error per bad variable."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.config import Config, ConfigError, check_claude_command, load_config
from bridge.preflight import check_database, check_ports
from protocol.claude.argv import ClaudeCommand

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


# --- generated junk: a valid configuration or a ConfigError, never anything else ---------

_DOCUMENTED = sorted(
    {
        match.group(1)
        for line in (Path(__file__).resolve().parents[2] / "README.md").read_text().splitlines()
        if (match := re.match(r"^\| `([A-Z][A-Z_]+)` \|", line))
    }
)

# Any character, lone surrogates included: a badly encoded environment decodes to those.
_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)
_JUNK = st.one_of(
    _ANY_TEXT,
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["-", "--help", "~", "~nobody_xyz/x", ".", "..", "/", "/dev/null", "0x10"]),
    st.text("0123456789", min_size=15, max_size=4400),
    st.text("ab/.", min_size=4000, max_size=6000),  # longer than a file name may be
    st.builds(lambda a, b: f"{a}\x00{b}", _ANY_TEXT, _ANY_TEXT),
)


def _utf8_or_escaped(text: str) -> bytes:
    return text.encode("utf-8", "backslashreplace")


def _configure(env: dict[str, str], dotenv_path: Path, tmp_path: Path) -> None:
    """Everything ``ccbridge run`` checks at start, short of starting: any exception but a
    one-line ConfigError fails the test."""
    error: ConfigError | None = None
    try:
        config = load_config(env, dotenv_path=dotenv_path)
        check_claude_command(config, path=str(tmp_path))
        check_database(config.database_path)
        check_ports([("CCBRIDGE_API_PORT", config.api_port)])
    except ConfigError as exc:
        error = exc
    if error is not None:
        assert "\n" not in str(error)
        assert str(error).startswith(f"{error.variable}: ")
    else:
        _assert_usable(config)


def _assert_usable(config: Config) -> None:
    """An accepted configuration holds nothing that fails later, where the bridge uses it."""
    ClaudeCommand(
        executable=config.claude_command,
        model=config.claude_model,
        permission_mode=config.claude_permission_mode,
    )
    ids = [
        config.discord_channel_id,
        config.discord_owner_id,
        config.coordination_channel_id,
        config.lounge_channel_id,
        *config.allowed_user_ids,
    ]
    assert all(0 < i < 2**64 for i in ids if i is not None)
    seconds = [
        config.session_timeout_seconds,
        config.stall_notice_seconds,
        config.permission_timeout_seconds,
        config.tool_timer_interval_seconds,
    ]
    assert all(0 < s <= 7 * 24 * 3600 for s in seconds)
    assert config.max_concurrent_sessions >= 1
    assert 0 <= config.api_port <= 65535
    assert config.claude_working_dir.is_dir()
    assert config.worktree_base_dir is None or config.worktree_base_dir.is_dir()
    url = httpx.URL(config.discord_api_base_url)
    assert url.scheme in ("http", "https")
    assert url.host
    for secret in (config.discord_bot_token, config.api_secret):
        if secret is not None:
            httpx.Headers({"Authorization": f"Bot {secret}"})  # sendable in a header
            assert secret.isascii()
            assert secret.isprintable()
            assert " " not in secret


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    junk=st.dictionaries(st.sampled_from(_DOCUMENTED), _JUNK, min_size=1, max_size=4),
    with_token=st.booleans(),
)
def test_junk_in_any_variable_is_a_config_or_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, junk: dict[str, str], with_token: bool
) -> None:
    monkeypatch.chdir(tmp_path)  # relative junk paths stay in the scratch directory
    claude = tmp_path / "claude"
    claude.write_text("#!/bin/sh\n")
    claude.chmod(0o755)
    base = {"CLAUDE_WORKING_DIR": str(tmp_path), **(TOKEN_ENV if with_token else {})}
    _configure({**base, **junk}, tmp_path / "none.env", tmp_path)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=200), _ANY_TEXT.map(_utf8_or_escaped)))
def test_a_junk_dotenv_file_is_a_config_or_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    monkeypatch.chdir(tmp_path)
    dotenv = tmp_path / "junk.env"
    dotenv.write_bytes(content)
    _configure({"CLAUDE_WORKING_DIR": str(tmp_path)}, dotenv, tmp_path)
