"""C16: the task list's rendering and its post-or-edit decision, for any list and any
sequence of lists."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.sessions.presentation.tasks import TaskListShown, TaskListStep, task_list_embed
from protocol.claude.turn import TaskItem
from protocol.discord import limits

_STATUS = st.sampled_from(["pending", "in_progress", "completed", "deleted", "", "weird"])

tasks_strategy = st.lists(
    st.builds(
        TaskItem,
        id=st.text(max_size=5),
        subject=st.text(max_size=400),
        status=_STATUS,
        active_form=st.none() | st.text(max_size=400),
    ),
    max_size=120,
).map(tuple)


@given(tasks_strategy)
def test_the_embed_fits_discord_and_counts_every_task(tasks: tuple[TaskItem, ...]) -> None:
    embed = task_list_embed(tasks)
    assert isinstance(embed.title, str)
    assert isinstance(embed.description, str)
    assert len(embed.title) <= limits.EMBED_TITLE
    assert 0 < len(embed.description) <= limits.EMBED_DESCRIPTION
    done = sum(1 for t in tasks if t.status == "completed")
    assert f"({done}/{len(tasks)} done)" in embed.title
    lines = embed.description.split("\n") if tasks else []
    shown = [line for line in lines if not line.startswith("… and ")]
    if len(shown) < len(tasks):  # the rest is summed up, never silently dropped
        assert lines[-1] == f"… and {len(tasks) - len(shown)} more"


@given(st.lists(tasks_strategy, max_size=12), tasks_strategy)
def test_one_post_per_turn_then_edits_and_the_latest_list_is_shown(
    updates: list[tuple[TaskItem, ...]], start: tuple[TaskItem, ...]
) -> None:
    shown = TaskListShown(shown=start)
    steps = [shown.update(tasks) for tasks in updates]
    made = [s for s in steps if s is not None]
    assert made.count(TaskListStep.POST) <= 1
    if made:
        assert made[0] is TaskListStep.POST  # an edit never comes before the post
    changed = [t for prev, t in zip([start, *updates], updates, strict=False) if t != prev]
    assert len(made) == len(changed)  # every change is shown, an unchanged list costs nothing
    assert shown.shown == (updates[-1] if updates else start)
