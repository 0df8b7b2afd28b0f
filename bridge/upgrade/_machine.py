"""The auto-upgrade's decisions (A3), sans IO: facts and the time in, orders out.

Theory of operation
-------------------
One upgrade at a time goes through these phases::

    IDLE ─Requested─► AWAITING_APPROVAL ─Answered(yes)─► UPGRADING ─ok─► DRAINING
     ▲  (no approval:     │ Answered(no), lapsed        │ failed      │ Drained, or
     │   straight to      ▼                             ▼             ▼ the bound passed
     └── UPGRADING) ──── IDLE ◄─────────────────────── IDLE        STOPPING (final)

* **Who.** A request from a person counts only if they are an approver; a request from a
  trigger (the owner's TOML file lists the webhook) needs no person. With
  ``require_approval`` every request first waits for an approver's click on a button;
  it expires after ``approval_seconds``.
* **Upgrade first, then drain.** The upgrade command runs while the bot works as usual.
  If it fails (a non-zero status, a timeout, or it could not start) the bot keeps running
  and says what failed; nothing is drained.
* **Drain.** After a successful command, new turns are held (they queue visibly) and the
  running ones get ``drain_seconds`` to finish. When none runs, or the bound passes, the
  machine orders :class:`Stop`: the bridge shuts down the usual way (turns still running
  are interrupted, running and queued sessions are marked for resume), then runs the
  restart command or exits with the restart status.
* :class:`Stop` is ordered at most once, and the machine ignores everything after it.

The machine reads no clock: events carry ``now`` (seconds, any monotonic origin).
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

from bridge.sessions.approvers import Approvers

__all__ = [
    "Action",
    "Announce",
    "Answered",
    "ApprovalExpired",
    "AskApproval",
    "CloseApproval",
    "CommandEnded",
    "DrainBoundPassed",
    "Drained",
    "Event",
    "HoldTurns",
    "Phase",
    "Refusal",
    "Reply",
    "Requested",
    "RunCommand",
    "Settings",
    "Stop",
    "UpgradeMachine",
]

APPROVAL_SECONDS: Final = 900.0
"""How long an approval button waits for a click before the request lapses."""


class Phase(enum.Enum):
    IDLE = "idle"
    AWAITING_APPROVAL = "awaiting approval"
    UPGRADING = "running the upgrade command"
    DRAINING = "draining"
    STOPPING = "restarting"


@attrs.frozen(kw_only=True)
class Settings:
    approvers: Approvers
    """Who may upgrade: the same rule as for approval prompts (APPROVER_USER_IDS,
    APPROVER_ROLE_IDS, the owner; neither set, the allowed users)."""
    require_approval: bool = False
    drain_seconds: float = 300.0
    approval_seconds: float = APPROVAL_SECONDS


# --- events -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Requested:
    """``/upgrade`` (``user_id``) or a trigger (``trigger``, no user) asks for an upgrade.
    ``token`` is fresh per request (the actor makes it), naming its approval buttons."""

    token: str
    user_id: int | None = None
    role_ids: frozenset[int] = frozenset()
    """The member's roles (APPROVER_ROLE_IDS names approvers by role)."""
    trigger: str | None = None


@attrs.frozen(kw_only=True)
class Answered:
    """A click on an approval button."""

    token: str
    user_id: int
    approve: bool
    role_ids: frozenset[int] = frozenset()


@attrs.frozen(kw_only=True)
class ApprovalExpired:
    token: str


@attrs.frozen(kw_only=True)
class CommandEnded:
    """The upgrade command is over: ``status`` 0 is success; ``timed_out`` and
    ``start_error`` (it could not be started) are failures whatever the status."""

    status: int | None
    timed_out: bool = False
    start_error: str | None = None
    stderr_tail: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == 0 and not self.timed_out and self.start_error is None


@attrs.frozen(kw_only=True)
class Drained:
    """No turn runs any more (new ones are held)."""


@attrs.frozen(kw_only=True)
class DrainBoundPassed:
    """The timer of :class:`HoldTurns` fired."""


Event = Requested | Answered | ApprovalExpired | CommandEnded | Drained | DrainBoundPassed


# --- orders -------------------------------------------------------------------------------


class Refusal(enum.Enum):
    NOT_APPROVER = "not an approver"
    BUSY = "an upgrade is already under way"
    UNKNOWN_BUTTON = "this approval is no longer open"


@attrs.frozen(kw_only=True)
class Reply:
    """The answer to whoever asked or clicked (``refusal`` None: accepted)."""

    refusal: Refusal | None = None
    phase: Phase = Phase.IDLE
    """The phase after the event (for the answer's text)."""


@attrs.frozen(kw_only=True)
class Announce:
    """Tell the main channel. ``what`` names the step; ``by_user`` / ``trigger`` who."""

    what: str
    by_user: int | None = None
    trigger: str | None = None
    ended: CommandEnded | None = None


