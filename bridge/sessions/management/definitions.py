"""The session-management slash commands' definitions (what Discord registers)."""

from __future__ import annotations

from typing import Final

from bridge.sessions.management.listing import Origin
from bridge.sessions.management.sync import COUNT_DEFAULT, COUNT_MAX
from protocol.discord import models as m

__all__ = [
    "HOURS_MAX",
    "MANAGEMENT_COMMANDS",
    "PREFIX",
    "RESUME_INFO_COMMAND",
    "SESSIONS_COMMAND",
    "SYNC_COMMAND",
    "USAGE_COMMAND",
    "WORKTREE_CLEANUP_COMMAND",
    "WORKTREE_LIST_COMMAND",
]

PREFIX: Final = "ccb:mgmt:"
"""Every management button's ``custom_id`` starts so (prompts use ``ccb:prompt:``)."""
HOURS_MAX: Final = 24 * 366

_HOURS = m.CommandOption(
    type=m.CommandOptionType.INTEGER,
    name="hours",
    description="Only sessions active in the last this many hours",
    min_value=1,
    max_value=HOURS_MAX,
)

SYNC_COMMAND: Final = m.ApplicationCommand(
    name="sync-sessions",
    description="Import the Claude CLI's sessions of the working directory as threads",
    type=m.ApplicationCommandType.CHAT_INPUT,
    options=[
        _HOURS,
        m.CommandOption(
            type=m.CommandOptionType.INTEGER,
            name="count",
            description=f"At most this many sessions, newest first (default {COUNT_DEFAULT})",
            min_value=1,
            max_value=COUNT_MAX,
        ),
    ],
)
SESSIONS_COMMAND: Final = m.ApplicationCommand(
    name="sessions",
    description="List the bridge's sessions with their status and thread",
    type=m.ApplicationCommandType.CHAT_INPUT,
    options=[
        m.CommandOption(
            type=m.CommandOptionType.STRING,
            name="origin",
            description="Started in Discord, imported from the CLI, or all (default)",
            choices=[m.CommandChoice(name=o.value, value=o.value) for o in Origin],
        ),
        _HOURS,
    ],
)
RESUME_INFO_COMMAND: Final = m.ApplicationCommand(
    name="resume-info",
    description="The terminal command that continues this thread's Claude session",
    type=m.ApplicationCommandType.CHAT_INPUT,
)
WORKTREE_LIST_COMMAND: Final = m.ApplicationCommand(
    name="worktree-list",
    description="Session worktrees, clean or with uncommitted changes",
    type=m.ApplicationCommandType.CHAT_INPUT,
)
WORKTREE_CLEANUP_COMMAND: Final = m.ApplicationCommand(
    name="worktree-cleanup",
    description="Remove clean session worktrees (shows a dry run to confirm first)",
    type=m.ApplicationCommandType.CHAT_INPUT,
)

USAGE_COMMAND: Final = m.ApplicationCommand(
    name="usage",
    description="What today cost: in all, by user and by thread, against the budgets",
    type=m.ApplicationCommandType.CHAT_INPUT,
)

MANAGEMENT_COMMANDS: Final = (
    SYNC_COMMAND,
    SESSIONS_COMMAND,
    RESUME_INFO_COMMAND,
    WORKTREE_LIST_COMMAND,
    WORKTREE_CLEANUP_COMMAND,
    USAGE_COMMAND,
)
