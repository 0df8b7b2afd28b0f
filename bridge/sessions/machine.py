"""SessionMachine: every decision of one thread's session, with no IO (sans-IO, like h11).

Theory of operation
-------------------
The session actor reads its mailbox, turns each message into one *input* (a fact: a
message was stored, a slot was granted, Claude sent its result, a timer fired) and calls
:meth:`SessionMachine.feed`. The machine changes state and returns *orders* (acquire or
release a slot, start a turn with this batch, write a control response, interrupt, show
a notice, set inbox states and the session status, arm or cancel a timer, answer the
shutdown ask). The actor performs the orders and decides nothing itself. Nothing here
reads a clock, the store, Discord or a process: times and answers come in as inputs.

It lives in ``bridge/sessions`` rather than ``protocol/`` because it speaks the bridge's
own vocabulary (the store's inbox and session states, the limiter's slots), not a wire
protocol.

States and transitions (``_TABLE`` below is the executable form; any pair not listed is
an illegal input and raises :class:`IllegalInput` naming both)::

    state              input                     next state         main orders
    -----------------  ------------------------  -----------------  ---------------------------
    IDLE               Loaded                    IDLE/STOPPED/QUEUED  recorded DONE, orphan timers
    IDLE/STOPPED       MessageStored (allowed)   QUEUED             AcquireSlot, status QUEUED
    any                MessageStored (stranger)  same               SetInbox REJECTED
    IDLE/STOPPED       Resume                    QUEUED             Notice, MarkForResume(None),
                                                                    AcquireSlot
    IDLE               Stop                      IDLE               Notice "nothing to stop"
    QUEUED             SlotGranted               QUEUED             ConfirmGrant (stale check)
    QUEUED             GrantConfirmed(current)   STARTING           StartTurn(batch)
    QUEUED             Stop                      STOPPED            ReleaseSlot, REJECTED, Notice
    STARTING           TurnStarted               RUNNING            inbox DELIVERED, status RUNNING
    STARTING           StartFailed               IDLE               ReleaseSlot, REJECTED, Notice
    RUNNING/           PermissionAsked           WAITING_FOR_HUMAN  ReleaseSlot (or leave the
      ANSWER_QUEUED                                                 queue), ArmTimer(expiry)
                                                                    (none: never expires)
    WAITING_FOR_HUMAN  PermissionAsked           WAITING_FOR_HUMAN  ArmTimer(expiry) (several
                                                                    requests at once)
    WAITING_FOR_HUMAN  MessageStored (a question WAITING_FOR_HUMAN  AnswerWithMessage, DONE (C12)
                         waits)
    any turn state     PermissionAnsweredBefore  same               WriteControlResponse if the
                                                                    slot is held, else kept as
                                                                    an answered request
    WAITING_FOR_HUMAN  PromptResolved (the last  ANSWER_QUEUED      AcquireSlot
                         open one) / ControlCancelled
    ANSWER_QUEUED      GrantConfirmed(current)   RUNNING            WriteControlResponse (each)
    RUNNING/WAITING/   MessageStored             INTERRUPTING       Notice, Interrupt(MESSAGE)
      ANSWER_QUEUED    Stop / TotalTimeout       INTERRUPTING       Interrupt(STOP / TIMEOUT)
                       Shutdown                  INTERRUPTING       Interrupt(SHUTDOWN)
    any turn state     ClaudeResult              CLOSING            CloseProcess
    CLOSING            ClaudeResult/TotalTimeout CLOSING            (none: the result is in)
    any turn state     ClaudeExited              IDLE/QUEUED/...    see "ending a turn"
    CLOSING            ClaudeExited              IDLE/QUEUED/...    see "ending a turn"
    IDLE/QUEUED/       Shutdown                  SHUT_DOWN          ReplyShutdown (QUEUED: also
      STOPPED                                                       ReleaseSlot, status IDLE
                                                                    marked "shutdown")
    SHUT_DOWN          MessageStored             SHUT_DOWN          Notice (it stays pending)
    any                PromptResolved (orphan)   same               CancelTimer(expiry)
    any turn state     BudgetExhausted           (same)             park when the turn ends
    PARKED             MessageStored             PARKED             kept; Notice once
    PARKED             Stop                      PARKED             kept ones REJECTED, Notice
    PARKED             Unpark                    QUEUED / IDLE      Notice, AcquireSlot if any wait
    PARKED             Shutdown                  SHUT_DOWN          ReplyShutdown (stays parked)
    any turn state     UsageLimited              (same)             park when the turn ends
    PARKED (usage)     UsageReset                QUEUED / IDLE      Notice, AcquireSlot if any wait
                                                                    or the turn was cut off

Parking (budgets, issue 13): a turn whose cost used up a budget ends as usual, then the
session is ``PARKED`` instead of ``IDLE`` (status ``parked``): it holds no slot, and
messages typed meanwhile are kept, not run; ``Unpark`` (an approver's click) continues
them. A restart keeps it parked (``Loaded`` with status ``parked``).

Usage-limit parking (issue 13): a turn that ended on the account's usage limit
(``UsageLimited``, fed before its ``result``) parks the same way, with a timer
(``Timer.USAGE_RESET``, the delay passed in: the actor and the store chose the time) in
place of the approver. When it fires (``UsageReset``) the session continues: the kept
messages, or "please continue" for the cut-off turn. A restart re-arms it (``Loaded``
with ``usage_resume_in``). A budget used up in the same turn wins: a human decides.

Ending a turn: the turn's messages become ``DONE`` (the CLI recorded them), the slot is
given back, a live prompt is cancelled, then: shutting down → ``SHUT_DOWN`` (marked for
resume); after /stop → messages typed before it are ``REJECTED`` and the session is
``STOPPED`` unless later ones wait; messages waiting → ``QUEUED`` (C21); a timeout →
``STOPPED``; otherwise ``IDLE``. A turn is shown as finished only when its ``result``
arrived *and* the process exited 0: a bare ``result`` followed by a non-zero exit is an
error (issue 10, 7), shown as a crash (``TurnFinished.completed`` false).

Slots: a grant can arrive after we stopped wanting it (a grant sent just before we left
the queue), so a grant is answered with :class:`ConfirmGrant` (the actor asks the
limiter) when wanted and given straight back (:class:`ReleaseSlot`) when not.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Final

import attrs

from bridge.store import InboxState, SessionStatus

__all__ = [
    "AcquireSlot",
    "AnswerWithMessage",
    "ArmTimer",
    "BudgetExhausted",
    "CancelTimer",
    "ClaudeActivity",
    "ClaudeExited",
    "ClaudeResult",
    "CloseProcess",
    "ConfirmGrant",
    "ControlCancelled",
    "GrantConfirmed",
    "IllegalInput",
    "Input",
    "Interrupt",
    "InterruptReason",
    "Loaded",
    "MarkForResume",
    "MessageStored",
    "Notice",
    "NoticeKind",
    "Order",
    "PermissionAnsweredBefore",
    "PermissionAsked",
    "PromptResolved",
    "QueuePositionIs",
    "ReleaseSlot",
    "ReplyShutdown",
    "Resume",
    "SessionMachine",
    "SetInbox",
    "SetStatus",
    "Shutdown",
    "SlotGranted",
    "StallCheck",
    "StartFailed",
    "StartTurn",
    "State",
    "Stop",
    "Timer",
    "TotalTimeout",
    "TurnFinished",
    "TurnStarted",
    "Unpark",
    "UsageLimited",
    "UsageReset",
    "WriteControlResponse",
]


class State(enum.Enum):
    IDLE = "idle"
    """No process, nothing waiting; the next message starts a turn."""
    STOPPED = "stopped"
    """Like IDLE, after /stop or a timeout (resumable)."""
    QUEUED = "queued"
    """Messages wait for a concurrency slot."""
    STARTING = "starting"
    """A slot is held and the actor is starting the ``claude`` process."""
    RUNNING = "running"
    """A process works on a turn and holds a slot."""
    WAITING_FOR_HUMAN = "waiting_for_human"
    """The process waits for a prompt's answer; the slot is given back (C8)."""
    ANSWER_QUEUED = "answer_queued"
    """The prompt is resolved; a slot is awaited to write the control response."""
    INTERRUPTING = "interrupting"
    """An interrupt was sent; the turn's ``result`` or exit is awaited."""
    CLOSING = "closing"
    """The ``result`` arrived; the process is closing and its exit code is awaited."""
    SHUT_DOWN = "shut_down"
    """Prepared for shutdown: nothing more starts in this incarnation."""
    PARKED = "parked"
    """Over a budget: no slot, no process; messages wait until ``Unpark``."""


