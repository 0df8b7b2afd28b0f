"""Start checks beyond parsing: the .env warning's cases (the database and port checks
are driven through ``ccbridge run`` in test_bad_config_table.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bridge.config import ConfigError
from bridge.preflight import check_database, check_ports, dotenv_secret_warning


def _dotenv(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".env"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("DISCORD_BOT_TOKEN=abc\n", "DISCORD_BOT_TOKEN"),
        ("CCBRIDGE_API_SECRET=" + "s" * 20 + "\n", "CCBRIDGE_API_SECRET"),
        ("DISCORD_BOT_TOKEN=abc\nCCBRIDGE_API_SECRET=xyz\n", "DISCORD_BOT_TOKEN and"),
    ],
)
def test_a_secret_in_a_dotenv_inside_the_working_dir_is_warned(
    tmp_path: Path, text: str, named: str
) -> None:
    path = _dotenv(tmp_path / "repo" / "config", text)
    warning = dotenv_secret_warning(path, tmp_path / "repo")
    assert warning is not None
    assert "\n" not in warning
    assert f"holds {named}" in warning
    assert "--env-file" in warning


def test_no_warning_outside_the_working_dir_or_without_a_secret(tmp_path: Path) -> None:
    outside = _dotenv(tmp_path / "home", "DISCORD_BOT_TOKEN=abc\n")
    (tmp_path / "repo").mkdir()
    assert dotenv_secret_warning(outside, tmp_path / "repo") is None
    harmless = _dotenv(tmp_path / "repo", "DISCORD_BOT_TOKEN=\nCLAUDE_MODEL=opus\n")
    assert dotenv_secret_warning(harmless, tmp_path / "repo") is None
    assert dotenv_secret_warning(tmp_path / "repo" / "missing.env", tmp_path / "repo") is None


def test_an_existing_database_and_an_empty_file_pass(tmp_path: Path) -> None:
    real = tmp_path / "real.db"
    with sqlite3.connect(real) as connection:
        connection.execute("CREATE TABLE t (x)")
    connection.close()
    check_database(real)
    empty = tmp_path / "empty.db"
    empty.touch()
    check_database(empty)
    check_database(tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()  # the check creates nothing


def test_two_options_asking_for_one_port_are_refused() -> None:
    check_ports([("A", 0), ("B", 0)])  # any free port, twice, is fine
    with pytest.raises(ConfigError) as exc:
        check_ports([("CCBRIDGE_API_PORT", 50123), ("--local-port", 50123)])
    assert exc.value.variable == "--local-port"
    assert "also given to CCBRIDGE_API_PORT" in str(exc.value)
