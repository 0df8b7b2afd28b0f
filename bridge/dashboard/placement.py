"""Which message is the dashboard (C17): found among messages (the main channel's pins, or
its newest messages), or none.

Pure: the actor reads the messages and the bot's own id, this decides. The dashboard is the
first (newest) message the bot wrote whose first embed carries :data:`DASHBOARD_TITLE`; a
message of anyone else with the same title is never taken (a person cannot hijack it).
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.dashboard.board import DASHBOARD_TITLE
from protocol.discord import models as m

__all__ = ["find_dashboard"]


def find_dashboard(messages: Sequence[m.Message], bot_id: int) -> int | None:
    """The id of the dashboard among ``messages`` (newest first, as Discord lists pins and
    history)."""
    for message in messages:
        if int(message.author.id) != bot_id:
            continue
        if message.embeds and message.embeds[0].title == DASHBOARD_TITLE:
            return int(message.id)
    return None
