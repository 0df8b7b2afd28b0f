"""Finding and listing session files on disk (files the real CLI wrote, copied into place)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bridge.claude.sessions import (
    config_dir,
    find_session_file,
    list_sessions,
    read_session_messages,
)
from protocol.claude.control import ControlError
from protocol.claude.sessions import mangle_cwd
from tests.support.fake_claude import FIXTURES

SID_A = "aaaaaaaa-0000-4000-8000-000000000001"
SID_B = "bbbbbbbb-0000-4000-8000-000000000002"


def _install(
    config: Path, cwd: Path, session_id: str, fixture: str, project: str | None = None
) -> Path:
    directory = config / "projects" / (project or mangle_cwd(os.path.realpath(cwd)))
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{session_id}.jsonl"
    shutil.copy(FIXTURES / f"{fixture}.session.jsonl", target)
    return target


def _mangled(cwd: Path) -> str:
    return mangle_cwd(os.path.realpath(cwd))


def test_config_dir_prefers_claude_config_dir() -> None:
    assert config_dir({"CLAUDE_CONFIG_DIR": "/c", "HOME": "/h"}) == Path("/c")
    assert config_dir({"HOME": "/h"}) == Path("/h/.claude")


async def test_find_read_and_list(tmp_path: Path) -> None:
    config, cwd = tmp_path / "config", tmp_path / "my_repo"
    cwd.mkdir()
    path = _install(config, cwd, SID_A, "bash_allow")
    _install(config, cwd, SID_B, "interrupt")
    assert await find_session_file(config, cwd, SID_A) == path
    assert await find_session_file(config, tmp_path, SID_A) is None
    messages = await read_session_messages(path)
    assert [m.text for m in messages] == ["RUNTOUCH please", "Touched the file."]
    listed = await list_sessions(config, cwd)
    assert {s.session_id for s in listed} == {SID_A, SID_B}
    stamps = [s.last_activity for s in listed]
    assert stamps == sorted(stamps, reverse=True)
    assert await list_sessions(config, tmp_path / "elsewhere") == []


async def test_a_long_cwd_is_found_by_its_prefix(tmp_path: Path) -> None:
    config = tmp_path / "config"
    cwd = tmp_path / ("deep_" * 50)
    cwd.mkdir()
    mangled = _mangled(cwd)
    assert len(mangled) > 200
    # Whatever hash suffix the CLI chose, the 200-character prefix identifies the folder.
    path = _install(config, cwd, SID_A, "bash_allow", project=mangled[:200] + "-zz9")
    assert await find_session_file(config, cwd, SID_A) == path


async def test_a_bad_session_id_never_reaches_the_filesystem(tmp_path: Path) -> None:
    with pytest.raises(ControlError):
        await find_session_file(tmp_path, tmp_path, "../../etc/passwd")
