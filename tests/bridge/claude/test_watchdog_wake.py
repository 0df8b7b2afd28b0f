"""When the claude handle wakes its watchdog: only when the deadline may come earlier.

The watchdog sleeps until the next timeout deadline; events mostly push the idle deadline
later, which it finds when it wakes, so they must not wake it (issue 15: one task switch
per event). A change that brings a deadline earlier must wake it at once."""

from __future__ import annotations

from typing import Any, cast

import attrs
import trio

from bridge.claude.process import ClaudeProcess
from protocol.claude.turn import Activity, TurnState


async def _nothing(_: Any) -> None:
    return None


def _handle(*, idle: float | None = 10.0, total: float | None = 100.0) -> ClaudeProcess:
    # The process object is only stored by the constructor; _update never touches it.
    return ClaudeProcess(
        cast(Any, None),
        deliver=_nothing,
        interrupt_grace=1.0,
        idle_timeout=idle,
        total_timeout=total,
    )


def _asleep(claude: ClaudeProcess, until: float, fired_for: float | None = None) -> None:
    """As the watchdog leaves things when it goes to sleep."""
    claude._watch = trio.Event()
    claude._watch_until, claude._watch_fired_for = until, fired_for


RUNNING = TurnState(activity=Activity.WRITING, turn_started_at=0.0, last_event_at=0.0)


async def test_events_that_push_the_deadline_later_do_not_wake_it() -> None:
    claude = _handle()
    _asleep(claude, 10.0)  # until the idle deadline of RUNNING
    for t in (1.0, 2.0, 3.0):
        claude._update(attrs.evolve(RUNNING, last_event_at=t))
    assert not claude._watch.is_set()


async def test_an_earlier_deadline_wakes_it() -> None:
    claude = _handle()
    # Waiting for the host: no idle clock, so the watchdog sleeps until the total deadline.
    _asleep(claude, 100.0)
    # Answered: the idle clock runs again (deadline 10 + 5 < 100): wake now.
    claude._update(attrs.evolve(RUNNING, activity=Activity.TOOL, last_event_at=5.0))
    assert claude._watch.is_set()


async def test_asleep_without_a_deadline_it_wakes_when_a_turn_starts() -> None:
    claude = _handle(total=None)
    _asleep(claude, float("inf"))
    claude._update(TurnState())  # idle: still no deadline
    assert not claude._watch.is_set()
    claude._update(TurnState().start_turn(3.0))
    assert claude._watch.is_set()


async def test_after_firing_only_a_new_turn_wakes_it() -> None:
    claude = _handle()
    _asleep(claude, float("inf"), fired_for=0.0)
    claude._update(attrs.evolve(RUNNING, last_event_at=50.0))  # same turn
    assert not claude._watch.is_set()
    claude._update(RUNNING.start_turn(60.0))
    assert claude._watch.is_set()
