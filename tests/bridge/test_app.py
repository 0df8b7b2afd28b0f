"""The wired bridge against the local Discord server, acting as people through its control
API: the router (C1, X5, /stop, prompt buttons), start-up resume and graceful shutdown
(A4), and the lounge (K4) through the local API.

The session actor here is a stand-in that records what the router and the app tell it, so
these tests pin the wiring; the real session's behaviour is tested with the real one.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

import actors
from bridge.app import Bridge, local_config, open_bridge
from bridge.config import Config, load_config
from bridge.discord import GatewayDispatch
from bridge.discord_local import Realism, open_discord_local
from bridge.sessions.messages import (
    AnswerPrompt,
    GetSessionStatus,
    PrepareShutdown,
    ResumeSession,
    SessionStatusReport,
    StopTurn,
    UserMessage,
)
from bridge.sessions.router import NOT_ALLOWED, prompt_custom_id
from bridge.sessions.session import SessionDeps
from bridge.store import Database, InboxItem, PromptRecord, SessionRecord, SessionStatus
from bridge.store.actor import store_call
from tests.support.dashboard import is_dashboard

TIMEOUT = 20.0  # real sockets and threads: real clock, generous bounds


class Sessions:
    """What every stand-in session received, as (thread_id, message)."""

    def __init__(self) -> None:
        self.received: list[tuple[int, Any]] = []
        self.deps: list[SessionDeps] = []
        self._changed = trio.Event()

    def record(self, thread_id: int, msg: Any) -> None:
        self.received.append((thread_id, msg))
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, predicate: Any) -> tuple[int, Any]:
        with trio.fail_after(TIMEOUT):
            while True:
                for item in self.received:
                    if predicate(item):
                        return item
                await self._changed.wait()

    def of_type(self, kind: type) -> list[tuple[int, Any]]:
        return [(t, m) for t, m in self.received if isinstance(m, kind)]

    def behavior(self) -> actors.Behavior:
        async def stand_in(ctx: actors.Context[Any], deps: SessionDeps, thread_id: int) -> None:
            self.deps.append(deps)
            async for msg in ctx.mailbox:
                self.record(thread_id, msg)
                if isinstance(msg, PrepareShutdown):
                    msg.reply(None)
                elif isinstance(msg, GetSessionStatus):
                    msg.reply(
                        SessionStatusReport(
                            thread_id=thread_id,
                            status="idle",
                            session_id=None,
                            claude_pid=None,
                            queue_position=None,
                            pending_messages=0,
                        )
                    )

        return stand_in


def _config(tmp_path: Path, **env: str) -> Config:
    return load_config(
        {"CLAUDE_WORKING_DIR": str(tmp_path), "CCBRIDGE_DB_PATH": str(tmp_path / "db"), **env},
        dotenv_path=tmp_path / ".env",
    )


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    async with open_discord_local(realism=Realism.faithful(), rng=random.Random(7)) as server:
        yield server


async def _bridge(server: Any, config: Config, sessions: Sessions) -> Any:
    return open_bridge(
        local_config(config, server),
        session_behavior=sessions.behavior(),
        claude_env={"PATH": "/usr/bin", "DISCORD_BOT_TOKEN": "leak"},
        rng=random.Random(1),
        shutdown_timeout=10.0,
    )


async def _ready(server: Any) -> None:
    # READY reached the router when it has registered its slash commands.
    await server.wait_until(lambda: server.world.commands, timeout=TIMEOUT)


async def test_a_message_in_the_channel_starts_a_named_thread_and_a_session(
    server: Any, tmp_path: Path
) -> None:
    sessions = Sessions()
    world = server.world
    async with await _bridge(server, _config(tmp_path), sessions) as bridge:
        await _ready(server)
        posted = server.control.post_message(
            world.default_channel.id, world.owner_id, "## Fix the *login* bug\nplease"
        )
        message_id = int(posted["id"])
        thread_id, msg = await sessions.wait_for(lambda item: isinstance(item[1], UserMessage))
        # Discord gives a thread started from a message that message's id.
        assert thread_id == message_id
        assert msg == UserMessage(
            message_id=message_id,
            thread_id=thread_id,
            author_id=world.owner_id,
            content="## Fix the *login* bug\nplease",
            received_at=msg.received_at,
        )
        thread = server.control.channel(thread_id)
        assert thread["name"] == "Fix the login bug"
        assert int(thread["parent_id"]) == world.default_channel.id
        record = await store_call(
            bridge.store, lambda db: db.get_session(thread_id), timeout=TIMEOUT
        )
        assert record.title == "Fix the login bug"
        assert record.working_dir == str(tmp_path)
        inbox = await store_call(bridge.store, lambda db: db.inbox(thread_id), timeout=TIMEOUT)
        assert [item.message_id for item in inbox] == [message_id]

        # A follow-up in the thread reaches the same session; a redelivery does not.
        reply = server.control.post_message(thread_id, world.owner_id, "also the logout one")
        await sessions.wait_for(
            lambda item: (
                isinstance(item[1], UserMessage) and item[1].content == "also the logout one"
            )
        )
        data = server.control.message(reply["id"])
        await bridge.router.send(GatewayDispatch("MESSAGE_CREATE", _plain(data), None))
        probe = server.control.post_message(thread_id, world.owner_id, "third")
        await sessions.wait_for(
            lambda item: getattr(item[1], "message_id", None) == int(probe["id"])
        )
        contents = [m.content for _, m in sessions.of_type(UserMessage)]
        assert contents == ["## Fix the *login* bug\nplease", "also the logout one", "third"]
        # The session got its dependencies, with its own API URL (its token inside).
        deps = sessions.deps[0]
        assert deps.api_url == bridge.session_api_url(thread_id)
        assert deps.api_url.startswith(bridge.api_url + "/s/")
        assert deps.claude_env == {"PATH": "/usr/bin", "DISCORD_BOT_TOKEN": "leak"}


def _plain(message_json: dict[str, Any]) -> dict[str, Any]:
    """A control-API message view as the gateway's MESSAGE_CREATE payload."""
    extra = {"deleted", "ephemeral", "thread_id", "reaction_users", "versions"}
    return {k: v for k, v in message_json.items() if k not in extra} | {
        "guild_id": message_json.get("guild_id") or None
    }


