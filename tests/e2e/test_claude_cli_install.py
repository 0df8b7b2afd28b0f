"""The pinned CLI's installer: under CI a missing CLI fails, elsewhere it skips."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import claude_cli
from tests.support.claude_cli import ClaudeCliUnavailable, require_claude_binary


@pytest.fixture
def no_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty cache and a PATH without npm: the install cannot happen."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("CCBRIDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(empty))


@pytest.mark.usefixtures("no_npm")
def test_under_ci_an_unavailable_cli_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ClaudeCliUnavailable, match="npm"):
        require_claude_binary()


@pytest.mark.usefixtures("no_npm")
def test_elsewhere_an_unavailable_cli_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="npm"):
        require_claude_binary()


def test_the_installed_cli_is_the_pinned_version(claude_bin: Path) -> None:
    assert claude_cli._installed_version(claude_bin) == claude_cli.CLAUDE_CODE_VERSION
    assert claude_bin.is_relative_to(claude_cli.cache_dir())


def test_the_test_environment_is_isolated_and_offline(tmp_path: Path) -> None:
    env = claude_cli.cli_env(base_url="http://127.0.0.1:1", home=tmp_path / "h")
    assert env["HOME"] == str(tmp_path / "h")
    assert env["CLAUDE_CONFIG_DIR"] == str(tmp_path / "h" / ".claude")
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert not any(k.startswith("DISCORD_") for k in env)
