"""Sentences shared by the router and the commands."""

from __future__ import annotations

from typing import Final

NOT_ALLOWED: Final = (
    "Sorry, you are not on this bot's list of allowed users, so it will not run Claude for "
    "you. Ask the bot's owner to add your user id to ALLOWED_USER_IDS."
)
NO_SESSION: Final = "There is no Claude session in this channel: use /{name} in a session's thread."
