"""The upgrade machine (A3) under random sequences of requests, clicks, command results,
drains and the passing of time: one upgrade at a time, only approvers (or a trigger) start
one, a failed command never drains or stops, and the bridge is stopped at most once, only
after a successful command and a finished (or timed-out) drain."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from bridge.sessions.approvers import Approvers
from bridge.upgrade import (
    Action,
    Announce,
    Answered,
    ApprovalExpired,
    AskApproval,
    CloseApproval,
    CommandEnded,
    DrainBoundPassed,
    Drained,
    Event,
    HoldTurns,
    Phase,
    Reply,
    Requested,
    RunCommand,
    Settings,
    Stop,
    UpgradeMachine,
)

APPROVERS = frozenset({1, 2})
APPROVER_ROLES = frozenset({50})
STRANGER = 9
role_sets = st.sampled_from([frozenset(), frozenset({50}), frozenset({60}), frozenset({50, 60})])


def is_approver(user_id: int | None, roles: frozenset[int]) -> bool:
    """The rule: listed by id, or holding an approver role (APPROVER_ROLE_IDS)."""
    return user_id is not None and (user_id in APPROVERS or bool(roles & APPROVER_ROLES))


results = st.one_of(
    st.just(CommandEnded(status=0)),
    st.builds(CommandEnded, status=st.integers(1, 255), stderr_tail=st.text(max_size=50)),
    st.builds(CommandEnded, status=st.integers(-15, -1)),
    st.just(CommandEnded(status=None, timed_out=True)),
    st.just(CommandEnded(status=0, timed_out=True)),
    st.just(CommandEnded(status=None, start_error="No such file or directory")),
)


class UpgradeMachineRules(RuleBasedStateMachine):
    @initialize(
        require_approval=st.booleans(),
        drain=st.floats(min_value=0.5, max_value=600.0),
        approval=st.floats(min_value=1.0, max_value=900.0),
    )
    def start(self, require_approval: bool, drain: float, approval: float) -> None:
        self.settings = Settings(
            approvers=Approvers(user_ids=APPROVERS, role_ids=APPROVER_ROLES),
            require_approval=require_approval,
            drain_seconds=drain,
            approval_seconds=approval,
        )
        self.machine = UpgradeMachine(self.settings)
        self.now = 1000.0
        self.tokens = 0
        self.open_token: str | None = None
        """The token of the approval buttons on screen."""
        self.approval_until: float | None = None
        self.cleared_to_run = False
        """A request that may run was accepted (and approved, if needed)."""
        self.command_running = False
        self.hold_until: float | None = None
        self.stops = 0

    # -- feeding ---------------------------------------------------------------------

    def feed(self, event: Event) -> list[Action]:
        actions = self.machine.handle(event, self.now)
        replies = [a for a in actions if isinstance(a, Reply)]
        if isinstance(event, Requested | Answered):
            assert len(replies) == 1, "every request and click gets exactly one answer"
        else:
            assert replies == []
        if self.stops:
            assert [a for a in actions if not isinstance(a, Reply)] == [], "after Stop"
        for action in actions:
            self.check(event, action)
        return actions

    def check(self, event: Event, action: Action) -> None:
        match action:
            case AskApproval(token=token, expires_at=expires_at):
                assert self.settings.require_approval
                assert isinstance(event, Requested)
                assert self.open_token is None
                self.open_token, self.approval_until = token, expires_at
                assert expires_at == self.now + self.settings.approval_seconds
            case CloseApproval(token=token):
                assert token == self.open_token
                self.open_token = None
            case RunCommand():
                assert not self.command_running, "one upgrade command at a time"
                if self.settings.require_approval:
                    assert isinstance(event, Answered)
                    assert event.approve
                    assert is_approver(event.user_id, event.role_ids)
                else:
                    assert isinstance(event, Requested)
                    assert event.trigger is not None or is_approver(event.user_id, event.role_ids)
                self.command_running = True
            case HoldTurns(until=until):
                assert isinstance(event, CommandEnded)
                assert event.succeeded
                assert self.command_running
                assert until == self.now + self.settings.drain_seconds
                self.hold_until = until
            case Stop(interrupted=interrupted):
                assert self.hold_until is not None, "never stop without a successful drain"
                if interrupted:
                    assert isinstance(event, DrainBoundPassed)
                    assert self.now >= self.hold_until
                else:
                    assert isinstance(event, Drained)
                self.stops += 1
            case Announce(what="failed", ended=ended):
                assert isinstance(event, CommandEnded)
                assert ended == event
                assert not event.succeeded
            case Reply() | Announce():
                pass

    def token(self, fresh: bool) -> str:
        if fresh or self.open_token is None:
            self.tokens += 1
            return f"t{self.tokens}"
        return self.open_token

    # -- rules -----------------------------------------------------------------------

    @rule(who=st.sampled_from([1, 2, STRANGER, None]), roles=role_sets)
    def request(self, who: int | None, roles: frozenset[int]) -> None:
        trigger = "nightly" if who is None else None
        idle_before = self.machine.phase is Phase.IDLE
        actions = self.feed(
            Requested(token=self.token(True), user_id=who, role_ids=roles, trigger=trigger)
        )
        (reply,) = [a for a in actions if isinstance(a, Reply)]
        allowed = who is None or is_approver(who, roles)
        if not idle_before or not allowed:
            assert reply.refusal is not None
            assert len(actions) == 1, "a refused request changes nothing"

    @rule(
        who=st.sampled_from([1, 2, STRANGER]),
        roles=role_sets,
        approve=st.booleans(),
        stale=st.booleans(),
    )
    def click(self, who: int, roles: frozenset[int], approve: bool, stale: bool) -> None:
        actions = self.feed(
            Answered(token=self.token(stale), user_id=who, approve=approve, role_ids=roles)
        )
        (reply,) = [a for a in actions if isinstance(a, Reply)]
        if reply.refusal is not None:
            assert len(actions) == 1
        elif not is_approver(who, roles):
            raise AssertionError("a click from no approver was accepted")

    @rule(stale=st.booleans())
    def lapse(self, stale: bool) -> None:
        before = self.open_token
        self.feed(ApprovalExpired(token=self.token(stale)))
        until = self.approval_until
        if before is not None and until is not None and self.now < until:
            assert self.open_token == before, "an approval never lapses early"

    @rule(ended=results)
    def command_ends(self, ended: CommandEnded) -> None:
        was_running = self.command_running
        actions = self.feed(ended)
        if not was_running:
            assert actions == []
        else:
            self.command_running = False
            if not ended.succeeded:
                assert self.machine.phase is Phase.IDLE
                assert not any(isinstance(a, HoldTurns | Stop) for a in actions)

    @rule()
    def drained(self) -> None:
        self.feed(Drained())

    @rule()
    def bound(self) -> None:
        self.feed(DrainBoundPassed())

    @rule(dt=st.floats(min_value=0.0, max_value=1000.0))
    def time_passes(self, dt: float) -> None:
        self.now += dt

    @precondition(lambda self: self.machine.phase is Phase.DRAINING)
    @rule()
    def bound_after_its_time(self) -> None:
        assert self.hold_until is not None
        self.now = max(self.now, self.hold_until)
        actions = self.feed(DrainBoundPassed())
        assert Stop(interrupted=True) in actions

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def stopped_at_most_once(self) -> None:
        assert self.stops <= 1
        assert (self.stops == 1) == (self.machine.phase is Phase.STOPPING)

    @invariant()
    def phase_agrees(self) -> None:
        phase: Any = self.machine.phase
        assert (phase is Phase.UPGRADING) == self.command_running
        assert (phase is Phase.AWAITING_APPROVAL) == (self.open_token is not None)


UpgradeMachineRules.TestCase.settings = settings(max_examples=300, stateful_step_count=40)
test_upgrade_machine = UpgradeMachineRules.TestCase
