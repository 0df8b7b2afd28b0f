"""Builders for what we write to stdin, and their validation."""

from __future__ import annotations

import base64
import json

import pytest

from protocol.claude.control import (
    ControlError,
    ImageAttachment,
    RequestIds,
    TextAttachment,
    allow,
    answer_questions,
    deny,
    elicitation_response,
    encode_line,
    error_response,
    interrupt_request,
    set_model_request,
    set_permission_mode_request,
    user_message,
    validate_model,
)


def test_user_message_with_text_files_and_images() -> None:
    png = b"\x89PNG\r\n\x1a\nrest"
    message = user_message(
        "look",
        images=[ImageAttachment(media_type="image/png", data=png)],
        text_files=[TextAttachment(filename="notes.txt", text="hello")],
        uuid="u-1",
    )
    text, attached, image = message["message"]["content"]
    assert text == {"type": "text", "text": "look"}
    assert "notes.txt" in attached["text"]
    assert "hello" in attached["text"]
    assert base64.b64decode(image["source"]["data"]) == png
    assert image["source"]["media_type"] == "image/png"
    assert message["uuid"] == "u-1"
    assert message["type"] == "user"
    assert message["message"]["role"] == "user"


def test_user_message_validation() -> None:
    with pytest.raises(ControlError, match="images"):
        user_message("x", images=[ImageAttachment(media_type="image/bmp", data=b"")])
    with pytest.raises(ControlError, match="needs text"):
        user_message("   ")
    image_only = user_message("", images=[ImageAttachment(media_type="image/gif", data=b"G")])
    assert [b["type"] for b in image_only["message"]["content"]] == ["image"]


def test_encode_line_is_one_line_even_with_newlines_in_text() -> None:
    line = encode_line(user_message("a\nb\r\nc"))
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line)["message"]["content"][0]["text"] == "a\nb\r\nc"


def test_request_ids_are_ours_and_unique() -> None:
    ids = RequestIds()
    assert [ids.next() for _ in range(3)] == ["ccb_1", "ccb_2", "ccb_3"]
    assert interrupt_request("ccb_9") == {
        "type": "control_request",
        "request_id": "ccb_9",
        "request": {"subtype": "interrupt"},
    }


def test_modes_and_models_are_validated_because_the_cli_does_not() -> None:
    assert set_permission_mode_request("r", "acceptEdits")["request"]["mode"] == "acceptEdits"
    with pytest.raises(ControlError, match="bogus"):
        set_permission_mode_request("r", "bogus")
    assert set_model_request("r", "sonnet")["request"]["model"] == "sonnet"
    assert validate_model("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5-20250929"
    assert validate_model("claude-opus-4-8[1m]") == "claude-opus-4-8[1m]"
    for bad in ("no-such-model-xyz", "--dangerously-skip-permissions", "sonnet; rm -rf /", ""):
        with pytest.raises(ControlError):
            set_model_request("r", bad)


def test_allow_deny_and_error_envelopes() -> None:
    allowed = allow("cli-1", {"command": "ls"}, updated_permissions=[{"type": "addRules"}])
    assert allowed["response"] == {
        "subtype": "success",
        "request_id": "cli-1",
        "response": {
            "behavior": "allow",
            "updatedInput": {"command": "ls"},
            "updatedPermissions": [{"type": "addRules"}],
        },
    }
    denied = deny("cli-2", "no", interrupt=True)["response"]["response"]
    assert denied == {"behavior": "deny", "message": "no", "interrupt": True}
    assert "interrupt" not in deny("cli-2", "no")["response"]["response"]
    with pytest.raises(ControlError):
        deny("cli-2", " ")
    assert error_response("cli-3", "boom")["response"] == {
        "subtype": "error",
        "request_id": "cli-3",
        "error": "boom",
    }


def test_answer_questions_adds_answers_to_the_original_input() -> None:
    tool_input = {"questions": [{"question": "Which color?", "options": []}]}
    answered = answer_questions("cli-4", tool_input, {"Which color?": "Blue"})
    updated = answered["response"]["response"]["updatedInput"]
    assert updated == {**tool_input, "answers": {"Which color?": "Blue"}}
    with pytest.raises(ControlError, match="no such question"):
        answer_questions("cli-4", tool_input, {"Which size?": "L"})


def test_an_unknown_answer_is_refused_even_when_a_question_has_no_text() -> None:
    # A question without text used to put None beside the texts, and sorting them for the
    # error message raised TypeError instead of the ControlError a caller handles.
    tool_input = {"questions": [{"options": []}, {"question": "Which color?"}]}
    with pytest.raises(ControlError, match=r"asked: \['Which color\?'\]"):
        answer_questions("cli-5", tool_input, {"Which size?": "L"})


def test_elicitation_answers() -> None:
    accepted = elicitation_response("e", "accept", {"color": "blue"})["response"]["response"]
    assert accepted == {"action": "accept", "content": {"color": "blue"}}
    assert elicitation_response("e", "decline")["response"]["response"] == {"action": "decline"}
    with pytest.raises(ControlError):
        elicitation_response("e", "accept")
    with pytest.raises(ControlError):
        elicitation_response("e", "maybe")


def test_only_unhandled_requests_get_an_automatic_reply() -> None:
    from protocol.claude import events as ev
    from protocol.claude.control import automatic_reply

    other = ev.ControlRequest(
        request_id="c1", request=ev.OtherRequest(subtype="request_user_dialog")
    )
    reply = automatic_reply(other)
    assert reply is not None
    assert reply["response"]["subtype"] == "error"
    assert reply["response"]["request_id"] == "c1"
    assert "request_user_dialog" in reply["response"]["error"]
    hook = ev.ControlRequest(request_id="c2", request=ev.HookCallback(callback_id="h"))
    assert automatic_reply(hook) is not None
    for owner_answers in (ev.CanUseTool(tool_name="Bash"), ev.Elicitation(message="?")):
        assert automatic_reply(ev.ControlRequest(request_id="c3", request=owner_answers)) is None
    assert automatic_reply(ev.Result()) is None


def test_allow_always_keeps_the_suggested_rules_in_the_session_only() -> None:
    from protocol.claude import events as ev
    from protocol.claude.control import allow_always
    from protocol.claude.converter import parse_line
    from tests.support.fake_claude import stdout_lines

    asked = next(
        e for e in map(parse_line, stdout_lines("bash_allow")) if isinstance(e, ev.ControlRequest)
    )
    assert isinstance(asked.request, ev.CanUseTool)
    response = allow_always(asked.request_id, asked.request)["response"]["response"]
    assert response["updatedInput"] == asked.request.input
    assert response["updatedPermissions"] == [
        {
            "type": "addRules",
            "rules": [{"toolName": "Bash", "ruleContent": "touch touched.txt"}],
            "behavior": "allow",
            "destination": "session",
        }
    ]
