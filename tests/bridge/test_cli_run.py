"""``ccbridge run``: a bad configuration exits at once with one line and status 3; with no
bot token it runs against an in-process local Discord server, a person's message there
gets Claude's answer in a new thread, and SIGTERM ends it cleanly."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio

from bridge.cli import EXIT_BAD_CONFIG, main
from bridge.discord.errors import EXIT_GATEWAY_FATAL
from bridge.discord_local import Realism, open_discord_local
from tests.support.fake_claude import write_fake_claude

TIMEOUT = 60.0  # a real subprocess and sockets on a loaded machine


def test_bad_configuration_exits_with_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLAUDE_WORKING_DIR", str(tmp_path))
    monkeypatch.setenv("MAX_CONCURRENT_SESSIONS", "zero")
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./.env there
    status = main(["run"])
    err = capsys.readouterr().err
    assert status == EXIT_BAD_CONFIG
    assert err == (
        "ccbridge: bad configuration: MAX_CONCURRENT_SESSIONS: must be a whole number, got 'zero'\n"
    )


def _empty_env_file(tmp_path: Path) -> Path:
    path = tmp_path / "empty.env"
    path.touch()
    return path


class Lines:
    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""
        self.seen: list[str] = []

    async def until(self, predicate) -> str:  # type: ignore[no-untyped-def]
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                text = line.decode()
                self.seen.append(text)
                if predicate(text):
                    return text
            chunk = await self._stream.receive_some(65536)
            assert chunk, f"ccbridge run exited early; it printed {self.seen}"
            self._buffer += chunk


async def test_run_in_local_mode_answers_in_a_thread_and_stops_on_sigterm(tmp_path: Path) -> None:
    fake = write_fake_claude(tmp_path, "text_thinking")
    workdir = tmp_path / "repo"
    workdir.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "CLAUDE", "CCBRIDGE"))
    }
    env.update(
        CLAUDE_COMMAND=str(fake),
        CLAUDE_WORKING_DIR=str(workdir),
        CCBRIDGE_DB_PATH=str(tmp_path / "ccbridge.db"),
    )
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "bridge", "run", "--env-file", str(_empty_env_file(tmp_path))],
        stdout=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        lines = Lines(proc.stdout)
        with trio.fail_after(TIMEOUT):
            await lines.until(lambda line: "local Discord server" in line)
            urls = json.loads(await lines.until(lambda line: line.startswith("{")))
            async with httpx.AsyncClient() as http:
                gateway = (await http.get(f"{urls['control_url']}/gateway")).json()
            # The hint is printed once the bot is READY: whoever follows it is heard.
            assert [s["connected"] for s in gateway["sessions"]] == [True], gateway
            await lines.until(lambda line: line.startswith("ccbridge is running"))
            control = urls["control_url"]
            async with httpx.AsyncClient() as http:
                state = (await http.get(f"{control}/state")).json()
                channel = state["default_channel_id"]
                owner = next(u["id"] for u in state["users"] if u["username"] == "owner")
                posted = await http.post(
                    f"{control}/channels/{channel}/messages",
                    json={"author_id": owner, "content": "What is the answer?"},
                )
                thread_id = posted.json()["id"]  # a thread takes its first message's id
                # One long-poll: the server answers when the bridge's reply is there.
                answered = await http.get(
                    f"{control}/wait",
                    params={"channel_id": thread_id, "contains": "The answer is 42", "timeout": 50},
                    timeout=TIMEOUT,
                )
                assert answered.status_code == 200, answered.text
                assert answered.json()["author"]["id"] == state["bot"]["id"]
            proc.send_signal(signal.SIGTERM)
            await lines.until(lambda line: "SIGTERM received" in line)
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _run_with_a_refused_token(
    tmp_path: Path, *, token_in_dotenv: bool
) -> subprocess.CompletedProcess[bytes]:
    """``ccbridge run`` in ``tmp_path`` (also CLAUDE_WORKING_DIR) with a token Discord
    refuses, given in the environment or in ``./.env``."""
    async with open_discord_local(realism=Realism.off(), rng=random.Random(5)) as server:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "CLAUDE", "CCBRIDGE"))
        }
        env.update(
            # A runnable CLI, so that start-up gets past the CLAUDE_COMMAND check to the token.
            CLAUDE_COMMAND=str(write_fake_claude(tmp_path, "text_thinking")),
            DISCORD_API_BASE_URL=server.rest_url,
            DISCORD_CHANNEL_ID=str(server.world.default_channel.id),
            ALLOWED_USER_IDS=str(server.world.owner_id),
            CLAUDE_WORKING_DIR=str(tmp_path),
            CCBRIDGE_DB_PATH=str(tmp_path / "ccbridge.db"),
        )
        argv = [sys.executable, "-m", "bridge", "run"]
        if token_in_dotenv:
            (tmp_path / ".env").write_text("DISCORD_BOT_TOKEN=not-the-token\n")
        else:
            env["DISCORD_BOT_TOKEN"] = "not-the-token"
            argv += ["--env-file", str(_empty_env_file(tmp_path))]
        with trio.fail_after(TIMEOUT):
            return await trio.run_process(
                argv,
                env=env,
                cwd=tmp_path,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )


REFUSED = "ccbridge: Discord rejected the bot token (HTTP 401 on GET /gateway/bot)"


async def test_a_refused_token_exits_78_with_advice(tmp_path: Path) -> None:
    result = await _run_with_a_refused_token(tmp_path, token_in_dotenv=False)
    assert result.returncode == EXIT_GATEWAY_FATAL
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1, stderr  # the clear line alone, nothing before it
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(REFUSED)
    assert "DISCORD_BOT_TOKEN" in last


async def test_a_dotenv_with_the_token_inside_the_working_dir_is_warned_about(
    tmp_path: Path,
) -> None:
    result = await _run_with_a_refused_token(tmp_path, token_in_dotenv=True)
    assert result.returncode == EXIT_GATEWAY_FATAL
    warning, refused = result.stderr.decode().splitlines()
    assert warning == (
        f"ccbridge: warning: {str(tmp_path / '.env')!r} holds DISCORD_BOT_TOKEN and is inside "
        f"CLAUDE_WORKING_DIR ({str(tmp_path)!r}), where Claude can read it; move it out "
        "(e.g. to ~/.config/ccbridge/env) and start with --env-file PATH, or set these "
        "variables in the environment instead"
    )
    assert refused.startswith(REFUSED)
