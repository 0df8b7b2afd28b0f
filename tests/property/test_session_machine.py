"""SessionMachine under random inputs (hypothesis ``RuleBasedStateMachine``), no IO at all.

The test plays the actor and the world around it: it performs every order on a small
model (the limiter's slot, the ``claude`` process, the store's inbox and session status)
and feeds back only facts that world could produce (a grant only while we are queued, a
Claude event only while a process lives). The invariants are those of the process-level
lifecycle test (tests/property/test_session_lifecycle.py, kept as the integration check)
plus ones only the machine makes expressible:

* never two processes for the thread, and the machine agrees whether one lives;
* a slot is held exactly while a process works (STARTING / RUNNING) or a control
  response is about to be written, never while a human is awaited;
* the limiter and the machine agree on the slot; a grant we no longer want goes back;
* the store's session status matches the machine's state;
* every message ends ``DONE`` or ``REJECTED``, and ``REJECTED`` only with a reason (a
  stranger, typed before a /stop, or a turn that could not start), never silently;
* a turn is finished as ``done`` only with a result and exit status 0;
* a stopped notice counts exactly the messages rejected with it;
* a message typed before a /stop never reaches Claude (C9);
* a grant we no longer want is given straight back, and a prompt of an earlier run
  changes nothing but its own expiry timer;
* an expiry timer runs exactly for each unresolved prompt that expires (the live one and
  those of an earlier run), never for a prompt that is gone; a prompt that never expires
  (a question by default, C12) arms none;
* a message told twice is held once, and never both waiting and on its way to Claude;
* a result is shown (``TurnFinished.completed``) only if one arrived, and a turn that
  ends without showing one, not stopped on purpose, says it crashed;
* a session at rest is never marked for resume by the bridge (an API mark survives a
  shutdown);
* parking (budgets): a turn that used up a budget ends parked, holding no slot and
  starting nothing, messages typed meanwhile are kept, and an approval continues them;
* a message typed while a question waits (C12) answers that question: it is ``DONE``
  at once and never reaches Claude as a prompt of its own;
* parking at the usage limit: a turn that hit it ends parked with its timer armed (the
  time passed in), holding no slot; it resumes only when that timer fires (the clock is
  at the reset), by itself, with the kept messages or "please continue"; a restart
  re-arms the stored time.
"""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bridge.sessions import machine as m
from bridge.store import InboxState, SessionStatus

#: Machine state -> the store statuses it may show.
STORE_STATUS: dict[m.State, set[SessionStatus]] = {
    m.State.IDLE: {SessionStatus.IDLE},
    m.State.STOPPED: {SessionStatus.STOPPED},
    m.State.QUEUED: {SessionStatus.QUEUED},
    m.State.STARTING: {SessionStatus.QUEUED},
    m.State.RUNNING: {SessionStatus.RUNNING},
    m.State.WAITING_FOR_HUMAN: {SessionStatus.RUNNING},
    m.State.ANSWER_QUEUED: {SessionStatus.RUNNING},
    m.State.INTERRUPTING: {SessionStatus.RUNNING},
    m.State.CLOSING: {SessionStatus.RUNNING},
    m.State.SHUT_DOWN: {SessionStatus.IDLE, SessionStatus.STOPPED, SessionStatus.PARKED},
    m.State.PARKED: {SessionStatus.PARKED},
}


