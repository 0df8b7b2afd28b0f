"""With the real CLI: permissions, AskUserQuestion, ExitPlanMode, tasks and images."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import actors
from bridge.claude.process import ControlRequestFailed
from protocol.claude import events as ev
from protocol.claude.argv import ClaudeCommand
from protocol.claude.control import (
    ControlError,
    ImageAttachment,
    allow,
    allow_always,
    answer_questions,
    deny,
    elicitation_response,
    elicitation_url_accepted,
    error_response,
)
from protocol.claude.turn import Activity, PendingKind, TaskItem
from tests.support.claude_cli import open_claude_actor
from tests.support.model_server import ModelServer, Reply

# A real 2x2 PNG (red, green / blue, white), so the bytes are not trivially uniform.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)


async def test_bash_asks_permission_runs_after_allow_and_is_refused_after_deny(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script(
        [
            Reply.bash("touch allowed.txt", "touch a file"),
            Reply.text("Created it."),
            Reply.bash("touch denied.txt", "touch another file"),
            Reply.text("Understood, I will not."),
        ]
    )
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, ClaudeCommand(executable=str(claude_bin)), cwd=claude_workdir, env=claude_env
        ) as h,
    ):
        await h.claude.send_user("RUNTOUCH allowed")
        asked = await h.until_event(ev.ControlRequest)
        assert isinstance(asked.request, ev.CanUseTool)
        assert asked.request.tool_name == "Bash"
        assert asked.request.input["command"] == "touch allowed.txt"
        assert h.claude.turn.activity is Activity.AWAITING_PERMISSION
        # Nothing runs before the answer.
        assert not (claude_workdir / "allowed.txt").exists()
        await h.claude.answer(allow(asked.request_id, asked.request.input))
        done = await h.until_result()
        assert done.result == "Created it."
        assert (claude_workdir / "allowed.txt").exists()

        await h.claude.send_user("RUNTOUCH denied")
        asked = await h.until_event(ev.ControlRequest)
        await h.claude.answer(deny(asked.request_id, "User said no via Discord"))
        refused = await h.until_result()
    assert not (claude_workdir / "denied.txt").exists()
    assert [d.tool_name for d in refused.permission_denials] == ["Bash"]
    # The model was told why.
    (tool_result,) = model_server.turns[3].tool_results()
    assert tool_result["is_error"] is True
    assert "User said no via Discord" in str(tool_result["content"])


async def test_ask_user_question_is_answered_and_the_model_receives_the_answer(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    question = {
        "question": "Which color?",
        "header": "Color",
        "options": [
            {"label": "Red", "description": "warm"},
            {"label": "Blue", "description": "cool"},
        ],
        "multiSelect": False,
    }
    model_server.set_script(
        [Reply.tool("AskUserQuestion", {"questions": [question]}), Reply.text("Blue it is.")]
    )
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, ClaudeCommand(executable=str(claude_bin)), cwd=claude_workdir, env=claude_env
        ) as h,
    ):
        await h.claude.send_user("ASK me a color")
        asked = await h.until_event(ev.ControlRequest)
        assert h.claude.turn.pending is not None
        assert h.claude.turn.pending.kind is PendingKind.QUESTION
        assert asked.request.input["questions"][0]["question"] == "Which color?"
        await h.claude.answer(
            answer_questions(asked.request_id, asked.request.input, {"Which color?": "Blue"})
        )
        result = await h.until_result()
    assert result.result == "Blue it is."
    (tool_result,) = model_server.turns[1].tool_results()
    assert '"Which color?"="Blue"' in str(tool_result["content"])
    assert not tool_result.get("is_error")


async def test_exit_plan_mode_surfaces_the_plan(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    plan = "1. Create notes.txt\n2. Write the summary"
    model_server.set_script([Reply.tool("ExitPlanMode", {"plan": plan}), Reply.text("Starting.")])
    command = ClaudeCommand(executable=str(claude_bin), permission_mode="plan")
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=claude_env) as h,
    ):
        await h.claude.send_user("PLAN something")
        asked = await h.until_event(ev.ControlRequest)
        assert asked.request.tool_name == "ExitPlanMode"
        assert h.claude.turn.activity is Activity.AWAITING_PLAN_APPROVAL
        assert h.claude.turn.plan == plan
        assert h.claude.turn.permission_mode == "plan"
        await h.claude.answer(allow(asked.request_id, asked.request.input))
        await h.until_result()
        assert h.claude.turn.permission_mode == "default"
    assert "approved" in str(model_server.turns[1].tool_results()[0]["content"])


async def test_task_create_and_update_build_the_task_list(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script(
        [
            Reply.tool(
                "TaskCreate",
                {"subject": "write tests", "description": "d", "activeForm": "Writing tests"},
            ),
            Reply.tool("TaskCreate", {"subject": "ship", "description": "d"}),
            Reply.tool("TaskUpdate", {"taskId": "1", "status": "completed"}),
            Reply.tool("TaskUpdate", {"taskId": "2", "status": "in_progress"}),
            Reply.text("Progress made."),
        ]
    )
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, ClaudeCommand(executable=str(claude_bin)), cwd=claude_workdir, env=claude_env
        ) as h,
    ):
        await h.claude.send_user("TASKS please")
        await h.until_result()
        tasks = h.claude.turn.tasks
    assert tasks == (
        TaskItem(id="1", subject="write tests", status="completed", active_form="Writing tests"),
        TaskItem(id="2", subject="ship", status="in_progress"),
    )


async def test_an_image_reaches_the_model_byte_identical(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script([Reply.text("A tiny picture.")])
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, ClaudeCommand(executable=str(claude_bin)), cwd=claude_workdir, env=claude_env
        ) as h,
    ):
        await h.claude.send_user(
            "What is in this image?", images=(ImageAttachment(media_type="image/png", data=PNG),)
        )
        await h.until_result()
    message = model_server.turns[0].last_user_message
    assert message is not None
    images = [b for b in message["content"] if isinstance(b, dict) and b.get("type") == "image"]
    assert len(images) == 1
    assert images[0]["source"]["media_type"] == "image/png"
    assert base64.b64decode(images[0]["source"]["data"]) == PNG
    # 2.1.330 adds a text block naming where it saved the image; the prompt comes first.
    assert model_server.turns[0].last_user_text.startswith("What is in this image?")


async def test_model_and_permission_mode_switches_reach_the_cli(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script(
        [
            Reply.tool("Write", {"file_path": str(claude_workdir / "note.txt"), "content": "hi\n"}),
            Reply.text("Wrote it."),
        ]
    )
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, ClaudeCommand(executable=str(claude_bin)), cwd=claude_workdir, env=claude_env
        ) as h,
    ):
        assert await h.claude.set_permission_mode("acceptEdits") == {"mode": "acceptEdits"}
        switched = await h.claude.set_model("sonnet")
        with pytest.raises(ControlError):
            await h.claude.set_model("no-such-model-xyz")
        with pytest.raises(ControlRequestFailed, match="bypassPermissions"):
            await h.claude.set_permission_mode("bypassPermissions")
        await h.claude.send_user("WRITE a note")
        result = await h.until_result()
        assert result.result == "Wrote it."
        # acceptEdits: the Write ran without a permission prompt.
        assert not any(isinstance(e, ev.ControlRequest) for e in h.events())
        assert h.claude.turn.permission_mode == "acceptEdits"
    assert (claude_workdir / "note.txt").read_text() == "hi\n"
    assert "sonnet" in model_server.turns[0].body["model"]
    assert model_server.turns[0].body["model"] == switched["model"]


MCP_SERVER = Path(__file__).resolve().parents[1] / "fixtures" / "claude" / "mcp_elicit_server.py"


@pytest.mark.parametrize(
    ("answer", "server_saw"),
    [
        (
            lambda rid: elicitation_response(rid, "accept", {"color": "blue"}),
            'action=accept content={"color": "blue"}',
        ),
        (lambda rid: elicitation_response(rid, "decline"), "action=decline content=null"),
        (lambda rid: error_response(rid, "the user went away"), "action=cancel content=null"),
    ],
    ids=["accept", "decline", "cancel"],
)
async def test_mcp_elicitation_answers_reach_the_mcp_server(
    answer: Callable[[str], dict[str, Any]],
    server_saw: str,
    claude_bin: Path,
    model_server: ModelServer,
    claude_env: dict[str, str],
    claude_workdir: Path,
) -> None:
    config = {
        "mcpServers": {
            "elic": {"type": "stdio", "command": sys.executable, "args": [str(MCP_SERVER)]}
        }
    }
    command = ClaudeCommand(
        executable=str(claude_bin),
        mcp_config=json.dumps(config),
        strict_mcp_config=True,
        allowed_tools=("mcp__elic__ask",),
    )
    model_server.set_script([Reply.tool("mcp__elic__ask", {}), Reply.text("Noted.")])
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=claude_env) as h,
    ):
        await h.claude.send_user("ELICIT a color")
        asked = await h.until_event(ev.ControlRequest)
        assert asked.request == ev.Elicitation(
            mcp_server_name="elic",
            message="Which color do you want?",
            mode="form",
            requested_schema=asked.request.requested_schema,
        )
        assert asked.request.requested_schema["required"] == ["color"]
        assert h.claude.turn.activity is Activity.AWAITING_ANSWER
        await h.claude.answer(answer(asked.request_id))
        await h.until_result()
    (tool_result,) = model_server.turns[1].tool_results()
    assert tool_result["content"] == [{"type": "text", "text": server_saw}]


async def test_allow_always_stops_asking_for_the_same_call(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script(
        [
            Reply.bash("touch again.txt", "touch a file"),
            Reply.text("Once."),
            Reply.bash("touch again.txt", "touch a file"),
            Reply.text("Twice."),
        ]
    )
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, ClaudeCommand(executable=str(claude_bin)), cwd=claude_workdir, env=claude_env
        ) as h,
    ):
        await h.claude.send_user("RUNTOUCH once")
        asked = await h.until_event(ev.ControlRequest)
        await h.claude.answer(allow_always(asked.request_id, asked.request))
        assert (await h.until_result()).result == "Once."
        await h.claude.send_user("RUNTOUCH twice")
        assert (await h.until_result()).result == "Twice."
        asks = [e for e in h.events() if isinstance(e, ev.ControlRequest)]
    assert len(asks) == 1
    assert [r["is_error"] for t in model_server.turns[1::2] for r in t.tool_results()] == [
        False,
        False,
    ]
    # The rule was kept in the session, not written to the project's settings.
    assert not (claude_workdir / ".claude").exists()


async def test_several_questions_multi_select_and_free_text_answers_reach_the_model(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    """C12 pins: one call, two questions; a multi-select answer is the labels joined by
    ", " and a free-text answer (no option's label) is taken as it is."""
    questions = [
        {
            "question": "Which toppings?",
            "header": "Toppings",
            "options": [
                {"label": "Cheese", "description": "melted"},
                {"label": "Olives", "description": "black"},
                {"label": "Basil", "description": "fresh"},
            ],
            "multiSelect": True,
        },
        {
            "question": "Which crust?",
            "header": "Crust",
            "options": [
                {"label": "Thin", "description": "crisp"},
                {"label": "Thick", "description": "soft"},
            ],
            "multiSelect": False,
        },
    ]
    model_server.set_script(
        [Reply.tool("AskUserQuestion", {"questions": questions}), Reply.text("Ordering.")]
    )
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, ClaudeCommand(executable=str(claude_bin)), cwd=claude_workdir, env=claude_env
        ) as h,
    ):
        await h.claude.send_user("ASK about pizza")
        asked = await h.until_event(ev.ControlRequest)
        assert isinstance(asked.request, ev.CanUseTool)
        assert asked.request.tool_name == "AskUserQuestion"
        assert asked.request.input == {"questions": questions}
        answers = {"Which toppings?": "Cheese, Basil", "Which crust?": "gluten-free, please"}
        await h.claude.answer(answer_questions(asked.request_id, asked.request.input, answers))
        await h.until_result()
    (tool_result,) = model_server.turns[1].tool_results()
    assert not tool_result.get("is_error")
    text = json.dumps(tool_result["content"])
    assert '\\"Which toppings?\\"=\\"Cheese, Basil\\"' in text
    assert '\\"Which crust?\\"=\\"gluten-free, please\\"' in text


