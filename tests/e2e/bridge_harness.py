"""The whole bridge, end to end, as a person sees it: the local Discord server, the real
``claude`` CLI and the scripted model server (issue 6, "Proof, end to end").

A test opens a :class:`Scene` with :func:`open_scene`: the local Discord server (sockets,
faithful rate limits) with a REST observer, an allowed user (the server's owner) and a
stranger, and a bridge (``bridge.app.open_bridge``) whose ``claude`` is the pinned real CLI
pointed at the test's :class:`~tests.support.model_server.ModelServer`. The test then acts
through the server's control API (post, click, ``/stop``) and reads what a person would
see: messages with their edit history, embeds, reactions, components. What the model
server received (messages, system prompt) is in ``scene.model.turns``.

:meth:`Scene.restart` (or ``open_scene(..., bridge=False)`` and :meth:`Scene.run_bridge`)
runs further bridge lifetimes against the same server and the same store file.

Timers are made quick through the configuration (``QUICK_TIMERS``); waits are on
conditions (the local server's world, the model server's requests), bounded by generous
``trio.fail_after`` timeouts because real processes run.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

import attrs
import psutil
import trio

from bridge.app import Bridge, local_config, open_bridge
from bridge.config import Config, load_config
from bridge.discord_local import LocalDiscord, Realism, open_discord_local
from bridge.discord_local._http import Exchange
from bridge.sessions.messages import GetSessionStatus, SessionStatusReport
from tests.support.dashboard import is_dashboard
from tests.support.model_server import ModelServer, RecordedRequest

TIMEOUT: Final = 60.0
"""Seconds for any one wait: real ``claude`` processes start in 1-3 s on a loaded 2-core
machine; a wait that takes this long is a failure, not slowness."""

QUICK_TIMERS: Final = {
    "TOOL_TIMER_INTERVAL_SECONDS": "0.4",
    "STALL_NOTICE_SECONDS": "30",
    "SESSION_TIMEOUT_SECONDS": "120",
    "PERMISSION_TIMEOUT_SECONDS": "60",
}
"""Defaults for these tests; each scenario shortens the timer it is about."""


class ExchangeLog(list[Exchange]):
    """The local server's REST observer: a list of exchanges one can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self._event = trio.Event()

    def __call__(self, exchange: Exchange) -> None:
        self.append(exchange)
        self._event.set()
        self._event = trio.Event()

    async def changed(self) -> None:
        await self._event.wait()


