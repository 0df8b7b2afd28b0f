"""Auto-upgrade (A3): run the upgrade command, drain, mark sessions for resume, restart.

The decisions are :class:`UpgradeMachine`'s (pure, property-tested); :func:`upgrade_actor`
performs them. The whole sequence, the exit status and a systemd unit are in
docs/upgrade.md.
"""

from bridge.upgrade._command import run_upgrade_command, scrubbed_environment
from bridge.upgrade._machine import (
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
    Refusal,
    Reply,
    Requested,
    RunCommand,
    Settings,
    Stop,
    UpgradeMachine,
)
from bridge.upgrade._render import parse_approval_custom_id
from bridge.upgrade.actor import (
    EXIT_RESTART,
    AnswerUpgrade,
    RequestUpgrade,
    UpgradeAnswer,
    UpgradeConfig,
    UpgradeMessage,
    upgrade_actor,
)

__all__ = [
    "EXIT_RESTART",
    "Action",
    "Announce",
    "AnswerUpgrade",
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
    "RequestUpgrade",
    "Requested",
    "RunCommand",
    "Settings",
    "Stop",
    "UpgradeAnswer",
    "UpgradeConfig",
    "UpgradeMachine",
    "UpgradeMessage",
    "parse_approval_custom_id",
    "run_upgrade_command",
    "scrubbed_environment",
    "upgrade_actor",
]
