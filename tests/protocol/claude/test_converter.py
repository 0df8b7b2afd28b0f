"""Lenient parsing: drift, unknowns, nulls and junk never crash the parser."""

from __future__ import annotations

import json

import pytest

from protocol.claude import events as ev
from protocol.claude.converter import dump_event, parse_event, parse_line


def test_result_accepts_the_old_cost_usd_name() -> None:
    old = parse_event({"type": "result", "subtype": "success", "cost_usd": 0.25, "session_id": "s"})
    new = parse_event({"type": "result", "subtype": "success", "total_cost_usd": 0.5})
    assert isinstance(old, ev.Result)
    assert old.total_cost_usd == 0.25
    assert isinstance(new, ev.Result)
    assert new.total_cost_usd == 0.5


@pytest.mark.parametrize(
    ("metadata_key", "metadata"),
    [
        ("compact_metadata", {"trigger": "auto", "pre_tokens": 1234, "post_tokens": 99}),
        ("compactMetadata", {"trigger": "auto", "preTokens": 1234, "postTokens": 99}),
    ],
)
def test_compact_metadata_in_either_spelling(metadata_key: str, metadata: dict) -> None:  # type: ignore[type-arg]
    event = parse_event({"type": "system", "subtype": "compact_boundary", metadata_key: metadata})
    assert isinstance(event, ev.CompactBoundary)
    assert event.metadata == ev.CompactMetadata(trigger="auto", pre_tokens=1234, post_tokens=99)


def test_unknown_type_and_subtype_are_kept_whole() -> None:
    for raw in (
        {"type": "rate_limit_event", "rate_limit_info": {"status": "allowed_warning"}},
        {"type": "system", "subtype": "model_fallback", "from": "opus", "to": "sonnet"},
        {"no_type": True},
    ):
        event = parse_event(raw)
        assert isinstance(event, ev.Unknown)
        assert event.raw == raw
        assert dump_event(event) == raw
    unknown = parse_event({"type": "system", "subtype": "model_fallback"})
    assert isinstance(unknown, ev.Unknown)
    assert "model_fallback" in unknown.reason


def test_unknown_fields_are_ignored_but_kept_in_raw() -> None:
    raw = {"type": "system", "subtype": "status", "status": "requesting", "brand_new": [1, 2]}
    event = parse_event(raw)
    assert isinstance(event, ev.SystemStatus)
    assert event.status == "requesting"
    assert event.raw["brand_new"] == [1, 2]


def test_nulls_mean_absent() -> None:
    event = parse_event(
        {"type": "result", "subtype": "success", "result": None, "num_turns": None, "usage": None}
    )
    assert isinstance(event, ev.Result)
    assert (event.result, event.num_turns, event.usage) == (None, None, None)
    init = parse_event({"type": "system", "subtype": "init", "model": None, "tools": None})
    assert isinstance(init, ev.SystemInit)
    assert init.model == ""
    assert init.tools == ()


def test_a_known_event_with_ill_typed_fields_becomes_unknown() -> None:
    raw = {"type": "result", "subtype": "success", "num_turns": {"not": "a number"}}
    event = parse_event(raw)
    assert isinstance(event, ev.Unknown)
    assert "Result did not fit" in event.reason
    assert event.raw == raw


def test_content_blocks_of_every_kind() -> None:
    event = parse_event(
        {
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                        "is_error": True,
                    },
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AAA"},
                    },
                    {"type": "server_tool_use", "id": "x"},
                    "not-a-block",
                ],
            },
            "isReplay": True,
        }
    )
    assert isinstance(event, ev.UserMessage)
    result, image, unknown, junk = event.content  # type: ignore[misc]
    assert isinstance(result, ev.ToolResultBlock)
    assert result.text == "a\nb"
    assert result.is_error
    assert image == ev.ImageBlock(media_type="image/png", data="AAA")
    assert isinstance(unknown, ev.UnknownBlock)
    assert unknown.type == "server_tool_use"
    assert isinstance(junk, ev.UnknownBlock)
    assert event.is_replay


def test_control_requests_by_subtype() -> None:
    elicit = parse_event(
        {
            "type": "control_request",
            "request_id": "r1",
            "request": {
                "subtype": "elicitation",
                "mcp_server_name": "elic",
                "message": "Color?",
                "mode": "form",
                "requested_schema": {"type": "object"},
            },
        }
    )
    assert isinstance(elicit, ev.ControlRequest)
    assert elicit.request == ev.Elicitation(
        mcp_server_name="elic", message="Color?", mode="form", requested_schema={"type": "object"}
    )
    other = parse_event(
        {
            "type": "control_request",
            "request_id": "r2",
            "request": {"subtype": "oauth_token_refresh"},
        }
    )
    assert isinstance(other, ev.ControlRequest)
    assert other.request == ev.OtherRequest(subtype="oauth_token_refresh")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"", "not JSON"),
        (b'{"type": "resu', "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b"42", "not a JSON object"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_junk_lines_are_malformed(line: bytes, reason: str) -> None:
    event = parse_line(line)
    assert isinstance(event, ev.Malformed)
    assert reason in event.reason


def test_parse_line_accepts_str() -> None:
    event = parse_line(json.dumps({"type": "control_cancel_request", "request_id": "abc"}))
    assert event == ev.ControlCancelRequest(request_id="abc")
