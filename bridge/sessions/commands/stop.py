"""``/stop``: stop Claude's running turn in a session thread (the session stays resumable)."""

from __future__ import annotations

from typing import Final

from bridge.sessions.commands._registry import (
    Answer,
    CommandError,
    CommandHost,
    Invocation,
    SlashCommand,
)
from bridge.sessions.commands._texts import NO_SESSION
from bridge.sessions.messages import StopTurn
from protocol.discord import models as m

__all__ = ["STOP"]


async def _stop(host: CommandHost, call: Invocation) -> Answer:
    record = await host.session(call.channel_id)
    if record is None:
        raise CommandError(NO_SESSION.format(name="stop"))
    await host.tell_session(record.thread_id, StopTurn(requested_by=call.user_id))
    # Public: everyone in the thread sees who stopped the turn.
    return Answer(content=f"⏹️ Stop requested by <@{call.user_id}>.", ephemeral=False)


STOP: Final = SlashCommand(
    definition=m.ApplicationCommand(
        name="stop",
        description="Stop Claude's running turn in this thread (the session stays resumable)",
        type=m.ApplicationCommandType.CHAT_INPUT,
    ),
    handle=_stop,
)
