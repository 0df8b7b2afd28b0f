"""The coordinator (K3, K4, K5) over a real store: registry, lounge lines, broadcasts."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import trio

import actors
from actors.testing import open_test_system
from bridge.sessions.coordinator import (
    LOUNGE_TEXT_MAX,
    CoordinatorConfig,
    coordinator_actor,
)
from bridge.sessions.messages import (
    GetRegistry,
    GetTurnContext,
    PostLounge,
    SessionActivity,
    SessionFinished,
    SessionStarted,
)
from bridge.sessions.presentation.system_prompt import ActiveSession
from bridge.store.actor import STORE_MAILBOX, store_actor, store_call

TIMEOUT = 30.0  # real worker threads run the store: real clock, generous bound
LOUNGE, COORD = 111, 222


class Channels:
    """The far end: what reached each Discord channel, in order."""

    def __init__(self, fail_first: int = 0) -> None:
        self.posts: list[tuple[int, str]] = []
        self._fail = fail_first
        self._changed = trio.Event()

    async def post(self, channel_id: int, text: str) -> None:
        if self._fail:
            self._fail -= 1
            raise RuntimeError("discord is down")
        self.posts.append((channel_id, text))
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, count: int) -> list[tuple[int, str]]:
        with trio.fail_after(TIMEOUT):
            while len(self.posts) < count:
                await self._changed.wait()
        return self.posts


async def _start(
    system: actors.System, path: Path, channels: Channels | None, **config: Any
) -> tuple[actors.Ref[Any], actors.Ref[Any]]:
    store = await system.spawn(store_actor, path, name="store", mailbox=STORE_MAILBOX)
    coordinator = await system.spawn(
        coordinator_actor,
        store,
        channels.post if channels else None,
        CoordinatorConfig(clock=lambda: 1_700_000_000.0, **config),
        name="coordinator",
    )
    return store, coordinator


async def test_registry_lists_the_other_running_sessions(tmp_path: Path) -> None:
    async with open_test_system() as system:
        _, coordinator = await _start(system, tmp_path / "db", None)
        coordinator.tell(SessionStarted(thread_id=1, title="fix login", working_dir="/repo"))
        coordinator.tell(SessionStarted(thread_id=2, title="add docs", working_dir="/repo"))
        coordinator.tell(SessionActivity(thread_id=2, status="waiting", activity="Bash: pytest"))
        context = await coordinator.ask(GetTurnContext(thread_id=1), timeout=TIMEOUT)
        assert context.others == (
            ActiveSession(
                thread_id=2,
                title="add docs",
                working_dir="/repo",
                status="waiting",
                activity="Bash: pytest",
            ),
        )
        coordinator.tell(SessionFinished(thread_id=2, outcome="done"))
        assert await coordinator.ask(GetRegistry(), timeout=TIMEOUT) == (
            ActiveSession(thread_id=1, title="fix login", working_dir="/repo", status="running"),
        )
        context = await coordinator.ask(GetTurnContext(thread_id=1), timeout=TIMEOUT)
        assert context.others == ()
        # Starts and ends are lounge lines every turn sees (K4).
        assert [e.text for e in context.lounge] == [
            "▶️ session started: fix login (in /repo)",
            "▶️ session started: add docs (in /repo)",
            "⏹️ session ended (done): add docs",
        ]


async def test_lounge_lines_are_posted_broadcast_and_persisted(tmp_path: Path) -> None:
    channels = Channels()
    async with open_test_system() as system:
        store, coordinator = await _start(
            system,
            tmp_path / "db",
            channels,
            lounge_channel_id=LOUNGE,
            coordination_channel_id=COORD,
        )
        coordinator.tell(SessionStarted(thread_id=5, title="refactor", working_dir="/r"))
        coordinator.tell(PostLounge(author="thread 5", text="  touching db.py  ", thread_id=5))
        coordinator.tell(SessionFinished(thread_id=5, outcome="stopped"))
        posts = await channels.wait_for(5)
        assert posts == [
            (LOUNGE, "**[thread 5]** ▶️ session started: refactor (in /r)"),
            (COORD, "▶️ <#5> started: **refactor** in `/r`"),
            (LOUNGE, "**[thread 5]** touching db.py"),
            (LOUNGE, "**[thread 5]** ⏹️ session ended (stopped): refactor"),
            (COORD, "✅ <#5> **refactor** ended: stopped"),
        ]
        stored = await store_call(store, lambda db: db.lounge_recent(10), timeout=TIMEOUT)
        assert [(line.author, line.text, line.thread_id) for line in stored] == [
            ("thread 5", "▶️ session started: refactor (in /r)", 5),
            ("thread 5", "touching db.py", 5),
            ("thread 5", "⏹️ session ended (stopped): refactor", 5),
        ]
        assert all(line.created_at == 1_700_000_000.0 for line in stored)


async def test_start_and_end_lines_come_once_per_session_not_per_turn(tmp_path: Path) -> None:
    channels = Channels()
    forwarded: list[Any] = []
    async with open_test_system() as system:
        _, coordinator = await _start(
            system,
            tmp_path / "db",
            channels,
            lounge_channel_id=LOUNGE,
            coordination_channel_id=COORD,
            session_end_quiet=3600.0,
            forward=forwarded.append,
        )
        reports = [
            SessionStarted(thread_id=5, title="refactor", working_dir="/r"),
            SessionActivity(thread_id=5, status="running", activity="thinking"),
            SessionFinished(thread_id=5, outcome="done"),
            SessionStarted(thread_id=5, title="refactor", working_dir="/r"),  # a reply
            SessionFinished(thread_id=5, outcome="stopped"),
        ]
        for report in reports:
            coordinator.tell(report)
        # The second turn came within the quiet time: the same session, no second start.
        context = await coordinator.ask(GetTurnContext(thread_id=1), timeout=TIMEOUT)
        assert [e.text for e in context.lounge] == ["▶️ session started: refactor (in /r)"]
        assert forwarded == reports  # every report reaches the dashboard as it is
        # Stopping ends the sessions at rest: one end line, with the last outcome.
        await coordinator.stop()
        assert channels.posts == [
            (LOUNGE, "**[thread 5]** ▶️ session started: refactor (in /r)"),
            (COORD, "▶️ <#5> started: **refactor** in `/r`"),
            (LOUNGE, "**[thread 5]** ⏹️ session ended (stopped): refactor"),
            (COORD, "✅ <#5> **refactor** ended: stopped"),
        ]


async def test_the_end_line_comes_after_the_quiet_time(tmp_path: Path) -> None:
    channels = Channels()
    async with open_test_system() as system:
        _, coordinator = await _start(
            system, tmp_path / "db", channels, lounge_channel_id=LOUNGE, session_end_quiet=0.2
        )
        coordinator.tell(SessionStarted(thread_id=5, title="refactor", working_dir="/r"))
        coordinator.tell(SessionFinished(thread_id=5, outcome="done"))
        posts = await channels.wait_for(2)
        assert posts[1] == (LOUNGE, "**[thread 5]** ⏹️ session ended (done): refactor")
        # A later turn is a new session.
        coordinator.tell(SessionStarted(thread_id=5, title="refactor", working_dir="/r"))
        posts = await channels.wait_for(3)
        assert posts[2] == (LOUNGE, "**[thread 5]** ▶️ session started: refactor (in /r)")


async def test_a_new_coordinator_remembers_the_lounge(tmp_path: Path) -> None:
    path = tmp_path / "db"
    async with open_test_system() as system:
        store, coordinator = await _start(system, path, None)
        coordinator.tell(PostLounge(author="human", text="deploy at 5pm"))
        # A stop lets the outbox store what is queued.
        await coordinator.stop()
        stored = await store_call(store, lambda db: db.lounge_recent(5), timeout=TIMEOUT)
        assert [line.text for line in stored] == ["deploy at 5pm"]
    async with open_test_system() as system:
        _, coordinator = await _start(system, path, None)
        context = await coordinator.ask(GetTurnContext(thread_id=9), timeout=TIMEOUT)
        assert [(e.author, e.text) for e in context.lounge] == [("human", "deploy at 5pm")]


async def test_long_lines_are_capped_and_a_failed_post_does_not_stop_the_next(
    tmp_path: Path,
) -> None:
    channels = Channels(fail_first=1)
    async with open_test_system() as system:
        _, coordinator = await _start(system, tmp_path / "db", channels, lounge_channel_id=LOUNGE)
        coordinator.tell(PostLounge(author="a\nb" + "x" * 80, text="first"))
        coordinator.tell(PostLounge(author="bot", text="y" * 5000))
        posts = await channels.wait_for(1)
        assert posts == [(LOUNGE, "**[bot]** " + "y" * LOUNGE_TEXT_MAX)]
        context = await coordinator.ask(GetTurnContext(thread_id=1), timeout=TIMEOUT)
        assert context.lounge[0].author == ("a b" + "x" * 80)[:50]
        assert coordinator.alive


@pytest.mark.parametrize("config", [{}, {"lounge_channel_id": LOUNGE}])
async def test_without_channels_nothing_is_broadcast(tmp_path: Path, config: Any) -> None:
    channels = Channels()
    async with open_test_system() as system:
        _, coordinator = await _start(system, tmp_path / "db", channels, **config)
        coordinator.tell(SessionStarted(thread_id=1, title="t", working_dir="/r"))
        coordinator.tell(SessionFinished(thread_id=1, outcome="done"))
        coordinator.tell(PostLounge(author="z", text="last"))
        if config:
            posts = await channels.wait_for(3)
            assert [channel for channel, _ in posts] == [LOUNGE] * 3
        else:
            await coordinator.stop()  # drains the outbox: anything to post has been posted
            assert channels.posts == []


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


async def test_a_finished_sessions_clean_worktree_goes_a_dirty_one_stays(tmp_path: Path) -> None:
    repo, base = tmp_path / "repo", tmp_path / "wt"
    repo.mkdir()
    base.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(
        repo,
        "-c",
        "user.email=t@x.invalid",
        "-c",
        "user.name=t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "init",
    )
    for thread_id in (1, 2):
        _git(
            repo,
            "worktree",
            "add",
            "-q",
            str(base / f"wt-{thread_id}"),
            "-b",
            f"session/{thread_id}",
        )
    (base / "wt-2" / "work.txt").write_text("not committed\n")
    async with open_test_system() as system:
        _, coordinator = await _start(system, tmp_path / "db", None, worktree_base_dir=base)
        for thread_id in (1, 2, 3):  # thread 3 never made a worktree
            coordinator.tell(SessionStarted(thread_id=thread_id, title="t", working_dir=str(repo)))
            coordinator.tell(SessionFinished(thread_id=thread_id, outcome="done"))
        await coordinator.stop()  # drains the outbox, cleanup included
    assert not (base / "wt-1").exists()
    assert (base / "wt-2" / "work.txt").read_text() == "not committed\n"
