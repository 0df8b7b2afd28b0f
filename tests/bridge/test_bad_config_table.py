"""Every documented variable and ``ccbridge run`` option, with several bad values each: the
real command exits 3 with one line on stderr naming the variable (or option) and what to do,
and no traceback (issue 10, point 5).

The rows run ``python -m bridge run`` as a subprocess, since the checks happen at start; a
value accepted by mistake would leave the bridge running, which the timeout turns into a
failure. The README's tables are the list of what must be covered.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from bridge.cli import EXIT_BAD_CONFIG
from tests.support.fake_claude import write_fake_claude

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0  # a mistaken start runs until this; a refusal takes a fraction of a second
# Token rows never reach Discord: a refused start stops before connecting, and a mistaken
# one only finds the discard port closed.
UNREACHABLE_API = "http://127.0.0.1:9/api/v10"
TOKEN_ENV = {
    "DISCORD_BOT_TOKEN": "MTIz.token.abc",
    "DISCORD_CHANNEL_ID": "123",
    "ALLOWED_USER_IDS": "5",
    "DISCORD_API_BASE_URL": UNREACHABLE_API,
}


@attrs.frozen
class Place:
    """What a row may refer to: a scratch directory, and a listening socket's port."""

    tmp: Path
    busy_port: int

    def file(self, name: str, data: bytes = b"some text\n") -> str:
        path = self.tmp / name
        path.write_bytes(data)
        return str(path)


Value = str | Callable[[Place], str]


@attrs.frozen
class Row:
    name: str
    """The variable or option the line must name."""
    value: Value
    advice: str
    """A fragment of what the line tells the user to do."""
    env: dict[str, str] = attrs.field(factory=dict)
    """Other variables the row needs (e.g. a token, so that ids are required)."""
    via: str | None = None
    """The option the value is given to; by default the named option, or the variable."""

    @property
    def option(self) -> str | None:
        if self.via is not None:
            return self.via
        return self.name if self.name.startswith("--") else None


def rows_for(name: str, advice: str, *values: Value, **env: str) -> list[Row]:
    return [Row(name, value, advice, dict(env)) for value in values]


def dotenv_rows(name: str, advice: str, *files: Callable[[Place], str]) -> list[Row]:
    """Rows whose value is a .env file, given with --env-file."""
    return [Row(name, file, advice, via="--env-file") for file in files]


_SECONDS = ("-1", "0", "nan", "inf", "1e400", "ten", "999999999")
_SNOWFLAKES = ("general", "-4", "0", "1.5", "123456789012345678901234", str(2**64))

