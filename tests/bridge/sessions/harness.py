"""A session under test: the real store, limiter and coordinator actors, a sessions
supervisor, the local Discord server (in-process, no socket) and the fake ``claude``.

``LocalRest`` stands in for ``bridge.discord.rest.RestClient`` (not committed when these
tests were written): the same method names and coalescing promises, over plain httpx to the
local server's ASGI app. It is a double for the far end only; everything else is the
product's code.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio

import actors
from bridge.config import Config
from bridge.discord.errors import HTTPError, NotFound
from bridge.discord_local import LocalDiscord, Realism
from bridge.sessions.coordinator import CoordinatorConfig, coordinator_actor
from bridge.sessions.limiter import LIMITER_MAILBOX, limiter_actor
from bridge.sessions.messages import GetSessionStatus, SessionStatusReport, UserMessage
from bridge.sessions.session import SessionDeps, session_child_spec
from bridge.store import Database, InboxItem, SessionRecord
from bridge.store.actor import STORE_MAILBOX, store_actor, store_call
from protocol.claude.argv import ClaudeCommand
from protocol.discord import models as m
from protocol.discord.converter import make_converter
from tests.support.fake_claude import write_fake_claude

_CONVERTER = make_converter()


class LocalRest:
    """The session's REST surface against the local server. ``submit_*`` calls return at
    once and are sent by a background task, per message, latest edit wins."""

    def __init__(self, client: httpx.AsyncClient, nursery: trio.Nursery) -> None:
        self._client = client
        self._nursery = nursery
        self._edits: dict[tuple[int, int], dict[str, Any]] = {}
        self._reactions: dict[tuple[int, int], list[tuple[str, str]]] = {}
        self._busy: set[tuple[str, int, int]] = set()
        self._idle = trio.Event()
        self._idle.set()
        self.errors: list[Exception] = []
        self.crash_once_on: str | None = None
        """A test knob: the next ``create_message`` whose text contains this raises
        ``RuntimeError`` (a bug in our code, as far as the session can tell)."""

    async def _call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        response = await self._client.request(method, url, **kw)
        if response.status_code >= 400:
            body = response.json() if response.content else {}
            cls = NotFound if response.status_code == 404 else HTTPError
            raise cls(
                status=response.status_code,
                code=int(body.get("code", 0)),
                message=str(body.get("message", "")),
                route=f"{method} {url}",
            )
        return response

    async def create_message(
        self,
        channel_id: int,
        *,
        content: str | None = None,
        embeds: Sequence[m.Embed] = (),
        components: Sequence[m.ActionRow] = (),
        reply_to: int | None = None,
    ) -> m.Message:
        if self.crash_once_on is not None:
            shown = (content or "") + "".join(str(e.title) + str(e.description) for e in embeds)
            if self.crash_once_on in shown:
                self.crash_once_on = None
                raise RuntimeError("injected failure while posting")
        body: dict[str, Any] = {}
        if content:
            body["content"] = content
        if embeds:
            body["embeds"] = _CONVERTER.unstructure(list(embeds), list[m.Embed])
        if components:
            body["components"] = _CONVERTER.unstructure(list(components), list[m.ActionRow])
        response = await self._call("POST", f"/channels/{channel_id}/messages", json=body)
        return _CONVERTER.structure(response.json(), m.Message)

    def submit_edit(
        self,
        channel_id: int,
        message_id: int,
        *,
        content: Any = m.UNDEFINED,
        embeds: Any = m.UNDEFINED,
        components: Any = m.UNDEFINED,
    ) -> None:
        body: dict[str, Any] = {}
        if content is not m.UNDEFINED:
            body["content"] = content
        if embeds is not m.UNDEFINED:
            body["embeds"] = _CONVERTER.unstructure(list(embeds), list[m.Embed])
        if components is not m.UNDEFINED:
            body["components"] = _CONVERTER.unstructure(list(components), list[m.ActionRow])
        key = (channel_id, message_id)
        self._edits[key] = {**self._edits.get(key, {}), **body}
        self._kick("edit", key)

    def submit_reaction(
        self,
        channel_id: int,
        message_id: int,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> None:
        key = (channel_id, message_id)
        ops = self._reactions.setdefault(key, [])
        ops += [("remove", e) for e in remove] + [("add", e) for e in add]
        self._kick("reaction", key)

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        await self._call("DELETE", f"/channels/{channel_id}/messages/{message_id}")

    async def download_attachment(self, url: str, *, max_bytes: int) -> bytes:
        response = await self._call("GET", url)
        return response.content[:max_bytes]

    def _kick(self, kind: str, key: tuple[int, int]) -> None:
        job = (kind, *key)
        if job in self._busy:
            return
        self._busy.add(job)
        self._idle = trio.Event()
        self._nursery.start_soon(self._drain, job)

    async def _drain(self, job: tuple[str, int, int]) -> None:
        kind, channel_id, message_id = job
        key = (channel_id, message_id)
        try:
            while True:
                if kind == "edit":
                    body = self._edits.pop(key, None)
                    if body is None:
                        break
                    url = f"/channels/{channel_id}/messages/{message_id}"
                    await self._try("PATCH", url, json=body)
                else:
                    ops = self._reactions.pop(key, [])
                    if not ops:
                        break
                    for op, emoji in ops:
                        url = f"/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
                        await self._try("PUT" if op == "add" else "DELETE", url)
        finally:
            self._busy.discard(job)
            if not self._busy:
                self._idle.set()

    async def _try(self, method: str, url: str, **kw: Any) -> None:
        try:
            await self._call(method, url, **kw)
        except HTTPError as exc:
            self.errors.append(exc)

    async def settle(self) -> None:
        """Wait until every submitted edit and reaction has been sent."""
        while not self._idle.is_set():
            await self._idle.wait()


@attrs.define
class Bridge:
    """What a test drives and inspects."""

    server: LocalDiscord
    rest: LocalRest
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

    async def say(self, thread_id: int, content: str, *, author_id: int | None = None) -> int:
        """A person types in the thread; the router's part is done here: record the
        message in the inbox, then tell the session."""
        author = self.human_id if author_id is None else author_id
        posted = self.server.control.post_message(thread_id, author, content)
        message_id = int(posted["id"])
        item = InboxItem(
            message_id=message_id, thread_id=thread_id, author_id=author, content=content
        )
        await self.db(lambda db: db.inbox_add(item))
        ref = await self.session(thread_id)
        ref.tell(
            UserMessage(
                message_id=message_id, thread_id=thread_id, author_id=author, content=content
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
    **config_overrides: Any,
) -> AsyncIterator[Bridge]:
    """Start the actors a session needs and yield a :class:`Bridge`."""
    server = LocalDiscord(realism=Realism.off(), rng=random.Random(7))
    human = server.world.add_user("alice").id
    stranger = server.world.add_user("mallory").id
    config = make_config(tmp_path, {human}, **config_overrides)
    executable = claude_executable or str(write_fake_claude(tmp_path, scenario, **(fake or {})))
    transport = httpx.ASGITransport(server.app)
    async with (
        httpx.AsyncClient(
            transport=transport,
            base_url=server.rest_url,
            headers={"Authorization": f"Bot {server.token}"},
        ) as client,
        trio.open_nursery() as nursery,
    ):
        rest = LocalRest(client, nursery)
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
                coordinator_actor, store, None, CoordinatorConfig(), name="coordinator"
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
        nursery.cancel_scope.cancel()


def session_record(thread_id: int, working_dir: Path, **kw: Any) -> SessionRecord:
    return SessionRecord(
        thread_id=thread_id, channel_id=thread_id, working_dir=str(working_dir), **kw
    )


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
    """A ``claude`` that appends its argv (JSON, one line per start) to a file, then
    execs ``executable``: how a test sees the flags each turn was started with."""
    import json
    import sys

    log = tmp_path / "argv.jsonl"
    wrapper = tmp_path / "claude-argv-wrapper"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"os.execv({executable!r}, [{executable!r}])\n"
    )
    wrapper.chmod(0o755)
    _ = json
    return str(wrapper), log


def write_dispatcher(directory: Path) -> Path:
    """A ``claude`` that replays the scenario chosen for its thread: it reads
    ``DISCORD_THREAD_ID`` (set by the session, X4) and ``scenario-<thread>.json`` in
    ``directory`` (``{"scenario": ..., "hang_after": ...}``), default ``text_thinking``.
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
        "base = {'line_delay': 0.0, 'hang_after': None, 'stderr_bytes': 0,\n"
        "        'ignore_signals': False, 'repeat': False}\n"
        "sys.exit(main({**base, **options}))\n"
    )
    path.chmod(0o755)
    return path


def choose_scenario(directory: Path, thread_id: int, scenario: str, **options: Any) -> None:
    import json

    (directory / f"scenario-{thread_id}.json").write_text(
        json.dumps({"scenario": scenario, **options})
    )
