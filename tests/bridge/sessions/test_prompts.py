"""prompts.py: custom ids, records, rendering, control responses, and reuse after a restart
(against a real SQLite file for the store half)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.sessions.presentation import prompts as p
from bridge.sessions.presentation.render import check_payload
from bridge.store import Database, PromptState
from protocol.claude import events as ev
from protocol.discord import models as m

TOUCH = {"command": "touch touched.txt", "description": "touch a file"}


def _request(request_id: str = "req-1", tool_input: dict | None = None) -> ev.ControlRequest:
    return ev.ControlRequest(
        request_id=request_id,
        request=ev.CanUseTool(
            tool_name="Bash",
            display_name="Bash",
            input=TOUCH if tool_input is None else tool_input,
            tool_use_id="toolu_1",
            description="touch a file",
        ),
    )


def _record(prompt_id: str = "abc", **kw: object) -> object:
    return p.permission_record(
        _request(**kw),
        prompt_id=prompt_id,
        thread_id=7,
        now=1000.0,
        timeout=120.0,  # type: ignore[arg-type]
    )


def test_custom_id_round_trip_and_rejections() -> None:
    pid = p.new_prompt_id()
    value = p.custom_id(pid, "allow")
    assert value == f"ccb:prompt:{pid}:allow"
    assert len(value) <= 100
    assert p.parse_custom_id(value) == p.PromptChoice(pid, "allow")
    for bad in (
        "other:thing",
        "ccb:prompt:",
        "ccb:prompt:abc",
        "ccb:prompt::allow",
        "ccb:prompt:a:b:c",
    ):
        assert p.parse_custom_id(bad) is None
    with pytest.raises(ValueError):
        p.custom_id("a:b", "allow")
    with pytest.raises(ValueError):
        p.custom_id("x" * 100, "allow")


def test_permission_record_from_can_use_tool() -> None:
    record = _record()
    assert record.kind == "permission"
    assert record.request_id == "req-1"
    assert record.expires_at == 1120.0
    assert record.state is PromptState.PENDING
    assert record.payload["tool_name"] == "Bash"
    assert record.payload["input"] == TOUCH
    with pytest.raises(TypeError):
        p.permission_record(
            ev.ControlRequest(request_id="x", request=ev.OtherRequest(subtype="y")),
            prompt_id="a",
            thread_id=1,
            now=0,
            timeout=1,
        )


def test_pending_prompt_has_allow_and_deny_buttons_within_limits() -> None:
    record = _record()
    payload = p.render_pending(record, mention=42)
    check_payload(payload)
    (row,) = payload.components
    ids = [b.custom_id for b in row.components]
    assert ids == ["ccb:prompt:abc:allow", "ccb:prompt:abc:deny"]
    assert all(b.disabled is m.UNDEFINED for b in row.components)
    assert "touch touched.txt" in payload.embeds[0].description
    assert "<t:1120:R>" in payload.embeds[0].description
    assert payload.content == "<@42> Claude needs your decision."
    huge = p.permission_record(
        _request(tool_input={"content": "x" * 50_000, "file_path": "/a"}),
        prompt_id="big",
        thread_id=1,
        now=0,
        timeout=1,
    )
    check_payload(p.render_pending(huge))


def test_resolved_prompt_disables_buttons_and_says_who_chose() -> None:
    import attrs

    allowed = attrs.evolve(
        _record(), state=PromptState.ANSWERED, answer=p.answer("allow", 42, applied=True)
    )
    payload = p.render_resolved(allowed)
    check_payload(payload)
    assert all(b.disabled is True for b in payload.components[0].components)
    assert "✅ Allowed by <@42>" in payload.embeds[0].description
    later = attrs.evolve(allowed, answer=p.answer("deny", 42, applied=False))
    assert "asks again" in p.render_resolved(later).embeds[0].description
    expired = attrs.evolve(_record(), state=PromptState.EXPIRED)
    assert "denied automatically" in p.render_resolved(expired).embeds[0].description


def test_control_responses() -> None:
    import attrs

    base = _record()
    with pytest.raises(ValueError):
        p.control_response(base, "req-1")
    allowed = attrs.evolve(
        base, state=PromptState.ANSWERED, answer=p.answer("allow", 1, applied=True)
    )
    assert p.control_response(allowed, "live") == {
        "type": "control_response",
        "response": {
            "subtype": "success",
            "request_id": "live",
            "response": {"behavior": "allow", "updatedInput": TOUCH},
        },
    }
    denied = attrs.evolve(allowed, answer=p.answer("deny", 1, applied=True))
    assert p.control_response(denied, "r")["response"]["response"] == {
        "behavior": "deny",
        "message": p.DENIED_MESSAGE,
    }
    expired = attrs.evolve(base, state=PromptState.EXPIRED)
    body = p.control_response(expired, "r")["response"]["response"]
    assert body["behavior"] == "deny"
    assert "120 s" in body["message"]
    assert p.control_response(attrs.evolve(base, state=PromptState.CANCELLED), "r") is None


def test_an_answer_given_after_a_restart_answers_the_same_request_once(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite")
    try:
        db.prompt_add(_record("old"))
        db.prompt_add(_record("other", tool_input={"command": "rm -rf /"}))
        # The process that asked is gone; a click after the restart is stored, unapplied.
        resolved = db.prompt_resolve(
            "old", PromptState.ANSWERED, p.answer("allow", 42, applied=False), 42
        )
        assert resolved is not None
        assert db.prompt_resolve("old", PromptState.EXPIRED) is None  # resolved once
        answered = db.prompts(7, PromptState.ANSWERED)
        assert [r.prompt_id for r in answered] == ["old"]
        # The resumed turn asks again with a new request id and the same input.
        again = _request("req-2").request
        assert isinstance(again, ev.CanUseTool)
        reuse = p.find_reusable(answered, again)
        assert reuse is not None
        assert reuse.prompt_id == "old"
        assert p.control_response(reuse, "req-2")["response"]["request_id"] == "req-2"
        # Once applied it is never reused.
        db.prompt_set_answer("old", {**reuse.answer, "applied": True})
        assert p.find_reusable(db.prompts(7, PromptState.ANSWERED), again) is None
        # A different input never matches.
        other = _request("req-3", tool_input={"command": "ls"}).request
        assert isinstance(other, ev.CanUseTool)
        assert p.find_reusable(answered, other) is None
        assert [r.prompt_id for r in db.prompts(7)] == ["old", "other"]
    finally:
        db.close()