async def test_a_stranger_starts_nothing_and_is_told_once(server: Any, tmp_path: Path) -> None:
    sessions = Sessions()
    world = server.world
    stranger = server.control.create_user("stranger")["id"]
    async with await _bridge(server, _config(tmp_path), sessions) as bridge:
        await _ready(server)
        channel = world.default_channel.id
        for text in ("run rm -rf /", "please?"):
            server.control.post_message(channel, stranger, text)
        # The owner's message after them proves the stranger's were handled first.
        server.control.post_message(channel, world.owner_id, "hello")
        await sessions.wait_for(lambda item: isinstance(item[1], UserMessage))
        bot_messages = [
            m
            for m in server.control.messages(channel)
            if int(m["author"]["id"]) == world.bot.id and not is_dashboard(m)
        ]
        assert [m["content"] for m in bot_messages] == [NOT_ALLOWED]
        assert [m.author_id for _, m in sessions.of_type(UserMessage)] == [world.owner_id]
        stored = await store_call(bridge.store, lambda db: db.sessions(), timeout=TIMEOUT)
        assert len(stored) == 1


async def test_stop_command_and_prompt_buttons_check_the_user(server: Any, tmp_path: Path) -> None:
    sessions = Sessions()
    world = server.world
    stranger = server.control.create_user("stranger")["id"]
    async with await _bridge(server, _config(tmp_path), sessions) as bridge:
        await _ready(server)
        posted = server.control.post_message(world.default_channel.id, world.owner_id, "go")
        thread_id, _ = await sessions.wait_for(lambda item: isinstance(item[1], UserMessage))

        refused = server.control.invoke_command(stranger, thread_id, "stop")
        done = server.control.invoke_command(world.owner_id, thread_id, "stop")
        _, stop = await sessions.wait_for(lambda item: isinstance(item[1], StopTurn))
        assert stop == StopTurn(requested_by=world.owner_id)
        await server.wait_until(
            lambda: server.control.interaction(refused["id"])["response_type"] is not None,
            timeout=TIMEOUT,
        )
        seen = server.control.interaction(refused["id"])
        assert seen["response_type"] == 4
        assert seen["response_data"]["flags"] == 64  # ephemeral
        assert seen["response_data"]["content"] == NOT_ALLOWED
        await server.wait_until(
            lambda: server.control.interaction(done["id"])["response_type"] is not None,
            timeout=TIMEOUT,
        )

        # A prompt, posted as the session would: buttons with ccb:prompt:<id>:<choice>.
        prompt = PromptRecord(
            prompt_id="p1",
            thread_id=thread_id,
            kind="permission",
            payload={"tool": "Bash"},
            created_at=0.0,
            expires_at=1e12,
        )
        await store_call(bridge.store, lambda db: db.prompt_add(prompt), timeout=TIMEOUT)
        from protocol.discord import models as m

        buttons = m.ActionRow(
            components=[
                m.Button(
                    style=m.ButtonStyle.SUCCESS,
                    label="Allow",
                    custom_id=prompt_custom_id("p1", "allow"),
                ),
                m.Button(
                    style=m.ButtonStyle.DANGER,
                    label="Deny",
                    custom_id=prompt_custom_id("p1", "deny"),
                ),
            ]
        )
        prompt_message = await bridge.rest.create_message(
            thread_id, content="Claude wants to run Bash", components=[buttons]
        )
        click = server.control.click_button(stranger, prompt_message.id, "ccb:prompt:p1:deny")
        await server.wait_until(
            lambda: server.control.interaction(click["id"])["response_type"] is not None,
            timeout=TIMEOUT,
        )
        assert server.control.interaction(click["id"])["response_data"]["flags"] == 64
        click = server.control.click_button(
            world.owner_id, prompt_message.id, "ccb:prompt:p1:allow"
        )
        _, answer = await sessions.wait_for(lambda item: isinstance(item[1], AnswerPrompt))
        assert answer == AnswerPrompt(prompt_id="p1", choice="allow", user_id=world.owner_id)
        assert server.control.interaction(click["id"])["response_type"] == 6  # deferred update
        assert len(sessions.of_type(AnswerPrompt)) == 1
        assert len(sessions.of_type(StopTurn)) == 1
        assert int(posted["id"]) == thread_id


