"""C16 in the turn view: task tool calls show one task-list embed, edited in place, against
the real REST client and the local Discord server (only our code runs: trio's clock jumps)."""

from __future__ import annotations

from typing import Any

from bridge.sessions.presentation.tasks import DONE, IN_PROGRESS, PENDING
from bridge.sessions.presentation.view import TurnView
from protocol.claude import events as ev
from protocol.claude.turn import TurnState
from tests.bridge.sessions.test_view import Rig, open_rig


async def _call(
    view: TurnView,
    state: TurnState,
    now: float,
    tool_id: str,
    name: str,
    tool_input: dict[str, Any],
    result: dict[str, Any] | None = None,
) -> TurnState:
    call = ev.AssistantMessage(content=(ev.ToolUseBlock(id=tool_id, name=name, input=tool_input),))
    state = state.apply(call, now)
    await view.on_event(call, state, now)
    done = ev.UserMessage(
        content=(ev.ToolResultBlock(tool_use_id=tool_id, content="ok"),),
        tool_use_result=result,
    )
    state = state.apply(done, now + 0.1)
    await view.on_event(done, state, now + 0.1)
    return state


def _task_messages(rig: Rig) -> list[dict[str, Any]]:
    return [
        m
        for m in rig.messages()
        if m["embeds"] and str(m["embeds"][0].get("title", "")).startswith("📋 Tasks")
    ]


async def test_task_calls_edit_one_embed_in_place(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        view = rig.view()
        state = TurnState().start_turn(0.0)
        state = await _call(
            view, state, 1.0, "t1", "TaskCreate",
            {"subject": "Write the parser", "description": "d", "activeForm": "Writing the parser"},
            {"task": {"id": "1", "subject": "Write the parser"}},
        )  # fmt: skip
        state = await _call(
            view, state, 2.0, "t2", "TaskCreate",
            {"subject": "Test it", "description": "d", "activeForm": "Testing it"},
            {"task": {"id": "2", "subject": "Test it"}},
        )  # fmt: skip
        state = await _call(
            view, state, 3.0, "t3", "TaskUpdate", {"taskId": "1", "status": "in_progress"}
        )
        state = await _call(
            view, state, 4.0, "t4", "TaskUpdate", {"taskId": "1", "status": "completed"}
        )
        state = await _call(
            view, state, 5.0, "t5", "TaskUpdate", {"taskId": "2", "status": "in_progress"}
        )
        await view.finish(state, None, 6.0, interrupted=False)
        await rig.rest.wait_idle()
        (message,) = _task_messages(rig)
        embed = message["embeds"][0]
        assert embed["title"] == "📋 Tasks (1/2 done)"
        assert embed["description"] == f"{DONE} ~~Write the parser~~\n{IN_PROGRESS} **Testing it**"
        first = message["versions"][0]["embeds"][0]
        assert first["description"] == f"{PENDING} Write the parser"
        assert len(message["versions"]) >= 2  # edited, not posted again
        # The task tools' own embeds are not shown: the list is their display.
        assert not any("TaskCreate" in str(m["embeds"]) for m in rig.messages())


async def test_todo_write_and_an_unchanged_list(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        view = rig.view()
        state = TurnState().start_turn(0.0)
        todos = [
            {"content": "Read", "status": "in_progress", "activeForm": "Reading"},
            {"content": "Write", "status": "pending", "activeForm": "Writing"},
        ]
        state = await _call(view, state, 1.0, "t1", "TodoWrite", {"todos": todos})
        state = await _call(view, state, 2.0, "t2", "TodoWrite", {"todos": todos})  # same list
        state = await _call(view, state, 3.0, "t3", "Read", {"file_path": "/x"})
        await rig.rest.wait_idle()
        (message,) = _task_messages(rig)
        assert message["embeds"][0]["description"] == f"{IN_PROGRESS} **Reading**\n{PENDING} Write"
        assert len(message["versions"]) == 1  # nothing changed: nothing sent