ROWS: list[Row] = [
    *rows_for(
        "DISCORD_BOT_TOKEN",
        "Developer Portal",
        "has a space",
        "tökén",
        'quoted"token',
    ),
    *rows_for("DISCORD_BOT_TOKEN", "without the 'Bot ' prefix", "Bot MTIz.abc", "bot MTIz.abc"),
    *rows_for("DISCORD_CHANNEL_ID", "Copy ID", *_SNOWFLAKES, **TOKEN_ENV),
    Row(
        "DISCORD_CHANNEL_ID",
        "",
        "copy its id",
        {**TOKEN_ENV, "DISCORD_CHANNEL_ID": ""},
    ),
    *rows_for(
        "DISCORD_API_BASE_URL",
        "http(s) URL such as",
        "discord.com",
        "ftp://discord.com/api",
        "http://",
        "http://host:99999/api",
        "http://exa mple.com",
        "https://discord.com/api?x=1",
    ),
    *rows_for("DISCORD_OWNER_ID", "Copy ID", *_SNOWFLAKES),
    *rows_for(
        "ALLOWED_USER_IDS",
        "Copy User ID",
        "5,bob",
        "5;6",
        "1e5",
        f"5,{2**64}",
        "5,-6",
        **TOKEN_ENV,
    ),
    Row("ALLOWED_USER_IDS", ",", "set ALLOWED_USER_IDS", TOKEN_ENV),
    *rows_for(
        "CLAUDE_COMMAND",
        "set CLAUDE_COMMAND to the path",
        "no-such-claude-xyz",
        "--help",
        lambda p: str(p.tmp),  # a directory
        lambda p: p.file("not-executable"),
        "x" * 5000,
    ),
    *rows_for(
        "CLAUDE_MODEL",
        "full model id such as",
        "--dangerously-skip-permissions",
        "-m",
        "gpt-4",
        "sonnet opus",
        "claude-",
        "claude-sonnet-4-5 --verbose",
    ),
    *rows_for("CLAUDE_PERMISSION_MODE", "use one of", "yolo", "--bypass", "DEFAULT"),
    *rows_for(
        "CLAUDE_WORKING_DIR",
        "create it or point",
        "/does/not/exist",
        lambda p: p.file("a-file"),
        "y" * 5000,
    ),
    Row("CLAUDE_WORKING_DIR", "~nouser_xyz_ccbridge/repo", "write the full path"),
    *rows_for("MAX_CONCURRENT_SESSIONS", "at least 1", "0", "-1"),
    *rows_for("MAX_CONCURRENT_SESSIONS", "whole number", "many", "2.5", "1_000", "\u0663"),
    *rows_for("SESSION_TIMEOUT_SECONDS", "seconds", *_SECONDS),
    *rows_for("STALL_NOTICE_SECONDS", "seconds", *_SECONDS),
    *rows_for("USAGE_LIMIT_RETRY_SECONDS", "seconds", *_SECONDS, "86401"),
    *rows_for("USAGE_LIMIT_STAGGER_SECONDS", "seconds", *_SECONDS, "3601"),
    *rows_for("PERMISSION_TIMEOUT_SECONDS", "seconds", *_SECONDS),
    *rows_for("QUESTION_TIMEOUT_SECONDS", "seconds", *_SECONDS),
    *rows_for("PLAN_TIMEOUT_SECONDS", "seconds", *_SECONDS),
    *rows_for("ELICITATION_TIMEOUT_SECONDS", "seconds", *_SECONDS),
    *rows_for("TOOL_TIMER_INTERVAL_SECONDS", "seconds", *_SECONDS),
    *rows_for("CATCHUP_MAX_AGE_SECONDS", "seconds", *_SECONDS),
    *rows_for("SESSION_END_QUIET_SECONDS", "seconds", *_SECONDS),
    *rows_for("CCBRIDGE_API_HOST", "IP address", "not a host", "999.1.1.1", "-h"),
    *rows_for("CCBRIDGE_API_HOST", "CCBRIDGE_API_SECRET", "0.0.0.0", "192.0.2.7"),
    *rows_for("CATCHUP_MAX_MESSAGES", "at least 0", "-1", "-20"),
    *rows_for("CATCHUP_MAX_MESSAGES", "whole number", "all", "2.5", "1_000"),
    *rows_for("APPROVER_USER_IDS", "Copy User ID", "5,bob", "5;6", f"5,{2**64}", "-6"),
    *rows_for("APPROVER_ROLE_IDS", "Copy Role ID", "admins", "7;8", "1e5", f"{2**64}"),
    *[
        row
        for name in ("BUDGET_THREAD_USD", "BUDGET_USER_DAILY_USD", "BUDGET_DAILY_USD")
        for row in (
            *rows_for(name, "amount in US dollars", "five", "-1", "1e3", "inf", "nan", "2,50"),
            *rows_for(name, "more than 0", "0", "0.00", "2000000"),
        )
    ],
    *rows_for("COORDINATION_CHANNEL_ID", "Copy ID", *_SNOWFLAKES),
    *rows_for("LOUNGE_CHANNEL_ID", "Copy ID", *_SNOWFLAKES),
    *rows_for(
        "WORKTREE_BASE_DIR",
        "unset WORKTREE_BASE_DIR",
        "/does/not/exist",
        lambda p: p.file("a-file"),
    ),
    *rows_for(
        "CCBRIDGE_DB_PATH",
        "mkdir -p",
        "/does/not/exist/ccbridge.db",
        lambda p: str(p.tmp / "a-file" / "ccbridge.db") if p.file("a-file") else "",
    ),
    *rows_for("CCBRIDGE_DB_PATH", "give a file path", lambda p: str(p.tmp)),
    *rows_for(
        "CCBRIDGE_DB_PATH",
        "point CCBRIDGE_DB_PATH at",
        lambda p: p.file("notes.txt"),
        lambda p: p.file("random.bin", bytes(range(256)) * 8),
        lambda p: p.file("forged.db", b"SQLite format 3\x00" + b"\xff" * 4080),
    ),
    *rows_for(
        "TRIGGERS_FILE",
        "Webhook triggers",
        "/does/not/exist.toml",
        lambda p: str(p.tmp),  # a directory
        lambda p: p.file("bad.toml", b"[[trigger]\n"),
        lambda p: p.file("binary.toml", bytes(range(256))),
        lambda p: p.file("no-prompt.toml", b'[[trigger]]\nname = "t"\nexact = "go"\n'),
        lambda p: p.file(
            "no-webhooks.toml",
            b'[[trigger]]\nname = "t"\nexact = "go"\nprompt = "p"\nchannels = [1]\n',
        ),
    ),
    *rows_for(
        "UPGRADE_COMMAND",
        "cannot be split into arguments",
        "git pull 'unterminated",
        'echo "half',
        "trailing\\",
    ),
    *rows_for(
        "UPGRADE_COMMAND",
        "is not an executable",
        "no-such-upgrader-xyz --now",
        lambda p: p.file("not-executable.sh"),
        lambda p: str(p.tmp),  # a directory
    ),
    *rows_for("UPGRADE_COMMAND", "is empty", "''", '""'),
    *rows_for("UPGRADE_TIMEOUT_SECONDS", "seconds", *_SECONDS),
    *rows_for("UPGRADE_TIMEOUT_SECONDS", "at most 86400", "86401", "604800"),
    *rows_for("UPGRADE_DRAIN_SECONDS", "seconds", *_SECONDS),
    *rows_for("UPGRADE_DRAIN_SECONDS", "at most 86400", "90000"),
    *rows_for("UPGRADE_REQUIRE_APPROVAL", "true or false", "maybe", "2", "ja", "-1"),
    *rows_for(
        "RESTART_COMMAND",
        "cannot be split into arguments",
        "ccbridge run --env-file 'x",
        '"',
    ),
    *rows_for(
        "RESTART_COMMAND",
        "is not an executable",
        "/does/not/exist/ccbridge run",
        lambda p: p.file("restart.txt"),
    ),
    *rows_for("CCBRIDGE_API_PORT", "TCP port", "70000", "65536"),
    *rows_for("CCBRIDGE_API_PORT", "whole number", "http", "80.5"),
    *rows_for("CCBRIDGE_API_PORT", "at least 0", "-1"),
    *rows_for("CCBRIDGE_API_PORT", "choose another port", lambda p: str(p.busy_port)),
    *rows_for("CCBRIDGE_API_SECRET", "at least 16", "short", "x" * 15),
    *rows_for(
        "CCBRIDGE_API_SECRET",
        "printable ASCII",
        "has spaces in it, sixteen+",
        "\u00e9" * 20,
    ),
    *rows_for(
        "--env-file",
        "give the path of your .env file",
        "/does/not/exist.env",
        lambda p: str(p.tmp),
    ),
    *dotenv_rows(
        ".env",
        "write NAME=value",
        lambda p: p.file("bad.env", b"A=1\nthis is not an assignment\n"),
    ),
    *dotenv_rows(".env", "save it as UTF-8", lambda p: p.file("latin1.env", b"A=caf\xe9\n")),
    *dotenv_rows(
        "DISCORD_OWNER_ID",
        "Copy ID",
        lambda p: p.file("dotenv.env", b"DISCORD_OWNER_ID=owner\n"),
    ),
    *rows_for("--log-level", "use one of", "LOUD", "", "5"),
    *rows_for("--local-port", "TCP port", "abc", "70000", "-1", "8e3"),
    *rows_for("--local-port", "choose another port", lambda p: str(p.busy_port)),
    *rows_for("--local-gateway-port", "TCP port", "abc", "99999"),
    *rows_for("--local-gateway-port", "choose another port", lambda p: str(p.busy_port)),
]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _run(tmp_path: Path, busy_port: int, row: Row) -> subprocess.CompletedProcess[str]:
    place = Place(tmp_path, busy_port)
    value = row.value(place) if callable(row.value) else row.value
    workdir = tmp_path / "repo"
    workdir.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "CLAUDE", "CCBRIDGE"))
    }
    env.update(
        CLAUDE_COMMAND=str(write_fake_claude(tmp_path, "text_thinking")),
        CLAUDE_WORKING_DIR=str(workdir),
        CCBRIDGE_DB_PATH=str(tmp_path / "ccbridge.db"),
        **row.env,
    )
    argv = [sys.executable, "-m", "bridge", "run"]
    if row.option is not None:
        argv += [row.option, value]
    else:
        env[row.name] = value
    return subprocess.run(
        argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def _row_id(row: Row) -> str:
    shown = "<callable>" if callable(row.value) else row.value[:30]
    return f"{row.name}={shown!r}"


@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_bad_value_is_one_line_and_exit_3(tmp_path: Path, busy_port: int, row: Row) -> None:
    result = _run(tmp_path, busy_port, row)
    assert result.returncode == EXIT_BAD_CONFIG, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"ccbridge: bad configuration: {row.name}: "), lines[0]
    assert row.advice in lines[0], lines[0]
    assert result.stdout == ""


def _documented(marker: str) -> set[str]:
    pattern = re.compile(rf"^\| `({marker}[A-Za-z_-]+)[ `]")
    return {
        match.group(1)
        for line in (ROOT / "README.md").read_text().splitlines()
        if (match := pattern.match(line))
    }


def test_the_table_covers_every_documented_variable_and_option() -> None:
    variables = _documented("[A-Z]")
    options = _documented("--")
    assert len(variables) >= 20  # the scan itself works
    assert len(options) >= 4
    covered: dict[str, int] = {}
    for row in ROWS:
        covered[row.name] = covered.get(row.name, 0) + 1
    thin = {name for name in variables | options if covered.get(name, 0) < 2}
    assert thin == set(), "documented variables or options with fewer than 2 bad values"
