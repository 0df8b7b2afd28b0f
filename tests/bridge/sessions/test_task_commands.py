"""``/task`` options as Discord could send them, junk included: the command answers with
text and changes only the task it names; autocomplete stays within Discord's limits."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from bridge.sessions.task_commands import CHOICES_MAX, task_choices, task_command
from bridge.store import TaskRecord
from protocol.discord import models as m


def _task(task_id: int, name: str, *, enabled: bool = True) -> TaskRecord:
    return TaskRecord(
        id=task_id,
        name=name,
        prompt="p",
        working_dir="/",
        timeout_seconds=60.0,
        interval_seconds=60.0,
        enabled=enabled,
        anchor_at=0.0,
        created_at=0.0,
        updated_at=0.0,
    )


class FakeStore:
    """Just the two calls the command makes (tasks, task_update), in memory."""

    def __init__(self, tasks: list[TaskRecord]) -> None:
        self.tasks_by_id = {t.id: t for t in tasks}

    def tasks(self) -> list[TaskRecord]:
        return sorted(self.tasks_by_id.values(), key=lambda t: t.id)

    def task_update(self, task_id: int, now: float, **fields: Any) -> TaskRecord | None:
        task = self.tasks_by_id.get(task_id)
        if task is None:
            return None
        self.tasks_by_id[task_id] = attrs.evolve(task, **fields)
        return self.tasks_by_id[task_id]

    async def __call__(self, fn: Any) -> Any:
        return fn(self)


class Control:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None]] = []

    def reload(self) -> bool:
        self.calls.append(("reload", None))
        return True

    def run_now(self, task_id: int) -> bool:
        self.calls.append(("run", task_id))
        return True


values = st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none())
inner = st.lists(
    st.builds(
        m.CommandInteractionOption,
        name=st.sampled_from(["task", "other", ""]),
        type=st.integers(0, 12),
        value=values,
        focused=st.booleans(),
    ),
    max_size=3,
)
subs = st.lists(
    st.builds(
        m.CommandInteractionOption,
        name=st.sampled_from(["list", "enable", "disable", "run", "nope"]),
        type=st.integers(0, 12),
        options=inner,
    ),
    max_size=2,
)
tables = st.lists(
    st.tuples(st.integers(1, 50), st.text(min_size=1, max_size=20), st.booleans()),
    max_size=30,
    unique_by=lambda t: t[0],
)


def _data(options: list[m.CommandInteractionOption]) -> m.ApplicationCommandData:
    return m.ApplicationCommandData(id=1, name="task", options=options)


@given(tables, subs)
async def test_junk_options_get_an_answer_and_touch_at_most_the_named_task(
    table: list[tuple[int, str, bool]], options: list[m.CommandInteractionOption]
) -> None:
    store = FakeStore([_task(i, name, enabled=on) for i, name, on in table])
    before = dict(store.tasks_by_id)
    control = Control()
    answer = await task_command(_data(options), store, control, 5.0)
    assert isinstance(answer, str)
    assert answer
    changed = [i for i in before if store.tasks_by_id[i] != before[i]]
    assert len(changed) <= 1
    for i in changed:
        assert store.tasks_by_id[i].enabled != before[i].enabled
        assert ("reload", None) in control.calls
    assert len([c for c in control.calls if c[0] == "run"]) <= 1


@given(tables, subs)
def test_autocomplete_offers_at_most_25_existing_tasks(
    table: list[tuple[int, str, bool]], options: list[m.CommandInteractionOption]
) -> None:
    tasks = [_task(i, name) for i, name, _ in table]
    choices = task_choices(_data(options), tasks)
    assert len(choices) <= CHOICES_MAX
    assert {c.value for c in choices} <= {str(t.id) for t in tasks}
    assert all(1 <= len(c.name) <= 100 for c in choices)


async def test_enable_disable_run_by_id_or_name() -> None:
    store = FakeStore([_task(3, "nightly"), _task(4, "weekly", enabled=False)])
    control = Control()

    def sub(name: str, task: str) -> m.ApplicationCommandData:
        option = m.CommandInteractionOption(name="task", type=3, value=task)
        return _data([m.CommandInteractionOption(name=name, type=1, options=[option])])

    assert "now disabled" in await task_command(sub("disable", "#3"), store, control, 9.0)
    assert store.tasks_by_id[3].enabled is False
    assert store.tasks_by_id[3].anchor_at == 9.0
    assert "now enabled" in await task_command(sub("enable", "weekly"), store, control, 9.0)
    assert "runs now" in await task_command(sub("run", "4"), store, control, 9.0)
    assert control.calls == [("reload", None), ("reload", None), ("run", 4)]
    assert "no task" in await task_command(sub("run", "99"), store, control, 9.0)
    assert "not running" in await task_command(sub("run", "3"), store, None, 9.0)