async def test_marked_sessions_resume_at_start_and_shutdown_marks_them(
    server: Any, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    db = Database.open(config.database_path)
    try:
        for thread_id, status, reason in [
            (101, SessionStatus.RUNNING, None),  # a SIGKILL left it running
            (102, SessionStatus.IDLE, "shutdown"),  # a clean shutdown marked it
            (103, SessionStatus.IDLE, None),  # nothing to do
            (104, SessionStatus.IDLE, None),  # but a message was stored for it
        ]:
            db.put_session(
                SessionRecord(
                    thread_id=thread_id,
                    channel_id=1,
                    working_dir="/r",
                    status=status,
                    resume_reason=reason,
                    created_at=thread_id,
                )
            )
        db.inbox_add(InboxItem(message_id=9, thread_id=104, author_id=1, content="hi"))
    finally:
        db.close()

    sessions = Sessions()
    async with await _bridge(server, config, sessions) as bridge:
        # A4: resumed once the gateway is READY and each thread is caught up.
        with trio.fail_after(TIMEOUT):
            await bridge.wait_ready()
        assert bridge.resumed == ((101, "crash"), (102, "shutdown"), (104, "crash"))
        await sessions.wait_for(lambda item: item[0] == 104)
        assert sorted(sessions.of_type(ResumeSession)) == [
            (101, ResumeSession(reason="crash")),
            (102, ResumeSession(reason="shutdown")),
            (104, ResumeSession(reason="crash")),
        ]
        # A running session at shutdown: the store says running.
        await store_call(
            bridge.store,
            lambda db: db.update_session(101, 0.0, status=SessionStatus.RUNNING),
            timeout=TIMEOUT,
        )
        assert (
            await store_call(bridge.store, lambda db: db.sessions_to_resume(), timeout=TIMEOUT)
            == []
        )
    # Leaving the block: every live session was asked to prepare, the running one marked.
    assert sorted(t for t, _ in sessions.of_type(PrepareShutdown)) == [101, 102, 104]
    db = Database.open(config.database_path)
    try:
        assert [(r.thread_id, r.resume_reason) for r in db.sessions_to_resume()] == [
            (101, "shutdown")
        ]
    finally:
        db.close()


async def test_a_session_posts_to_the_lounge_channel_through_the_api(
    server: Any, tmp_path: Path
) -> None:
    lounge = server.control.create_channel("lounge")
    lounge_id = int(lounge["id"])
    sessions = Sessions()
    config = _config(tmp_path, LOUNGE_CHANNEL_ID=str(lounge_id))
    async with await _bridge(server, config, sessions) as bridge:
        url = bridge.session_api_url(555)
        with trio.fail_after(TIMEOUT):
            async with httpx.AsyncClient() as client:
                response = await client.post(
                    f"{url}/api/lounge",
                    json={"message": "refactoring db.py", "label": "thread 555"},
                )
        assert response.status_code == 201
        await server.wait_until(
            lambda: any(
                "refactoring db.py" in m["content"] for m in server.control.messages(lounge_id)
            ),
            timeout=TIMEOUT,
        )
        [line] = server.control.messages(lounge_id)
        assert line["content"] == "**[thread 555]** refactoring db.py"


async def test_open_bridge_refuses_an_unresolved_local_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="local_config"):
        async with open_bridge(_config(tmp_path)):
            pass  # pragma: no cover


