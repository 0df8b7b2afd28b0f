"""questions.py (C12): parsing the model's input, picks, rendering within Discord's
limits, and the control response; junk input from the model and junk picks never raise."""

from __future__ import annotations

import math
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.sessions.presentation import questions as q
from bridge.sessions.presentation.render import check_payload
from bridge.store import PromptRecord, PromptState
from protocol.claude import events as ev
from protocol.discord import limits

COLOR = {
    "question": "Which color?",
    "header": "Color",
    "options": [{"label": "Red", "description": "warm"}, {"label": "Blue", "description": ""}],
    "multiSelect": False,
}
TOPPINGS = {
    "question": "Which toppings?",
    "header": "Toppings",
    "options": [{"label": f"T{i}", "description": f"d{i}"} for i in range(7)],
    "multiSelect": True,
}


def _record(questions: Any, *, timeout: float = math.inf) -> PromptRecord:
    request = ev.ControlRequest(
        request_id="req-1",
        request=ev.CanUseTool(
            tool_name="AskUserQuestion",
            display_name="AskUserQuestion",
            input={"questions": questions},
            tool_use_id="toolu_1",
        ),
    )
    return q.question_record(request, prompt_id="abc", thread_id=7, now=1000.0, timeout=timeout)


def _ids(payload: Any) -> list[str]:
    return [c.custom_id for row in payload.components for c in row.components]


def test_buttons_for_a_short_single_choice_and_a_select_for_multi() -> None:
    record = _record([COLOR, TOPPINGS])
    shown = q.render_pending(record)
    check_payload(shown)
    assert _ids(shown) == [
        "ccb:prompt:abc:o0.0",
        "ccb:prompt:abc:o0.1",
        "ccb:prompt:abc:x0",
    ]
    description = shown.embeds[0].description
    assert isinstance(description, str)
    assert "**Color** · Which color?" in description
    assert "**Red**: warm" in description
    assert "Expires" not in description  # no expiry by default
    answers = q.apply_pick(record, {}, q.Pick("o", 0, 1), ())
    assert answers == {"Which color?": "Blue"}
    after = attrs.evolve(record, answer={"partial": answers})
    assert q.current(after, answers) == 1
    shown = q.render_pending(after)
    check_payload(shown)
    (select, other) = [c for row in shown.components for c in row.components]
    assert select.custom_id == "ccb:prompt:abc:s1"
    assert select.max_values == 7
    assert other.custom_id == "ccb:prompt:abc:x1"
    assert "→ **Blue**" in str(shown.embeds[0].description)


def test_picks_that_do_not_fit_change_nothing() -> None:
    record = _record([COLOR, TOPPINGS])
    answered = {"Which color?": "Red"}
    assert q.apply_pick(record, answered, q.Pick("o", 0, 1), ()) is None  # already answered
    assert q.apply_pick(record, {}, q.Pick("o", 0, 9), ()) is None
    assert q.apply_pick(record, {}, q.Pick("o", 5, 0), ()) is None
    assert q.apply_pick(record, {}, q.Pick("s", 0, None), ("0", "1")) is None  # single choice
    assert q.apply_pick(record, {}, q.Pick("s", 1, None), ("x",)) is None
    assert q.apply_pick(record, {}, q.Pick("t", 1, None), ("   ",)) is None
    assert q.apply_pick(record, {}, q.Pick("x", 1, None), ()) is None
    picked = q.apply_pick(record, answered, q.Pick("s", 1, None), ("3", "0", "3"))
    assert picked == {"Which color?": "Red", "Which toppings?": "T3, T0"}
    for junk in ("", "o", "o1", "s1.2", "q0", "o0.", "x-1", "t123", "allow"):
        assert q.parse_pick(junk) is None


def test_the_answer_goes_back_as_the_pinned_allow_with_answers() -> None:
    record = _record([COLOR])
    answered = attrs.evolve(
        record,
        state=PromptState.ANSWERED,
        answer=q.answer({"Which color?": "Blue"}, 5, applied=True),
    )
    response = q.control_response(answered, "req-2")
    assert response is not None
    body = response["response"]
    assert body["request_id"] == "req-2"
    assert body["response"] == {
        "behavior": "allow",
        "updatedInput": {"questions": [COLOR], "answers": {"Which color?": "Blue"}},
    }
    expired = attrs.evolve(_record([COLOR], timeout=60.0), state=PromptState.EXPIRED)
    denied = q.control_response(expired, "req-3")
    assert denied is not None
    assert "within 60 s" in denied["response"]["response"]["message"]
    assert q.control_response(attrs.evolve(record, state=PromptState.CANCELLED), "r") is None


def test_a_typed_message_answers_every_open_question() -> None:
    record = attrs.evolve(_record([COLOR, TOPPINGS]), answer={"partial": {"Which color?": "Red"}})
    assert q.typed_answers(record, "none, thanks") == {
        "Which color?": "Red",
        "Which toppings?": "none, thanks",
    }


def test_the_other_modal_fits_discord() -> None:
    record = _record([{**COLOR, "question": "Q" * 300, "header": "H" * 60}])
    modal = q.other_modal(record, 0)
    assert modal is not None
    limits.check_modal(modal)
    assert modal.custom_id == "ccb:prompt:abc:t0"
    assert q.other_modal(record, 3) is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=40,
)
_option = st.fixed_dictionaries(
    {"label": st.text(max_size=300), "description": st.text(max_size=300) | _json}
)
_question = st.fixed_dictionaries(
    {
        "question": st.text(max_size=400) | _json,
        "header": st.text(max_size=100) | _json,
        "options": st.lists(_option | _json, max_size=40) | _json,
        "multiSelect": st.booleans() | _json,
    }
)


@settings(max_examples=300, deadline=None)
@given(
    questions=st.lists(_question | _json, max_size=6) | _json,
    choice=st.text(max_size=8) | st.sampled_from(["o0.0", "o1.3", "s0", "s2", "x0", "t1"]),
    values=st.lists(st.text(max_size=5) | st.sampled_from(["0", "1", "24", "99"]), max_size=4),
)
def test_junk_questions_and_picks_never_raise_and_always_fit_discord(
    questions: Any, choice: str, values: list[str]
) -> None:
    record = _record(questions)
    parsed = q.questions_of(record)
    if not parsed:
        return  # the session denies such a call without showing anything
    check_payload(q.render_pending(record, mention=42))
    answers: dict[str, str] = {}
    pick = q.parse_pick(choice)
    if pick is not None:
        answers = q.apply_pick(record, {}, pick, values) or {}
        modal = q.other_modal(record, pick.question)
        if modal is not None:
            limits.check_modal(modal)
    partial = attrs.evolve(record, answer={"partial": answers})
    check_payload(q.render_pending(partial))
    final = q.typed_answers(partial, "typed")
    assert set(final) == {x.text for x in parsed}
    done = attrs.evolve(record, state=PromptState.ANSWERED, answer=q.answer(final, 1, applied=True))
    check_payload(q.render_resolved(done))
    assert q.control_response(done, "r") is not None
