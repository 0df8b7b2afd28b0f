"""elicitations.py (C15): schema to modal, validation, answers and control responses;
generated junk schemas and values never raise and always fit Discord."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.sessions.presentation import elicitations as e
from bridge.sessions.presentation.render import check_payload
from bridge.store import PromptRecord, PromptState
from protocol.claude import events as ev
from protocol.discord import limits

PROFILE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Name", "minLength": 2, "maxLength": 20},
        "age": {"type": "integer", "minimum": 1, "maximum": 130},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "ok": {"type": "boolean"},
        "size": {"type": "string", "enum": ["s", "m"], "enumNames": ["Small", "Medium"]},
    },
    "required": ["name", "age"],
}


def _record(schema: Any = PROFILE, *, mode: str = "form", url: str | None = None) -> PromptRecord:
    request = ev.ControlRequest(
        request_id="req-1",
        request=ev.Elicitation(
            mcp_server_name="srv",
            message="Tell me.",
            mode=mode,
            requested_schema=schema,
            url=url,
            elicitation_id="id-1" if url else None,
        ),
    )
    return e.elicitation_record(request, prompt_id="abc", thread_id=7, now=1000.0, timeout=300.0)


def test_fields_become_inputs_and_values_are_typed() -> None:
    form = e.form_of(_record())
    assert [(f.name, f.kind) for f in form.fields] == [
        ("name", e.FieldKind.TEXT),
        ("age", e.FieldKind.INTEGER),
        ("score", e.FieldKind.NUMBER),
        ("ok", e.FieldKind.BOOLEAN),
        ("size", e.FieldKind.ENUM),
    ]
    assert form.fillable
    content, problems = e.validate(form, ["Ada", " 36 ", "0.25", "false", "s"])
    assert problems == []
    assert content == {"name": "Ada", "age": 36, "score": 0.25, "ok": False, "size": "s"}
    content, problems = e.validate(form, ["Ada", "36", "", "", ""])
    assert (content, problems) == ({"name": "Ada", "age": 36}, [])
    _, problems = e.validate(form, ["", "1.5", "nan", "maybe", "xl"])
    assert problems == [
        "**Name** is required.",
        "**age** must be a whole number.",
        "**score** must be a number.",
        "**ok** must be one of the choices.",
        "**size** must be one of the choices.",
    ]
    modal = e.form_modal(_record())
    assert modal is not None
    limits.check_modal(modal)


def test_fields_a_modal_cannot_hold_are_named_and_a_required_one_blocks_the_form() -> None:
    schema = {
        "properties": {
            **{f"t{i}": {"type": "string"} for i in range(6)},
            "tags": {"type": "array"},
        },
        "required": ["tags"],
    }
    record = _record(schema)
    form = e.form_of(record)
    assert len(form.fields) == e.MAX_FIELDS
    assert [name for name, _ in form.left_out] == ["t5", "tags"]
    assert not form.fillable
    shown = e.render_pending(record)
    check_payload(shown)
    description = str(shown.embeds[0].description)
    assert "**tags** cannot be shown in a Discord form (a field of type 'array')" in description
    assert "A required field cannot be filled here" in description
    labels = [c.label for row in shown.components for c in row.components]
    assert labels == ["Decline", "Cancel"]
    assert e.form_modal(record) is None
    assert e.refusal(record, "form", []) is not None


def test_answers_and_their_control_responses() -> None:
    record = _record()

    def resolved(choice: str, values: list[str], on: PromptRecord = record) -> PromptRecord:
        answer = e.answer_for(on, choice, values, 5, applied=True)
        assert answer is not None
        return attrs.evolve(on, state=PromptState.ANSWERED, answer=answer)

    sent = e.control_response(resolved("form", ["Ada", "36", "", "", ""]), "r")
    assert sent is not None
    assert sent["response"]["response"] == {
        "action": "accept",
        "content": {"name": "Ada", "age": 36},
    }
    declined = e.control_response(resolved("decline", []), "r")
    assert declined is not None
    assert declined["response"]["response"] == {"action": "decline"}
    cancelled = e.control_response(resolved("cancel", []), "r")
    assert cancelled is not None
    assert cancelled["response"]["subtype"] == "error"
    expired = e.control_response(attrs.evolve(record, state=PromptState.EXPIRED), "r")
    assert expired is not None
    assert expired["response"]["subtype"] == "error"
    url = _record(None, mode="url", url="https://example.com/x")
    done = e.control_response(resolved("done", [], url), "r")
    assert done is not None
    assert done["response"]["response"] == {"action": "accept"}
    # Choices of the other mode, the modal opener and bad forms do not answer.
    assert e.answer_for(url, "form", [], 5, applied=True) is None
    assert e.answer_for(record, "done", [], 5, applied=True) is None
    assert e.answer_for(record, "fill", [], 5, applied=True) is None
    assert e.answer_for(record, "form", ["A", "x", "", "", ""], 5, applied=True) is None


def test_string_formats_are_checked_before_answering() -> None:
    schema = {
        "type": "object",
        "properties": {
            "mail": {"type": "string", "format": "email"},
            "site": {"type": "string", "format": "uri"},
            "day": {"type": "string", "format": "date"},
            "when": {"type": "string", "format": "date-time"},
            "host": {"type": "string", "format": "hostname"},  # not MCP's: any text
        },
    }
    form = e.form_of(_record(schema))
    assert [f.format for f in form.fields] == [
        e.StringFormat.EMAIL,
        e.StringFormat.URI,
        e.StringFormat.DATE,
        e.StringFormat.DATE_TIME,
        None,
    ]
    good = ["ada@example.com", "https://example.com/a", "2026-02-28", "2026-12-05T14:30:00Z", "?"]
    content, problems = e.validate(form, good)
    assert problems == []
    assert content["when"] == "2026-12-05T14:30:00Z"
    bad = ["ada@example", "not a url", "2026-02-30", "2026-12-05T14:30:00", "?"]
    _, problems = e.validate(form, bad)
    assert problems == [
        "**mail** must be an email address.",
        "**site** must be a URL, like https://example.com/page.",
        "**day** must be a date, YYYY-MM-DD.",
        "**when** must be a date and time with its offset, like 2026-12-05T14:30:00Z.",
    ]
    shown = str(e.render_pending(_record(schema)).embeds[0].description)
    assert "(text; an email address)" in shown
    modal = e.form_modal(_record(schema))
    assert modal is not None
    limits.check_modal(modal)


def test_a_url_that_is_not_http_is_not_a_link() -> None:
    record = _record(None, mode="url", url="javascript:alert(1)")
    shown = e.render_pending(record)
    check_payload(shown)
    labels = [c.label for row in shown.components for c in row.components]
    assert labels == ["Decline"]
    assert "cannot show" in str(shown.embeds[0].description)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)
_spec = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "number", "boolean", "array", "x"])},
    optional={
        "title": st.text(max_size=80) | _json,
        "description": st.text(max_size=200) | _json,
        "minLength": st.integers(-5, 5000) | _json,
        "maxLength": st.integers(-5, 5000) | _json,
        "minimum": st.floats() | st.integers() | _json,
        "maximum": st.floats() | st.integers() | _json,
        "enum": st.lists(st.text(max_size=120), max_size=30) | _json,
        "enumNames": st.lists(st.text(max_size=120), max_size=30) | _json,
        "format": st.sampled_from(["email", "uri", "date", "date-time", "hostname"]) | _json,
    },
)
_schema = st.fixed_dictionaries(
    {
        "properties": st.dictionaries(st.text(max_size=60), _spec | _json, max_size=8) | _json,
        "required": st.lists(st.text(max_size=60), max_size=4) | _json,
    }
)


@settings(max_examples=300, deadline=None)
@given(
    schema=_schema | _json,
    values=st.lists(st.text(max_size=30), max_size=6),
    choice=st.sampled_from(["form", "fill", "done", "decline", "cancel", "junk"]),
    url=st.none() | st.text(max_size=600) | st.just("https://example.com/" + "a" * 600),
)
def test_junk_schemas_and_values_never_raise_and_always_fit_discord(
    schema: Any, values: list[str], choice: str, url: str | None
) -> None:
    for record in (_record(schema), _record(None, mode="url", url=url)):
        check_payload(e.render_pending(record, mention=9))
        modal = e.form_modal(record)
        if modal is not None:
            limits.check_modal(modal)
        e.refusal(record, choice, values)
        answer = e.answer_for(record, choice, values, 1, applied=True)
        if answer is not None:
            done = attrs.evolve(record, state=PromptState.ANSWERED, answer=answer)
            check_payload(e.render_resolved(done))
            assert e.control_response(done, "r") is not None
