"""``/task``: the scheduled-task commands of :mod:`bridge.sessions.task_commands` (A1) as a
registry entry; the scheduler is the host's ``task_control`` extra."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bridge.sessions.commands._registry import Answer, CommandHost, Invocation, SlashCommand
from bridge.sessions.task_commands import TASK_COMMAND, task_choices, task_command
from protocol.discord import models as m

__all__ = ["TASK"]


async def _task(host: CommandHost, call: Invocation) -> Answer:
    text = await task_command(call.data, host.db, host.task_control, host.now())
    return Answer(content=text)


async def _complete(host: CommandHost, call: Invocation) -> Sequence[m.CommandChoice]:
    return task_choices(call.data, await host.db(lambda db: db.tasks()))


TASK: Final = SlashCommand(definition=TASK_COMMAND, handle=_task, complete=_complete)
