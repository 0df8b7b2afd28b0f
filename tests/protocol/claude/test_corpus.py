"""Every line the real CLI wrote in the recorded corpus parses into a typed event."""

from __future__ import annotations

import json

import pytest

from protocol.claude import events as ev
from protocol.claude.converter import dump_event, parse_line
from protocol.claude.framing import StreamJsonReader
from tests.support.fake_claude import scenario_names, stdout_lines

SCENARIOS = scenario_names()


def _events(name: str) -> list[ev.Event]:
    return [parse_line(line) for line in stdout_lines(name)]


def _only(events: list[ev.Event], cls: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, cls)]


def test_the_corpus_covers_the_scenarios_we_rely_on() -> None:
    assert {
        "text_thinking",
        "bash_allow",
        "bash_deny",
        "ask_user_question",
        "exit_plan_mode",
        "tasks",
        "compact",
        "interrupt",
        "api_error",
        "hooks",
    } <= set(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_recorded_line_is_a_known_event(name: str) -> None:
    events = _events(name)
    assert events
    unknown = [e for e in events if isinstance(e, ev.Unknown | ev.Malformed)]
    assert unknown == []
    # Every event keeps its whole wire object.
    for line, event in zip(stdout_lines(name), events, strict=True):
        assert dump_event(event) == json.loads(line)


@pytest.mark.parametrize("name", SCENARIOS)
def test_framing_the_whole_stream_gives_the_same_events(name: str) -> None:
    reader = StreamJsonReader()
    data = b"".join(line + b"\n" for line in stdout_lines(name))
    for start in range(0, len(data), 777):
        reader.receive_data(data[start : start + 777])
    reader.receive_data(b"")
    assert reader.events() == _events(name)


def test_every_event_type_we_model_appears_in_real_output() -> None:
    seen = {type(e) for name in SCENARIOS for e in _events(name)}
    expected = {
        ev.SystemInit,
        ev.SystemStatus,
        ev.CompactBoundary,
        ev.HookStarted,
        ev.HookResponse,
        ev.ApiRetry,
        ev.ThinkingTokens,
        ev.SessionStateChanged,
        ev.PermissionDenied,
        ev.AssistantMessage,
        ev.UserMessage,
        ev.Result,
        ev.StreamEvent,
        ev.ControlRequest,
        ev.ControlResponse,
        ev.ControlCancelRequest,
        ev.TaskStarted,
        ev.TaskNotification,
        ev.TaskUpdated,
        ev.BackgroundTasksChanged,
    }
    assert expected <= seen


def test_init_carries_session_tools_and_mode() -> None:
    init = _only(_events("bash_allow"), ev.SystemInit)[0]
    assert len(init.session_id) == 36
    assert init.permission_mode == "default"
    assert {"Bash", "AskUserQuestion", "ExitPlanMode", "TaskCreate"} <= set(init.tools)
    assert init.claude_code_version == "2.1.330"
    assert init.api_key_source == "ANTHROPIC_API_KEY"


def test_thinking_and_text_blocks_and_their_deltas() -> None:
    events = _events("text_thinking")
    blocks = [b for m in _only(events, ev.AssistantMessage) for b in m.content]
    assert blocks == [
        ev.ThinkingBlock(thinking="Let me think about it.", signature="mock-signature"),
        ev.TextBlock(text="The answer is 42."),
    ]
    streams = _only(events, ev.StreamEvent)
    text = "".join(s.text_delta for s in streams if s.text_delta is not None)
    thinking = "".join(s.thinking_delta for s in streams if s.thinking_delta is not None)
    assert text == "The answer is 42."
    assert thinking == "Let me think about it."
    assert [s.block_type for s in streams if s.block_type] == ["thinking", "text"]
    assert _only(events, ev.ThinkingTokens)[0].estimated_tokens > 0


def test_can_use_tool_request_and_tool_result() -> None:
    events = _events("bash_allow")
    request = _only(events, ev.ControlRequest)[0]
    assert isinstance(request.request, ev.CanUseTool)
    assert request.request.tool_name == "Bash"
    assert request.request.input == {"command": "touch touched.txt", "description": "touch a file"}
    assert request.request.tool_use_id.startswith("toolu_mock_")
    assert any(s.get("type") == "addRules" for s in request.request.permission_suggestions)
    results = [r for u in _only(events, ev.UserMessage) for r in u.tool_results]
    assert results[0].tool_use_id == request.request.tool_use_id
    assert results[0].is_error is False
    assert [e.state for e in _only(events, ev.SessionStateChanged)] == [
        "running",
        "requires_action",
        "running",
        "idle",
    ]


def test_result_success_fields() -> None:
    result = _only(_events("bash_allow"), ev.Result)[-1]
    assert result.subtype == "success"
    assert result.is_error is False
    assert result.result == "Touched the file."
    assert result.num_turns == 2
    assert result.total_cost_usd is not None
    assert result.total_cost_usd > 0
    assert result.usage is not None
    assert result.usage.input_tokens > 0
    (usage,) = result.model_usage.values()
    assert usage.context_window == 1_000_000
    assert result.error_text is None


def test_result_error_variants() -> None:
    denied = _only(_events("bash_deny"), ev.Result)[-1]
    assert [d.tool_name for d in denied.permission_denials] == ["Bash"]
    api = _only(_events("api_error"), ev.Result)[-1]
    assert api.is_error
    assert api.subtype == "success"
    assert "500" in (api.error_text or "")
    synthetic = _only(_events("api_error"), ev.AssistantMessage)[0]
    assert synthetic.is_synthetic
    max_turns = _only(_events("max_turns"), ev.Result)[-1]
    assert max_turns.subtype == "error_max_turns"
    assert max_turns.error_text == "Reached maximum number of turns (1)"
    missing = _only(_events("resume_missing"), ev.Result)[-1]
    assert missing.subtype == "error_during_execution"
    assert "No conversation found" in (missing.error_text or "")
    interrupted = _only(_events("interrupt"), ev.Result)[0]
    assert interrupted.subtype == "error_during_execution"
    assert interrupted.is_error


def test_compact_boundary_and_status() -> None:
    events = _events("compact")
    boundary = _only(events, ev.CompactBoundary)[0]
    assert boundary.metadata.trigger == "manual"
    assert boundary.metadata.pre_tokens is not None
    statuses = [s.status for s in _only(events, ev.SystemStatus)]
    assert "compacting" in statuses


def test_hooks_retry_denial_and_control_responses() -> None:
    started, response = (
        _only(_events("hooks"), ev.HookStarted),
        _only(_events("hooks"), ev.HookResponse),
    )
    assert started[0].hook_name == "PreToolUse:Bash"
    assert response[0].stdout == "hook-ran\n"
    assert response[0].exit_code == 0
    retry = _only(_events("api_retry"), ev.ApiRetry)[0]
    assert (retry.attempt, retry.error_status, retry.error) == (1, 429, "rate_limit")
    denied = _only(_events("permission_denied_by_rule"), ev.PermissionDenied)[0]
    assert denied.tool_name == "Bash"
    responses = _only(_events("control_requests"), ev.ControlResponse)
    by_id = {r.request_id: r for r in responses}
    assert by_id["req_2"].success
    assert by_id["req_2"].response == {"mode": "acceptEdits"}
    assert not by_id["req_3"].success
    assert "bypassPermissions" in (by_id["req_3"].error or "")
    assert by_id["req_5"].error_code == "unsupported_request"


def test_cancel_request_names_the_pending_permission() -> None:
    events = _events("permission_cancelled_by_interrupt")
    request = _only(events, ev.ControlRequest)[0]
    cancel = _only(events, ev.ControlCancelRequest)[0]
    assert cancel.request_id == request.request_id


def test_background_task_events() -> None:
    events = _events("background_task")
    started = _only(events, ev.TaskStarted)[0]
    assert started.is_backgrounded
    assert started.task_type == "local_bash"
    notified = _only(events, ev.TaskNotification)[0]
    assert notified.task_id == started.task_id
    assert notified.status == "completed"
    assert _only(events, ev.TaskUpdated)[0].patch["status"] == "completed"
    changes = _only(events, ev.BackgroundTasksChanged)
    assert [len(c.tasks) for c in changes] == [1, 0]