async def test_exit_plan_mode_denied_with_feedback_stays_in_plan_mode(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    """C13 pin: "Revise" is a deny whose message the model reads; the mode stays plan."""
    model_server.set_script(
        [Reply.tool("ExitPlanMode", {"plan": "1. Do it"}), Reply.text("Revising.")]
    )
    command = ClaudeCommand(executable=str(claude_bin), permission_mode="plan")
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=claude_env) as h,
    ):
        await h.claude.send_user("PLAN something")
        asked = await h.until_event(ev.ControlRequest)
        # 2.1.330 strips the model's ``plan`` from the request's input: the text is only in
        # the assistant's tool_use (where the turn state takes it from).
        assert isinstance(asked.request, ev.CanUseTool)
        assert "plan" not in asked.request.input
        assert h.claude.turn.plan == "1. Do it"
        await h.claude.answer(deny(asked.request_id, "Revise the plan: add tests first."))
        await h.until_result()
        assert h.claude.turn.permission_mode == "plan"
    (tool_result,) = model_server.turns[1].tool_results()
    assert tool_result["is_error"] is True
    assert "Revise the plan: add tests first." in json.dumps(tool_result["content"])


async def test_exit_plan_mode_approved_then_accept_edits_is_set(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    """C13 pin: approving leaves plan mode for ``default``; "approve and auto-accept edits"
    follows the allow with ``set_permission_mode acceptEdits``."""
    model_server.set_script(
        [Reply.tool("ExitPlanMode", {"plan": "1. Do it"}), Reply.text("Starting.")]
    )
    command = ClaudeCommand(executable=str(claude_bin), permission_mode="plan")
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=claude_env) as h,
    ):
        await h.claude.send_user("PLAN something")
        asked = await h.until_event(ev.ControlRequest)
        await h.claude.answer(allow(asked.request_id, asked.request.input))
        assert await h.claude.set_permission_mode("acceptEdits") == {"mode": "acceptEdits"}
        await h.until_result()
        assert h.claude.turn.permission_mode == "acceptEdits"


