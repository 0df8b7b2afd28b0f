"""``/upgrade`` (A3): ask the upgrade actor to upgrade and restart the bridge.

Who may upgrade is the upgrade actor's rule (docs/upgrade.md); this command only asks it and
answers the person with what it said.
"""

from __future__ import annotations

from typing import Final

from bridge.sessions.commands._registry import Answer, CommandHost, Invocation, SlashCommand
from bridge.upgrade._render import UPGRADE_SLASH_COMMAND

__all__ = ["UPGRADE"]


async def _upgrade(host: CommandHost, call: Invocation) -> Answer:
    return Answer(content=await host.request_upgrade(call.user_id, call.role_ids), ephemeral=True)


UPGRADE: Final = SlashCommand(definition=UPGRADE_SLASH_COMMAND, handle=_upgrade)
