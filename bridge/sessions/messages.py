"""The messages the bridge's actors exchange: the contract between router, sessions,
limiter and coordinator (the store's ``StoreCall`` lives with it, in ``bridge.store.actor``).

Message passing replaces shared state: each piece of state has one owner actor, and the
others reach it only with these values. Requests that need an answer subclass
``actors.Ask``; everything else is told. See ``docs/architecture.md`` for who sends what.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

import actors
from bridge.sessions.attachments import AttachmentInfo
from bridge.sessions.presentation.system_prompt import ActiveSession, LoungeEntry

# --- to a session actor (one per Discord thread) --------------------------------------


@attrs.frozen(kw_only=True)
class UserMessage:
    """A message an allowed user typed in the session's thread (or the first message that
    created it). Already recorded in the store's inbox by the router, so it is never lost."""

    message_id: int
    thread_id: int
    author_id: int
    content: str
    attachments: tuple[AttachmentInfo, ...] = ()
    received_at: float = 0.0
    """Seconds since the epoch (wall clock), as stored."""
    seen_reaction: str | None = None
    """The status emoji the router already put on the message when it arrived (the first
    sign it was seen): the session's status reaction starts from it, never adding a
    second one."""


@attrs.frozen(kw_only=True)
class StopTurn:
    """/stop (C9): end the running turn; the session stays resumable."""

    requested_by: int


@attrs.frozen(kw_only=True)
class SetModel:
    """/model (C24): the session's model from now on. Stored on the session (later turns
    get ``--model``); a running turn switches at once (control ``set_model``)."""

    model: str | None
    """An alias or model id the CLI accepts; ``None``: back to the bridge's default."""
    requested_by: int


@attrs.frozen(kw_only=True)
class AnswerPrompt:
    """An allowed user clicked a prompt's button, picked an option or submitted a modal.

    The router has already acknowledged the interaction (within Discord's 3 s); the
    session resolves the prompt (once) and edits the prompt message to show the outcome.
    """

    prompt_id: str
    choice: str
    """The button or option chosen, e.g. ``allow`` / ``deny``."""
    values: tuple[str, ...] = ()
    """Selected option values or submitted modal fields, when the prompt has them."""
    user_id: int
    role_ids: tuple[int, ...] = ()
    """The member's roles (approvers may be named by role)."""


@attrs.frozen(kw_only=True)
class ResumeSession:
    """Continue a session that was running when the bridge stopped (A4)."""

    reason: str
    """``shutdown`` (marked on SIGTERM/SIGINT) or ``crash`` (found running at start)."""


@attrs.frozen(kw_only=True)
class ContinueParked:
    """An approver let a session parked over its budget continue (issue 13)."""

    approved_by: int
    extra_usd: float


@attrs.frozen(kw_only=True)
class PrepareShutdown(actors.Ask[None]):
    """A4: stop taking work, interrupt the running turn, mark the session for resume in
    the store, end the ``claude`` process; reply once all that is done."""


@attrs.frozen(kw_only=True)
class GetSessionStatus(actors.Ask["SessionStatusReport"]):
    """For tests, /sessions and the dashboard."""


@attrs.frozen(kw_only=True)
class SessionStatusReport:
    thread_id: int
    status: str
    """``idle``, ``queued``, ``running``, ``waiting`` (for a human) or ``stopped``."""
    session_id: str | None
    claude_pid: int | None
    """The pid of the running ``claude`` process, if any (tests check it is gone)."""
    queue_position: int | None
    pending_messages: int


# --- to the router: sessions started without a person typing (A1, A5) ----------------


@attrs.frozen(kw_only=True)
class StartSession(actors.Ask["SessionOpened"]):
    """Start (or continue) a session with ``prompt`` as if the owner had typed it: the API's
    ``POST /api/spawn`` and the scheduler's task runs use the router's normal path (thread,
    stored record, inbox, session actor, concurrency slot) through this message.

    With ``thread_id`` ``None`` the router posts ``intro`` in the main channel and starts a
    thread from it (as for a person's message); with a thread id it posts ``intro`` in that
    thread. The reply comes once the thread exists and the prompt is in the inbox, before
    Claude starts. Fails with the Discord or store error if the thread cannot be made.
    """

    title: str
    prompt: str
    intro: str
    """The visible message the session starts from (mention-free text: the router posts it
    as given)."""
    working_dir: str
    model: str | None = None
    origin: str = "api"
    thread_id: int | None = None


