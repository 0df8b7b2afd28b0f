"""``/sessions`` (S2) and ``/worktree-list`` / ``/worktree-cleanup`` (S4) through the whole
bridge and the local Discord server: filters, pages turned by buttons (component
interactions), a dry run before any removal, and a dirty worktree never removed. Only
allowed users get anything (X5)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from bridge.app import local_config, open_bridge
from bridge.sessions.router import NOT_ALLOWED
from bridge.store import Database, SessionRecord, SessionStatus
from bridge.store.actor import store_call
from tests.bridge.sessions.test_worktrees import add_worktree, git
from tests.bridge.test_app_sessions import _config

TIMEOUT = 60.0


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    from bridge.discord_local import Realism, open_discord_local

    async with open_discord_local(realism=Realism.faithful(), rng=random.Random(5)) as server:
        yield server


async def _invoke(server: Any, user: Any, channel: int, name: str, **options: Any) -> Any:
    """Run ``/name`` and wait until its answer is filled in; the answer message."""
    given = [
        {"name": k, "type": 4 if isinstance(v, int) else 3, "value": v} for k, v in options.items()
    ]
    sent = server.control.invoke_command(user, channel, name, given or None)

    def answer() -> Any:
        inter = server.control.interaction(sent["id"])
        if inter["original_message_id"] is None:
            return None
        message = server.control.message(inter["original_message_id"])
        return message if message["content"] else None

    return await server.wait_until(answer, timeout=TIMEOUT)


async def _click(server: Any, user: Any, message: Any, custom_id: str, changed_from: str) -> Any:
    server.control.click_button(user, message["id"], custom_id)

    def updated() -> Any:
        now = server.control.message(message["id"])
        return now if now["content"] != changed_from else None

    return await server.wait_until(updated, timeout=TIMEOUT)


def _buttons(message: Any) -> dict[str, dict[str, Any]]:
    return {
        c["label"]: c for row in message["components"] for c in row["components"] if "label" in c
    }


def _record(thread_id: int, origin: str, updated_at: float, title: str) -> SessionRecord:
    return SessionRecord(
        thread_id=thread_id,
        channel_id=1,
        working_dir="/tmp",
        origin=origin,
        status=SessionStatus.IDLE,
        title=title,
        session_id=f"00000000-0000-4000-8000-{thread_id:012d}",
        created_at=updated_at,
        updated_at=updated_at,
    )


async def test_sessions_filters_and_pages_with_buttons(server: Any, tmp_path: Path) -> None:
    import time

    now = time.time()
    records = [_record(1000 + i, "discord", now - 60 * i, f"chat {i}") for i in range(12)]
    records += [_record(2000 + i, "cli", now - 60 * i, f"terminal {i}") for i in range(3)]
    records.append(_record(3000, "cli", now - 3 * 86400, "old terminal"))
    config = local_config(_config(tmp_path, "text_thinking"), server)
    owner = server.world.owner_id
    channel = server.world.default_channel.id
    stranger = server.control.create_user("stranger")["id"]
    async with open_bridge(config, rng=random.Random(1), shutdown_timeout=20.0) as bridge:

        def put(db: Database) -> None:
            for record in records:
                db.put_session(record)

        await store_call(bridge.store, put, timeout=TIMEOUT)
        await server.wait_until(
            lambda: any(c.definition["name"] == "sessions" for c in server.world.commands.values()),
            timeout=TIMEOUT,
        )

        first = await _invoke(server, owner, channel, "sessions")
        assert first["flags"] & 64
        assert first["content"].startswith("**16 sessions** · page 1 of 2")
        assert "<#1000> chat 0 · idle · discord" in first["content"]
        assert first["content"].count("\n") == 10  # a header and ten sessions
        buttons = _buttons(first)
        assert buttons["◀ Previous"]["disabled"] is True
        assert buttons["Next ▶"].get("disabled") is not True

        # A stranger's click changes nothing and is told why.
        refused = server.control.click_button(stranger, first["id"], buttons["Next ▶"]["custom_id"])
        await server.wait_until(
            lambda: server.control.interaction(refused["id"])["response_type"] is not None,
            timeout=TIMEOUT,
        )
        assert server.control.interaction(refused["id"])["response_data"]["content"] == NOT_ALLOWED
        assert server.control.message(first["id"])["content"] == first["content"]

        second = await _click(
            server, owner, first, buttons["Next ▶"]["custom_id"], first["content"]
        )
        assert second["content"].startswith("**16 sessions** · page 2 of 2")
        assert "old terminal" in second["content"]
        assert "chat 0" not in second["content"]
        assert _buttons(second)["Next ▶"]["disabled"] is True

        cli = await _invoke(server, owner, channel, "sessions", origin="cli")
        assert cli["content"].startswith("**4 sessions from cli**")
        assert "chat" not in cli["content"]
        assert cli["components"] == []

        recent = await _invoke(server, owner, channel, "sessions", origin="cli", hours=24)
        assert recent["content"].startswith("**3 sessions from cli active in the last 24 h**")
        assert "old terminal" not in recent["content"]

        nothing = await _invoke(server, stranger, channel, "sessions")
        assert nothing["content"] == NOT_ALLOWED


async def test_worktree_list_and_cleanup_dry_run_then_confirm(server: Any, tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "t")
    (repo / "README").write_text("hi\n")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "init")
    base = tmp_path / "worktrees"
    dirty = add_worktree(repo, base, 222)
    (dirty / "notes.txt").write_text("work in progress\n")
    at_start = add_worktree(repo, base, 100)

    config = local_config(_config(tmp_path, "text_thinking", WORKTREE_BASE_DIR=str(base)), server)
    owner = server.world.owner_id
    channel = server.world.default_channel.id
    async with open_bridge(config, rng=random.Random(1), shutdown_timeout=20.0) as bridge:
        await server.wait_until(
            lambda: any(
                c.definition["name"] == "worktree-cleanup" for c in server.world.commands.values()
            ),
            timeout=TIMEOUT,
        )
        # K2: the bridge's start removes clean worktrees by itself; wait for that, so the
        # ones made now are the commands' to handle.
        with trio.fail_after(TIMEOUT):
            # A file system change that no event signals: polled, bounded by the timeout.
            while at_start.exists():  # noqa: ASYNC110
                await trio.sleep(0.05)
        clean = add_worktree(repo, base, 111)
        also_clean = add_worktree(repo, base, 333)
        listed = await _invoke(server, owner, channel, "worktree-list")
        assert listed["content"].startswith("**3 session worktrees** (2 clean)")
        assert "`wt-111` <#111> · 🟢 clean" in listed["content"]
        assert "`wt-222` <#222> · 🔴 uncommitted changes" in listed["content"]

        plan = await _invoke(server, owner, channel, "worktree-cleanup")
        assert plan["content"].startswith("**Dry run:** 2 clean worktrees would be removed")
        assert "✋ `wt-222` <#222> kept: 🔴 uncommitted changes" in plan["content"]
        # The dry run removed nothing.
        assert clean.is_dir()
        assert also_clean.is_dir()

        # Between the dry run and the click, one of them gets changes: it is kept.
        (also_clean / "late.txt").write_text("typed after the dry run\n")
        confirm = _buttons(plan)["Remove them"]["custom_id"]
        done = await _click(server, owner, plan, confirm, plan["content"])
        assert done["content"].startswith("**Cleanup done:** 1 removed.")
        assert done["components"] == []
        assert not clean.exists()
        assert dirty.is_dir()
        assert (dirty / "notes.txt").read_text() == "work in progress\n"
        assert also_clean.is_dir()
        # The removed worktree's branch stays: committed work survives.
        assert "session/111" in git(repo, "branch", "--list", "session/111")
        assert bridge.config.worktree_base_dir == base
