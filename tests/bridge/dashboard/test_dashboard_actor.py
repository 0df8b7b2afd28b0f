"""The dashboard actor (C17) against the real REST client and the local Discord server
(no subprocess: only our code runs, so trio's clock jumps)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx

import actors
from actors.testing import open_test_system
from bridge.dashboard.actor import DASHBOARD_MAILBOX, DashboardConfig, dashboard_actor
from bridge.dashboard.board import DASHBOARD_TITLE, Board, Phase, render_dashboard
from bridge.discord.rest import RestClient, open_rest_client
from bridge.discord_local import LocalDiscord, Realism
from bridge.sessions.messages import SessionActivity, SessionFinished, SessionStarted

NOW = 1_700_000_000.0


@attrs.define
class Rig:
    server: LocalDiscord
    rest: RestClient
    system: actors.System
    channel_id: int

    def dashboards(self, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        bot = str(self.server.world.bot.id)
        return [
            m
            for m in self.server.control.messages(self.channel_id, include_deleted=include_deleted)
            if m["author"]["id"] == bot
            and m["embeds"]
            and m["embeds"][0]["title"] == DASHBOARD_TITLE
        ]

    def pinned(self) -> list[dict[str, Any]]:
        return [m for m in self.dashboards() if m["pinned"]]

    def description(self) -> str:
        (message,) = self.dashboards()
        return str(message["embeds"][0]["description"])

    async def until(self, predicate: Any) -> Any:
        return await self.server.wait_until(predicate, timeout=60)

    async def start(self, name: str) -> actors.Ref[Any]:
        return await self.system.spawn(
            dashboard_actor,
            self.rest,
            DashboardConfig(channel_id=self.channel_id, clock=lambda: NOW),
            name=name,
            mailbox=DASHBOARD_MAILBOX,
        )


@asynccontextmanager
async def open_rig() -> AsyncIterator[Rig]:
    server = LocalDiscord(realism=Realism.off(), rng=random.Random(5))
    transport = httpx.ASGITransport(server.app)
    async with (
        open_rest_client(
            server.rest_url, server.token, transport=transport, random=random.Random(5)
        ) as rest,
        open_test_system() as system,
    ):
        yield Rig(server, rest, system, server.world.default_channel.id)


async def test_posted_once_pinned_edited_in_place_and_found_after_a_restart(
    autojump_clock: Any,
) -> None:
    async with open_rig() as rig:
        dashboard = await rig.start("dashboard")
        (message,) = await rig.until(lambda: rig.pinned() or None)
        assert len(rig.dashboards()) == 1
        assert rig.server.control.channel(rig.channel_id)["pins"] == [message["id"]]
        assert "No sessions right now" in rig.description()

        dashboard.tell(SessionActivity(thread_id=7, status="queued", queue_position=1))
        await rig.until(lambda: "#1 <#7>" in rig.description())
        dashboard.tell(SessionStarted(thread_id=7, title="Fix the parser", working_dir="/r"))
        dashboard.tell(SessionActivity(thread_id=7, status="running", activity="Bash: pytest"))
        await rig.until(lambda: "<#7> Fix the parser · Bash: pytest" in rig.description())
        dashboard.tell(
            SessionActivity(
                thread_id=7, status="waiting", activity="awaiting permission", prompt_message_id=99
            )
        )
        guild = rig.server.world.guild_id
        await rig.until(lambda: f"(https://discord.com/channels/{guild}/7/99)" in rig.description())
        assert "🔐 Waiting for you (1)" in rig.description()
        dashboard.tell(SessionFinished(thread_id=7, outcome="done"))
        await rig.until(lambda: "✅ Recently finished (1)" in rig.description())
        assert "<#7> Fix the parser · done" in rig.description()
        (same,) = rig.dashboards()
        assert same["id"] == message["id"]
        assert len(rig.server.control.message(message["id"])["versions"]) >= 5

        # A restart (a new actor, empty board) edits the same pinned message.
        await dashboard.stop()
        again = await rig.start("dashboard-2")
        await rig.until(lambda: "No sessions right now" in rig.description())
        (found,) = rig.dashboards()
        assert found["id"] == message["id"]

        # Deleted by someone: the next change posts and pins a new one.
        rig.server.control.delete_message(message["id"])
        again.tell(SessionStarted(thread_id=8, title="Docs", working_dir="/r"))
        (fresh,) = await rig.until(lambda: rig.pinned() or None)
        assert fresh["id"] != message["id"]
        assert len(rig.dashboards()) == 1
        assert "<#8> Docs" in rig.description()
        await again.stop()

        # Unpinned by someone: the next start finds it in the history and pins it again.
        rig.server.control.set_pinned(fresh["id"], pinned=False)
        third = await rig.start("dashboard-3")
        (repinned,) = await rig.until(lambda: rig.pinned() or None)
        assert repinned["id"] == fresh["id"]
        assert len(rig.dashboards()) == 1
        assert rig.server.control.channel(rig.channel_id)["pins"] == [fresh["id"]]
        await third.stop()


async def test_a_burst_of_reports_is_coalesced(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        dashboard = await rig.start("dashboard")
        (message,) = await rig.until(lambda: rig.dashboards() or None)
        for step in range(200):
            dashboard.tell(SessionActivity(thread_id=3, status="running", activity=f"step {step}"))
        await rig.until(lambda: "step 199" in rig.description())
        versions = rig.server.control.message(message["id"])["versions"]
        assert len(versions) < 20, len(versions)  # the newest board wins, not one edit each
        await dashboard.stop()


def test_a_parked_session_is_listed_as_parked_with_why() -> None:
    board = Board()
    board.apply(SessionActivity(thread_id=7, status="running"), 100.0)
    board.apply(
        SessionActivity(thread_id=7, status="parked", activity="usage limit, until 15:20 UTC"),
        110.0,
    )
    assert [e.thread_id for e in board.phase(Phase.PARKED)] == [7]
    description = str(render_dashboard(board, None).embeds[0].description)
    assert "**💤 Parked (1)**\n<#7> · usage limit, until 15:20 UTC · since <t:110:R>" in description