class InterruptReason(enum.Enum):
    MESSAGE = "message"
    STOP = "stop"
    TIMEOUT = "timeout"
    SHUTDOWN = "shutdown"


class Timer(enum.Enum):
    STALL = "stall"
    TOOL_TICK = "tool_tick"
    PROMPT_EXPIRY = "prompt_expiry"
    USAGE_RESET = "usage_reset"
    """Parked at the usage limit: try again (the delay is chosen outside the machine)."""


class NoticeKind(enum.Enum):
    INTERRUPTING = "interrupting"
    NOTHING_TO_STOP = "nothing_to_stop"
    STOPPED = "stopped"
    SHUTTING_DOWN = "shutting_down"
    RESUMED = "resumed"
    CRASHED = "crashed"
    START_FAILED = "start_failed"
    QUEUE = "queue"
    HELD = "held"
    """The queue notice while an upgrade drains the bridge (A3): it waits for the restart."""
    CLEAR_QUEUE = "clear_queue"
    STALL = "stall"
    CLEAR_STALL = "clear_stall"
    TIMED_OUT = "timed_out"
    RESTARTED_CONVERSATION = "restarted_conversation"
    PROMPT_CANCELLED = "prompt_cancelled"
    PARKED = "parked"
    """``detail``: why (which budget is used up)."""
    KEPT_WHILE_PARKED = "kept_while_parked"
    UNPARKED = "unparked"
    """``detail``: who let it continue, and how."""
    PARKED_USAGE = "parked_usage"
    """``detail``: when it tries again (``15:20 UTC``); ``count`` 1: that is the reset the
    CLI reported, 0: no reset is known, it is a retry."""
    USAGE_RESUMED = "usage_resumed"


# -- inputs -------------------------------------------------------------------------------


@attrs.frozen
class Loaded:
    """The actor read the store at start."""

    status: SessionStatus
    pending: tuple[int, ...]
    restarted: bool
    """A crash restarted this actor (incarnation > 1)."""
    recorded: tuple[int, ...] = ()
    """Pending messages of a cut-off turn that the CLI's session file already holds:
    sending them again would show them twice in the conversation."""
    prompts: tuple[tuple[str, float], ...] = ()
    """Unanswered prompts of an earlier run and the seconds until each expires: they stay
    answerable (and a resumed turn asking the same adopts one) until then."""
    usage_resume_in: float | None = None
    """Parked at the usage limit: the seconds until it tries again (maybe negative: the
    time passed while the bridge was down)."""


@attrs.frozen
class MessageStored:
    message_id: int
    allowed: bool


@attrs.frozen
class SlotGranted:
    pass


@attrs.frozen
class GrantConfirmed:
    current: bool
    """Whether the limiter really counts this thread as running."""


@attrs.frozen
class QueuePositionIs:
    position: int
    running: int
    held: bool = False
    """The limiter grants nothing until the bridge restarts (an upgrade's drain, A3)."""


