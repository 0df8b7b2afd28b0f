"""Catch-up (docs/architecture.md "Catch-up"): messages sent while the bridge was away are
found at the next READY and handled once, in order, through the normal path.

The bridge runs in-process against the local Discord server with stand-in sessions (as in
``test_app.py``); ``tests/e2e/test_bridge_catch_up.py`` shows the same with ``ccbridge
run`` and the real CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from bridge.sessions.catchup import jump_link
from bridge.sessions.messages import ResumeSession, UserMessage
from bridge.sessions.presentation import render
from bridge.sessions.router import NOT_ALLOWED, GetRouterStats
from bridge.store import InboxState
from bridge.store.actor import store_call
from tests.bridge.test_app import TIMEOUT, Sessions, _bridge, _config, _ready, server

__all__ = ["server"]  # the fixture


def _user_messages(sessions: Sessions) -> list[tuple[int, str]]:
    return [(t, m.content) for t, m in sessions.of_type(UserMessage)]


def _bot_texts(server: Any, channel_id: int) -> list[str]:
    bot = str(server.world.bot.id)
    return [
        message["content"]
        for message in server.control.messages(channel_id)
        if message["author"]["id"] == bot
    ]


async def test_messages_sent_while_away_are_picked_up_once_in_order(
    server: Any, tmp_path: Path
) -> None:
    world = server.world
    channel = world.default_channel.id
    owner = world.owner_id
    stranger = world.add_user("mallory").id
    # Everything before the restart happens two hours ago, so one message can be too old.
    world.wall_offset -= 7200
    config = _config(tmp_path, CATCHUP_MAX_AGE_SECONDS="3600", CATCHUP_MAX_MESSAGES="3")
    first = Sessions()
    async with await _bridge(server, config, first) as bridge:
        await bridge.wait_ready()
        thread = int(server.control.post_message(channel, owner, "start work")["id"])
        await first.wait_for(lambda item: item[0] == thread)
        # A status reaction the stopped bridge never got to replace.
        world.add_reaction(world.messages[thread], render.EMOJI_WRITING, world.bot.id)
        await store_call(
            bridge.store,
            lambda db: db.inbox_set_state([thread], InboxState.DONE),
            timeout=TIMEOUT,
        )

    # The bridge is away.
    old = int(server.control.post_message(thread, owner, "an old instruction")["id"])
    world.wall_offset += 7200
    in_thread = [
        int(server.control.post_message(thread, owner, f"offline {i}")["id"]) for i in range(4)
    ]
    server.control.post_message(thread, stranger, "let me in")
    new_session = int(server.control.post_message(channel, owner, "a new task")["id"])

    second = Sessions()
    async with await _bridge(server, config, second) as bridge:
        with trio.fail_after(TIMEOUT):
            await bridge.wait_ready()
        live = int(server.control.post_message(thread, owner, "typed after READY")["id"])
        await second.wait_for(lambda item: item[1].message_id == live)
        # The newest 3 of the thread's 6 offline messages (one is the stranger's) go through
        # the normal path, in order, then the live one.
        assert [c for t, c in _user_messages(second) if t == thread] == [
            "offline 2",
            "offline 3",
            "typed after READY",
        ]
        # The channel's offline message started its session and thread.
        assert (new_session, "a new task") in _user_messages(second)
        assert server.control.channel(new_session)["parent_id"] == str(channel)
        picked_one = "📬 Picked up 1 message sent while I was offline."
        assert _bot_texts(server, new_session)[0] == picked_one
        # One notice in the thread: what was picked up, and links to what was not.
        (notice,) = [t for t in _bot_texts(server, thread) if t.startswith("📬")]
        assert notice.startswith("📬 Picked up 2 messages sent while I was offline.")
        guild = world.guild_id
        assert jump_link(guild, thread, old) in notice
        assert jump_link(guild, thread, in_thread[0]) in notice
        assert jump_link(guild, thread, in_thread[1]) in notice
        assert jump_link(guild, thread, in_thread[2]) not in notice
        # The stranger is answered through the normal path: told, nothing run.
        await server.wait_until(lambda: NOT_ALLOWED in _bot_texts(server, thread), timeout=TIMEOUT)
        # The leftover ✍️ on the finished message became ✅.
        await server.wait_until(
            lambda: world.messages[thread].reactions == {render.EMOJI_DONE: [world.bot.id]},
            timeout=TIMEOUT,
        )
        stats = await bridge.router.ask(GetRouterStats(), timeout=TIMEOUT)
        assert stats.caught_up == 4  # 2 + the stranger's in the thread, 1 in the channel
        assert stats.not_run == 3

    # A third start finds nothing new: nothing is handled twice.
    third = Sessions()
    async with await _bridge(server, config, third) as bridge:
        with trio.fail_after(TIMEOUT):
            await bridge.wait_ready()
        stats = await bridge.router.ask(GetRouterStats(), timeout=TIMEOUT)
        assert (stats.caught_up, stats.not_run) == (0, 0)
        assert third.of_type(UserMessage) == []
    assert len([t for t in _bot_texts(server, thread) if t.startswith("📬")]) == 1


async def test_a_marked_session_resumes_after_its_catch_up_with_the_messages_found(
    server: Any, tmp_path: Path
) -> None:
    world = server.world
    channel = world.default_channel.id
    config = _config(tmp_path)
    first = Sessions()
    async with await _bridge(server, config, first) as bridge:
        await bridge.wait_ready()
        thread = int(server.control.post_message(channel, world.owner_id, "work")["id"])
        await first.wait_for(lambda item: item[0] == thread)
        await store_call(
            bridge.store,
            lambda db: db.update_session(thread, 0.0, resume_reason="shutdown"),
            timeout=TIMEOUT,
        )
    offline = int(server.control.post_message(thread, world.owner_id, "and this")["id"])
    second = Sessions()
    async with await _bridge(server, config, second) as bridge:
        with trio.fail_after(TIMEOUT):
            await bridge.wait_ready()
        assert bridge.resumed == ((thread, "shutdown"),)
        # Resumed, not told again: the session loads the caught-up message from its inbox.
        assert second.received == [(thread, ResumeSession(reason="shutdown"))]
        inbox = await store_call(bridge.store, lambda db: db.inbox(thread), timeout=TIMEOUT)
        assert [i.message_id for i in inbox] == [thread, offline]


async def test_a_slow_thread_creation_holds_no_other_thread(server: Any, tmp_path: Path) -> None:
    world = server.world
    channel = world.default_channel.id
    sessions = Sessions()
    async with await _bridge(server, _config(tmp_path), sessions) as bridge:
        await _ready(server)
        await bridge.wait_ready()
        existing = int(server.control.post_message(channel, world.owner_id, "first")["id"])
        await sessions.wait_for(lambda item: item[0] == existing)
        # Discord takes its time over the next thread creation.
        server.control.rest_fault(
            route="POST /channels/{channel_id}/messages/{message_id}/threads",
            kind="slow",
            delay=3.0,
        )
        second = int(server.control.post_message(channel, world.owner_id, "second")["id"])
        third = int(server.control.post_message(channel, world.owner_id, "third")["id"])
        server.control.post_message(existing, world.owner_id, "meanwhile")
        # The existing thread is routed while "second"'s thread is still being created.
        await sessions.wait_for(lambda item: getattr(item[1], "content", "") == "meanwhile")
        assert [t for t, _ in sessions.of_type(UserMessage)] == [existing, existing]
        # Neither waiting message is lost, and they start their sessions in order.
        await sessions.wait_for(lambda item: item[0] == third)
        started = [t for t, _ in sessions.of_type(UserMessage) if t in (second, third)]
        assert started == [second, third]
        assert server.control.channel(second)["name"] == "second"


async def test_a_new_gateway_session_catches_up_what_it_missed(server: Any, tmp_path: Path) -> None:
    world = server.world
    channel = world.default_channel.id
    sessions = Sessions()
    async with await _bridge(server, _config(tmp_path), sessions) as bridge:
        with trio.fail_after(TIMEOUT):
            await bridge.wait_ready()
        thread = int(server.control.post_message(channel, world.owner_id, "work")["id"])
        await sessions.wait_for(lambda item: item[0] == thread)
        # Discord ends the gateway session: the bridge must identify anew (after 1-5 s),
        # and nothing posted meanwhile is replayed to the new session.
        assert server.control.gateway_fault("invalid_session", resumable=False)["affected"]
        missed = int(server.control.post_message(thread, world.owner_id, "while away")["id"])
        await sessions.wait_for(lambda item: getattr(item[1], "message_id", None) == missed)
        stats = await bridge.router.ask(GetRouterStats(), timeout=TIMEOUT)
        assert (stats.catch_ups, stats.caught_up) == (2, 1)
        assert [m.content for t, m in sessions.of_type(UserMessage) if t == thread] == [
            "work",
            "while away",
        ]