async def test_embedding_with_run_bridge_and_cancelling_shuts_down(
    server: Any, tmp_path: Path
) -> None:
    from bridge.app import run_bridge

    sessions = Sessions()
    config = local_config(_config(tmp_path), server)
    async with trio.open_nursery() as nursery:
        bridge: Bridge = await nursery.start(
            lambda task_status: run_bridge(
                config, session_behavior=sessions.behavior(), task_status=task_status
            )
        )
        await _ready(server)
        server.control.post_message(server.world.default_channel.id, server.world.owner_id, "hi")
        await sessions.wait_for(lambda item: isinstance(item[1], UserMessage))
        nursery.cancel_scope.cancel()
    # Cancelled from outside, it still shut down gracefully.
    assert [t for t, _ in sessions.of_type(PrepareShutdown)] == [
        t for t, _ in sessions.of_type(UserMessage)
    ]
    assert bridge.system.closed


async def test_a_deleted_thread_ends_its_session(server: Any, tmp_path: Path) -> None:
    sessions = Sessions()
    world = server.world
    async with await _bridge(server, _config(tmp_path), sessions) as bridge:
        await _ready(server)
        server.control.post_message(world.default_channel.id, world.owner_id, "work")
        thread_id, _ = await sessions.wait_for(lambda item: isinstance(item[1], UserMessage))
        session = bridge.session(thread_id)
        assert session is not None
        # The local server cannot delete threads; deliver Discord's dispatch directly.
        await bridge.router.send(
            GatewayDispatch(
                "THREAD_DELETE",
                {"id": str(thread_id), "guild_id": str(world.guild_id), "type": 11},
                None,
            )
        )
        with trio.fail_after(TIMEOUT):
            await session.wait_stopped()
        record = await store_call(
            bridge.store, lambda db: db.get_session(thread_id), timeout=TIMEOUT
        )
        assert record.status is SessionStatus.ENDED
        assert bridge.session(thread_id) is None
        # A thread that is no session is ignored, and routing goes on after it.
        await bridge.router.send(
            GatewayDispatch("THREAD_DELETE", {"id": "12345", "type": 11}, None)
        )
        server.control.post_message(world.default_channel.id, world.owner_id, "more work")
        await sessions.wait_for(
            lambda item: isinstance(item[1], UserMessage) and item[1].content == "more work"
        )
