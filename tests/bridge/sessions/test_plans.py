"""plans.py (C13): answers, responses, rendering within Discord's limits, the long plan
attached as plan.md; junk choices never answer."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from bridge.sessions.presentation import plans as p
from bridge.sessions.presentation.render import check_payload
from bridge.store import PromptRecord, PromptState
from protocol.claude import events as ev
from protocol.discord import limits


def _record(plan: str | None = "1. Do it", tool_input: dict | None = None) -> PromptRecord:
    request = ev.ControlRequest(
        request_id="req-1",
        request=ev.CanUseTool(
            tool_name="ExitPlanMode",
            display_name="ExitPlanMode",
            input={} if tool_input is None else tool_input,
            tool_use_id="toolu_1",
        ),
    )
    return p.plan_record(
        request, plan=plan, prompt_id="abc", thread_id=7, now=1000.0, timeout=300.0
    )


def _resolved(choice: str, *values: str) -> PromptRecord:
    answer = p.answer_for(choice, values, 5, applied=True)
    assert answer is not None
    return attrs.evolve(_record(), state=PromptState.ANSWERED, answer=answer)


def test_each_answer_and_its_control_response() -> None:
    approve = p.control_response(_resolved("approve"), "r")
    assert approve is not None
    assert approve["response"]["response"] == {"behavior": "allow", "updatedInput": {}}
    assert p.mode_after(_resolved("approve")) is None
    assert p.mode_after(_resolved("approve_edits")) == "acceptEdits"
    revise = p.control_response(_resolved("revision", "  add tests  "), "r")
    assert revise is not None
    assert revise["response"]["response"]["behavior"] == "deny"
    assert revise["response"]["response"]["message"].endswith("add tests")
    cancel = p.control_response(_resolved("cancel"), "r")
    assert cancel is not None
    assert cancel["response"]["response"]["message"] == p.CANCELLED_MESSAGE
    expired = p.control_response(attrs.evolve(_record(), state=PromptState.EXPIRED), "r")
    assert expired is not None
    assert "within 5 min" in expired["response"]["response"]["message"]
    assert "5 min: cancelled automatically" in p.outcome_line(
        attrs.evolve(_record(), state=PromptState.EXPIRED)
    )


def test_revise_only_opens_the_modal_and_an_empty_revision_does_not_answer() -> None:
    assert p.answer_for("revise", (), 5, applied=True) is None
    assert p.answer_for("revision", (" ",), 5, applied=True) is None
    assert p.answer_for("allow", (), 5, applied=True) is None
    limits.check_modal(p.revise_modal(_record()))


def test_the_plan_comes_from_the_tool_use_and_the_input_only_as_a_fallback() -> None:
    assert p.plan_text(_record("from tool_use", {"plan": "from input"})) == "from tool_use"
    assert p.plan_text(_record(None, {"plan": "from input"})) == "from input"
    assert p.plan_text(_record(None, {})) == ""


@given(plan=st.text(max_size=9000), choice=st.text(max_size=20), values=st.lists(st.text()))
def test_any_plan_renders_within_limits_and_a_long_one_is_attached(
    plan: str, choice: str, values: list[str]
) -> None:
    record = _record(plan)
    shown = p.render_pending(record, mention=3)
    check_payload(shown)
    if len(plan) > p.PLAN_EMBED_CHARS:
        (attached,) = shown.files
        assert attached.filename == "plan.md"
        assert attached.data == plan.encode()
    else:
        assert shown.files == ()
    answer = p.answer_for(choice, tuple(values), 1, applied=True)
    if answer is not None:
        done = attrs.evolve(record, state=PromptState.ANSWERED, answer=answer)
        check_payload(p.render_resolved(done))
        assert p.control_response(done, "r") is not None


def test_an_answer_kept_over_a_restart_only_answers_the_same_plan() -> None:
    from bridge.sessions.presentation import prompts

    answer = p.answer_for("approve", (), 5, applied=False)
    kept = attrs.evolve(_record("1. Old plan"), state=PromptState.ANSWERED, answer=answer)
    asked = ev.CanUseTool(tool_name="ExitPlanMode", display_name="ExitPlanMode", input={})
    assert prompts.find_reusable([kept], asked, plan="1. Old plan") == kept
    assert prompts.find_reusable([kept], asked, plan="1. A new plan") is None
