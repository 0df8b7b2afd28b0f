"""The pinned Claude Code CLI for tests: install on first use, and an offline environment.

This module is the ONE place that names the CLI version the test suite runs against. The
CLI comes from npm (``@anthropic-ai/claude-code``) and is installed with
``npm install --prefix <cache>`` the first time a test asks for it, so ``uv run pytest``
needs nothing done by hand. The cache folder is ``$CCBRIDGE_CACHE/claude-code-<version>``
(default ``~/.cache/ccbridge``); an exclusive file lock makes parallel pytest processes
wait for one install instead of racing.

:func:`cli_env` builds the environment for a CLI child that runs fully offline against our
scripted model server (:mod:`tests.support.model_server`), with its own ``HOME`` and
``CLAUDE_CONFIG_DIR`` so session files never touch the developer's real ``~/.claude``.

In CI (``CI=true``) an unavailable CLI is a failure: :func:`require_claude_binary` raises
instead of letting the caller skip.

:func:`open_claude_actor` runs a ``claude`` process (real or fake) under a small recording
actor, through the product's :func:`bridge.claude.process.open_claude`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import attrs
import pytest
import trio

import actors
from bridge.claude.process import ClaudeEvent, ClaudeProcess, open_claude
from protocol.claude import events as ev

#: The exact CLI version every real-CLI test runs against. Bump it here and nowhere else,
#: then re-record the fixtures (``uv run python -m tests.fixtures.claude.record``).
CLAUDE_CODE_VERSION: Final = "2.1.330"

#: The npm package that ships the CLI (a wrapper plus one native binary per platform).
CLAUDE_CODE_PACKAGE: Final = "@anthropic-ai/claude-code"

#: Generous: the package pulls a ~380 MB native binary for the platform.
_INSTALL_TIMEOUT: Final = 600.0

#: Variables of the developer's shell that would change what the child CLI does or which
#: account it uses; they are never passed on to a test CLI.
_HOST_PREFIXES_DROPPED: Final = ("ANTHROPIC_", "CLAUDE", "AWS_BEARER_TOKEN_BEDROCK", "DISCORD_")


@attrs.frozen
class ClaudeCliUnavailable(Exception):
    """The pinned CLI could not be installed or run (npm missing, registry down, ...)."""

    reason: str
    """What went wrong, with the command or path involved."""

    def __str__(self) -> str:
        return (
            f"the Claude Code CLI {CLAUDE_CODE_VERSION} is unavailable: {self.reason}; "
            f"it installs from npm on first use (needs `npm` on PATH and the npm registry)"
        )


def require_claude_binary() -> Path:
    """:func:`claude_binary` for test fixtures: skip when unavailable, fail under CI.

    Raises:
        ClaudeCliUnavailable: under CI (``CI=true``), where a missing CLI is a failure.
        pytest.skip.Exception: elsewhere, with the reason.
    """
    try:
        return claude_binary()
    except ClaudeCliUnavailable as exc:
        if in_ci():
            raise
        pytest.skip(str(exc))


def in_ci() -> bool:
    """True when running under CI, where a missing CLI fails instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def cache_dir() -> Path:
    """The folder the pinned CLI is installed into (created on demand)."""
    base = os.environ.get("CCBRIDGE_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "ccbridge"
    return root / f"claude-code-{CLAUDE_CODE_VERSION}"


def _binary_in(prefix: Path) -> Path:
    return prefix / "node_modules" / ".bin" / "claude"


def _installed_version(binary: Path) -> str | None:
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return None
    if done.returncode != 0:
        return None
    # Prints e.g. "2.1.330 (Claude Code)".
    return done.stdout.split(" ", 1)[0].strip() or None


def claude_binary() -> Path:
    """Return the pinned ``claude`` executable, installing it from npm on first use.

    Returns:
        The path of the ``claude`` binary of version :data:`CLAUDE_CODE_VERSION`.

    Raises:
        ClaudeCliUnavailable: npm is missing, the install failed, or the installed binary
            does not report the pinned version.

    Concurrency: an exclusive ``flock`` on ``<cache>.lock`` serialises installs across
    processes; whoever waits re-checks and finds the finished install.
    """
    prefix = cache_dir()
    binary = _binary_in(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    lock_path = prefix.parent / f"{prefix.name}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version(binary) == CLAUDE_CODE_VERSION:
            return binary
        npm = shutil.which("npm")
        if npm is None:
            raise ClaudeCliUnavailable("`npm` is not on PATH")
        prefix.mkdir(parents=True, exist_ok=True)
        argv = [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            "--no-save",
            f"{CLAUDE_CODE_PACKAGE}@{CLAUDE_CODE_VERSION}",
        ]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClaudeCliUnavailable(f"{' '.join(argv)} failed: {exc}") from exc
        if done.returncode != 0:
            raise ClaudeCliUnavailable(
                f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
            )
        version = _installed_version(binary)
        if version != CLAUDE_CODE_VERSION:
            raise ClaudeCliUnavailable(
                f"{binary} reports version {version!r} after install, "
                f"expected {CLAUDE_CODE_VERSION}"
            )
        return binary


def cli_env(
    *,
    base_url: str,
    home: Path,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment for a test CLI child: offline, isolated, pointed at ``base_url``.

    Args:
        base_url: The scripted model server's URL (``ModelServer.url``).
        home: A scratch folder used as ``HOME``; ``CLAUDE_CONFIG_DIR`` is ``home/.claude``,
            so session files land in ``home/.claude/projects/<mangled cwd>/``.
        extra: Variables to add or override last (e.g. ``CLAUDE_CODE_MAX_RETRIES``).

    Returns:
        A fresh dict; the caller's ``os.environ`` is not modified.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_HOST_PREFIXES_DROPPED)
    }
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            "ANTHROPIC_BASE_URL": base_url,
            # Any value works against our server; its presence makes the CLI use API-key
            # auth instead of answering "Not logged in · Please run /login".
            "ANTHROPIC_API_KEY": "sk-ant-test-key",
            # No title generation, telemetry, update checks or error reports: the CLI
            # must talk to nothing but the model server.
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            # 2.1.330 defers most tools behind ToolSearch (the model must load a schema
            # before calling e.g. ExitPlanMode). Scripted replies call tools directly, so
            # every tool is loaded up front; the stream-json protocol is the same.
            "ENABLE_TOOL_SEARCH": "false",
            # TaskCreate/TaskUpdate/TaskList are off by default in 2.1.330.
            "CLAUDE_CODE_ENABLE_TODO_TOOLS": "1",
        }
    )
    if extra:
        env.update(extra)
    return env


