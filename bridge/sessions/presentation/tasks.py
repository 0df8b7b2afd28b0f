"""The task list (C16): Claude's TodoWrite / TaskCreate / TaskUpdate calls as one embed.

Theory of operation
-------------------
The CLI emits no event of its own for the task list; :class:`~protocol.claude.turn.TurnState`
rebuilds it from the task tools' inputs and results (``state.tasks``). A turn shows it in
**one** embed: the first change of the turn posts it, every later change of the same turn
edits that message in place (never deleted and posted again). The edits go through the
thread's outbox, whose latest-edit semantics and the REST client's coalescing
``submit_edit`` keep a burst of updates within Discord's edit limits: only the newest list
is sent once the previous edit is through.

:class:`TaskListShown` is the pure decision (post, edit or nothing); :func:`task_list_embed`
the pure rendering. The tool embeds of the task tools themselves are not shown: the list
is their display (:data:`TASK_TOOLS`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Final

import attrs

from bridge.sessions.presentation.render import BLURPLE, GREEN, truncate
from protocol.claude.turn import TaskItem
from protocol.discord import limits
from protocol.discord import models as m

__all__ = ["TASK_TOOLS", "TaskListShown", "TaskListStep", "task_line", "task_list_embed"]

TASK_TOOLS: Final = frozenset({"TodoWrite", "TaskCreate", "TaskUpdate"})
"""Tools whose calls change the task list (2.1.330: TaskCreate/TaskUpdate by default,
TodoWrite with ``CLAUDE_CODE_ENABLE_TASKS=0``)."""

DONE: Final = "✅"
IN_PROGRESS: Final = "🔄"
PENDING: Final = "⬜"

_LINE_CHARS: Final = 200
"""One task's line at most: a long subject must not push the others out of the embed."""


def task_line(task: TaskItem) -> str:
    """``✅ subject`` (done), ``🔄 **active label**`` (in progress), ``⬜ subject`` (pending)."""
    subject = " ".join(task.subject.split()) or f"task {task.id}"
    if task.status == "completed":
        text = f"{DONE} ~~{_plain(subject)}~~"
    elif task.status == "in_progress":
        label = " ".join((task.active_form or "").split()) or subject
        text = f"{IN_PROGRESS} **{_plain(label)}**"
    else:
        text = f"{PENDING} {_plain(subject)}"
    return truncate(text, _LINE_CHARS)


def _plain(text: str) -> str:
    """No Markdown of Claude's may break the line's own (strike-through, bold)."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("~", "\\~").replace("_", "\\_")


def task_list_embed(tasks: Sequence[TaskItem]) -> m.Embed:
    """The embed of the task list: a count in the title, one line per task in order; lines
    that do not fit Discord's description limit are summed up at the end."""
    done = sum(1 for t in tasks if t.status == "completed")
    title = f"📋 Tasks ({done}/{len(tasks)} done)"
    lines: list[str] = []
    used = 0
    for index, task in enumerate(tasks):
        line = task_line(task)
        rest = len(tasks) - index
        more = f"… and {rest} more"
        # Room for this line, and for the "and N more" line should a later one not fit.
        if used + len(line) + 1 + len(more) + 1 > limits.EMBED_DESCRIPTION:
            lines.append(more)
            break
        lines.append(line)
        used += len(line) + 1
    description = "\n".join(lines) if lines else "No tasks."
    color = GREEN if tasks and done == len(tasks) else BLURPLE
    return m.Embed(title=title, description=description, color=color)


class TaskListStep(enum.Enum):
    POST = "post"
    EDIT = "edit"


@attrs.define
class TaskListShown:
    """What the turn's task-list message shows; decides how a new list is shown.

    ``shown`` starts as the list the turn began with (nothing to show until it changes)."""

    shown: tuple[TaskItem, ...] = ()
    posted: bool = False

    def update(self, tasks: tuple[TaskItem, ...]) -> TaskListStep | None:
        """The step that shows ``tasks``: the first change posts, later ones edit; an
        unchanged list costs nothing."""
        if tasks == self.shown:
            return None
        self.shown = tasks
        if self.posted:
            return TaskListStep.EDIT
        self.posted = True
        return TaskListStep.POST