@attrs.define
class World:
    slot_requested: bool = False
    slot_held: bool = False
    processes: int = 0
    starting: bool = False
    closing: bool = False
    status: SessionStatus = SessionStatus.IDLE
    inbox: dict[int, InboxState] = attrs.field(factory=dict)
    may_reject: set[int] = attrs.field(factory=set)
    strangers: set[int] = attrs.field(factory=set)
    typed_before_stop: set[int] = attrs.field(factory=set)
    outcomes: list[str] = attrs.field(factory=list)
    shutdown_asks: int = 0
    shutdown_replies: int = 0
    expiry_timers: set[str] = attrs.field(factory=set)
    unresolved_prompts: set[str] = attrs.field(factory=set)
    """Prompts stored as pending (the live one and those of earlier runs)."""
    never_expire: set[str] = attrs.field(factory=set)
    """Prompts with no expiry (questions by default, C12): no timer runs for them."""
    result_seen: bool = False
    written: set[str] = attrs.field(factory=set)
    answered_questions: set[int] = attrs.field(factory=set)
    """Messages that answered a waiting question (C12)."""
    clock: float = 0.0
    usage_reset_at: float | None = None
    """The armed usage-limit timer's time (``None``: none armed)."""
    usage_resumes: int = 0


class SessionMachineTest(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sm = m.SessionMachine(stall_seconds=30.0, tick_seconds=1.0)
        self.world = World()
        self.next_id = 1
        self.next_prompt = 1
        self.result_error: bool | None = None
        self.exit_code = 0
        self.state_before = m.State.IDLE
        self.feed(m.Loaded(status=SessionStatus.IDLE, pending=(), restarted=False))

    # -- playing the actor -----------------------------------------------------------

    def feed(self, event: m.Input) -> list[m.Order]:
        self.state_before = self.sm.state
        orders = self.sm.feed(event)
        for order in orders:
            self.perform(order, orders)
        return orders

    def perform(self, order: m.Order, orders: list[m.Order]) -> None:
        w = self.world
        match order:
            case m.AcquireSlot():
                w.slot_requested = True
            case m.ReleaseSlot():
                w.slot_requested = w.slot_held = False
            case m.AnswerWithMessage(prompt_id=pid, message_id=mid):
                (prompt,) = [p for p in self.sm.prompts if p.prompt_id == pid]
                assert prompt.answered_by_message, "a permission prompt answered by text"
                assert not prompt.resolved
                assert w.inbox[mid] is InboxState.PENDING
                assert mid not in w.strangers
                w.answered_questions.add(mid)
                w.unresolved_prompts.discard(pid)  # the actor resolves it in the store
                self.feed(m.PromptResolved(pid))
            case m.StartTurn(batch=batch):
                assert not set(batch) & w.answered_questions, "an answer sent as a prompt"
                assert w.processes == 0, "a second process for one thread"
                assert w.slot_held, "a turn started without a slot"
                w.starting = True
            case m.CloseProcess():
                w.closing = True
            case m.SetInbox(message_ids=ids, state=state):
                for mid in ids:
                    before = w.inbox[mid]
                    assert before not in (InboxState.DONE, InboxState.REJECTED), (mid, before)
                    if state is InboxState.REJECTED:
                        assert mid in w.may_reject, f"message {mid} rejected without a reason"
                    if state is InboxState.DONE and mid in w.answered_questions:
                        assert before is InboxState.PENDING, (mid, before)
                    elif state is InboxState.DONE:
                        assert before is InboxState.DELIVERED, (mid, before)
                    w.inbox[mid] = state
            case m.SetStatus(status=status, resume_reason=reason):
                if reason is not None:
                    assert self.state_before not in (m.State.IDLE, m.State.STOPPED), (
                        "a session at rest marked for resume"
                    )
                w.status = status
            case m.MarkForResume(reason=reason):
                if reason is not None:
                    assert self.state_before not in (m.State.IDLE, m.State.STOPPED), (
                        "a session at rest marked for resume"
                    )
            case m.Notice(kind=m.NoticeKind.PROMPT_CANCELLED, detail=pid):
                w.unresolved_prompts.discard(pid)  # resolved in the store as cancelled
            case m.TurnFinished(outcome=outcome, completed=completed):
                if outcome == "done":
                    assert self.result_error is False, "a failed turn shown as done"
                    assert completed
                if completed:
                    assert w.result_seen, "a result shown that never arrived"
                elif outcome in ("done", "error"):
                    assert m.Notice(m.NoticeKind.CRASHED, count=self.exit_code) in orders
                w.outcomes.append(outcome)
            case m.WriteControlResponse(prompt_id=pid):
                assert w.slot_held, "an answer written without a slot"
                assert pid not in w.unresolved_prompts, f"an answer to {pid} nobody gave"
                assert pid not in w.written, f"{pid} answered twice"
                w.written.add(pid)
            case m.ArmTimer(timer=m.Timer.PROMPT_EXPIRY, key=key, delay=delay):
                assert key in w.unresolved_prompts, f"an expiry timer for a gone prompt {key}"
                assert math.isfinite(delay), "a timer for a prompt that never expires"
                assert key not in w.never_expire, f"a timer for {key}, which never expires"
                w.expiry_timers.add(key)
            case m.CancelTimer(timer=m.Timer.PROMPT_EXPIRY, key=key):
                w.expiry_timers.discard(key)
            case m.Notice(kind=m.NoticeKind.STOPPED, count=count):
                rejected = [
                    mid
                    for o in orders
                    if isinstance(o, m.SetInbox) and o.state is InboxState.REJECTED
                    for mid in o.message_ids
                    if mid in self.world.typed_before_stop
                ]
                assert count == len(rejected)
            case m.ReplyShutdown():
                w.shutdown_replies += 1
            case m.ArmTimer(timer=m.Timer.USAGE_RESET, delay=delay):
                assert delay >= 0
                assert self.sm.state is m.State.PARKED, "a usage timer while not parked"
                w.usage_reset_at = w.clock + delay
            case m.CancelTimer(timer=m.Timer.USAGE_RESET):
                w.usage_reset_at = None
            case m.Notice(kind=m.NoticeKind.USAGE_RESUMED):
                w.usage_resumes += 1
            case _:
                pass

    # -- facts the world can produce -------------------------------------------------

    @precondition(lambda self: bool(self.sm.pending) or bool(self.sm.batch))
    @rule(data=st.data())
    def message_told_again(self, data: st.DataObject) -> None:
        """The router tells a message the session already read from the store."""
        mid = data.draw(st.sampled_from([*self.sm.pending, *self.sm.batch]))
        self.feed(m.MessageStored(mid, True))

    @rule(allowed=st.booleans())
    def message(self, allowed: bool) -> None:
        mid = self.next_id
        self.next_id += 1
        self.world.inbox[mid] = InboxState.PENDING
        if not allowed:
            self.world.may_reject.add(mid)
            self.world.strangers.add(mid)
        self.feed(m.MessageStored(mid, allowed))

    @precondition(lambda self: self.world.slot_requested and not self.world.slot_held)
    @rule()
    def grant(self) -> None:
        self.world.slot_held = True
        if any(isinstance(o, m.ConfirmGrant) for o in self.feed(m.SlotGranted())):
            self.feed(m.GrantConfirmed(current=self.world.slot_held))

    def _stale_grant(self) -> None:
        held = self.world.slot_held
        orders = self.feed(m.SlotGranted())
        if not self.sm.wants_slot and not held:
            assert orders == [m.ReleaseSlot()]
        for order in orders:
            if isinstance(order, m.ConfirmGrant):
                self.feed(m.GrantConfirmed(current=self.world.slot_held))

    def _queue_position(self) -> None:
        self.feed(m.QueuePositionIs(2, 1))

    @precondition(lambda self: self.world.starting)
    @rule(ok=st.booleans())
    def process_started(self, ok: bool) -> None:
        self.world.starting = False
        stopped = set(self.sm.batch) & self.world.typed_before_stop
        assert not stopped, f"messages typed before a /stop reach Claude: {stopped}"
        if ok:
            self.world.processes += 1
            for mid in self.sm.batch:
                self.world.inbox[mid] = InboxState.DELIVERED
            self.result_error = None
            self.feed(m.TurnStarted())
        else:
            self.world.may_reject.update(self.sm.batch)
            self.feed(m.StartFailed("no such file"))

    def _live(self) -> bool:
        return self.world.processes > 0 and not self.world.closing

    def _claude_activity(self) -> None:
        if self.world.processes:
            self.feed(m.ClaudeActivity())

    def _stall_check(self) -> None:
        for silent in (5.0, 45.0):
            self.feed(m.StallCheck(silent))

    @precondition(lambda self: self._live())
    @rule(question=st.booleans(), expires=st.booleans())
    def permission(self, question: bool, expires: bool) -> None:
        if self.sm.state is m.State.CLOSING:
            return  # the CLI asks only while it works (several requests at once, too)
        orphans = sorted(self.sm.orphans)
        if orphans:
            pid = orphans[0]  # the resumed turn asks what an earlier run's prompt shows
            expires = pid not in self.world.never_expire
        else:
            pid = f"p{self.next_prompt}"
            self.next_prompt += 1
            self.world.unresolved_prompts.add(pid)
            if not expires:
                self.world.never_expire.add(pid)
        timeout = 300.0 if expires else math.inf
        orders = self.feed(
            m.PermissionAsked(pid, f"r-{pid}", timeout, answered_by_message=question)
        )
        armed = [o for o in orders if isinstance(o, m.ArmTimer)]
        assert len(armed) == (1 if expires else 0)

    @precondition(lambda self: self._live())
    @rule()
    def answered_before(self) -> None:
        """The resumed turn asks what a prompt answered after a restart already answers."""
        if self.sm.state is m.State.CLOSING:
            return
        pid = f"a{self.next_prompt}"
        self.next_prompt += 1
        self.feed(m.PermissionAnsweredBefore(pid, f"r-{pid}"))

    @precondition(lambda self: bool(self.world.unresolved_prompts))
    @rule(data=st.data())
    def prompt_resolved(self, data: st.DataObject) -> None:
        """Answered or expired (the store resolves a prompt once)."""
        pid = data.draw(st.sampled_from(sorted(self.world.unresolved_prompts)))
        self.world.unresolved_prompts.discard(pid)
        self.feed(m.PromptResolved(pid))

    def _orphan_prompt_resolved(self) -> None:
        """A prompt of an earlier run answered or expired: nothing to write."""
        orders = self.feed(m.PromptResolved("p-of-an-earlier-run"))
        assert orders == []

    @precondition(lambda self: self._live() and bool(self.sm.prompts))
    @rule(data=st.data())
    def control_cancel(self, data: st.DataObject) -> None:
        prompt = data.draw(st.sampled_from(self.sm.prompts))
        self.feed(m.ControlCancelled(prompt.request_id))

    @precondition(lambda self: self._live())
    @rule()
    def total_timeout(self) -> None:
        self.feed(m.TotalTimeout())

    @precondition(lambda self: self._live())
    @rule(error=st.booleans(), resume_failed=st.booleans())
    def result(self, error: bool, resume_failed: bool) -> None:
        self.result_error = error
        self.world.result_seen = True
        self.feed(m.ClaudeResult(error=error, resume_failed=resume_failed))

    @precondition(lambda self: self.world.processes > 0)
    @rule(code=st.sampled_from([0, 1, 2, -9]))
    def exited(self, code: int) -> None:
        self.world.processes -= 1
        if code != 0:
            self.result_error = True
        elif self.result_error is None:
            self.result_error = True  # no result at all: never "done"
        self.exit_code = code
        self.feed(m.ClaudeExited(code))
        self.world.closing = False
        self.world.result_seen = False
        self.result_error = None

    @precondition(lambda self: self.sm.state is not m.State.SHUT_DOWN)
    @rule(allowed=st.booleans())
    def stop(self, allowed: bool) -> None:
        if allowed and self.sm.state not in (m.State.IDLE, m.State.STOPPED, m.State.SHUT_DOWN):
            self.world.may_reject.update(self.sm.pending)
            self.world.typed_before_stop.update(self.sm.pending)
        self.feed(m.Stop(allowed))

    def _resume(self) -> None:
        self.feed(m.Resume("restart"))

    @rule()
    def budget_exhausted(self) -> None:
        """The running turn's cost used up a budget (fed before its result)."""
        self.feed(m.BudgetExhausted("this thread's budget is used up"))

    @rule()
    def approve(self) -> None:
        """An approver's click (in any state: a stale button changes nothing)."""
        parked = self.sm.state is m.State.PARKED
        pending = list(self.sm.pending)
        self.feed(m.Unpark("approved"))
        if parked:
            assert self.sm.state is (m.State.QUEUED if pending else m.State.IDLE)

    @precondition(lambda self: self.sm.has_process)
    @rule(resume_in=st.floats(0, 1000), reported=st.booleans())
    def usage_limited(self, resume_in: float, reported: bool) -> None:
        """The running turn hit the usage limit (fed before its result)."""
        self.feed(m.UsageLimited(resume_in, "15:20 UTC", reported=reported))

    @precondition(lambda self: self._live())
    @rule(resume_in=st.floats(0, 1000), typed=st.booleans())
    def turn_hits_the_usage_limit(self, resume_in: float, typed: bool) -> None:
        """The whole ending at once (as the real CLI does it: the 429 result, exit 1), so
        that parking at the usage limit is reached often."""
        self.usage_limited(resume_in, reported=False)
        if typed:
            self.message(allowed=True)
        self.result(error=True, resume_failed=False)
        if self.world.processes:
            self.exited(1)
        event(f"after a usage-limit turn: {self.sm.state.name}")

    def _usage_limited_elsewhere(self) -> None:
        """Out of a turn it changes nothing."""
        if not self.sm.has_process:
            before = self.sm.state
            self.feed(m.UsageLimited(5.0, "15:20 UTC", reported=False))
            assert self.sm.state is before

    @precondition(lambda self: self.world.usage_reset_at is not None)
    @rule(typed=st.integers(0, 2))
    def usage_reset(self, typed: int) -> None:
        """Time passes (messages typed meanwhile are kept) until the usage timer fires."""
        w = self.world
        for _ in range(typed):
            self.message(allowed=True)
            assert self.sm.state is m.State.PARKED
        assert w.usage_reset_at is not None
        w.clock = max(w.clock, w.usage_reset_at)
        w.usage_reset_at = None
        pending, carry_on = bool(self.sm.pending), self.sm.please_continue
        self.feed(m.UsageReset())
        event(f"usage timer fired in {self.state_before.name}")
        if self.state_before is m.State.PARKED:
            assert self.sm.state is (m.State.QUEUED if pending or carry_on else m.State.IDLE)

    @rule()
    def stale_usage_reset(self) -> None:
        """A usage timer's firing when none is armed (cancelled, or not ours): ignored."""
        if self.world.usage_reset_at is None:
            before = self.sm.state
            self.feed(m.UsageReset())
            assert self.sm.state is before

    @precondition(lambda self: self.sm.state is not m.State.SHUT_DOWN)
    @rule()
    def shutdown(self) -> None:
        self.world.shutdown_asks += 1
        self.feed(m.Shutdown())

    @precondition(lambda self: self.sm.state is m.State.SHUT_DOWN and not self.world.processes)
    @rule(crashed=st.booleans())
    def restart(self, crashed: bool) -> None:
        """A new incarnation loads what the store kept (A4); the app resumes it."""
        w = self.world
        w.slot_requested = w.slot_held = w.starting = w.closing = False
        w.shutdown_asks = w.shutdown_replies = 0
        left = tuple(
            mid
            for mid, state in w.inbox.items()
            if state in (InboxState.PENDING, InboxState.DELIVERED) and mid not in w.strangers
        )
        w.expiry_timers = set()  # timers end with the incarnation
        stored = w.usage_reset_at  # the store keeps the usage-limit time
        w.usage_reset_at = None
        usage_in = stored - w.clock if stored is not None and self.sm.parked_usage else None
        self.sm = m.SessionMachine(stall_seconds=30.0, tick_seconds=1.0)
        self.feed(
            m.Loaded(
                status=w.status,
                pending=left,
                restarted=crashed,
                prompts=tuple(
                    (pid, math.inf if pid in w.never_expire else 60.0)
                    for pid in sorted(w.unresolved_prompts)
                ),
                usage_resume_in=usage_in,
            )
        )
        if usage_in is not None:
            assert w.usage_reset_at == stored, "a restart lost the usage-limit time"
        self.feed(m.Resume("restart"))

    @precondition(lambda self: self.sm.state is not m.State.SHUT_DOWN)
    @rule(
        kind=st.sampled_from(
            ["grant", "position", "activity", "stall", "orphan", "resume", "usage elsewhere"]
        )
    )
    def noise(self, kind: str) -> None:
        """Facts that change little: one rule, so they do not crowd out the turns."""
        {
            "grant": self._stale_grant,
            "position": self._queue_position,
            "activity": self._claude_activity,
            "stall": self._stall_check,
            "orphan": self._orphan_prompt_resolved,
            "resume": self._resume,
            "usage elsewhere": self._usage_limited_elsewhere,
        }[kind]()

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def an_expiry_timer_for_each_unresolved_prompt(self) -> None:
        sm, w = self.sm, self.world
        open_ = {p.prompt_id for p in sm.prompts if not p.resolved}
        expected = (set(sm.orphans) | open_) - w.never_expire
        assert w.expiry_timers == expected, (w.expiry_timers, expected, sm.state)
        assert expected <= w.unresolved_prompts

    @invariant()
    def waiting_means_a_human_is_awaited(self) -> None:
        sm = self.sm
        if sm.state is m.State.WAITING_FOR_HUMAN:
            assert any(not p.resolved for p in sm.prompts), sm.prompts
        if sm.state is m.State.ANSWER_QUEUED:
            assert all(p.resolved for p in sm.prompts), sm.prompts

    @invariant()
    def a_wait_starts_only_with_no_open_prompt(self) -> None:
        sm = self.sm
        assert sm.starts_waiting == all(p.resolved for p in sm.prompts), sm.prompts

    @invariant()
    def a_message_held_once(self) -> None:
        sm = self.sm
        assert len(sm.pending) == len(set(sm.pending)), sm.pending
        assert not set(sm.pending) & set(sm.batch), (sm.pending, sm.batch)

    @invariant()
    def one_process_and_agreement(self) -> None:
        w = self.world
        assert w.processes <= 1
        if w.starting:
            assert self.sm.state is m.State.STARTING
        else:
            assert self.sm.has_process == (w.processes == 1), (self.sm.state, w.processes)

    @invariant()
    def slot_held_exactly_while_working(self) -> None:
        sm, w = self.sm, self.world
        assert sm.holding_slot == w.slot_held, (sm.state, sm.holding_slot, w.slot_held)
        if sm.state in (m.State.STARTING, m.State.RUNNING):
            assert sm.holding_slot, sm.state
        if sm.state in (m.State.WAITING_FOR_HUMAN, m.State.ANSWER_QUEUED, m.State.QUEUED):
            assert not sm.holding_slot, sm.state
        if sm.holding_slot:
            assert sm.has_process or sm.state is m.State.STARTING, sm.state
        if sm.state in (m.State.QUEUED, m.State.ANSWER_QUEUED):
            assert w.slot_requested or w.slot_held, "waiting for a slot nobody will grant"
        if w.slot_requested and not w.slot_held:
            # In the limiter's queue only while we want a slot: a stale place would take
            # a slot from a session that needs it.
            assert sm.state in (m.State.QUEUED, m.State.ANSWER_QUEUED), sm.state

    @invariant()
    def status_consistent(self) -> None:
        assert self.world.status in STORE_STATUS[self.sm.state], (
            self.sm.state,
            self.world.status,
        )
        expected = {
            "running": self.sm.holding_slot or self.sm.state is m.State.CLOSING,
            "queued": self.sm.state is m.State.QUEUED,
            "stopped": self.sm.state is m.State.STOPPED,
        }
        for status, holds in expected.items():
            if holds:
                assert self.sm.status == status, (self.sm.state, self.sm.status)

    @invariant()
    def parked_holds_nothing(self) -> None:
        sm, w = self.sm, self.world
        if sm.state is m.State.PARKED:
            assert not sm.holding_slot
            assert not w.slot_requested
            assert not w.slot_held
            assert not w.processes
            assert sm.status == "parked"

    @invariant()
    def parked_at_the_usage_limit_waits_for_its_timer(self) -> None:
        sm, w = self.sm, self.world
        if sm.state is m.State.PARKED and sm.parked_usage:
            assert w.usage_reset_at is not None, "parked at the usage limit with no timer"
        if w.usage_reset_at is not None:
            assert sm.parked_usage
            assert sm.state in (m.State.PARKED, m.State.SHUT_DOWN), sm.state

    @invariant()
    def shutdown_answered_once_idle(self) -> None:
        w = self.world
        if self.sm.state is m.State.SHUT_DOWN:
            assert w.shutdown_replies == w.shutdown_asks
        else:
            assert w.shutdown_replies <= w.shutdown_asks

    @invariant()
    def messages_accounted_for(self) -> None:
        sm, w = self.sm, self.world
        for mid, state in w.inbox.items():
            if mid in w.answered_questions:
                assert state is InboxState.DONE, (mid, state)
                assert mid not in sm.pending
                assert mid not in sm.batch
            elif state is InboxState.PENDING and mid not in w.may_reject:
                assert mid in sm.pending or mid in sm.batch or sm.shutting_down, (
                    mid,
                    sm.state,
                )

    def teardown(self) -> None:
        """Let the world run to rest; then every message is DONE or REJECTED."""
        sm, w = self.sm, self.world
        for _ in range(200):
            if w.starting:
                self.process_started(ok=True)
            elif w.closing:
                self.exited(0)
            elif w.processes:
                open_ = [p for p in sm.prompts if not p.resolved]
                if open_:
                    w.unresolved_prompts.discard(open_[0].prompt_id)
                    self.feed(m.PromptResolved(open_[0].prompt_id))
                elif sm.state is m.State.ANSWER_QUEUED and w.slot_requested:
                    self.grant()
                else:
                    self.result(error=False, resume_failed=False)
            elif w.slot_requested and not w.slot_held:
                self.grant()
            elif sm.state is m.State.PARKED and w.usage_reset_at is not None:
                self.usage_reset(typed=0)
            elif sm.state is m.State.PARKED:
                self.approve()
            else:
                break
        assert not w.processes
        assert not w.starting
        assert sm.state in (m.State.IDLE, m.State.STOPPED, m.State.SHUT_DOWN), sm.state
        for mid, state in w.inbox.items():
            if sm.state is m.State.SHUT_DOWN and state is InboxState.PENDING:
                continue  # kept for the next start (A4)
            assert state in (InboxState.DONE, InboxState.REJECTED), (mid, state)


SessionMachineTest.TestCase.settings = settings(max_examples=500, stateful_step_count=60)
TestSessionMachine = SessionMachineTest.TestCase


def test_an_illegal_input_names_the_state_and_the_input() -> None:
    sm = m.SessionMachine(stall_seconds=30.0, tick_seconds=1.0)
    with pytest.raises(m.IllegalInput, match=r"IDLE cannot take ClaudeResult"):
        sm.feed(m.ClaudeResult(error=False))


def test_a_result_then_a_non_zero_exit_is_an_error() -> None:
    sm = m.SessionMachine(stall_seconds=30.0, tick_seconds=1.0)
    sm.feed(m.MessageStored(1, allowed=True))
    sm.feed(m.SlotGranted())
    sm.feed(m.GrantConfirmed(current=True))
    sm.feed(m.TurnStarted())
    sm.feed(m.ClaudeResult(error=False))
    orders = sm.feed(m.ClaudeExited(2))
    assert m.TurnFinished("error") in orders
    assert m.SetInbox((1,), InboxState.DONE) in orders


def test_a_recorded_message_is_not_sent_again_after_a_crash() -> None:
    sm = m.SessionMachine(stall_seconds=30.0, tick_seconds=1.0)
    orders = sm.feed(
        m.Loaded(status=SessionStatus.RUNNING, pending=(7,), restarted=True, recorded=(7,))
    )
    assert m.SetInbox((7,), InboxState.DONE) in orders
    sm.feed(m.SlotGranted())
    start = sm.feed(m.GrantConfirmed(current=True))
    assert m.StartTurn((), please_continue=True) in start


def _running_turn() -> m.SessionMachine:
    sm = m.SessionMachine(stall_seconds=30.0, tick_seconds=1.0)
    sm.feed(m.MessageStored(1, allowed=True))
    sm.feed(m.SlotGranted())
    sm.feed(m.GrantConfirmed(current=True))
    sm.feed(m.TurnStarted())
    return sm


def test_a_message_typed_while_a_question_waits_answers_it() -> None:
    sm = _running_turn()
    orders = sm.feed(m.PermissionAsked("q1", "r1", math.inf, answered_by_message=True))
    assert m.ReleaseSlot() in orders
    assert not any(isinstance(o, m.ArmTimer) for o in orders)  # never expires
    assert sm.state is m.State.WAITING_FOR_HUMAN
    orders = sm.feed(m.MessageStored(2, allowed=True))
    assert orders == [m.AnswerWithMessage("q1", 2), m.SetInbox((2,), InboxState.DONE)]
    assert sm.pending == []
    assert sm.state is m.State.WAITING_FOR_HUMAN  # until the actor feeds PromptResolved
    assert m.AcquireSlot() in sm.feed(m.PromptResolved("q1"))
    assert sm.state is m.State.ANSWER_QUEUED
    # Once answered, a further message is an ordinary one: it interrupts.
    orders = sm.feed(m.MessageStored(3, allowed=True))
    assert m.Interrupt(m.InterruptReason.MESSAGE) in orders
    assert sm.pending == [3]


def test_a_message_typed_while_a_permission_waits_interrupts() -> None:
    sm = _running_turn()
    sm.feed(m.PermissionAsked("p1", "r1", 120.0))
    orders = sm.feed(m.MessageStored(2, allowed=True))
    assert m.Interrupt(m.InterruptReason.MESSAGE) in orders
    assert not any(isinstance(o, m.AnswerWithMessage) for o in orders)
    # A stranger's message never answers a question.
    sm = _running_turn()
    sm.feed(m.PermissionAsked("q1", "r1", math.inf, answered_by_message=True))
    orders = sm.feed(m.MessageStored(2, allowed=False))
    assert orders == [m.SetInbox((2,), InboxState.REJECTED)]


def test_the_owner_is_pinged_once_per_wait_not_per_prompt() -> None:
    sm = _running_turn()
    assert sm.starts_waiting
    sm.feed(m.PermissionAsked("p1", "r1", 120.0))
    assert not sm.starts_waiting  # a parallel tool call's prompt joins the same wait
    sm.feed(m.PermissionAsked("p2", "r2", 120.0))
    sm.feed(m.PromptResolved("p1"))
    assert not sm.starts_waiting  # p2 still waits
    sm.feed(m.PromptResolved("p2"))
    assert sm.starts_waiting  # the next prompt starts a new wait
