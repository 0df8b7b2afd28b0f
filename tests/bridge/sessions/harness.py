"""A session under test: the real store, limiter and coordinator actors, a sessions
supervisor, the real REST client talking to the local Discord server (in-process, through
httpx's ASGI transport, no socket) and the fake ``claude`` (recorded real CLI output).
The doubles stand in for the far ends only."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio

import actors
from bridge.config import Config
from bridge.discord.rest import RestClient, open_rest_client
from bridge.discord_local import LocalDiscord, Realism
from bridge.sessions.attachments import AttachmentInfo
from bridge.sessions.coordinator import CoordinatorConfig, coordinator_actor
from bridge.sessions.limiter import LIMITER_MAILBOX, limiter_actor
from bridge.sessions.messages import GetSessionStatus, SessionStatusReport, UserMessage
from bridge.sessions.session import SessionDeps, session_child_spec
from bridge.store import Database, InboxItem, SessionRecord
from bridge.store.actor import STORE_MAILBOX, store_actor, store_call
from protocol.claude.argv import ClaudeCommand
from protocol.discord import models as m
from tests.support.fake_claude import write_fake_claude


class CrashingRest:
    """The real client, except that the next ``create_message`` whose text contains
    ``crash_on`` raises ``RuntimeError``: how a test makes the session crash (a bug, as far
    as the session can tell) in the middle of a turn."""

    def __init__(self, inner: RestClient) -> None:
        self._inner = inner
        self.crash_on: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def create_message(self, channel_id: int, **kw: Any) -> m.Message:
        if self.crash_on is not None:
            embeds = kw.get("embeds") or ()
            shown = (kw.get("content") or "") + "".join(
                str(e.title) + str(e.description) for e in embeds
            )
            if self.crash_on in shown:
                self.crash_on = None
                raise RuntimeError("injected failure while posting")
        return await self._inner.create_message(channel_id, **kw)


@attrs.define
class Bridge:
    """What a test drives and inspects."""

    server: LocalDiscord
    rest: CrashingRest
    system: actors.System
    store: actors.Ref[Any]
    limiter: actors.Ref[Any]
    sessions: actors.SupervisorRef
    config: Config
    deps: SessionDeps
    human_id: int
    stranger_id: int
    tmp_path: Path

    def thread(self, name: str = "work") -> int:
        return self.server.world.add_channel(name).id

    async def db(self, fn: Any) -> Any:
        return await store_call(self.store, fn, timeout=10)

    async def session(self, thread_id: int) -> actors.Ref[Any]:
        ref = self.sessions.child(thread_id)
        if ref is None:
            ref = await self.sessions.start_child(thread_id, id=thread_id)
        return ref

    async def say(
        self,
        thread_id: int,
        content: str,
        *,
        author_id: int | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> int:
        """A person types in the thread (with ``files``: ``{filename, content_type?, text |
        base64}``); the router's part is done here: record the message in the inbox, then
        tell the session."""
        author = self.human_id if author_id is None else author_id
        posted = self.server.control.post_message(thread_id, author, content, attachments=files)
        message_id = int(posted["id"])
        infos = tuple(
            AttachmentInfo(
                id=int(a["id"]),
                filename=a["filename"],
                size=int(a["size"]),
                url=a["url"],
                content_type=a.get("content_type"),
            )
            for a in posted.get("attachments", [])
        )
        item = InboxItem(
            message_id=message_id,
            thread_id=thread_id,
            author_id=author,
            content=content,
            attachments=tuple(attrs.asdict(i) for i in infos),
        )
        await self.db(lambda db: db.inbox_add(item))
        ref = await self.session(thread_id)
        ref.tell(
            UserMessage(
                message_id=message_id,
                thread_id=thread_id,
                author_id=author,
                content=content,
                attachments=infos,
            )
        )
        return message_id

    async def status(self, thread_id: int) -> SessionStatusReport:
        ref = await self.session(thread_id)
        report: SessionStatusReport = await ref.ask(GetSessionStatus(), timeout=10)
        return report

    def bot_messages(
        self, thread_id: int, *, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        bot = str(self.server.world.bot.id)
        return [
            msg
            for msg in self.server.control.messages(thread_id, include_deleted=include_deleted)
            if msg["author"]["id"] == bot
        ]

    def texts(self, thread_id: int) -> str:
        """Everything the bot shows in the thread now: contents, embed titles and texts."""
        parts = []
        for msg in self.bot_messages(thread_id):
            parts.append(msg["content"])
            for embed in msg["embeds"]:
                parts += [embed.get("title", ""), embed.get("description", "")]
        return "\n".join(p for p in parts if p)

    def reactions(self, message_id: int) -> list[str]:
        msg = self.server.control.message(message_id)
        bot = str(self.server.world.bot.id)
        return [emoji for emoji, users in msg["reaction_users"].items() if bot in users]


def make_config(tmp_path: Path, allowed: set[int], **overrides: Any) -> Config:
    values: dict[str, Any] = dict(
        discord_bot_token=None,
        discord_channel_id=None,
        discord_api_base_url="http://discord.local/api/v10",
        claude_command="claude",
        claude_model=None,
        claude_permission_mode="default",
        claude_working_dir=tmp_path,
        max_concurrent_sessions=2,
        session_timeout_seconds=60.0,
        stall_notice_seconds=30.0,
        permission_timeout_seconds=120.0,
        tool_timer_interval_seconds=10.0,
        discord_owner_id=None,
        allowed_user_ids=frozenset(allowed),
        coordination_channel_id=None,
        lounge_channel_id=None,
        worktree_base_dir=None,
        database_path=tmp_path / "ccbridge.db",
    )
    values.update(overrides)
    return Config(**values)


@asynccontextmanager
async def open_bridge(
    tmp_path: Path,
    scenario: str,
    *,
    fake: dict[str, Any] | None = None,
    claude_executable: str | None = None,
    deps_overrides: dict[str, Any] | None = None,
    coordinator_config: CoordinatorConfig | None = None,
    **config_overrides: Any,
) -> AsyncIterator[Bridge]:
    """Start the actors a session needs and yield a :class:`Bridge`."""
    server = LocalDiscord(realism=Realism.off(), rng=random.Random(7))
    human = server.world.add_user("alice").id
    stranger = server.world.add_user("mallory").id
    config = make_config(tmp_path, {human}, **config_overrides)
    executable = claude_executable or str(write_fake_claude(tmp_path, scenario, **(fake or {})))
    transport = httpx.ASGITransport(server.app)
    async with open_rest_client(
        server.rest_url, server.token, transport=transport, random=random.Random(7)
    ) as client:
        rest = CrashingRest(client)
        async with actors.open_system(shutdown_timeout=10) as system:
            store = await system.spawn(
                store_actor, config.database_path, name="store", mailbox=STORE_MAILBOX
            )
            limiter = await system.spawn(
                limiter_actor,
                config.max_concurrent_sessions,
                name="limiter",
                mailbox=LIMITER_MAILBOX,
            )
            coordinator = await system.spawn(
                coordinator_actor,
                store,
                None,
                coordinator_config or CoordinatorConfig(),
                name="coordinator",
            )
            deps = SessionDeps(
                config=config,
                rest=rest,
                store=store,
                limiter=limiter,
                coordinator=coordinator,
                claude_command=ClaudeCommand(executable=executable),
                **{"interrupt_grace": 1.0, "close_grace": 5.0, **(deps_overrides or {})},
            )
            sessions = await system.start_supervisor(
                actors.SupervisorSpec(
                    strategy=actors.Strategy.ONE_FOR_ONE,
                    max_restarts=5,
                    within=10.0,
                    children=[],
                    dynamic=session_child_spec(deps, shutdown=10.0),
                ),
                name="sessions",
            )
            yield Bridge(
                server=server,
                rest=rest,
                system=system,
                store=store,
                limiter=limiter,
                sessions=sessions,
                config=config,
                deps=deps,
                human_id=human,
                stranger_id=stranger,
                tmp_path=tmp_path,
            )


def session_record(thread_id: int, working_dir: Path, **kw: Any) -> SessionRecord:
    """A session record as the router stores it (``channel_id`` defaults to the thread)."""
    fields: dict[str, Any] = {"channel_id": thread_id, **kw}
    return SessionRecord(thread_id=thread_id, working_dir=str(working_dir), **fields)


def db_sessions(db: Database) -> list[SessionRecord]:
    return db.sessions()


async def wait_until(predicate: Any, *, timeout: float = 15.0, what: str = "") -> None:
    """Wait (on trio's clock, with real processes running) until ``predicate()`` holds.

    ``predicate`` may be sync or async. It is re-checked every few milliseconds: the
    things waited for (a subprocess's output reaching Discord) have no single event.
    """
    with trio.fail_after(timeout):
        while True:
            value = predicate()
            if hasattr(value, "__await__"):
                value = await value
            if value:
                return
            await trio.sleep(0.01)


def wrap_recording_argv(tmp_path: Path, executable: str) -> tuple[str, Path]:
    """A ``claude`` that appends ``{"argv": [...], "env": {...}}`` (one JSON line per
    start) to a file, then execs ``executable``: how a test sees the flags and the
    environment each turn was started with."""
    import sys

    log = tmp_path / "starts.jsonl"
    wrapper = tmp_path / "claude-argv-wrapper"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps({'argv': sys.argv[1:], 'env': dict(os.environ)}) + '\\n')\n"
        f"os.execv({executable!r}, [{executable!r}])\n"
    )
    wrapper.chmod(0o755)
    return str(wrapper), log


def write_dispatcher(directory: Path) -> Path:
    """A ``claude`` that replays the scenario chosen for its thread: it reads
    ``DISCORD_THREAD_ID`` (set by the session, X4) and ``scenario-<thread>.json`` in
    ``directory`` (``{"scenario": ..., "hang_after": ...}``, or ``{"sequence": [...]}``
    for one scenario per start, the last repeated), default ``text_thinking``.
    Lets one bridge run different recordings in different threads."""
    import sys

    from tests.support import fake_claude

    root = Path(fake_claude.__file__).resolve().parents[2]
    path = directory / "claude-dispatcher"
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "from tests.support.fake_claude import main\n"
        "thread = os.environ.get('DISCORD_THREAD_ID', '')\n"
        f"choice = os.path.join({str(directory)!r}, 'scenario-' + thread + '.json')\n"
        "options = {'scenario': 'text_thinking'}\n"
        "if os.path.exists(choice):\n"
        "    with open(choice) as f:\n"
        "        options.update(json.load(f))\n"
        "sequence = options.pop('sequence', None)\n"
        "if sequence:\n"
        "    count = choice + '.count'\n"
        "    n = int(open(count).read()) if os.path.exists(count) else 0\n"
        "    open(count, 'w').write(str(n + 1))\n"
        "    options['scenario'] = sequence[min(n, len(sequence) - 1)]\n"
        "base = {'line_delay': 0.0, 'hang_after': None, 'stderr_bytes': 0,\n"
        "        'ignore_signals': False, 'repeat': False}\n"
        "sys.exit(main({**base, **options}))\n"
    )
    path.chmod(0o755)
    return path


def choose_scenario(directory: Path, thread_id: int, scenario: str, **options: Any) -> None:
    """Which recording the next ``claude`` of ``thread_id`` replays (see
    :func:`write_dispatcher`)."""
    import json

    (directory / f"scenario-{thread_id}.json").write_text(
        json.dumps({"scenario": scenario, **options})
    )


def wrap_recording_stdin(tmp_path: Path, executable: str) -> tuple[str, Path]:
    """A ``claude`` that runs ``executable`` as its child and appends every stdin line it
    passes on to a file: how a test sees exactly what the session wrote to Claude.
    Signals are forwarded, so interrupts and terminations behave as without it."""
    import sys

    log = tmp_path / "stdin.jsonl"
    wrapper = tmp_path / "claude-stdin-wrapper"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import signal, subprocess, sys\n"
        f"child = subprocess.Popen([{executable!r}], stdin=subprocess.PIPE)\n"
        "for sig in (signal.SIGINT, signal.SIGTERM):\n"
        "    signal.signal(sig, lambda s, f: child.send_signal(s))\n"
        f"with open({str(log)!r}, 'ab') as out:\n"
        "    for line in sys.stdin.buffer:\n"
        "        out.write(line); out.flush()\n"
        "        try:\n"
        "            child.stdin.write(line); child.stdin.flush()\n"
        "        except BrokenPipeError:\n"
        "            break\n"
        "try:\n"
        "    child.stdin.close()\n"
        "except BrokenPipeError:\n"
        "    pass\n"
        "sys.exit(child.wait())\n"
    )
    wrapper.chmod(0o755)
    return str(wrapper), log