@attrs.frozen
class TurnStarted:
    pass


@attrs.frozen
class StartFailed:
    error: str


@attrs.frozen
class ClaudeActivity:
    """Any event from the running process (it is not silent)."""


@attrs.frozen
class PermissionAsked:
    """A prompt to a human is shown (a permission, or a question: C12)."""

    prompt_id: str
    request_id: str
    timeout: float
    """Seconds until it expires; ``math.inf``: never (no timer is armed)."""
    answered_by_message: bool = False
    """A question: a message typed in the thread while it waits answers it (C12)."""


@attrs.frozen
class PermissionAnsweredBefore:
    """A request that a prompt answered after its asking process was gone (a restart)
    answers: same tool, same input. Nobody is asked again."""

    prompt_id: str
    request_id: str


@attrs.frozen
class PromptResolved:
    """Answered or expired (resolved once, in the store)."""

    prompt_id: str


@attrs.frozen
class ControlCancelled:
    request_id: str


@attrs.frozen
class TotalTimeout:
    pass


@attrs.frozen
class StallCheck:
    silent_for: float


@attrs.frozen
class ClaudeResult:
    error: bool
    resume_failed: bool = False


@attrs.frozen
class ClaudeExited:
    returncode: int


@attrs.frozen
class Stop:
    allowed: bool


@attrs.frozen
class Shutdown:
    pass


@attrs.frozen
class Resume:
    reason: str


@attrs.frozen
class BudgetExhausted:
    """The running turn's cost used up a budget: park when the turn ends."""

    why: str


@attrs.frozen
class Unpark:
    """An approver let the parked session continue."""

    why: str


@attrs.frozen
class UsageLimited:
    """The running turn ended on the account's usage limit: park when it ends, and try
    again in ``resume_in`` seconds (at ``until``, as shown)."""

    resume_in: float
    until: str
    reported: bool
    """``until`` is the reset the CLI reported (else a retry time of our own)."""


@attrs.frozen
class UsageReset:
    """The usage-limit timer fired."""


Input = (
    Loaded
    | MessageStored
    | SlotGranted
    | GrantConfirmed
    | QueuePositionIs
    | TurnStarted
    | StartFailed
    | ClaudeActivity
    | PermissionAsked
    | PermissionAnsweredBefore
    | PromptResolved
    | ControlCancelled
    | TotalTimeout
    | StallCheck
    | ClaudeResult
    | ClaudeExited
    | Stop
    | Shutdown
    | Resume
    | BudgetExhausted
    | Unpark
    | UsageLimited
    | UsageReset
)


# -- orders -------------------------------------------------------------------------------


@attrs.frozen
class AcquireSlot:
    pass


@attrs.frozen
class ReleaseSlot:
    pass


@attrs.frozen
class ConfirmGrant:
    """Ask the limiter whether the grant is current; feed :class:`GrantConfirmed`."""


@attrs.frozen
class StartTurn:
    batch: tuple[int, ...]
    please_continue: bool
    """No message waits: send the resume prompt ("please continue") instead."""
    fresh_conversation: bool = False
    """The stored conversation could not be resumed: do not pass ``--resume``."""
    after_usage_limit: bool = False
    """It continues a turn the account's usage limit cut off (the resume prompt says so)."""


@attrs.frozen
class WriteControlResponse:
    prompt_id: str
    request_id: str


@attrs.frozen
class AnswerWithMessage:
    """Resolve the waiting question with this stored message's text as the answer, say
    so, then feed :class:`PromptResolved` (C12). The message never reaches Claude as a
    prompt of its own."""

    prompt_id: str
    message_id: int


@attrs.frozen
class Interrupt:
    reason: InterruptReason


@attrs.frozen
class CloseProcess:
    """Close stdin and let a helper wait for the exit (never in the actor's loop)."""


@attrs.frozen
class Notice:
    kind: NoticeKind
    count: int = 0
    detail: str = ""


@attrs.frozen
class SetInbox:
    message_ids: tuple[int, ...]
    state: InboxState


@attrs.frozen
class SetStatus:
    status: SessionStatus
    resume_reason: str | None = None
    """Also mark the session for resume with this reason; ``None`` leaves the mark as it
    is (the API may have set one)."""


@attrs.frozen
class MarkForResume:
    """Record in the store that the next start resumes this session (``None``: clear the
    mark, the resume happened)."""

    reason: str | None


@attrs.frozen
class ArmTimer:
    timer: Timer
    delay: float
    key: str = ""


@attrs.frozen
class CancelTimer:
    timer: Timer
    key: str = ""


@attrs.frozen
class TurnFinished:
    """Show the turn as ended (its completion embed, the final reaction) and tell the
    coordinator."""

    outcome: str
    """``done``, ``error``, ``interrupted``, ``stopped``, ``timed out``, ``shutdown``."""
    completed: bool = False
    """The ``result`` stands and is shown (completion embed); ``False``: no result, or a
    result the process's non-zero exit voided."""


@attrs.frozen
class ReplyShutdown:
    pass


Order = (
    AcquireSlot
    | ReleaseSlot
    | ConfirmGrant
    | StartTurn
    | WriteControlResponse
    | AnswerWithMessage
    | Interrupt
    | CloseProcess
    | Notice
    | SetInbox
    | SetStatus
    | MarkForResume
    | ArmTimer
    | CancelTimer
    | TurnFinished
    | ReplyShutdown
)


class IllegalInput(Exception):
    """An input the current state cannot take (a bug in the actor feeding the machine)."""

    def __init__(self, state: State, event: Input) -> None:
        super().__init__(f"state {state.name} cannot take {type(event).__name__}: {event!r}")
        self.state = state
        self.event = event


# -- the machine --------------------------------------------------------------------------