@attrs.frozen(kw_only=True)
class SessionOpened:
    thread_id: int
    message_id: int
    """The inbox message carrying the prompt (its state says when the turn finished)."""


# --- limiter (C8) ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AcquireSlot:
    """Ask for a ``claude`` slot. The limiter answers by telling ``requester`` either
    :class:`SlotGranted` or :class:`QueuePosition` (then more of them as the queue moves,
    and :class:`SlotGranted` when its turn comes). The limiter monitors ``requester`` and
    frees its slot or queue place if it ends, so a crash never leaks a slot."""

    thread_id: int
    requester: actors.Ref[SlotGranted | QueuePosition]


@attrs.frozen(kw_only=True)
class ReleaseSlot:
    """Give the slot back (turn over, or waiting for a human), or leave the queue."""

    thread_id: int


@attrs.frozen(kw_only=True)
class SlotGranted:
    thread_id: int


@attrs.frozen(kw_only=True)
class QueuePosition:
    thread_id: int
    position: int
    """1 = next in line."""
    running: int
    """How many sessions hold a slot now (for the notice: "2 sessions running")."""
    held: bool = False
    """The bridge is draining for an upgrade's restart: nothing starts until it is back."""


@attrs.frozen(kw_only=True)
class GetSlots(actors.Ask["SlotsSnapshot"]):
    pass


@attrs.frozen(kw_only=True)
class DrainSlots(actors.Ask[None]):
    """Grant no slot any more (every later request queues, told ``held``); the reply
    comes once no slot is in use. Only an upgrade's restart asks this (A3)."""


@attrs.frozen(kw_only=True)
class SlotsSnapshot:
    limit: int
    running: frozenset[int]
    waiting: tuple[int, ...]


# --- coordinator (K3, K4, K5) -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class SessionStarted:
    """A session began its first turn (or resumed): registry entry + lounge/K5 line."""

    thread_id: int
    title: str
    working_dir: str


@attrs.frozen(kw_only=True)
class SessionActivity:
    """What a session is doing now; sent on status changes (the coordinator keeps the
    latest per thread, so frequent updates cost nothing downstream)."""

    thread_id: int
    status: str
    """``running``, ``waiting`` (for a human), ``queued``, ``idle`` or ``stopped``."""
    activity: str = ""
    queue_position: int | None = None
    """Queued: the position in the queue for a slot (C8)."""
    prompt_message_id: int | None = None
    """Waiting: the message in the thread that asks the human (C17 links it)."""


@attrs.frozen(kw_only=True)
class SessionFinished:
    """The session's turn ended and it is idle, stopped or ended: registry entry removed,
    lounge/K5 line posted."""

    thread_id: int
    outcome: str
    """A short phrase for the lounge: ``done``, ``stopped``, ``timed out``, ``error: ...``."""


@attrs.frozen(kw_only=True)
class PostLounge:
    """A lounge line (from a session's Claude through the API, or from the bridge)."""

    author: str
    text: str
    thread_id: int | None = None


@attrs.frozen(kw_only=True)
class GetTurnContext(actors.Ask["TurnContext"]):
    """What one session's next turn should know about the others (K3) and the lounge (K4)."""

    thread_id: int


@attrs.frozen(kw_only=True)
class TurnContext:
    others: tuple[ActiveSession, ...]
    lounge: tuple[LoungeEntry, ...]


@attrs.frozen(kw_only=True)
class GetRegistry(actors.Ask[tuple[ActiveSession, ...]]):
    pass


# --- what each actor takes ----------------------------------------------------------------
# Refs are typed by these (``actors.Ref[SessionMessage]``), so telling an actor a message it
# does not take is a type error. An actor's own timers and helper tasks post it private
# messages besides; those are not part of what others may send.

SessionMessage: TypeAlias = (
    UserMessage
    | StopTurn
    | SetModel
    | AnswerPrompt
    | ResumeSession
    | ContinueParked
    | PrepareShutdown
    | GetSessionStatus
    | SlotGranted
    | QueuePosition
)
"""What a session actor takes from the router, the app and the limiter."""

LimiterMessage: TypeAlias = AcquireSlot | ReleaseSlot | GetSlots | DrainSlots
"""What the limiter takes from sessions."""

CoordinatorMessage: TypeAlias = (
    SessionStarted | SessionActivity | SessionFinished | PostLounge | GetTurnContext | GetRegistry
)
"""What the coordinator takes from sessions and the API."""
