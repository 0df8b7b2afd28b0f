"""``/worktree-list`` and ``/worktree-cleanup`` (S4): what they show, pure.

The git work is :mod:`bridge.sessions.worktrees` (by exec, never a shell). Cleanup is
two steps: the command shows a dry run (what would go, what stays and why) with a
Confirm button; the click runs :func:`~bridge.sessions.worktrees.cleanup_worktrees`,
which checks each worktree again as it removes it, so one that got changes since the dry
run, or whose session started meanwhile, is kept. A worktree with uncommitted or untracked
changes is never removed; its branch ``session/<thread id>`` is kept in every case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bridge.sessions.presentation.render import truncate
from bridge.sessions.worktrees import CleanupOutcome, CleanupResult, WorktreeInfo
from protocol.discord import limits
from protocol.discord import models as m

__all__ = [
    "CLEANUP_CANCEL",
    "CLEANUP_CONFIRM",
    "LIST_MAX",
    "cleanup_plan_text",
    "cleanup_results_text",
    "worktree_list_text",
]

CLEANUP_CONFIRM: Final = "ccb:mgmt:worktree-cleanup:confirm"
CLEANUP_CANCEL: Final = "ccb:mgmt:worktree-cleanup:cancel"
LIST_MAX: Final = 25
"""Worktrees named one by one; the rest are counted (one message stays under 2000)."""


def _state(info: WorktreeInfo, active: frozenset[int]) -> str:
    if info.thread_id in active:
        return "🟡 session running"
    return "🟢 clean" if info.clean else "🔴 uncommitted changes"


def _lines(rows: Sequence[str]) -> list[str]:
    shown = list(rows[:LIST_MAX])
    if len(rows) > LIST_MAX:
        shown.append(f"… and {len(rows) - LIST_MAX} more.")
    return shown


def _finish(lines: list[str]) -> str:
    return truncate("\n".join(lines), limits.CONTENT)


def worktree_list_text(infos: Sequence[WorktreeInfo], active: frozenset[int]) -> str:
    if not infos:
        return "There are no session worktrees."
    rows = [f"`{i.path.name}` <#{i.thread_id}> · {_state(i, active)}" for i in infos]
    clean = sum(1 for i in infos if i.clean and i.thread_id not in active)
    header = f"**{len(infos)} session worktree{'s' if len(infos) != 1 else ''}** ({clean} clean)"
    return _finish([header, *_lines(rows)])


def cleanup_plan_text(
    infos: Sequence[WorktreeInfo], active: frozenset[int]
) -> tuple[str, list[m.ActionRow]]:
    """The dry run: its text, and Confirm / Cancel when something would be removed."""
    go = [i for i in infos if i.clean and i.thread_id not in active]
    stay = [i for i in infos if not (i.clean and i.thread_id not in active)]
    if not go:
        kept = f" ({len(stay)} kept: {', '.join(sorted({_state(i, active) for i in stay}))})"
        return f"Nothing to remove{kept if stay else ''}.", []
    rows = [f"🗑️ `{i.path.name}` <#{i.thread_id}> would be removed" for i in go]
    rows += [f"✋ `{i.path.name}` <#{i.thread_id}> kept: {_state(i, active)}" for i in stay]
    header = (
        f"**Dry run:** {len(go)} clean worktree{'s' if len(go) != 1 else ''} would be removed "
        "(their branches stay). Nothing with uncommitted changes is ever removed."
    )
    buttons: list[m.Component] = [
        m.Button(style=m.ButtonStyle.DANGER, label="Remove them", custom_id=CLEANUP_CONFIRM),
        m.Button(style=m.ButtonStyle.SECONDARY, label="Cancel", custom_id=CLEANUP_CANCEL),
    ]
    return _finish([header, *_lines(rows)]), [m.ActionRow(components=buttons)]


_OUTCOME: Final = {
    CleanupOutcome.REMOVED: "🗑️ removed",
    CleanupOutcome.DIRTY: "✋ kept: uncommitted changes",
    CleanupOutcome.ACTIVE: "✋ kept: session running",
    CleanupOutcome.FAILED: "⚠️ could not be removed",
}


def cleanup_results_text(results: Sequence[CleanupResult]) -> str:
    if not results:
        return "There are no session worktrees any more; nothing was removed."
    removed = sum(1 for r in results if r.outcome is CleanupOutcome.REMOVED)
    rows = []
    for r in results:
        detail = f" ({truncate(' '.join(r.detail.split()), 120)})" if r.detail else ""
        rows.append(f"`{r.path.name}` <#{r.thread_id}> {_OUTCOME[r.outcome]}{detail}")
    header = f"**Cleanup done:** {removed} removed."
    return _finish([header, *_lines(rows)])