_TURN_STATES: Final = frozenset(
    {State.RUNNING, State.WAITING_FOR_HUMAN, State.ANSWER_QUEUED, State.INTERRUPTING}
)
_PROCESS_STATES: Final = _TURN_STATES | {State.CLOSING}
_AT_REST: Final = frozenset({State.IDLE, State.STOPPED})
_ALL: Final = frozenset(State)

_OUTCOME: Final = {
    InterruptReason.MESSAGE: "interrupted",
    InterruptReason.STOP: "stopped",
    InterruptReason.TIMEOUT: "timed out",
    InterruptReason.SHUTDOWN: "shutdown",
}


@attrs.define
class _Prompt:
    prompt_id: str
    request_id: str
    resolved: bool = False
    answered_by_message: bool = False


@attrs.define
class SessionMachine:
    """One thread's session. ``feed`` one input, perform the orders it returns, in order."""

    stall_seconds: float
    tick_seconds: float
    state: State = State.IDLE
    pending: list[int] = attrs.field(factory=list)
    """Stored messages not yet given to Claude, oldest first."""
    please_continue: bool = False
    """Resume with "please continue" (no message waits, the previous turn was cut off)."""
    batch: tuple[int, ...] = ()
    """The messages the running turn carries."""
    holding_slot: bool = False
    slot_requested: bool = False
    """An ``AcquireSlot`` is outstanding (we are in the limiter's queue)."""
    interrupt: InterruptReason | None = None
    drop_on_stop: tuple[int, ...] = ()
    prompts: list[_Prompt] = attrs.field(factory=list)
    """The running turn's permission requests, oldest first: waiting for a human, or
    resolved and waiting for a slot to write the answer (the CLI may ask several at once,
    for tools it runs in parallel)."""
    queue_position: int | None = None
    queue_notice_shown: bool = False
    stall_shown: bool = False
    shutting_down: bool = False
    shutdown_waiters: int = 0
    """Shutdown asks to answer when the running turn ends."""
    result: ClaudeResult | None = None
    fresh_conversation: bool = False
    orphans: set[str] = attrs.field(factory=set)
    """Prompts of an earlier run still answerable (their expiry timers run)."""
    park_for: str | None = None
    """A budget was used up during the running turn: park when it ends (the reason)."""
    told_kept: bool = False
    """While parked, the "kept for later" notice was shown (once per parking)."""
    usage_limited: UsageLimited | None = None
    """The running turn hit the usage limit: park when it ends."""
    parked_usage: bool = False
    """Parked at the usage limit (its timer runs), not over a budget."""
    usage_resuming: bool = False
    """The next turn is the one after a usage-limit parking."""

    def feed(self, event: Input) -> list[Order]:
        handler = _TABLE.get((type(event), self.state))
        if handler is None:
            raise IllegalInput(self.state, event)
        orders: list[Order] = []
        handler(self, event, orders)
        return orders

    # -- what a person sees ------------------------------------------------------------

    @property
    def status(self) -> str:
        """The status ``GetSessionStatus`` reports."""
        if self.state in (State.STARTING, State.RUNNING, State.CLOSING):
            return "running"
        if self.state in (State.WAITING_FOR_HUMAN, State.ANSWER_QUEUED):
            return "waiting"
        if self.state is State.INTERRUPTING:
            return "running" if self.holding_slot else "waiting"
        if self.state is State.QUEUED:
            return "queued"
        if self.state is State.STOPPED:
            return "stopped"
        if self.state is State.PARKED:
            return "parked"
        return "idle"

    def awaits(self, prompt_id: str) -> bool:
        """Whether an open request of the running turn waits for this prompt's answer."""
        return any(p.prompt_id == prompt_id and not p.resolved for p in self.prompts)

    @property
    def has_process(self) -> bool:
        return self.state in _PROCESS_STATES

    @property
    def wants_slot(self) -> bool:
        return self.state in (State.QUEUED, State.ANSWER_QUEUED) and not self.holding_slot

    # -- helpers -----------------------------------------------------------------------

    def _acquire(self, orders: list[Order]) -> None:
        self.slot_requested = True
        orders.append(AcquireSlot())

    def _release(self, orders: list[Order]) -> None:
        # Also leaves the limiter's queue when we were waiting in it.
        self.holding_slot = False
        self.slot_requested = False
        self.queue_position = None
        orders.append(ReleaseSlot())
        self._clear_queue_notice(orders)

    def _clear_queue_notice(self, orders: list[Order]) -> None:
        if self.queue_notice_shown:
            self.queue_notice_shown = False
            orders.append(Notice(NoticeKind.CLEAR_QUEUE))

    def _clear_stall(self, orders: list[Order]) -> None:
        if self.stall_shown:
            self.stall_shown = False
            orders.append(Notice(NoticeKind.CLEAR_STALL))

    def _reject(self, ids: list[int], orders: list[Order]) -> int:
        if ids:
            orders.append(SetInbox(tuple(ids), InboxState.REJECTED))
        return len(ids)

    def _enqueue(self, orders: list[Order]) -> None:
        self.state = State.QUEUED
        self._acquire(orders)
        orders.append(SetStatus(SessionStatus.QUEUED))

    def _cancel_prompts(self, orders: list[Order]) -> None:
        """Withdraw every open request (the turn is over)."""
        for prompt in list(self.prompts):
            self._withdraw(prompt, orders)

    def _withdraw(self, prompt: _Prompt, orders: list[Order]) -> None:
        """Withdraw one request: its timer, and (unless shutting down, when it stays
        answerable after the restart) its buttons. One place for what the actor did
        three times."""
        self.prompts.remove(prompt)
        orders.append(CancelTimer(Timer.PROMPT_EXPIRY, prompt.prompt_id))
        if not prompt.resolved and not self.shutting_down:
            orders.append(Notice(NoticeKind.PROMPT_CANCELLED, detail=prompt.prompt_id))

    def _all_resolved(self) -> bool:
        return all(p.resolved for p in self.prompts)

    @property
    def starts_waiting(self) -> bool:
        """Whether a prompt shown now starts a wait for a human (no other prompt of this
        session is still unanswered). C17 mentions the owner then, once per wait: a second
        prompt while the first is still open (parallel tool calls) pings nobody."""
        return self._all_resolved()

    def _interrupt(self, reason: InterruptReason, orders: list[Order]) -> None:
        self._ending(reason, orders)
        orders.append(Interrupt(reason))

    def _ending(self, reason: InterruptReason, orders: list[Order]) -> None:
        self.interrupt = reason
        self.state = State.INTERRUPTING
        if self.slot_requested and not self.holding_slot:
            # Queued for a prompt answer's slot: leave the queue, the turn is ending.
            self._release(orders)

    # -- handlers ----------------------------------------------------------------------

    def _on_loaded(self, event: Loaded, orders: list[Order]) -> None:
        for prompt_id, remaining in event.prompts:
            self.orphans.add(prompt_id)
            if math.isfinite(remaining):
                orders.append(ArmTimer(Timer.PROMPT_EXPIRY, remaining, prompt_id))
        recorded = [m for m in event.pending if m in event.recorded]
        if recorded:
            # Claude has them already: they count as given; "please continue" instead.
            orders.append(SetInbox(tuple(recorded), InboxState.DONE))
        self.pending = [m for m in event.pending if m not in event.recorded]
        was_live = event.status in (SessionStatus.RUNNING, SessionStatus.QUEUED)
        if event.restarted and was_live:
            # We crashed mid-turn; the supervisor restarted us: continue at once.
            orders.append(Notice(NoticeKind.RESUMED, detail="crash"))
            self.please_continue = not self.pending
            self._enqueue(orders)
        elif recorded and was_live:
            # The app resumes marked sessions; make sure the cut-off turn is continued.
            self.please_continue = not self.pending
            orders.append(SetStatus(SessionStatus.IDLE))
        elif was_live:
            # Not ours to resume (the app resumes marked sessions): nothing runs.
            orders.append(SetStatus(SessionStatus.IDLE))
        elif event.status is SessionStatus.STOPPED:
            self.state = State.STOPPED
        elif event.status is SessionStatus.PARKED:
            self.state = State.PARKED  # messages typed meanwhile stay pending
            if event.usage_resume_in is not None:
                self.parked_usage = True
                self.please_continue = not self.pending  # the cut-off turn goes on
                orders.append(ArmTimer(Timer.USAGE_RESET, max(0.0, event.usage_resume_in)))

    def _on_message(self, event: MessageStored, orders: list[Order]) -> None:
        if not event.allowed:
            # X5: never let it reach Claude; the router already answered.
            orders.append(SetInbox((event.message_id,), InboxState.REJECTED))
            return
        if event.message_id in self.batch:
            return  # already on its way to Claude (read from the store, then told again)
        if self.shutting_down:
            orders.append(Notice(NoticeKind.SHUTTING_DOWN))  # it stays pending in the store
            return
        question = next((p for p in self.prompts if p.answered_by_message and not p.resolved), None)
        if self.state is State.WAITING_FOR_HUMAN and question is not None:
            # C12: a message typed while a question waits is its answer, not a new turn.
            if event.message_id in self.pending:
                self.pending.remove(event.message_id)
            orders.append(AnswerWithMessage(question.prompt_id, event.message_id))
            orders.append(SetInbox((event.message_id,), InboxState.DONE))
            return
        if event.message_id not in self.pending:  # else read from the store at start
            self.pending.append(event.message_id)
        self.please_continue = False  # a real message replaces "please continue"
        if self.state is State.PARKED:
            if not self.told_kept:
                self.told_kept = True
                orders.append(Notice(NoticeKind.KEPT_WHILE_PARKED))
            return
        if self.state in _AT_REST:
            self._enqueue(orders)
        elif self.state in (State.RUNNING, State.WAITING_FOR_HUMAN, State.ANSWER_QUEUED):
            orders.append(Notice(NoticeKind.INTERRUPTING))
            self._interrupt(InterruptReason.MESSAGE, orders)
        # QUEUED, STARTING, INTERRUPTING, CLOSING: it rides the next turn.

    def _on_stop(self, event: Stop, orders: list[Order]) -> None:
        if not event.allowed:
            return
        if self.state is State.PARKED:
            # Nothing runs; what was kept for later is dropped (and answered), and the
            # session stays parked.
            dropped = self._reject(self.pending, orders)
            self.pending = []
            self.please_continue = False
            orders.append(Notice(NoticeKind.STOPPED, count=dropped))
        elif self.state in _AT_REST or self.state is State.SHUT_DOWN:
            orders.append(Notice(NoticeKind.NOTHING_TO_STOP))
        elif self.state is State.QUEUED:
            self._release(orders)
            dropped = self._reject(self.pending, orders)
            self.pending = []
            self.please_continue = False
            self.state = State.STOPPED
            orders.append(SetStatus(SessionStatus.STOPPED))
            orders.append(Notice(NoticeKind.STOPPED, count=dropped))
        else:
            # Messages typed before /stop are dropped (and answered) when the turn ends;
            # later ones still run.
            self.drop_on_stop = tuple(self.pending)
            self.please_continue = False
            if self.interrupt not in (None, InterruptReason.MESSAGE):
                return  # already ending for a stronger reason (timeout, shutdown)
            if self.state is State.CLOSING:
                return  # its result is in: nothing left to interrupt
            if self.state is State.STARTING:
                self.interrupt = InterruptReason.STOP  # sent once the process is up
            else:
                self._interrupt(InterruptReason.STOP, orders)

    def _on_resume(self, event: Resume, orders: list[Order]) -> None:
        if self.state not in _AT_REST:
            return  # already busy: the resume is moot
        orders.append(Notice(NoticeKind.RESUMED, detail=event.reason))
        orders.append(MarkForResume(None))
        self.please_continue = not self.pending
        self._enqueue(orders)

    def _on_resume_ignored(self, event: Resume, orders: list[Order]) -> None:
        del event, orders  # busy or shutting down: nothing to resume

    def _on_grant(self, event: SlotGranted, orders: list[Order]) -> None:
        if self.holding_slot:
            return  # a duplicate of a grant we already acted on
        if self.wants_slot:
            orders.append(ConfirmGrant())
        else:
            orders.append(ReleaseSlot())  # stale: give it straight back

    def _on_confirmed(self, event: GrantConfirmed, orders: list[Order]) -> None:
        if not event.current or self.holding_slot or not self.wants_slot:
            return  # stale; the real grant (or a queue position) follows
        self.holding_slot = True
        self.slot_requested = False
        self.queue_position = None
        self._clear_queue_notice(orders)
        if self.state is State.QUEUED:
            batch, self.pending = tuple(self.pending), []
            self.batch = batch
            orders.append(
                StartTurn(
                    batch,
                    self.please_continue and not batch,
                    self.fresh_conversation,
                    after_usage_limit=self.usage_resuming,
                )
            )
            self.please_continue = False
            self.usage_resuming = False
            self.fresh_conversation = False
            self.state = State.STARTING
        else:
            # Every request is resolved (none left: the CLI withdrew them and went on).
            answered, self.prompts = self.prompts, []
            self.state = State.RUNNING
            for prompt in answered:
                orders.append(WriteControlResponse(prompt.prompt_id, prompt.request_id))
            orders.append(ArmTimer(Timer.STALL, self.stall_seconds))

    def _on_queue_position(self, event: QueuePositionIs, orders: list[Order]) -> None:
        if not self.wants_slot:
            return
        self.queue_position = event.position
        self.queue_notice_shown = True
        kind = NoticeKind.HELD if event.held else NoticeKind.QUEUE
        orders.append(Notice(kind, count=event.position, detail=str(event.running)))

    def _on_started(self, event: TurnStarted, orders: list[Order]) -> None:
        self.result = None
        self.state = State.RUNNING
        if self.batch:
            orders.append(SetInbox(self.batch, InboxState.DELIVERED))
        orders.append(SetStatus(SessionStatus.RUNNING))
        orders.append(ArmTimer(Timer.TOOL_TICK, self.tick_seconds))
        orders.append(ArmTimer(Timer.STALL, self.stall_seconds))
        if self.interrupt is not None:
            # /stop or shutdown came while the process was starting.
            self._interrupt(self.interrupt, orders)

    def _on_start_failed(self, event: StartFailed, orders: list[Order]) -> None:
        self._release(orders)
        self._reject(list(self.batch), orders)
        self.batch = ()
        stopped = self.interrupt is InterruptReason.STOP
        self.interrupt = None
        orders.append(Notice(NoticeKind.START_FAILED, detail=event.error))
        if stopped or self.drop_on_stop:
            self._drop_stopped(orders)
        orders.append(SetStatus(SessionStatus.IDLE))
        self._settle(orders)

    def _on_activity(self, event: ClaudeActivity, orders: list[Order]) -> None:
        self._clear_stall(orders)

    def _on_stall(self, event: StallCheck, orders: list[Order]) -> None:
        if self.state is not State.RUNNING:
            return  # nobody waits on a silent process that waits for a human
        if event.silent_for >= self.stall_seconds:
            if not self.stall_shown:
                self.stall_shown = True
                orders.append(Notice(NoticeKind.STALL, detail=f"{event.silent_for:.0f}"))
            orders.append(ArmTimer(Timer.STALL, self.stall_seconds))
        else:
            orders.append(ArmTimer(Timer.STALL, self.stall_seconds - event.silent_for))

    def _on_stall_ignored(self, event: StallCheck, orders: list[Order]) -> None:
        del event, orders  # a timer of a turn that ended

    def _on_late(self, event: TotalTimeout | ClaudeResult, orders: list[Order]) -> None:
        del event, orders  # the result is in and the process is closing: nothing to end

    def _on_permission(self, event: PermissionAsked, orders: list[Order]) -> None:
        if any(p.prompt_id == event.prompt_id for p in self.prompts):
            raise IllegalInput(self.state, event)  # one prompt answers one request
        self.orphans.discard(event.prompt_id)  # adopted: this request is its to answer
        self.prompts.append(
            _Prompt(
                event.prompt_id, event.request_id, answered_by_message=event.answered_by_message
            )
        )
        if math.isfinite(event.timeout):
            orders.append(ArmTimer(Timer.PROMPT_EXPIRY, event.timeout, event.prompt_id))
        if self.holding_slot or self.slot_requested:
            # C8: never hold a slot while a human is awaited, nor wait for one: the
            # answers already given are written with this one's.
            self._release(orders)
        if self.state in (State.RUNNING, State.ANSWER_QUEUED):
            self.state = State.WAITING_FOR_HUMAN

    def _on_answered_before(self, event: PermissionAnsweredBefore, orders: list[Order]) -> None:
        if self.holding_slot:
            orders.append(WriteControlResponse(event.prompt_id, event.request_id))
            return
        # Written with the answers still awaited (WAITING_FOR_HUMAN) or with the slot on
        # its way (ANSWER_QUEUED); INTERRUPTING: the turn is ending, the CLI withdraws it.
        self.prompts.append(_Prompt(event.prompt_id, event.request_id, resolved=True))

    def _on_prompt_resolved(self, event: PromptResolved, orders: list[Order]) -> None:
        if event.prompt_id in self.orphans:
            self.orphans.discard(event.prompt_id)
            orders.append(CancelTimer(Timer.PROMPT_EXPIRY, event.prompt_id))
            return  # nothing waits for its answer in this run
        prompt = next((p for p in self.prompts if p.prompt_id == event.prompt_id), None)
        if prompt is None or prompt.resolved:
            return  # an orphan of an earlier run, or already resolved
        prompt.resolved = True
        orders.append(CancelTimer(Timer.PROMPT_EXPIRY, prompt.prompt_id))
        if self.state is State.WAITING_FOR_HUMAN and self._all_resolved():
            self.state = State.ANSWER_QUEUED
            self._acquire(orders)
        # Others still open: their answers come first. INTERRUPTING: the turn is ending;
        # the CLI withdraws the request.

    def _on_control_cancel(self, event: ControlCancelled, orders: list[Order]) -> None:
        prompt = next((p for p in self.prompts if p.request_id == event.request_id), None)
        if prompt is None:
            return
        self._withdraw(prompt, orders)
        if self.state is State.WAITING_FOR_HUMAN and self._all_resolved():
            # Withdrawn without an interrupt: the CLI goes on, so it needs a slot back
            # (to write the answers given, if any).
            self.state = State.ANSWER_QUEUED
            self._acquire(orders)
        elif self.state is State.INTERRUPTING and self.slot_requested:
            # We were queued for the answer's slot: leave the queue, the turn is ending.
            self._release(orders)

    def _on_timeout(self, event: TotalTimeout, orders: list[Order]) -> None:
        if self.interrupt is None:
            # The process helper interrupts by itself; we only follow.
            self._ending(InterruptReason.TIMEOUT, orders)
            orders.append(Notice(NoticeKind.TIMED_OUT))

    def _on_shutdown(self, event: Shutdown, orders: list[Order]) -> None:
        self.shutting_down = True
        if self.state in _PROCESS_STATES or self.state is State.STARTING:
            orders.append(MarkForResume("shutdown"))
            self.shutdown_waiters += 1
            if self.state is State.STARTING:
                self.interrupt = InterruptReason.SHUTDOWN
            elif self.state is not State.CLOSING and self.interrupt is not InterruptReason.SHUTDOWN:
                self._interrupt(InterruptReason.SHUTDOWN, orders)
            return  # answered when the turn ends
        if self.state is State.QUEUED:
            # Its messages wait in the store; the next start continues them.
            self._release(orders)
            orders.append(SetStatus(SessionStatus.IDLE, resume_reason="shutdown"))
        self.state = State.SHUT_DOWN
        orders.append(ReplyShutdown())

    def _on_result(self, event: ClaudeResult, orders: list[Order]) -> None:
        self.result = event
        self._cancel_prompts(orders)
        if self.slot_requested and not self.holding_slot:
            self._release(orders)  # the turn is over: no answer left to write
        self.state = State.CLOSING
        orders.append(CloseProcess())

    def _on_exited(self, event: ClaudeExited, orders: list[Order]) -> None:
        self._end_turn(event.returncode, orders)

    def _end_turn(self, returncode: int, orders: list[Order]) -> None:
        result, self.result = self.result, None
        reason, self.interrupt = self.interrupt, None
        orders.append(CancelTimer(Timer.TOOL_TICK))
        orders.append(CancelTimer(Timer.STALL))
        self._clear_stall(orders)
        self._cancel_prompts(orders)
        if self.state is State.RUNNING or self.state is State.INTERRUPTING:
            orders.append(CloseProcess())  # it exited on its own; reap it
        batch, self.batch = self.batch, ()
        # A result followed by a non-zero exit, with nothing asked of the process, is a
        # crash: the result is not shown (issue 10, 7). An error result says so itself.
        completed = result is not None and (reason is not None or result.error or returncode == 0)
        if reason is not None:
            outcome = _OUTCOME[reason]
        elif not completed or result is None or result.error or returncode != 0:
            # Never "done" when the process failed, whatever it printed before.
            outcome = "error"
        else:
            outcome = "done"
        orders.append(TurnFinished(outcome, completed=completed))
        if not completed and reason in (None, InterruptReason.MESSAGE):
            orders.append(Notice(NoticeKind.CRASHED, count=returncode))
        if result is not None and result.resume_failed:
            # The stored conversation cannot be resumed: start a new one with the same
            # messages, or the thread would fail the same way on every message.
            restored = [m for m in batch if m not in self.pending]
            self.pending = restored + self.pending
            if restored:
                orders.append(SetInbox(tuple(restored), InboxState.PENDING))
            self.fresh_conversation = True
            orders.append(Notice(NoticeKind.RESTARTED_CONVERSATION))
        elif batch:
            orders.append(SetInbox(batch, InboxState.DONE))
        if self.holding_slot or self.slot_requested:
            self._release(orders)
        if reason is InterruptReason.STOP or self.drop_on_stop:
            self._drop_stopped(orders)
        if self.shutting_down:
            self.state = State.SHUT_DOWN
            orders.append(SetStatus(SessionStatus.IDLE, resume_reason="shutdown"))
            self._reply_shutdown(orders)
            return
        park, self.park_for = self.park_for, None
        limited, self.usage_limited = self.usage_limited, None
        if park is not None:
            self.state = State.PARKED
            self.told_kept = False
            orders.append(SetStatus(SessionStatus.PARKED))
            orders.append(Notice(NoticeKind.PARKED, detail=park))
            return
        if limited is not None and reason in (None, InterruptReason.MESSAGE):
            # Kept messages go with the resumed turn; none: the cut-off turn goes on.
            self.state = State.PARKED
            self.told_kept = False
            self.parked_usage = True
            self.please_continue = not self.pending
            orders.append(SetStatus(SessionStatus.PARKED))
            orders.append(
                Notice(NoticeKind.PARKED_USAGE, count=int(limited.reported), detail=limited.until)
            )
            orders.append(ArmTimer(Timer.USAGE_RESET, max(0.0, limited.resume_in)))
            return
        self.state = State.IDLE
        if reason is InterruptReason.STOP and not self.pending:
            self.state = State.STOPPED
            orders.append(SetStatus(SessionStatus.STOPPED))
            return
        if self.pending or (self.fresh_conversation and batch):
            self._enqueue(orders)  # C21: the next turn starts at once
        elif reason is InterruptReason.TIMEOUT:
            self.state = State.STOPPED
            orders.append(SetStatus(SessionStatus.STOPPED))
        else:
            orders.append(SetStatus(SessionStatus.IDLE))

    def _on_budget_exhausted(self, event: BudgetExhausted, orders: list[Order]) -> None:
        del orders  # acted on when the turn ends
        self.park_for = event.why

    def _on_unpark(self, event: Unpark, orders: list[Order]) -> None:
        if self.parked_usage:
            self.parked_usage = False
            orders.append(CancelTimer(Timer.USAGE_RESET))
        orders.append(Notice(NoticeKind.UNPARKED, detail=event.why))
        if self.pending:
            self._enqueue(orders)
        else:
            self.state = State.IDLE
            orders.append(SetStatus(SessionStatus.IDLE))

    def _on_park_ignored(
        self, event: BudgetExhausted | Unpark | UsageLimited | UsageReset, orders: list[Order]
    ) -> None:
        del event, orders  # not in a turn / not parked: nothing to do

    def _on_usage_limited(self, event: UsageLimited, orders: list[Order]) -> None:
        del orders  # acted on when the turn ends
        self.usage_limited = event

    def _on_usage_reset(self, event: UsageReset, orders: list[Order]) -> None:
        if not self.parked_usage:
            return  # parked over a budget: a human decides, not the clock
        self.parked_usage = False
        self.usage_resuming = True
        orders.append(Notice(NoticeKind.USAGE_RESUMED))
        if self.pending or self.please_continue:
            self._enqueue(orders)
        else:
            self.state = State.IDLE  # /stop dropped what was kept
            orders.append(SetStatus(SessionStatus.IDLE))

    def _drop_stopped(self, orders: list[Order]) -> None:
        """Reject what was typed before /stop, and say how many."""
        drop = [m for m in self.pending if m in self.drop_on_stop]
        self.pending = [m for m in self.pending if m not in self.drop_on_stop]
        self.drop_on_stop = ()
        orders.append(Notice(NoticeKind.STOPPED, count=self._reject(drop, orders)))

    def _reply_shutdown(self, orders: list[Order]) -> None:
        orders.extend(ReplyShutdown() for _ in range(self.shutdown_waiters))
        self.shutdown_waiters = 0

    def _settle(self, orders: list[Order]) -> None:
        """After a turn that never began: rest, or go on with what was typed meanwhile."""
        if self.shutting_down:
            self.state = State.SHUT_DOWN
            self._reply_shutdown(orders)
        elif self.pending:
            self._enqueue(orders)
        else:
            self.state = State.IDLE


