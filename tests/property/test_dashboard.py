"""C17: the dashboard board against a model (hypothesis stateful), its rendering for any
board, the lounge's session spans, and finding the dashboard among any pins."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bridge.dashboard.board import (
    DASHBOARD_TITLE,
    FINISHED_KEEP_SECONDS,
    FINISHED_SHOWN,
    Board,
    Phase,
    render_dashboard,
)
from bridge.dashboard.placement import find_dashboard
from bridge.discord._convert import structure
from bridge.sessions.messages import SessionActivity, SessionFinished, SessionStarted
from bridge.sessions.spans import SessionSpans
from protocol.discord import limits
from protocol.discord import models as m

THREADS = st.integers(min_value=1, max_value=6)
TEXT = st.text(max_size=300)
STATUSES = st.sampled_from(["running", "waiting", "queued", "idle", "stopped", "junk", ""])


class BoardMachine(RuleBasedStateMachine):
    """Every report moves the thread's entry as the model says; finished entries are few
    and recent; the rendering always fits Discord."""

    def __init__(self) -> None:
        super().__init__()
        self.board = Board()
        self.now = 1_700_000_000.0
        self.model: dict[int, Phase] = {}
        self.finished_at: dict[int, float] = {}

    def _prune_model(self) -> None:
        finished = sorted(
            (t for t, p in self.model.items() if p is Phase.FINISHED),
            key=lambda t: (self.finished_at[t], t),
            reverse=True,
        )
        for index, tid in enumerate(finished):
            if index >= FINISHED_SHOWN or self.now - self.finished_at[tid] > FINISHED_KEEP_SECONDS:
                del self.model[tid]

    @rule(seconds=st.floats(min_value=0, max_value=2000))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.board.prune(self.now)
        self._prune_model()

    @rule(tid=THREADS, title=TEXT)
    def started(self, tid: int, title: str) -> None:
        self.board.apply(SessionStarted(thread_id=tid, title=title, working_dir="/r"), self.now)
        self.model[tid] = Phase.WORKING
        self._prune_model()
        assert self.board.entries[tid].title == title

    @rule(
        tid=THREADS,
        status=STATUSES,
        activity=TEXT,
        position=st.none() | st.integers(0, 99),
        prompt=st.none() | st.integers(1, 2**63),
    )
    def activity(
        self, tid: int, status: str, activity: str, position: int | None, prompt: int | None
    ) -> None:
        report = SessionActivity(
            thread_id=tid,
            status=status,
            activity=activity,
            queue_position=position,
            prompt_message_id=prompt,
        )
        self.board.apply(report, self.now)
        phase = {"running": Phase.WORKING, "waiting": Phase.WAITING, "queued": Phase.QUEUED}
        if (
            status in ("idle", "stopped")
            and self.model.get(tid, Phase.FINISHED) is not Phase.FINISHED
        ):
            self.model[tid] = Phase.FINISHED  # at rest without a SessionFinished
            self.finished_at[tid] = self.now
            if tid in self.board.entries:  # (five others may have finished at this instant)
                assert self.board.entries[tid].outcome == status
        if status in phase:
            self.model[tid] = phase[status]
            entry = self.board.entries[tid]
            assert entry.queue_position == (position if status == "queued" else None)
            assert entry.prompt_message_id == (prompt if status == "waiting" else None)
        self._prune_model()

    @rule(tid=THREADS, outcome=TEXT)
    def finished(self, tid: int, outcome: str) -> None:
        self.board.apply(SessionFinished(thread_id=tid, outcome=outcome), self.now)
        self.model[tid] = Phase.FINISHED
        self.finished_at[tid] = self.now
        self._prune_model()

    @invariant()
    def agrees_with_the_model(self) -> None:
        assert {t: e.phase for t, e in self.board.entries.items()} == self.model

    @invariant()
    def renders_within_discord_limits(self) -> None:
        payload = render_dashboard(self.board, random.Random(len(self.model)).choice([None, 5]))
        (embed,) = payload.embeds
        assert embed.title == DASHBOARD_TITLE
        assert isinstance(embed.description, str)
        assert 0 < len(embed.description) <= limits.EMBED_DESCRIPTION
        for tid in self.model:  # every session shown is linked
            assert f"<#{tid}>" in embed.description
        assert "@everyone" not in embed.description


TestBoard = BoardMachine.TestCase


@given(
    st.lists(
        st.tuples(THREADS, st.sampled_from(["running", "waiting", "queued"]), TEXT),
        max_size=400,
    )
)
def test_a_crowded_board_still_fits(reports: list[tuple[int, str, str]]) -> None:
    board = Board()
    for index, (tid, status, activity) in enumerate(reports):
        board.apply(
            SessionActivity(thread_id=tid * 1000 + index, status=status, activity=activity), 1.0
        )
    (embed,) = render_dashboard(board, 7).embeds
    assert isinstance(embed.description, str)
    assert len(embed.description) <= limits.EMBED_DESCRIPTION


class SpansMachine(RuleBasedStateMachine):
    """Start and end lines alternate per thread: never two starts without an end between,
    never an end without a start; a turn within the quiet time posts nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.spans = SessionSpans()
        self.open: set[int] = set()
        self.timers: list[tuple[int, int]] = []
        self.running: set[int] = set()

    @rule(tid=THREADS)
    def turn_starts(self, tid: int) -> None:
        opened = self.spans.started(tid, "t", "/r")
        assert opened == (tid not in self.open)
        self.open.add(tid)
        self.running.add(tid)

    @rule(tid=THREADS)
    def turn_ends(self, tid: int) -> None:
        token = self.spans.finished(tid, "done")
        assert (token is None) == (tid not in self.open)
        if token is not None:
            self.timers.append((tid, token))
        self.running.discard(tid)

    @rule(data=st.data())
    def a_timer_fires(self, data: Any) -> None:
        if not self.timers:
            return
        tid, token = self.timers.pop(data.draw(st.integers(0, len(self.timers) - 1)))
        ended = self.spans.quiet_over(tid, token)
        latest = max([t for th, t in self.timers if th == tid] + [token])
        if ended is not None:
            assert tid in self.open
            assert tid not in self.running  # never ends a span whose turn runs
            assert latest == token
            self.open.discard(tid)

    @rule()
    def stop(self) -> None:
        ended = {tid for tid, _ in self.spans.end_all_at_rest()}
        assert ended == self.open - self.running
        self.open -= ended

    @invariant()
    def open_spans_agree(self) -> None:
        assert set(self.spans.spans) == self.open


TestSpans = SpansMachine.TestCase


def _message(author: int, title: Any, message_id: int) -> m.Message:
    raw: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": "1",
        "author": {
            "id": str(author),
            "username": "u",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
        },
        "content": "",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [{"title": title}] if title is not None else [],
        "pinned": True,
        "type": 0,
    }
    return structure(raw, m.Message)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([10, 11]),
            st.none() | st.sampled_from([DASHBOARD_TITLE, "other", DASHBOARD_TITLE + " "]),
        ),
        max_size=8,
    )
)
def test_find_dashboard_takes_the_newest_of_the_bots_own(pins: list[tuple[int, Any]]) -> None:
    messages = [_message(author, title, 100 + i) for i, (author, title) in enumerate(pins)]
    found = find_dashboard(messages, bot_id=10)
    expected = next(
        (100 + i for i, (a, t) in enumerate(pins) if a == 10 and t == DASHBOARD_TITLE), None
    )
    assert found == expected
