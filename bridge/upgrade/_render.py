"""What the auto-upgrade says in Discord (A3). Every text a person or the command wrote
goes through :func:`~bridge.sessions.presentation.render.quiet`, so nothing in it pings
(the REST client's ``allowed_mentions`` stops pings too; this keeps it from looking like one).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Final

from bridge.sessions.presentation.render import quiet
from bridge.upgrade._machine import Announce, CommandEnded, Phase, Refusal, Reply
from protocol.discord import models as m

__all__ = [
    "APPROVAL_PREFIX",
    "UPGRADE_SLASH_COMMAND",
    "announcement",
    "approval_buttons",
    "approval_closed",
    "approval_request",
    "parse_approval_custom_id",
    "reply_text",
]

APPROVAL_PREFIX: Final = "ccb:upgrade:"
"""``custom_id`` of an approval button: ``ccb:upgrade:<token>:yes|no``."""
MESSAGE_MAX: Final = 2000

UPGRADE_SLASH_COMMAND: Final = m.ApplicationCommand(
    name="upgrade",
    description="Upgrade the bridge: run UPGRADE_COMMAND, drain, restart (approvers only)",
    type=m.ApplicationCommandType.CHAT_INPUT,
)


def _who(by_user: int | None, trigger: str | None) -> str:
    if trigger is not None:
        return f"trigger **{quiet(trigger)}**"
    return f"<@{by_user}>" if by_user is not None else "someone"


def reply_text(reply: Reply, *, channel_id: int) -> str:
    match reply.refusal:
        case Refusal.NOT_APPROVER:
            return (
                "Only approvers may upgrade the bridge (APPROVER_USER_IDS and DISCORD_OWNER_ID; "
                "without APPROVER_USER_IDS, the allowed users)."
            )
        case Refusal.BUSY:
            return f"An upgrade is already under way ({reply.phase.value}); nothing changed."
        case Refusal.UNKNOWN_BUTTON:
            return "This upgrade approval is no longer open; nothing changed."
    if reply.phase is Phase.AWAITING_APPROVAL:
        return f"🔧 Upgrade requested: an approver must confirm it in <#{channel_id}>."
    if reply.phase is Phase.IDLE:
        return "Upgrade cancelled."
    return f"🔧 Upgrade started: progress is posted in <#{channel_id}>."


def announcement(order: Announce, command: Sequence[str], drain_seconds: float) -> str:
    shown = quiet(shlex.join(command))[:300]
    match order.what:
        case "started":
            return (
                f"🔧 Upgrade requested by {_who(order.by_user, order.trigger)}: running "
                f"`{shown}`. The bot keeps working meanwhile."
            )
        case "draining":
            return (
                f"✅ The upgrade command succeeded. Draining before the restart: new turns "
                f"wait, running turns have up to {drain_seconds:g} s to finish; then the "
                "bridge restarts and the sessions continue."
            )
        case "restarting":
            return "🔄 No turn is running: restarting now for the upgrade."
        case "drain_bound":
            return (
                f"🔄 The drain bound ({drain_seconds:g} s) passed: interrupting the turns still "
                "running and restarting now; they continue after the restart."
            )
        case "expired":
            return "⌛ The upgrade request was not approved in time; nothing was run."
        case "failed":
            assert order.ended is not None
            return failure_text(order.ended, shown)
    return quiet(order.what)  # pragma: no cover - every order above has its text


def failure_text(ended: CommandEnded, shown: str) -> str:
    if ended.start_error is not None:
        what = f"`{shown}` could not be started ({quiet(ended.start_error)})"
    elif ended.timed_out:
        what = f"`{shown}` did not finish in time and was stopped"
    else:
        what = f"`{shown}` exited with status {ended.status}"
    head = f"❌ Upgrade failed: {what}. The bot keeps running the current version."
    if not ended.stderr_tail:
        return head
    # A fence in the output would end the code block early.
    tail = quiet(ended.stderr_tail).replace("```", "ˋˋˋ")
    room = MESSAGE_MAX - len(head) - len("\nLast lines of stderr:\n```\n\n```") - 1
    if len(tail) > room:
        tail = "…" + tail[-(room - 1) :]
    return f"{head}\nLast lines of stderr:\n```\n{tail}\n```"


def approval_request(by_user: int | None, trigger: str | None, expires_at_epoch: float) -> str:
    return (
        f"🔧 Upgrade requested by {_who(by_user, trigger)}. An approver must approve it before "
        f"the upgrade command runs (this request lapses <t:{int(expires_at_epoch)}:R>)."
    )


def approval_closed(approved: bool, by_user: int | None) -> str:
    if by_user is None:
        return "⌛ Upgrade request lapsed: nobody approved it in time."
    return f"{'✅ Upgrade approved' if approved else '🚫 Upgrade declined'} by <@{by_user}>."


def approval_buttons(token: str) -> list[m.ActionRow]:
    return [
        m.ActionRow(
            components=[
                m.Button(
                    style=m.ButtonStyle.SUCCESS,
                    label="Approve upgrade",
                    custom_id=f"{APPROVAL_PREFIX}{token}:yes",
                ),
                m.Button(
                    style=m.ButtonStyle.SECONDARY,
                    label="Cancel",
                    custom_id=f"{APPROVAL_PREFIX}{token}:no",
                ),
            ]
        )
    ]


def parse_approval_custom_id(custom_id: str) -> tuple[str, bool] | None:
    """``(token, approve)`` of an approval button's ``custom_id``, else ``None``."""
    if not custom_id.startswith(APPROVAL_PREFIX):
        return None
    token, sep, choice = custom_id[len(APPROVAL_PREFIX) :].partition(":")
    if not sep or not token or choice not in ("yes", "no"):
        return None
    return token, choice == "yes"