_Handler = Callable[[SessionMachine, object, list[Order]], None]


def _table() -> dict[tuple[type[object], State], _Handler]:
    m = SessionMachine
    rows: list[tuple[type[object], frozenset[State], Callable[..., None]]] = [
        (Loaded, frozenset({State.IDLE}), m._on_loaded),
        (MessageStored, _ALL, m._on_message),
        (Stop, _ALL, m._on_stop),
        (Resume, _AT_REST, m._on_resume),
        (Resume, _ALL - _AT_REST, m._on_resume_ignored),
        (SlotGranted, _ALL, m._on_grant),
        (GrantConfirmed, _ALL, m._on_confirmed),
        (QueuePositionIs, _ALL, m._on_queue_position),
        (TurnStarted, frozenset({State.STARTING}), m._on_started),
        (StartFailed, frozenset({State.STARTING}), m._on_start_failed),
        (ClaudeActivity, _PROCESS_STATES, m._on_activity),
        (PermissionAsked, _TURN_STATES, m._on_permission),
        (PermissionAnsweredBefore, _TURN_STATES, m._on_answered_before),
        (PromptResolved, _ALL, m._on_prompt_resolved),
        (ControlCancelled, _PROCESS_STATES, m._on_control_cancel),
        (TotalTimeout, _TURN_STATES, m._on_timeout),
        (TotalTimeout, frozenset({State.CLOSING}), m._on_late),
        (StallCheck, _PROCESS_STATES, m._on_stall),
        (StallCheck, _ALL - _PROCESS_STATES, m._on_stall_ignored),
        (ClaudeResult, _TURN_STATES, m._on_result),
        (ClaudeResult, frozenset({State.CLOSING}), m._on_late),
        (ClaudeExited, _TURN_STATES | {State.CLOSING}, m._on_exited),
        (Shutdown, _ALL, m._on_shutdown),
        (BudgetExhausted, _PROCESS_STATES, m._on_budget_exhausted),
        (BudgetExhausted, _ALL - _PROCESS_STATES, m._on_park_ignored),
        (Unpark, frozenset({State.PARKED}), m._on_unpark),
        (Unpark, _ALL - {State.PARKED}, m._on_park_ignored),
        (UsageLimited, _PROCESS_STATES, m._on_usage_limited),
        (UsageLimited, _ALL - _PROCESS_STATES, m._on_park_ignored),
        (UsageReset, frozenset({State.PARKED}), m._on_usage_reset),
        (UsageReset, _ALL - {State.PARKED}, m._on_park_ignored),
    ]
    table: dict[tuple[type[object], State], _Handler] = {}
    for kind, states, handler in rows:
        for state in states:
            table[(kind, state)] = handler
    return table


_TABLE: Final = _table()
