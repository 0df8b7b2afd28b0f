"""Fixtures for end-to-end tests that drive real external parts.

Claude CLI fixtures (see ``tests/support/claude_cli.py`` and ``tests/support/model_server.py``):

* ``claude_bin``: the pinned ``claude`` binary, installed from npm on first use (session
  scope). Skips when it cannot be installed, except under ``CI=true``, where that fails.
* ``model_server``: a scripted Anthropic Messages API server on 127.0.0.1 for this test;
  set its script with ``model_server.set_script([...])``.
* ``claude_home`` / ``claude_workdir``: scratch ``HOME`` and working directory.
* ``claude_env``: the child environment pointing the CLI at ``model_server``, isolated in
  ``claude_home``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.claude_cli import cli_env, require_claude_binary
from tests.support.model_server import ModelServer, open_model_server


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    return require_claude_binary()


@pytest.fixture
async def model_server() -> AsyncIterator[ModelServer]:
    async with open_model_server() as server:
        yield server


@pytest.fixture
def claude_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def claude_workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.fixture
def claude_env(model_server: ModelServer, claude_home: Path) -> dict[str, str]:
    return cli_env(base_url=model_server.url, home=claude_home)
