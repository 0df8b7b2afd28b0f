"""C16 with the real ``claude``: the model creates and updates tasks (TaskCreate /
TaskUpdate, the 2.1.330 default, and TodoWrite with ``CLAUDE_CODE_ENABLE_TASKS=0``) and
the thread shows one task-list embed, edited in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.sessions.presentation.tasks import DONE, IN_PROGRESS, PENDING
from tests.e2e.bridge_harness import Scene, open_scene
from tests.support.model_server import ModelServer, Reply


def _task_messages(scene: Scene, thread: int) -> list[dict[str, Any]]:
    return [
        m
        for m in scene.bot_messages(thread)
        if m["embeds"] and str(m["embeds"][0].get("title", "")).startswith("📋 Tasks")
    ]


def _description(scene: Scene, message_id: str) -> str:
    return str(scene.server.control.message(message_id)["embeds"][0].get("description", ""))


async def test_task_create_and_update_edit_one_embed(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(
        [
            Reply.tool(
                "TaskCreate",
                {"subject": "Read the code", "description": "read it", "activeForm": "Reading"},
            ),
            Reply.tool(
                "TaskCreate",
                {"subject": "Fix the bug", "description": "fix it", "activeForm": "Fixing the bug"},
            ),
            Reply.tool("TaskUpdate", {"taskId": "1", "status": "in_progress"}),
            Reply.tool("TaskUpdate", {"taskId": "1", "status": "completed"}),
            Reply.tool("TaskUpdate", {"taskId": "2", "status": "in_progress"}),
            Reply.text("Working through the list."),
            # The next turn (a new process, --resume) finishes a task of the first one.
            Reply.tool("TaskUpdate", {"taskId": "2", "status": "completed"}),
            Reply.text("All done."),
        ]
    )
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        thread = scene.post(scene.channel_id, "Plan and fix the bug")
        await scene.until_shown(thread, "✅ Done")
        expected = f"{DONE} ~~Read the code~~\n{IN_PROGRESS} **Fixing the bug**"
        # The last edit is submitted, coalesced and rate limited: it may land a bit later.
        await scene.until(
            lambda: (
                [_description(scene, m["id"]) for m in _task_messages(scene, thread)] == [expected]
            )
        )
        (message,) = _task_messages(scene, thread)
        assert message["embeds"][0]["title"] == "📋 Tasks (1/2 done)"
        versions = scene.server.control.message(message["id"])["versions"]
        assert versions[0]["embeds"][0]["description"] == f"{PENDING} Read the code"
        assert len(versions) >= 2  # edited in place
        # Never deleted and posted again.
        deleted = [
            m
            for m in scene.bot_messages(thread, include_deleted=True)
            if m not in scene.bot_messages(thread)
        ]
        assert not any("📋 Tasks" in str(m["embeds"]) for m in deleted)
        assert "TaskCreate" not in scene.shown(thread)  # the list is the task tools' display

        # A later turn shows the whole list again, in its own embed.
        scene.post(thread, "Finish it")
        await scene.until(lambda: scene.shown(thread).count("✅ Done") == 2)
        done = f"{DONE} ~~Read the code~~\n{DONE} ~~Fix the bug~~"
        await scene.until(
            lambda: (
                [_description(scene, m["id"]) for m in _task_messages(scene, thread)]
                == [expected, done]
            )
        )
        second = _task_messages(scene, thread)[1]
        assert second["embeds"][0]["title"] == "📋 Tasks (2/2 done)"
    # The CLI ran the tools: the model saw their results (pins the 2.1.330 shapes).
    results = [r for turn in model_server.turns[1:6] for r in turn.tool_results()]
    assert "Task #1 created successfully: Read the code" in str(results[0]["content"])
    assert "Updated task #1 status" in str(results[2]["content"])
    (later,) = model_server.turns[7].tool_results()
    assert "Updated task #2 status" in str(later["content"])  # the CLI kept the list


async def test_todo_write_shows_the_same_embed(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    def todos(first: str, second: str) -> dict[str, Any]:
        return {
            "todos": [
                {"content": "Read", "status": first, "activeForm": "Reading"},
                {"content": "Write", "status": second, "activeForm": "Writing"},
            ]
        }

    model_server.set_script(
        [
            Reply.tool("TodoWrite", todos("in_progress", "pending")),
            Reply.tool("TodoWrite", todos("completed", "in_progress")),
            Reply.text("Halfway."),
        ]
    )
    env = {**claude_env, "CLAUDE_CODE_ENABLE_TASKS": "0"}
    async with open_scene(tmp_path, model_server, claude_bin, env) as scene:
        thread = scene.post(scene.channel_id, "Do the todo list")
        await scene.until_shown(thread, "✅ Done")
        expected = f"{DONE} ~~Read~~\n{IN_PROGRESS} **Writing**"
        await scene.until(
            lambda: (
                [_description(scene, m["id"]) for m in _task_messages(scene, thread)] == [expected]
            )
        )
        (message,) = _task_messages(scene, thread)
        versions = scene.server.control.message(message["id"])["versions"]
        assert (
            versions[0]["embeds"][0]["description"] == f"{IN_PROGRESS} **Reading**\n{PENDING} Write"
        )
    tools = [t["name"] for t in model_server.turns[0].body["tools"]]
    assert "TodoWrite" in tools
    assert "TaskCreate" not in tools
