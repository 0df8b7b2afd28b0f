"""The upgrade actor (A3): feeds :class:`~bridge.upgrade._machine.UpgradeMachine` and
performs its orders. It decides nothing itself.

* :class:`RequestUpgrade` comes from ``/upgrade`` (the router) or a webhook trigger with
  ``action = "upgrade"``; :class:`AnswerUpgrade` from a click on an approval button. Both
  are asks: the machine's immediate answer goes back as the text to show.
* The upgrade command runs in a helper task (``_command.run_upgrade_command``), its end
  fed back as :class:`~bridge.upgrade._machine.CommandEnded`.
* The drain asks the limiter :class:`~bridge.sessions.messages.DrainSlots` (new turns are
  held and say so in their threads) with the drain bound as the ask's timeout: the reply
  is :class:`Drained`, the timeout :class:`DrainBoundPassed`.
* :class:`Stop` calls ``request_restart``: the bridge's owner (``ccbridge run``) leaves the
  bridge, whose graceful shutdown interrupts what still runs and marks running and queued
  sessions for resume, then runs ``RESTART_COMMAND`` or exits with :data:`EXIT_RESTART`.

The machine's clock is trio's (monotonic); the approval's lapse time shown in Discord is
converted to the wall clock.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
import trio

import actors
from bridge.discord.errors import DiscordError
from bridge.sessions.messages import DrainSlots, LimiterMessage
from bridge.upgrade import _render as text
from bridge.upgrade._command import run_upgrade_command
from bridge.upgrade._machine import (
    Action,
    Announce,
    Answered,
    ApprovalExpired,
    AskApproval,
    CloseApproval,
    DrainBoundPassed,
    Drained,
    Event,
    HoldTurns,
    Reply,
    Requested,
    RunCommand,
    Settings,
    Stop,
    UpgradeMachine,
)
from protocol.discord import models as m

__all__ = [
    "EXIT_RESTART",
    "AnswerUpgrade",
    "RequestUpgrade",
    "UpgradeAnswer",
    "UpgradeConfig",
    "UpgradeMessage",
    "UpgradeRest",
    "upgrade_actor",
]

log = logging.getLogger(__name__)

EXIT_RESTART: Final = 75
"""``ccbridge run``'s exit status after an upgrade when no ``RESTART_COMMAND`` is set
(EX_TEMPFAIL): a service manager restarts it (docs/upgrade.md)."""


class UpgradeRest(Protocol):
    async def create_message(
        self,
        channel_id: int,
        *,
        content: str | None = ...,
        components: Sequence[m.ActionRow] = ...,
    ) -> m.Message: ...

    async def edit_message(
        self,
        channel_id: int,
        message_id: int,
        *,
        content: Any = ...,
        components: Any = ...,
    ) -> m.Message: ...


@attrs.frozen(kw_only=True)
class UpgradeConfig:
    command: tuple[str, ...]
    """``UPGRADE_COMMAND``, an argument list."""
    timeout: float
    """``UPGRADE_TIMEOUT_SECONDS``."""
    channel_id: int
    """The main channel, where every step is told."""
    settings: Settings
    env: Mapping[str, str]
    """The upgrade command's environment (the bridge's, without its secrets)."""
    wall_clock: Callable[[], float] = time.time


@attrs.frozen(kw_only=True)
class UpgradeAnswer:
    accepted: bool
    text: str


@attrs.frozen(kw_only=True)
class RequestUpgrade(actors.Ask[UpgradeAnswer]):
    user_id: int | None = None
    """Who typed ``/upgrade``; ``None`` for a trigger."""
    role_ids: frozenset[int] = frozenset()
    """Their roles, as the interaction gave them."""
    trigger: str | None = None
    """The trigger's name, when a webhook trigger asked."""


@attrs.frozen(kw_only=True)
class AnswerUpgrade(actors.Ask[UpgradeAnswer]):
    token: str
    user_id: int
    approve: bool
    role_ids: frozenset[int] = frozenset()


@attrs.frozen
class _Feed:
    """An event from a helper task or a timer."""

    event: Event


UpgradeMessage = RequestUpgrade | AnswerUpgrade | _Feed
"""Everything the upgrade actor takes (``_Feed`` it sends itself)."""


