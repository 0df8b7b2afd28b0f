"""Session management from Discord (S1-S4): ``/sync-sessions``, ``/sessions``,
``/resume-info``, ``/worktree-list`` and ``/worktree-cleanup``; spending: ``/usage`` and
the approvers' "continue with +$N" buttons.

The router registers :data:`MANAGEMENT_COMMANDS` and hands each interaction to
:class:`Management` before its own commands.
"""

from bridge.sessions.management.commands import Management, ManagementConfig, ManagementRest
from bridge.sessions.management.definitions import MANAGEMENT_COMMANDS

__all__ = ["MANAGEMENT_COMMANDS", "Management", "ManagementConfig", "ManagementRest"]
