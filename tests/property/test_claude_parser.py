"""Property tests: the stream-json parser and framer never raise, and unknowns round-trip."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from protocol.claude import events as ev
from protocol.claude.converter import (
    decode_line,
    dump_event,
    make_converter,
    parse_event,
    parse_line,
)
from protocol.claude.framing import StreamJsonReader
from tests.support.fake_claude import scenario_names, stdout_lines

CORPUS = [line for name in scenario_names() for line in stdout_lines(name)]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
wire_type = st.sampled_from(
    [
        "system",
        "assistant",
        "user",
        "result",
        "stream_event",
        "control_request",
        "control_response",
        "control_cancel_request",
        "rate_limit_event",
        "x",
    ]
)
wire_subtype = st.sampled_from(
    [
        "init",
        "status",
        "compact_boundary",
        "hook_started",
        "hook_response",
        "api_retry",
        "success",
        "error_during_execution",
        "can_use_tool",
        "elicitation",
        "brand_new",
    ]
)
# Objects shaped like CLI events but with arbitrary field values: the parser must cope.
event_like = st.fixed_dictionaries(
    {"type": wire_type},
    optional={
        "subtype": wire_subtype,
        "message": json_values,
        "request": json_values,
        "response": json_values,
        "event": json_values,
        "session_id": json_values,
        "compact_metadata": json_values,
        "modelUsage": json_values,
        "usage": json_values,
        "permission_denials": json_values,
        "errors": json_values,
        "tools": json_values,
        "total_cost_usd": json_values,
    },
)


def _is_json_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except (ValueError, RecursionError):
        return False


@given(st.one_of(st.binary(max_size=2000), st.sampled_from(CORPUS)))
def test_parse_line_never_raises_on_bytes(data: bytes) -> None:
    event = parse_line(data)
    # Exactly the lines that are not JSON objects are Malformed; the rest are events.
    assert isinstance(event, ev.Malformed) != _is_json_object(data)


@given(event_like)
def test_parse_event_never_raises_on_event_shaped_objects(raw: dict) -> None:  # type: ignore[type-arg]
    event = parse_event(raw)
    assert not isinstance(event, ev.Malformed)
    assert dump_event(event) == raw


@given(st.sampled_from(CORPUS), st.data())
def test_truncated_real_lines_never_raise(line: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(line)))
    event = parse_line(line[:cut])
    if cut < len(line):
        assert isinstance(event, ev.Malformed)


@given(
    st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    st.text(min_size=1, max_size=20).filter(
        lambda t: (
            t
            not in {
                "system",
                "assistant",
                "user",
                "result",
                "stream_event",
                "control_request",
                "control_response",
                "control_cancel_request",
            }
        )
    ),
)
def test_unknown_events_round_trip(fields: dict, kind: str) -> None:  # type: ignore[type-arg]
    raw = {**fields, "type": kind}
    event = parse_line(json.dumps(raw))
    assert isinstance(event, ev.Unknown)
    again = parse_line(json.dumps(dump_event(event)))
    assert again == event
    assert dump_event(again) == raw


@given(st.lists(st.sampled_from(CORPUS), min_size=1, max_size=8), st.data())
def test_framing_is_independent_of_how_bytes_are_split(
    lines: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = StreamJsonReader()
    previous = 0
    for cut in [*cuts, len(stream)]:
        if cut > previous:  # b"" would mean EOF
            reader.receive_data(stream[previous:cut])
        previous = cut
    reader.receive_data(b"")
    assert reader.events() == [parse_line(line) for line in lines]


@given(
    st.lists(
        st.one_of(
            st.sampled_from(CORPUS),
            st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")),
            st.integers(301, 3000).map(lambda n: b"x" * n),
        ),
        max_size=10,
    ),
    st.integers(1, 64),
)
def test_framer_survives_noise_and_huge_lines(lines: list[bytes], chunk: int) -> None:
    limit = 300
    stream = b"\n".join(lines)
    reader = StreamJsonReader(max_line_bytes=max(limit, max((len(x) for x in CORPUS), default=0)))
    out: list[ev.Event] = []
    for start in range(0, len(stream), chunk * 97):
        reader.receive_data(stream[start : start + chunk * 97])
        out.extend(reader.events())
    reader.receive_data(b"")
    out.extend(reader.events())
    assert len(out) == len([line for line in lines if line.strip()])


# stream_event objects: mostly well-typed (the fast path), sometimes not (the general one).
_maybe_str = st.none() | st.text(max_size=12) | json_values
stream_event_like = st.fixed_dictionaries(
    {"type": st.just("stream_event")},
    optional={
        "event": st.dictionaries(st.text(max_size=12), json_values, max_size=4) | json_values,
        "parent_tool_use_id": _maybe_str,
        "session_id": _maybe_str,
        "uuid": _maybe_str,
        "extra": json_values,
    },
)


@given(stream_event_like)
def test_the_stream_event_fast_path_gives_what_the_converter_gives(raw: dict) -> None:  # type: ignore[type-arg]
    fast = parse_event(raw)  # the shared converter: the fast path when the types fit
    general = parse_event(raw, converter=make_converter())  # always cattrs
    assert type(fast) is type(general)
    assert fast == general
    if isinstance(fast, ev.StreamEvent):
        assert isinstance(general, ev.StreamEvent)
        assert fast.raw == general.raw == raw
        assert fast.raw is not raw  # copies, as cattrs makes
        assert fast.event is not raw.get("event")


# Integers of any size: decode_line must not let orjson turn one beyond 64 bits into a float.
json_values_any = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20, alphabet=st.characters(codec=None)),  # lone surrogates too
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values_any, st.sampled_from(["utf-8", "utf-16", "utf-32"]), st.booleans())
def test_decode_line_agrees_with_the_standard_library(
    value: object, encoding: str, ascii_only: bool
) -> None:
    line = json.dumps(value, ensure_ascii=ascii_only).encode(encoding, "surrogatepass")
    decoded = decode_line(line)
    assert json.dumps(decoded) == json.dumps(json.loads(line))  # NaN-proof comparison


@given(st.binary(max_size=200))
def test_decode_line_fails_like_the_standard_library(data: bytes) -> None:
    try:
        expected: object = json.loads(data)
    except (ValueError, RecursionError) as exc:
        expected = type(exc)
    try:
        got: object = decode_line(data)
    except (ValueError, RecursionError) as exc:
        got = type(exc)
    assert json.dumps(got, default=repr) == json.dumps(expected, default=repr)


@given(st.integers(min_value=2**63 - 1), st.booleans(), st.booleans())
def test_integers_beyond_64_bits_decode_exactly(
    magnitude: int, negative: bool, in_a_list: bool
) -> None:
    number = -magnitude if negative else magnitude
    value: object = [number] if in_a_list else number
    assert decode_line(json.dumps({"n": value}).encode()) == {"n": value}
