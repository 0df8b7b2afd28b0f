"""Budgets: the pure decisions (:mod:`bridge.budget`) and the store's bookkeeping
(``Database.spend``) against a small model, across restarts (a reopened file)."""

from __future__ import annotations

import math
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bridge.budget import (
    LEVELS,
    WARN_AT,
    Limits,
    Notice,
    Scope,
    Totals,
    assess,
    notice_text,
    turn_cost,
)
from bridge.store import Database

DAY = 86400.0
money = st.floats(min_value=0.0, max_value=1e4, allow_nan=False, allow_infinity=False)
limit = st.one_of(st.none(), st.floats(min_value=0.01, max_value=100.0))


@given(previous=st.one_of(st.none(), money), reported=st.one_of(st.none(), st.floats()))
def test_turn_cost_is_never_negative_nor_junk(
    previous: float | None, reported: float | None
) -> None:
    cost = turn_cost(previous, reported)
    assert cost >= 0
    assert math.isfinite(cost)
    if reported is not None and math.isfinite(reported) and reported > 0:
        assert cost <= reported


def test_turn_cost_counts_from_the_running_total() -> None:
    # What the pinned CLI reports for three turns of one session (0.42 each).
    assert turn_cost(None, 0.42) == pytest.approx(0.42)
    assert turn_cost(0.42, 0.84) == pytest.approx(0.42)
    assert turn_cost(0.84, 1.26) == pytest.approx(0.42)
    # A total that went down (the CLI lost its restored figure) counts in full.
    assert turn_cost(1.26, 0.30) == pytest.approx(0.30)


@given(
    limits=st.builds(Limits, thread_usd=limit, user_daily_usd=limit, daily_usd=limit),
    totals=st.builds(Totals, thread=money, user_day=money, all_day=money),
    announced=st.sets(st.tuples(st.sampled_from(list(Scope)), st.sampled_from(LEVELS))),
)
def test_assess_announces_each_reached_level_once_and_only_reached_ones(
    limits: Limits, totals: Totals, announced: set[tuple[Scope, float]]
) -> None:
    decision = assess(limits, totals, announced)
    assert not set(decision.mark) & announced
    for scope, level in decision.mark:
        cap = limits.of(scope)
        assert cap is not None
        assert totals.of(scope) >= level * cap
    # Every level reached is marked now or before; one notice per scope, at its top level.
    for scope in Scope:
        cap = limits.of(scope)
        reached = {lv for lv in LEVELS if cap is not None and totals.of(scope) >= lv * cap}
        assert reached <= {lv for s, lv in decision.mark if s is scope} | {
            lv for s, lv in announced if s is scope
        }
        notices = [n for n in decision.notices if n.scope is scope]
        assert len(notices) <= 1
        for notice in notices:
            assert notice.level == max(lv for s, lv in decision.mark if s is scope)
    # A second look with the marks applied announces nothing.
    assert assess(limits, totals, announced | set(decision.mark)).notices == ()


def test_notice_texts() -> None:
    warn = Notice(scope=Scope.THREAD, level=WARN_AT, spent=0.42, limit=0.5)
    assert notice_text(warn) == "-# 💰 $0.42 of $0.50: this thread's budget is 80 % used."
    over = Notice(scope=Scope.ALL_DAY, level=1.0, spent=12.5, limit=10.0)
    assert (
        notice_text(over) == "-# 💸 $12.50 of $10.00: today's budget for all sessions is used up."
    )


class SpendingMachine(RuleBasedStateMachine):
    """Turns charged through the real store, compared with sums kept here; the file is
    reopened now and then (a restart) and nothing is forgotten or told twice."""

    def __init__(self) -> None:
        super().__init__()
        self.path: Path | None = None
        self.db: Database | None = None
        self.now = 1_700_000_000.0
        self.session_totals: dict[str, float] = {}
        self.charges: list[tuple[int, int, str, float]] = []  # thread, user, day, cost
        self.told: list[tuple[Scope, str, float]] = []

    @initialize(limits=st.builds(Limits, thread_usd=limit, user_daily_usd=limit, daily_usd=limit))
    def open(self, limits: Limits) -> None:
        import tempfile

        self.path = Path(tempfile.mkdtemp()) / "spend.db"
        self.db = Database.open(self.path)
        self.limits = limits

    def teardown(self) -> None:
        if self.db is not None:
            self.db.close()

    @rule(
        thread=st.integers(1, 3),
        user=st.integers(1, 2),
        session=st.sampled_from(["s-a", "s-b", "s-c"]),
        cost=st.floats(min_value=0.0, max_value=5.0),
    )
    def turn(self, thread: int, user: int, session: str, cost: float) -> None:
        assert self.db is not None
        reported = self.session_totals.get(session, 0.0) + cost
        charged, decision = self.db.spend(
            thread_id=thread,
            session_id=session,
            user_id=user,
            reported_total=reported,
            limits=self.limits,
            now=self.now,
        )
        expected = cost if session in self.session_totals else reported
        assert charged == pytest.approx(expected, abs=1e-9)
        self.session_totals[session] = reported
        day = str(int(self.now // DAY))
        self.charges.append((thread, user, day, charged))
        for notice in decision.notices:
            key = {
                Scope.THREAD: f"t{thread}",
                Scope.USER_DAY: f"u{user}@{day}",
                Scope.ALL_DAY: f"@{day}",
            }[notice.scope]
            assert (notice.scope, key, notice.level) not in self.told
            self.told.append((notice.scope, key, notice.level))
            spent = {
                Scope.THREAD: sum(c for t, _, _, c in self.charges if t == thread),
                Scope.USER_DAY: sum(c for _, u, d, c in self.charges if u == user and d == day),
                Scope.ALL_DAY: sum(c for _, _, d, c in self.charges if d == day),
            }[notice.scope]
            assert notice.spent == pytest.approx(spent, rel=1e-9, abs=1e-9)
            assert notice.spent >= notice.level * notice.limit - 1e-9

    @rule()
    def next_day(self) -> None:
        self.now += DAY

    @rule()
    def restart(self) -> None:
        assert self.db is not None
        assert self.path is not None
        self.db.close()
        self.db = Database.open(self.path)

    @invariant()
    def threads_add_up(self) -> None:
        if self.db is None:
            return
        for thread in (1, 2, 3):
            kept = sum(c for t, _, _, c in self.charges if t == thread)
            assert self.db.thread_spent(thread) == pytest.approx(kept, abs=1e-9)


TestSpending = SpendingMachine.TestCase
TestSpending.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)


def test_usage_report_by_user_and_thread(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "u.db")
    now = 1_700_000_000.0
    for thread, user, total in ((1, 7, 0.5), (2, 7, 0.25), (3, 8, 1.0)):
        db.spend(
            thread_id=thread,
            session_id=f"s{thread}",
            user_id=user,
            reported_total=total,
            limits=Limits(),
            now=now,
        )
    report = db.usage("2023-11-14")
    assert report.total == pytest.approx(1.75)
    assert report.by_user == ((8, 1.0), (7, 0.75))
    assert report.by_thread == ((3, 1.0), (1, 0.5), (2, 0.25))
    assert db.usage("2023-11-15").total == 0.0
    db.close()