def _elicit_command(claude_bin: Path, *tools: str) -> ClaudeCommand:
    config = {
        "mcpServers": {
            "elic": {"type": "stdio", "command": sys.executable, "args": [str(MCP_SERVER)]}
        }
    }
    return ClaudeCommand(
        executable=str(claude_bin),
        mcp_config=json.dumps(config),
        strict_mcp_config=True,
        allowed_tools=tools,
    )


@pytest.mark.parametrize(
    ("answer", "server_saw"),
    [
        (elicitation_url_accepted, "action=accept content=null"),
        (lambda rid: elicitation_response(rid, "decline"), "action=decline content=null"),
    ],
    ids=["done", "decline"],
)
async def test_a_url_mode_elicitation_and_its_answers(
    answer: Callable[[str], dict[str, Any]],
    server_saw: str,
    claude_bin: Path,
    model_server: ModelServer,
    claude_env: dict[str, str],
    claude_workdir: Path,
) -> None:
    """C15 pin: URL mode reaches the host with ``url`` and ``elicitation_id`` and no
    schema; ``accept`` without content is what "Done" sends."""
    model_server.set_script([Reply.tool("mcp__elic__login", {}), Reply.text("Noted.")])
    command = _elicit_command(claude_bin, "mcp__elic__login")
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=claude_env) as h,
    ):
        await h.claude.send_user("ELICIT a login")
        asked = await h.until_event(ev.ControlRequest)
        assert asked.request == ev.Elicitation(
            mcp_server_name="elic",
            message="Sign in to continue.",
            mode="url",
            requested_schema=None,
            url="https://example.com/login?session=42",
            elicitation_id="elic-42",
        )
        await h.claude.answer(answer(asked.request_id))
        await h.until_result()
    (tool_result,) = model_server.turns[1].tool_results()
    assert tool_result["content"] == [{"type": "text", "text": server_saw}]


