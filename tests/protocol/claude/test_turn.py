"""TurnState driven by real recorded CLI output (one event per second of fake time)."""

from __future__ import annotations

from protocol.claude import events as ev
from protocol.claude.converter import parse_line
from protocol.claude.turn import (
    Activity,
    PendingKind,
    TaskItem,
    TimeoutKind,
    TurnState,
    next_deadline,
    timeout_due,
)
from tests.support.fake_claude import stdout_lines


def _walk(name: str, state: TurnState | None = None) -> list[tuple[ev.Event, TurnState]]:
    """Apply every recorded event at t=1, 2, 3...; return (event, state after) pairs."""
    state = state or TurnState()
    out = []
    for now, line in enumerate(stdout_lines(name), start=1):
        event = parse_line(line)
        state = state.apply(event, float(now))
        out.append((event, state))
    return out


def _final(name: str) -> TurnState:
    return _walk(name)[-1][1]


def test_a_plain_turn_goes_thinking_writing_done() -> None:
    steps = _walk("text_thinking")
    activities = [state.activity for _, state in steps]
    assert activities[0] is Activity.REQUESTING
    assert Activity.THINKING in activities
    assert activities.index(Activity.THINKING) < activities.index(Activity.WRITING)
    final = steps[-1][1]
    assert final.activity is Activity.DONE
    assert final.text == "The answer is 42."
    assert final.thinking == "Let me think about it."
    assert final.result is not None
    assert final.result.result == "The answer is 42."
    assert final.session_id == final.result.session_id
    assert not final.busy


def test_partial_text_accumulates_from_deltas() -> None:
    steps = _walk("text_thinking")
    partials = [s.partial_text for e, s in steps if isinstance(e, ev.StreamEvent) and e.text_delta]
    assert partials[-1] == "The answer is 42."
    assert len(partials) == 3


def test_permission_prompt_then_tool_then_done() -> None:
    steps = _walk("bash_allow")
    waiting = next(s for e, s in steps if isinstance(e, ev.ControlRequest))
    assert waiting.activity is Activity.AWAITING_PERMISSION
    assert waiting.pending is not None
    assert waiting.pending.kind is PendingKind.PERMISSION
    assert waiting.current_tool is not None
    assert waiting.current_tool.name == "Bash"
    # Waiting for the human is never a stall.
    assert waiting.silent_for(10_000.0) == 0.0
    after_result = next(s for e, s in steps if isinstance(e, ev.UserMessage))
    assert after_result.pending is None
    run = after_result.tools[0]
    assert not run.running
    assert run.is_error is False
    assert run.elapsed(99.0) == run.finished_at - run.started_at  # type: ignore[operator]
    assert steps[-1][1].activity is Activity.DONE


def test_answered_clears_the_pending_request_at_once() -> None:
    steps = _walk("bash_allow")
    waiting = next(s for e, s in steps if isinstance(e, ev.ControlRequest))
    assert waiting.pending is not None
    resumed = waiting.answered(waiting.pending.request_id, 50.0)
    assert resumed.pending is None
    assert resumed.activity is Activity.TOOL
    assert waiting.answered("someone-else", 50.0) is waiting


def test_ask_user_question_waits_for_an_answer() -> None:
    waiting = next(s for e, s in _walk("ask_user_question") if isinstance(e, ev.ControlRequest))
    assert waiting.activity is Activity.AWAITING_ANSWER
    assert waiting.pending is not None
    assert waiting.pending.kind is PendingKind.QUESTION


def test_exit_plan_mode_surfaces_the_plan_and_the_mode_change() -> None:
    steps = _walk("exit_plan_mode")
    waiting = next(s for e, s in steps if isinstance(e, ev.ControlRequest))
    assert waiting.activity is Activity.AWAITING_PLAN_APPROVAL
    assert waiting.plan == "1. Create notes.txt\n2. Write the summary"
    assert steps[0][1].permission_mode == "plan"
    assert steps[-1][1].permission_mode == "default"


def test_task_list_is_built_from_task_tools_and_survives_the_next_turn() -> None:
    final = _final("tasks")
    assert final.tasks == (
        TaskItem(id="1", subject="step one", status="completed", active_form="Doing"),
    )
    states = [s for e, s in _walk("tasks") if isinstance(e, ev.UserMessage)]
    assert [s.tasks[0].status for s in states] == ["pending", "in_progress", "completed"]
    next_turn = final.start_turn(1000.0)
    assert next_turn.tasks == final.tasks
    assert next_turn.tools == ()
    assert next_turn.text == ""


def test_interrupt_marks_the_turn_and_the_next_turn_starts_clean() -> None:
    steps = _walk("interrupt")
    results = [s for e, s in steps if isinstance(e, ev.Result)]
    assert results[0].interrupted
    assert results[0].result is not None
    assert results[0].result.is_error
    assert not results[1].interrupted
    assert results[1].text == "Still here after the interrupt."
    assert results[1].turns_completed == 2


def test_cancel_request_withdraws_the_prompt() -> None:
    steps = _walk("permission_cancelled_by_interrupt")
    cancelled = next(s for e, s in steps if isinstance(e, ev.ControlCancelRequest))
    assert cancelled.pending is None
    assert cancelled.activity is not Activity.AWAITING_PERMISSION


def test_retries_and_compaction_are_counted() -> None:
    assert _final("api_retry").retries == 1
    compact = _walk("compact")
    assert Activity.COMPACTING in [s.activity for _, s in compact]
    assert compact[-1][1].compactions == 1


