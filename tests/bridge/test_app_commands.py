"""The slash commands through the whole bridge (router, store, lanes) and the local Discord
server, with stand-in sessions: what each command tells the session, the order it keeps
with typed messages, and X5 for every command (the real-CLI proof is
``tests/e2e/test_bridge_commands.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.sessions.messages import SetModel, StopTurn, UserMessage
from bridge.sessions.router import NOT_ALLOWED
from tests.bridge.test_app import TIMEOUT, Sessions, _bridge, _config, _ready
from tests.bridge.test_app import server as server  # the fixture


async def _run(server: Any, user: int, channel: int, name: str, options: Any = ()) -> Any:
    sent = server.control.invoke_command(user, channel, name, list(options))
    await server.wait_until(
        lambda: server.control.interaction(sent["id"])["response_type"] is not None,
        timeout=TIMEOUT,
    )
    return server.control.interaction(sent["id"])["response_data"]


async def test_commands_reach_the_session_in_order_and_refuse_strangers(
    server: Any, tmp_path: Path
) -> None:
    sessions = Sessions()
    world = server.world
    owner = world.owner_id
    stranger = server.control.create_user("stranger")["id"]
    skill = tmp_path / ".claude" / "skills" / "greet"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: greet\ndescription: Hello\n---\nHi $ARGUMENTS\n")
    async with await _bridge(server, _config(tmp_path), sessions):
        await _ready(server)
        assert [c.definition["name"] for c in world.commands.values()] == [
            "stop",
            "task",
            "model",
            "skill",
            "upgrade",
            "sync-sessions",
            "sessions",
            "resume-info",
            "worktree-list",
            "worktree-cleanup",
            "usage",
        ]
        server.control.post_message(world.default_channel.id, owner, "go")
        thread, _ = await sessions.wait_for(lambda item: isinstance(item[1], UserMessage))

        for name in ("stop", "model", "skill", "task"):
            refused = await _run(server, stranger, thread, name)
            assert (refused["content"], refused["flags"]) == (NOT_ALLOWED, 64)

        server.control.post_message(thread, owner, "typed before")
        await _run(server, owner, thread, "model", [{"name": "name", "type": 3, "value": "haiku"}])
        greet = [
            {"name": "name", "type": 3, "value": "greet"},
            {"name": "args", "type": 3, "value": "Ann"},
        ]
        answered = await _run(server, owner, thread, "skill", greet)
        assert "in this thread" in answered["content"]
        await _run(server, owner, thread, "stop")
        await sessions.wait_for(lambda item: isinstance(item[1], StopTurn))

        told = [msg for t, msg in sessions.received if t == thread]
        kinds = [
            msg.content if isinstance(msg, UserMessage) else msg
            for msg in told
            if isinstance(msg, UserMessage | SetModel | StopTurn)
        ]
        assert kinds == [
            "go",
            "typed before",
            SetModel(model="haiku", requested_by=owner),
            "/greet Ann",
            StopTurn(requested_by=owner),
        ]
        skill_message = next(
            m for m in told if isinstance(m, UserMessage) and m.content == "/greet Ann"
        )
        assert skill_message.author_id == owner
        # Only strangers' attempts were refused: nothing of theirs reached the session.
        assert all(getattr(m, "requested_by", owner) == owner for m in told)