@attrs.frozen(kw_only=True)
class AskApproval:
    """Post the approval buttons; feed :class:`ApprovalExpired` at ``expires_at``."""

    token: str
    by_user: int | None
    trigger: str | None
    expires_at: float


@attrs.frozen(kw_only=True)
class CloseApproval:
    """The approval message is answered or expired: take its buttons away."""

    token: str
    approved: bool
    by_user: int | None = None


@attrs.frozen(kw_only=True)
class RunCommand:
    """Run the upgrade command; feed :class:`CommandEnded`."""


@attrs.frozen(kw_only=True)
class HoldTurns:
    """Hold new turns (they queue visibly, with a notice); feed :class:`Drained` when
    none runs, or :class:`DrainBoundPassed` at ``until``."""

    until: float


@attrs.frozen(kw_only=True)
class Stop:
    """Shut the bridge down for the restart (interrupting what still runs); said once."""

    interrupted: bool
    """True when the drain bound passed with turns still running."""


Action = Reply | Announce | AskApproval | CloseApproval | RunCommand | HoldTurns | Stop


@attrs.define
class UpgradeMachine:
    settings: Settings
    phase: Phase = Phase.IDLE
    token: str | None = None
    """The request being handled."""
    by_user: int | None = None
    trigger: str | None = None
    deadline: float | None = None
    """When the approval lapses (AWAITING_APPROVAL) or the drain bound passes (DRAINING)."""

    def handle(self, event: Event, now: float) -> list[Action]:
        match event:
            case Requested():
                return self._requested(event, now)
            case Answered():
                return self._answered(event)
            case ApprovalExpired(token=token):
                if (
                    self.phase is not Phase.AWAITING_APPROVAL
                    or token != self.token
                    or not self._due(now)
                ):
                    return []
                self._idle()
                return [CloseApproval(token=token, approved=False), Announce(what="expired")]
            case CommandEnded():
                return self._command_ended(event, now)
            case Drained():
                if self.phase is not Phase.DRAINING:
                    return []
                self.phase = Phase.STOPPING
                return [Announce(what="restarting"), Stop(interrupted=False)]
            case DrainBoundPassed():
                if self.phase is not Phase.DRAINING or not self._due(now):
                    return []
                self.phase = Phase.STOPPING
                return [Announce(what="drain_bound"), Stop(interrupted=True)]
        return []  # pragma: no cover - the match is exhaustive

    def _approver(self, user_id: int | None, role_ids: frozenset[int]) -> bool:
        return user_id is not None and self.settings.approvers.may_approve(user_id, role_ids)

    def _requested(self, event: Requested, now: float) -> list[Action]:
        if self.phase is not Phase.IDLE:
            return [Reply(refusal=Refusal.BUSY, phase=self.phase)]
        if event.trigger is None and not self._approver(event.user_id, event.role_ids):
            return [Reply(refusal=Refusal.NOT_APPROVER)]
        self.token, self.by_user, self.trigger = event.token, event.user_id, event.trigger
        if self.settings.require_approval:
            self.phase = Phase.AWAITING_APPROVAL
            self.deadline = now + self.settings.approval_seconds
            return [
                Reply(phase=self.phase),
                AskApproval(
                    token=event.token,
                    by_user=event.user_id,
                    trigger=event.trigger,
                    expires_at=self.deadline,
                ),
            ]
        self.phase = Phase.UPGRADING
        return [
            Reply(phase=self.phase),
            Announce(what="started", by_user=event.user_id, trigger=event.trigger),
            RunCommand(),
        ]

    def _answered(self, event: Answered) -> list[Action]:
        if self.phase is not Phase.AWAITING_APPROVAL or event.token != self.token:
            return [Reply(refusal=Refusal.UNKNOWN_BUTTON, phase=self.phase)]
        if not self._approver(event.user_id, event.role_ids):
            return [Reply(refusal=Refusal.NOT_APPROVER, phase=self.phase)]
        token = event.token
        if not event.approve:
            self._idle()
            return [
                Reply(phase=self.phase),
                CloseApproval(token=token, approved=False, by_user=event.user_id),
            ]
        self.phase = Phase.UPGRADING
        self.deadline = None
        return [
            Reply(phase=self.phase),
            CloseApproval(token=token, approved=True, by_user=event.user_id),
            Announce(what="started", by_user=event.user_id, trigger=self.trigger),
            RunCommand(),
        ]

    def _command_ended(self, event: CommandEnded, now: float) -> list[Action]:
        if self.phase is not Phase.UPGRADING:
            return []
        if not event.succeeded:
            self._idle()
            return [Announce(what="failed", ended=event)]
        self.phase = Phase.DRAINING
        self.deadline = now + self.settings.drain_seconds
        return [Announce(what="draining"), HoldTurns(until=self.deadline)]

    def _due(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def _idle(self) -> None:
        self.phase = Phase.IDLE
        self.token = self.by_user = self.trigger = None
        self.deadline = None