async def upgrade_actor(
    ctx: actors.Context[UpgradeMessage],
    limiter: actors.Ref[LimiterMessage],
    rest: UpgradeRest,
    config: UpgradeConfig,
    request_restart: Callable[[Stop], None],
) -> None:
    machine = UpgradeMachine(config.settings)
    approvals: dict[str, int] = {}
    """Approval message id per request token (only this task touches it)."""

    async def post(content: str, components: Sequence[m.ActionRow] = ()) -> int | None:
        try:
            message = await rest.create_message(
                config.channel_id, content=content, components=components
            )
        except DiscordError as exc:
            log.error("upgrade: could not post in the main channel: %s", exc)
            return None
        return message.id

    async def run_command() -> None:
        ended = await run_upgrade_command(
            config.command, config.timeout, config.env, ctx.open_process
        )
        log.info("upgrade: the upgrade command ended: %r", ended)
        ctx.self.offer(_Feed(ended))

    async def perform(action: Action) -> None:
        match action:
            case Reply():
                pass  # answered by the caller of perform
            case Announce():
                line = text.announcement(action, config.command, config.settings.drain_seconds)
                log.info("upgrade: %s", line)
                await post(line)
            case AskApproval(token=token):
                lapse = config.wall_clock() + (action.expires_at - trio.current_time())
                message_id = await post(
                    text.approval_request(action.by_user, action.trigger, lapse),
                    text.approval_buttons(token),
                )
                if message_id is not None:
                    approvals[token] = message_id
                ctx.send_after(
                    max(0.0, action.expires_at - trio.current_time()),
                    _Feed(ApprovalExpired(token=token)),
                )
            case CloseApproval(token=token):
                message_id = approvals.pop(token, None)
                if message_id is not None:
                    try:
                        await rest.edit_message(
                            config.channel_id,
                            message_id,
                            content=text.approval_closed(action.approved, action.by_user),
                            components=[],
                        )
                    except DiscordError as exc:
                        log.warning("upgrade: could not close the approval message: %s", exc)
            case RunCommand():
                ctx.nursery.start_soon(run_command)
            case HoldTurns(until=until):
                remaining = max(0.0, until - trio.current_time())
                # The reply means drained; a timeout, or any failure of the ask, is fed as
                # the bound (the machine ignores it before its time), and the timer makes
                # sure the bound comes even if the ask failed early.
                ctx.ask_into(
                    limiter,
                    DrainSlots(),
                    timeout=remaining,
                    map=lambda result: _Feed(Drained() if result is None else DrainBoundPassed()),
                )
                ctx.send_after(remaining, _Feed(DrainBoundPassed()))
            case Stop():
                log.info("upgrade: stopping the bridge for the restart (%r)", action)
                request_restart(action)

    async def carry_out(actions: list[Action]) -> None:
        for action in actions:
            if not isinstance(action, Reply):
                await perform(action)

    def answer_of(actions: list[Action]) -> UpgradeAnswer:
        for action in actions:
            if isinstance(action, Reply):
                return UpgradeAnswer(
                    accepted=action.refusal is None,
                    text=text.reply_text(action, channel_id=config.channel_id),
                )
        return UpgradeAnswer(accepted=False, text="Nothing changed.")

    ctx.started()
    async for msg in ctx.mailbox:
        match msg:
            case RequestUpgrade():
                event: Event = Requested(
                    token=secrets.token_hex(8),
                    user_id=msg.user_id,
                    role_ids=msg.role_ids,
                    trigger=msg.trigger,
                )
                actions = machine.handle(event, trio.current_time())
                msg.reply(answer_of(actions))  # first: the router answers an interaction
                await carry_out(actions)
            case AnswerUpgrade():
                event = Answered(
                    token=msg.token, user_id=msg.user_id, approve=msg.approve, role_ids=msg.role_ids
                )
                actions = machine.handle(event, trio.current_time())
                msg.reply(answer_of(actions))
                await carry_out(actions)
            case _Feed(event=event):
                await carry_out(machine.handle(event, trio.current_time()))
            case _:
                log.warning("upgrade: ignoring unexpected message %r", msg)