def test_silence_is_measured_from_the_last_event_while_busy() -> None:
    state = TurnState().start_turn(10.0)
    assert state.silent_for(25.0) == 15.0
    state = state.apply(ev.SystemStatus(status="requesting"), 30.0)
    assert state.silent_for(31.5) == 1.5
    assert TurnState().silent_for(100.0) == 0.0


def test_subagent_text_does_not_leak_into_the_main_text() -> None:
    state = TurnState().start_turn(0.0)
    state = state.apply(
        ev.AssistantMessage(content=(ev.TextBlock(text="sub"),), parent_tool_use_id="toolu_1"), 1.0
    )
    state = state.apply(ev.AssistantMessage(content=(ev.TextBlock(text="main"),)), 2.0)
    assert state.text == "main"


def test_todo_write_replaces_the_list() -> None:
    state = TurnState().start_turn(0.0)
    todos = [
        {"content": "a", "status": "completed", "activeForm": "Doing a"},
        {"content": "b", "status": "in_progress", "activeForm": "Doing b"},
    ]
    state = state.apply(
        ev.AssistantMessage(
            content=(ev.ToolUseBlock(id="t1", name="TodoWrite", input={"todos": todos}),)
        ),
        1.0,
    )
    state = state.apply(
        ev.UserMessage(content=(ev.ToolResultBlock(tool_use_id="t1", content="ok"),)), 2.0
    )
    assert [(t.subject, t.status) for t in state.tasks] == [
        ("a", "completed"),
        ("b", "in_progress"),
    ]


def test_unknown_events_only_touch_the_clock() -> None:
    state = TurnState().start_turn(0.0)
    after = state.apply(ev.Unknown(raw={"type": "keep_alive"}), 5.0)
    assert after.last_event_at == 5.0
    assert after.activity is state.activity


def test_no_deadline_when_no_turn_runs() -> None:
    assert next_deadline(TurnState(), idle_timeout=5.0, total_timeout=60.0) is None
    assert timeout_due(TurnState(), 1e9, idle_timeout=5.0, total_timeout=60.0) is None


def test_idle_deadline_follows_the_last_event_and_total_the_turn_start() -> None:
    state = TurnState().start_turn(100.0).apply(ev.SystemStatus(status="requesting"), 103.0)
    assert next_deadline(state, idle_timeout=5.0, total_timeout=60.0) == 108.0
    assert timeout_due(state, 107.9, idle_timeout=5.0, total_timeout=60.0) is None
    assert timeout_due(state, 108.0, idle_timeout=5.0, total_timeout=60.0) is TimeoutKind.IDLE
    assert next_deadline(state, idle_timeout=None, total_timeout=60.0) == 160.0
    # Past both: total wins (it is the one to report).
    assert timeout_due(state, 200.0, idle_timeout=5.0, total_timeout=60.0) is TimeoutKind.TOTAL


def test_the_idle_clock_stops_while_the_host_is_awaited() -> None:
    waiting = next(s for e, s in _walk("bash_allow") if isinstance(e, ev.ControlRequest))
    assert waiting.last_event_at is not None
    assert (
        timeout_due(waiting, waiting.last_event_at + 1e6, idle_timeout=5.0, total_timeout=None)
        is None
    )
    total = timeout_due(waiting, waiting.last_event_at + 1e6, idle_timeout=5.0, total_timeout=60.0)
    assert total is TimeoutKind.TOTAL


def test_a_retry_does_not_hide_a_pending_prompt() -> None:
    # Found by tests/property/test_claude_turn.py: a prompt must stay visible.
    asked = (
        TurnState()
        .start_turn(0.0)
        .apply(ev.ControlRequest(request_id="r", request=ev.CanUseTool(tool_name="Bash")), 1.0)
    )
    after = asked.apply(ev.ApiRetry(attempt=1), 2.0)
    assert after.activity is Activity.AWAITING_PERMISSION
    assert after.retries == 1


def test_the_cli_can_start_a_turn_by_itself() -> None:
    # A background task finished after the turn ended: the CLI sends init ... result
    # with no user message in between.
    steps = _walk("background_task")
    results = [s for e, s in steps if isinstance(e, ev.Result)]
    assert [s.turns_completed for s in results] == [1, 2]
    second_init = [s for e, s in steps if isinstance(e, ev.SystemInit)][1]
    assert second_init.busy
    assert second_init.text == ""
    assert results[1].text == "The background work finished."


def test_only_the_tools_whose_structured_result_is_read_keep_it() -> None:
    # A finished run stays in the state until the next turn; a Read's or a Bash's
    # tool_use_result (the whole file or output again, beside result_text) is not kept.
    bash = next((e, s) for e, s in _walk("bash_allow") if isinstance(e, ev.UserMessage))
    event, state = bash
    assert isinstance(event, ev.UserMessage)
    assert event.tool_use_result is not None
    run = state.tools[0]
    assert run.name == "Bash"
    assert run.structured_result is None
    assert run.result_text
    created = [
        (e, s.tools[-1])
        for e, s in _walk("tasks")
        if isinstance(e, ev.UserMessage) and s.tools[-1].name == "TaskCreate"
    ]
    assert created
    for e, task_run in created:
        assert isinstance(e, ev.UserMessage)
        assert e.tool_use_result is not None
        assert task_run.structured_result == e.tool_use_result
