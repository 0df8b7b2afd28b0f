"""``/task list|enable|disable|run``: scheduled tasks (A1) from Discord.

The router checks the user (X5) and answers; this module holds the command's definition,
reads the options, and does the store work and the scheduler call, like the API's
``/api/tasks`` routes (``bridge/api/_routes_automation.py``): enabling or disabling makes
the schedule count from now (slots missed while a task was off are not run) and tells the
scheduler to reload; ``run`` asks for a run now, which takes a concurrency slot as usual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from bridge.sessions.presentation.render import quiet
from bridge.store import Database, TaskRecord
from protocol.discord import models as m

__all__ = [
    "TASK_COMMAND",
    "TaskControl",
    "task_choices",
    "task_command",
]

LIST_MAX: Final = 25
"""Tasks shown by ``/task list`` (the rest are counted): one message stays short."""
CHOICES_MAX: Final = 25
"""Discord's limit on autocomplete choices."""
CHOICE_NAME_MAX: Final = 100

_TASK_OPTION = m.CommandOption(
    type=m.CommandOptionType.STRING,
    name="task",
    description="The task's id or name",
    required=True,
    autocomplete=True,
)

TASK_COMMAND: Final = m.ApplicationCommand(
    name="task",
    description="Scheduled Claude tasks: list them, enable, disable, or run one now",
    type=m.ApplicationCommandType.CHAT_INPUT,
    options=[
        m.CommandOption(
            type=m.CommandOptionType.SUB_COMMAND, name="list", description="List the tasks"
        ),
        m.CommandOption(
            type=m.CommandOptionType.SUB_COMMAND,
            name="enable",
            description="Enable a task (its schedule counts from now)",
            options=[_TASK_OPTION],
        ),
        m.CommandOption(
            type=m.CommandOptionType.SUB_COMMAND,
            name="disable",
            description="Disable a task (a run in progress finishes)",
            options=[_TASK_OPTION],
        ),
        m.CommandOption(
            type=m.CommandOptionType.SUB_COMMAND,
            name="run",
            description="Run a task now, whatever its schedule",
            options=[_TASK_OPTION],
        ),
    ],
)


class TaskControl(Protocol):
    """The scheduler, as the router reaches it (set once the scheduler runs)."""

    def reload(self) -> bool:
        """Tell the scheduler the tasks changed; False if no scheduler runs."""

    def run_now(self, task_id: int) -> bool:
        """Ask for a run now; False if no scheduler runs."""


Store = Callable[[Callable[[Database], Any]], Awaitable[Any]]


def _subcommand(data: m.ApplicationCommandData) -> tuple[str | None, str | None]:
    """The subcommand's name and its ``task`` option's raw value."""
    options = data.options if isinstance(data.options, list) else []
    if len(options) != 1:
        return None, None
    sub = options[0]
    inner = sub.options if isinstance(sub.options, list) else []
    value = next((o.value for o in inner if o.name == "task"), None)
    return sub.name, str(value).strip() if value is not None else None


def _find(tasks: list[TaskRecord], text: str) -> TaskRecord | None:
    wanted = text.removeprefix("#")
    for task in tasks:
        if wanted.isdigit() and task.id == int(wanted):
            return task
    return next((t for t in tasks if t.name == text), None)


def _line(task: TaskRecord) -> str:
    schedule = f"every {task.interval_seconds:g} s" if task.interval_seconds else task.cron
    state = "enabled" if task.enabled else "disabled"
    return f"`#{task.id}` **{quiet(task.name)}**: {schedule} ({task.timezone}), {state}"


async def task_command(
    data: m.ApplicationCommandData, store: Store, control: TaskControl | None, now: float
) -> str:
    """Do ``/task ...`` and return the (ephemeral) answer."""
    sub, raw = _subcommand(data)
    tasks: list[TaskRecord] = await store(lambda db: db.tasks())
    if sub == "list":
        if not tasks:
            return "There are no scheduled tasks (create them with POST /api/tasks)."
        lines = [_line(t) for t in tasks[:LIST_MAX]]
        if len(tasks) > LIST_MAX:
            lines.append(f"… and {len(tasks) - LIST_MAX} more (GET /api/tasks lists them all).")
        return "\n".join(lines)
    if sub not in {"enable", "disable", "run"} or not raw:
        return "Use /task list, /task enable, /task disable or /task run with a task."
    task = _find(tasks, raw)
    if task is None:
        return f"There is no task {quiet(raw[:100])!r}; /task list shows them."
    if control is None:
        return "The scheduler is not running in this bridge; nothing changed."
    if sub == "run":
        if not control.run_now(task.id):
            return "The scheduler is not running in this bridge; nothing changed."
        return f"▶️ Task `#{task.id}` **{quiet(task.name)}** runs now."
    enabled = sub == "enable"
    if task.enabled == enabled:
        return f"Task `#{task.id}` **{quiet(task.name)}** is already {sub}d."
    # As the API does: a task enabled again counts from now, missed slots are not run.
    updated = await store(
        lambda db: db.task_update(task.id, now, enabled=enabled, next_run_at=None, anchor_at=now)
    )
    if updated is None:
        return f"Task `#{task.id}` was deleted meanwhile; nothing changed."
    control.reload()
    return f"Task `#{task.id}` **{quiet(task.name)}** is now {sub}d."


def task_choices(data: m.ApplicationCommandData, tasks: list[TaskRecord]) -> list[m.CommandChoice]:
    """Autocomplete: the tasks whose id or name contains what is typed so far."""
    _, raw = _subcommand(data)
    typed = (raw or "").lower().removeprefix("#")
    found = [t for t in tasks if typed in str(t.id) or typed in t.name.lower()]
    return [
        m.CommandChoice(name=f"#{t.id} {t.name}"[:CHOICE_NAME_MAX], value=str(t.id))
        for t in found[:CHOICES_MAX]
    ]
