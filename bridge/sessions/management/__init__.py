"""Session management from Discord (S1-S4): ``/sync-sessions``, ``/sessions``,
``/resume-info``, ``/worktree-list`` and ``/worktree-cleanup``.

The router registers :data:`MANAGEMENT_COMMANDS` and hands each interaction to
:class:`Management` before its own commands.
"""

from bridge.sessions.management.commands import (
    MANAGEMENT_COMMANDS,
    Management,
    ManagementConfig,
    ManagementRest,
)

__all__ = ["MANAGEMENT_COMMANDS", "Management", "ManagementConfig", "ManagementRest"]