@attrs.define
class Scene:
    """What a test drives and inspects. See the module docstring."""

    server: LocalDiscord
    model: ModelServer
    tmp_path: Path
    env: dict[str, str]
    """The configuration variables (``load_config``'s environment)."""
    claude_env: dict[str, str]
    exchanges: ExchangeLog
    """Every REST request the bridge made, with its response, in order."""
    owner_id: int
    """The allowed person (the local server's owner)."""
    stranger_id: int
    """A member of the guild who is not allowed to drive Claude."""
    bridge: Bridge | None = None
    config: Config | None = None

    # -- acting as people --------------------------------------------------------------

    @property
    def channel_id(self) -> int:
        return self.server.world.default_channel.id

    def post(self, channel_id: int, content: str, *, author_id: int | None = None) -> int:
        """A person posts; returns the message id (a thread started from it has that id)."""
        author = self.owner_id if author_id is None else author_id
        return int(self.server.control.post_message(channel_id, author, content)["id"])

    def stop(self, thread_id: int, *, user_id: int | None = None) -> dict[str, Any]:
        """A person runs ``/stop`` in the thread; returns the interaction."""
        user = self.owner_id if user_id is None else user_id
        return self.server.control.invoke_command(user, thread_id, "stop")

    def click(self, message_id: int, custom_id: str, *, user_id: int | None = None) -> Any:
        user = self.owner_id if user_id is None else user_id
        return self.server.control.click_button(user, message_id, custom_id)

    # -- what a person sees ------------------------------------------------------------

    def bot_messages(
        self, channel_id: int, *, include_deleted: bool = False, dashboard: bool = False
    ) -> list[Any]:
        """The bot's messages in a channel; the pinned dashboard (C17, in the main channel)
        only if ``dashboard``."""
        if channel_id not in self.server.world.channels:
            return []
        bot = str(self.server.world.bot.id)
        return [
            message
            for message in self.server.control.messages(channel_id, include_deleted=include_deleted)
            if message["author"]["id"] == bot and (dashboard or not is_dashboard(message))
        ]

    def dashboards(self) -> list[Any]:
        """The dashboard messages in the main channel now (C17)."""
        return [m for m in self.bot_messages(self.channel_id, dashboard=True) if is_dashboard(m)]

    def shown(self, channel_id: int) -> str:
        """Everything the bot shows in a channel now: contents, embed titles and texts."""
        parts: list[str] = []
        for message in self.bot_messages(channel_id):
            parts.append(message["content"])
            for embed in message["embeds"]:
                parts += [embed.get("title", ""), embed.get("description", "")]
        return "\n".join(p for p in parts if p)

    def embeds(self, channel_id: int) -> list[dict[str, Any]]:
        return [e for message in self.bot_messages(channel_id) for e in message["embeds"]]

    def embed_titled(self, channel_id: int, prefix: str) -> dict[str, Any] | None:
        """The newest bot message whose embed title starts with ``prefix``."""
        for message in reversed(self.bot_messages(channel_id)):
            for embed in message["embeds"]:
                if str(embed.get("title", "")).startswith(prefix):
                    return message
        return None

    def bot_reactions(self, message_id: int) -> list[str]:
        """The bot's reactions on a message now."""
        message = self.server.control.message(message_id)
        bot = str(self.server.world.bot.id)
        return [emoji for emoji, users in message["reaction_users"].items() if bot in users]

    def reaction_requests(self, message_id: int) -> list[tuple[str, str, int]]:
        """Every reaction change the bot asked for on a message, in order: ``("add" |
        "remove", emoji, HTTP status)``."""
        out: list[tuple[str, str, int]] = []
        for exchange in self.exchanges:
            parts = exchange.path.split("/")
            # /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me
            if (
                len(parts) == 8
                and parts[3] == "messages"
                and parts[4] == str(message_id)
                and parts[5] == "reactions"
                and parts[7] == "@me"
            ):
                op = "add" if exchange.method == "PUT" else "remove"
                out.append((op, unquote(parts[6]), exchange.status))
        return out

    def reaction_history(self, message_id: int) -> list[tuple[str, str]]:
        """The reaction changes on a message that Discord accepted, in order."""
        return [
            (op, emoji) for op, emoji, status in self.reaction_requests(message_id) if status < 300
        ]

    # -- waiting -----------------------------------------------------------------------

    async def until(self, predicate: Callable[[], Any], *, timeout: float = TIMEOUT) -> Any:
        """Wait until ``predicate()`` (about the Discord world) holds; return its value."""
        return await self.server.wait_until(predicate, timeout=timeout)

    async def until_shown(self, channel_id: int, text: str, *, timeout: float = TIMEOUT) -> None:
        await self.until(lambda: text in self.shown(channel_id), timeout=timeout)

    async def until_exchange(
        self, predicate: Callable[[], Any], *, timeout: float = TIMEOUT
    ) -> Any:
        """Wait until ``predicate()`` holds, re-checked after every REST request: for
        conditions no world change signals (a refused request changes nothing)."""
        with trio.fail_after(timeout):
            while not (value := predicate()):
                await self.exchanges.changed()
        return value

    async def until_ready(self, *, since: int) -> None:
        """Wait until a bridge started after exchange number ``since`` got READY: the
        router registers ``/stop`` then, and routes messages from then on."""
        await self.until_exchange(
            lambda: any(
                e.method == "PUT" and e.path.endswith("/commands") and e.status == 200
                for e in self.exchanges[since:]
            )
        )

    def bridge_env(self, **env: str) -> dict[str, str]:
        """The environment of a ``ccbridge run`` subprocess against this scene's server:
        the ``claude`` environment plus the configuration."""
        world = self.server.world
        return {
            **self.claude_env,
            **self.env,
            "DISCORD_BOT_TOKEN": self.server.token,
            "DISCORD_API_BASE_URL": self.server.rest_url,
            "DISCORD_CHANNEL_ID": str(world.default_channel.id),
            "ALLOWED_USER_IDS": str(self.owner_id),
            **env,
        }

    async def turn(self, count: int, *, timeout: float = TIMEOUT) -> RecordedRequest:
        """Wait for the ``count``-th turn request at the model server and return it."""
        with trio.fail_after(timeout):
            return await self.model.wait_for_turns(count)

    async def status(self, thread_id: int) -> SessionStatusReport:
        assert self.bridge is not None
        session = self.bridge.session(thread_id)
        assert session is not None, f"no session actor runs for thread {thread_id}"
        report: SessionStatusReport = await session.ask(GetSessionStatus(), timeout=TIMEOUT)
        return report

    # -- bridge lifetimes --------------------------------------------------------------

    def make_config(self, **env: str) -> Config:
        return local_config(
            load_config({**self.env, **env}, dotenv_path=self.tmp_path / "none.env"), self.server
        )

    @asynccontextmanager
    async def run_bridge(self, *, seed: int = 1, **env: str) -> AsyncIterator[Bridge]:
        """One bridge lifetime against this scene's server and store file; leaving the
        block is the graceful shutdown (SIGTERM's path)."""
        config = self.make_config(**env)
        seen = len(self.exchanges)
        async with open_bridge(
            config,
            claude_env=self.claude_env,
            rng=random.Random(seed),
            shutdown_timeout=30.0,
        ) as bridge:
            self.bridge, self.config = bridge, config
            try:
                await self.until_ready(since=seen)
                with trio.fail_after(TIMEOUT):
                    await bridge.wait_ready()  # caught up, marked sessions resumed
                yield bridge
            finally:
                self.bridge = None


