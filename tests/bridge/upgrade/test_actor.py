"""The upgrade actor (A3) with the real limiter and a recording stand-in for Discord:
an approval that lapses or is declined runs nothing; a drain that ends because the last
turn finished restarts without interrupting anything."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import attrs
import trio
from trio.testing import MockClock

import actors
from actors.testing import Probe, open_test_system
from bridge.sessions.approvers import Approvers
from bridge.sessions.limiter import LIMITER_MAILBOX, limiter_actor
from bridge.sessions.messages import AcquireSlot, ReleaseSlot, SlotGranted
from bridge.upgrade import (
    AnswerUpgrade,
    RequestUpgrade,
    Settings,
    Stop,
    UpgradeConfig,
    upgrade_actor,
)

OWNER = 1
CHANNEL = 100


@attrs.frozen
class _Posted:
    id: int


class FakeRest:
    """Records what the actor posts and edits, in order."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, list[Any]]] = []
        self.edits: list[tuple[int, str, Any]] = []
        self.changed = trio.Event()

    async def create_message(
        self, channel_id: int, *, content: str | None = None, components: Any = ()
    ) -> _Posted:
        assert channel_id == CHANNEL
        self.posts.append((content or "", list(components)))
        self._bump()
        return _Posted(id=len(self.posts))

    async def edit_message(
        self, channel_id: int, message_id: int, *, content: Any = None, components: Any = None
    ) -> _Posted:
        self.edits.append((message_id, content, components))
        self._bump()
        return _Posted(id=message_id)

    def _bump(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def until(self, text: str, *, timeout: float = 60.0) -> str:
        with trio.fail_after(timeout):
            while True:
                for content, _ in self.posts:
                    if text in content:
                        return content
                for _, content, _ in self.edits:
                    if text in str(content):
                        return str(content)
                await self.changed.wait()

    def token(self) -> str:
        for _, components in self.posts:
            for row in components:
                for button in row.components:
                    if button.custom_id.endswith(":yes"):
                        return str(button.custom_id.split(":")[2])
        raise AssertionError("no approval button was posted")


async def _start(
    system: actors.System, tmp_path: Path, *, approval: bool, drain: float = 60.0
) -> tuple[actors.Ref[Any], actors.Ref[Any], FakeRest, list[Stop], Path]:
    marker = tmp_path / "ran"
    limiter = await system.spawn(limiter_actor, 2, name="limiter", mailbox=LIMITER_MAILBOX)
    rest = FakeRest()
    stops: list[Stop] = []
    config = UpgradeConfig(
        command=(sys.executable, "-c", f"open({str(marker)!r}, 'w').write('ran')"),
        timeout=120.0,
        channel_id=CHANNEL,
        settings=Settings(
            approvers=Approvers(user_ids=frozenset({OWNER})),
            require_approval=approval,
            drain_seconds=drain,
        ),
        env={},
    )
    upgrade = await system.spawn(upgrade_actor, limiter, rest, config, stops.append)
    return upgrade, limiter, rest, stops, marker


async def test_an_approval_nobody_gives_lapses_and_runs_nothing(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    async with open_test_system() as system:
        upgrade, _, rest, stops, marker = await _start(system, tmp_path, approval=True)
        answer = await upgrade.ask(RequestUpgrade(user_id=OWNER), timeout=5)
        assert answer.accepted
        await rest.until("An approver must approve it")
        stranger = await upgrade.ask(RequestUpgrade(user_id=7), timeout=5)
        assert not stranger.accepted
        assert "already under way (awaiting approval)" in stranger.text
        await rest.until("not approved in time", timeout=1000)  # 15 minutes of trio's clock
        assert rest.edits[-1] == (1, "⌛ Upgrade request lapsed: nobody approved it in time.", [])
        late = await upgrade.ask(
            AnswerUpgrade(token=rest.token(), user_id=OWNER, approve=True), timeout=5
        )
        assert not late.accepted
        assert "no longer open" in late.text
    assert stops == []
    assert not marker.exists()


async def test_a_declined_upgrade_runs_nothing_and_a_non_approver_cannot_click(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    async with open_test_system() as system:
        upgrade, _, rest, stops, marker = await _start(system, tmp_path, approval=True)
        refused = await upgrade.ask(RequestUpgrade(user_id=7), timeout=5)
        assert not refused.accepted
        assert "Only approvers" in refused.text
        await upgrade.ask(RequestUpgrade(user_id=OWNER), timeout=5)
        token = rest.token()
        clicked = await upgrade.ask(AnswerUpgrade(token=token, user_id=7, approve=True), timeout=5)
        assert not clicked.accepted
        declined = await upgrade.ask(
            AnswerUpgrade(token=token, user_id=OWNER, approve=False), timeout=5
        )
        assert declined.accepted
        await rest.until("Upgrade declined by")
    assert stops == []
    assert not marker.exists()


async def test_a_drain_ends_when_the_last_turn_finishes_without_interrupting(
    tmp_path: Path,
) -> None:
    async with open_test_system() as system:
        upgrade, limiter, rest, stops, marker = await _start(system, tmp_path, approval=False)
        turn = await Probe.start(system, name="turn")
        limiter.tell(AcquireSlot(thread_id=5, requester=turn.ref))
        await turn.expect(SlotGranted, timeout=5)
        answer = await upgrade.ask(RequestUpgrade(trigger="release"), timeout=5)
        assert answer.accepted
        await rest.until("Draining before the restart")
        assert marker.read_text() == "ran"
        assert stops == []  # the turn still runs
        limiter.tell(ReleaseSlot(thread_id=5))  # the turn finished
        await rest.until("No turn is running: restarting now")
        with trio.fail_after(10):
            while not stops:
                await rest.changed.wait()
        assert stops == [Stop(interrupted=False)]
        busy = await upgrade.ask(RequestUpgrade(user_id=OWNER), timeout=5)
        assert "already under way (restarting)" in busy.text


async def test_the_drain_bound_comes_even_if_the_limiter_cannot_be_asked(tmp_path: Path) -> None:
    async with open_test_system() as system:
        upgrade, limiter, rest, stops, _ = await _start(system, tmp_path, approval=False, drain=1.0)
        await limiter.stop()  # the ask fails at once: only the bound's timer is left
        await upgrade.ask(RequestUpgrade(user_id=OWNER), timeout=5)
        await rest.until("The drain bound (1 s) passed")
        with trio.fail_after(10):
            while not stops:
                await rest.changed.wait()
        assert stops == [Stop(interrupted=True)]