async def test_a_form_elicitation_keeps_its_schema_and_takes_typed_content(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    """C15 pin: the form's JSON schema arrives as the MCP server sent it (titles, length
    limits, ranges, booleans, enums) and typed content (integer, number, boolean) reaches
    the server with its types."""
    model_server.set_script([Reply.tool("mcp__elic__profile", {}), Reply.text("Noted.")])
    command = _elicit_command(claude_bin, "mcp__elic__profile")
    content = {"name": "Ada", "age": 36, "score": 0.5, "subscribe": True, "size": "m"}
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=claude_env) as h,
    ):
        await h.claude.send_user("ELICIT a profile")
        asked = await h.until_event(ev.ControlRequest)
        assert isinstance(asked.request, ev.Elicitation)
        assert asked.request.mode == "form"
        schema = asked.request.requested_schema
        assert schema is not None
        assert schema["required"] == ["name", "age"]
        assert schema["properties"]["name"] == {
            "type": "string",
            "title": "Name",
            "minLength": 2,
            "maxLength": 20,
        }
        assert schema["properties"]["size"]["enum"] == ["s", "m", "l"]
        await h.claude.answer(elicitation_response(asked.request_id, "accept", content))
        await h.until_result()
    (tool_result,) = model_server.turns[1].tool_results()
    assert tool_result["content"] == [
        {"type": "text", "text": f"action=accept content={json.dumps(content)}"}
    ]