def process_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def claude_descendants() -> list[psutil.Process]:
    """Live processes below this test process whose command line names ``claude``: the
    bridge runs in-process, so every ``claude`` it started is one of them."""
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "claude" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.Error:
            continue  # it exited while we looked
    return out


@asynccontextmanager
async def open_scene(
    tmp_path: Path,
    model: ModelServer,
    claude_bin: Path,
    claude_env: dict[str, str],
    *,
    realism: Realism | None = None,
    bridge: bool = True,
    **env: str,
) -> AsyncIterator[Scene]:
    """The local Discord server and (unless ``bridge=False``) a running bridge.

    ``env`` adds or overrides configuration variables (``MAX_CONCURRENT_SESSIONS="2"``).
    """
    exchanges = ExchangeLog()
    workdir = tmp_path / "repo"
    workdir.mkdir(exist_ok=True)
    async with open_discord_local(
        realism=realism or Realism.faithful(),
        rng=random.Random(11),
        observers=[exchanges],
    ) as server:
        stranger = server.world.add_user("mallory").id
        base = {
            "CLAUDE_COMMAND": str(claude_bin),
            "CLAUDE_WORKING_DIR": str(workdir),
            "CCBRIDGE_DB_PATH": str(tmp_path / "ccbridge.db"),
            **QUICK_TIMERS,
            **env,
        }
        scene = Scene(
            server=server,
            model=model,
            tmp_path=tmp_path,
            env=base,
            claude_env=claude_env,
            exchanges=exchanges,
            owner_id=server.world.owner_id,
            stranger_id=stranger,
        )
        if bridge:
            async with scene.run_bridge():
                yield scene
        else:
            yield scene


class BridgeProcess:
    """``ccbridge run`` as a real subprocess (see :func:`open_bridge_process`)."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._buffer = b""

    async def until_line(self, predicate: Callable[[str], bool]) -> str:
        """Read its stdout until a line matches ``predicate``."""
        stream = self.process.stdout
        assert stream is not None
        while True:
            while b"\n" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\n", 1)
                line = raw.decode(errors="replace")
                self.lines.append(line)
                if predicate(line):
                    return line
            chunk = await stream.receive_some(65536)
            assert chunk, f"ccbridge run exited early; it printed {self.lines}"
            self._buffer += chunk

    def claude_pids(self) -> list[int]:
        """Its live ``claude`` children."""
        out = []
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for child in children:
            try:
                if child.status() != psutil.STATUS_ZOMBIE and "claude" in " ".join(child.cmdline()):
                    out.append(child.pid)
            except psutil.Error:
                continue
        return out


@asynccontextmanager
async def open_bridge_process(scene: Scene, **env: str) -> AsyncIterator[BridgeProcess]:
    """Start ``ccbridge run`` against the scene's local server and store file, and wait
    until its gateway is READY. The block must end it (signal and wait); a process still
    running at the end is killed."""
    seen = len(scene.exchanges)
    empty_env_file = scene.tmp_path / "empty.env"  # --env-file must name an existing file
    empty_env_file.touch()
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "bridge", "run", "--env-file", str(empty_env_file)],
        stdout=subprocess.PIPE,
        env=scene.bridge_env(**env),
        cwd=scene.tmp_path,
    )
    running = BridgeProcess(process)
    try:
        with trio.fail_after(TIMEOUT):
            await running.until_line(lambda line: line.startswith("ccbridge is running"))
        await scene.until_ready(since=seen)
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            with trio.move_on_after(10, shield=True):
                await process.wait()


async def wait_gone(pid: int, *, timeout: float = TIMEOUT) -> bool:
    """Wait (in a worker thread, bounded) until process ``pid`` has exited; whether it has."""
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True

    def wait() -> bool:
        try:
            process.wait(timeout=timeout)
        except psutil.TimeoutExpired:
            return False
        except psutil.NoSuchProcess:
            pass
        return True

    # The thread ends by itself within ``timeout``, so it cannot outlive the test.
    return await trio.to_thread.run_sync(wait)