# ---------------------------------------------------------------------------------------
# An owning actor for tests: runs open_claude and records every message it receives
# ---------------------------------------------------------------------------------------


class ClaudeHarness:
    """A test's view of a ``claude`` process owned by a recording actor.

    Made by :func:`open_claude_actor`. ``claude`` is the real
    :class:`bridge.claude.process.ClaudeProcess` handle; ``messages`` is everything the
    owning actor received, in order. The ``until_*`` helpers consume messages from a
    cursor, so a test reads the conversation front to back.
    """

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.claude: ClaudeProcess = None  # type: ignore[assignment]  # set when started
        self.ref: Any = None
        self.pid = 0
        self._cursor = 0
        self._changed = trio.Event()

    def record(self, message: Any) -> None:
        self.messages.append(message)
        self._changed.set()
        self._changed = trio.Event()

    async def until(self, match: Callable[[Any], bool], *, timeout: float = 30.0) -> Any:
        """The next message (from the cursor) for which ``match`` is true; skipped ones are
        consumed. Raises ``trio.TooSlowError`` after ``timeout`` seconds."""
        with trio.fail_after(timeout):
            while True:
                while self._cursor < len(self.messages):
                    message = self.messages[self._cursor]
                    self._cursor += 1
                    if match(message):
                        return message
                await self._changed.wait()

    async def until_event(self, cls: type, *, timeout: float = 30.0) -> Any:
        """The next stdout event of class ``cls``."""
        message = await self.until(
            lambda m: isinstance(m, ClaudeEvent) and isinstance(m.event, cls), timeout=timeout
        )
        return message.event

    async def until_result(self, *, timeout: float = 30.0) -> Any:
        return await self.until_event(ev.Result, timeout=timeout)

    async def until_message(self, cls: type, *, timeout: float = 30.0) -> Any:
        return await self.until(lambda m: isinstance(m, cls), timeout=timeout)

    def events(self) -> list[Any]:
        """Every stdout event received so far."""
        return [m.event for m in self.messages if isinstance(m, ClaudeEvent)]


@asynccontextmanager
async def open_claude_actor(
    system: Any, command: Any, **open_claude_kwargs: Any
) -> AsyncIterator[ClaudeHarness]:
    """Spawn an actor in ``system`` that owns a ``claude`` process (``open_claude(command,
    deliver=ctx.self.send, offer=ctx.self.try_send, **open_claude_kwargs)``) and records
    what it receives.

    Leaving the block stops the actor (if the test has not), which kills the process.
    """
    harness = ClaudeHarness()

    async def owner(ctx: actors.Context[Any]) -> None:
        async with open_claude(
            command, deliver=ctx.self.send, offer=ctx.self.try_send, **open_claude_kwargs
        ) as claude:
            harness.claude = claude
            harness.pid = claude.pid
            ctx.started()
            async for message in ctx.mailbox:
                harness.record(message)

    harness.ref = await system.spawn(
        owner,
        name="claude-owner",
        mailbox=actors.Mailbox(capacity=256, overflow=actors.Overflow.BLOCK_SENDER),
        start_timeout=60.0,
    )
    try:
        yield harness
    finally:
        if harness.ref.alive:
            await harness.ref.stop(timeout=30.0)
