"""The zlib-stream decoder: one inflater per connection, messages split and joined freely."""

from __future__ import annotations

import json
import zlib

import pytest

from protocol.discord.zlib_stream import (
    NEED_DATA,
    GatewayDecodeError,
    ZlibStreamDecoder,
    parse_json,
)


def _message(compressor: zlib._Compress, payload: object) -> bytes:
    return compressor.compress(json.dumps(payload).encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)


def drain(decoder: ZlibStreamDecoder) -> list[object]:
    out = []
    while (message := decoder.next_event()) is not NEED_DATA:
        out.append(message)
    return out


def test_one_message_per_frame() -> None:
    c = zlib.compressobj()
    d = ZlibStreamDecoder()
    d.receive_data(_message(c, {"op": 10}))
    assert drain(d) == [{"op": 10}]
    d.receive_data(_message(c, {"op": 11}))
    assert drain(d) == [{"op": 11}]
    assert d.next_event() is NEED_DATA


def test_message_split_over_frames_byte_by_byte() -> None:
    c = zlib.compressobj()
    blob = _message(c, {"op": 0, "d": {"content": "x" * 5000}})
    d = ZlibStreamDecoder()
    for i in range(len(blob) - 1):
        d.receive_data(blob[i : i + 1])
        assert d.next_event() is NEED_DATA
    d.receive_data(blob[-1:])
    assert drain(d) == [{"op": 0, "d": {"content": "x" * 5000}}]
    assert d.buffered_bytes == 0


def test_several_messages_in_one_chunk() -> None:
    c = zlib.compressobj()
    blob = b"".join(_message(c, {"n": i}) for i in range(5))
    d = ZlibStreamDecoder()
    d.receive_data(blob[:-3])
    assert drain(d) == [{"n": i} for i in range(4)]
    d.receive_data(blob[-3:])
    assert drain(d) == [{"n": 4}]


def test_a_sync_flush_inside_a_message_is_not_a_message_end() -> None:
    # The suffix bytes can occur before a message is complete; the decoder must wait for
    # a complete JSON document rather than trusting the first suffix it sees.
    c = zlib.compressobj()
    text = json.dumps({"op": 0, "d": {"k": "v" * 100}}).encode()
    blob = c.compress(text[:20]) + c.flush(zlib.Z_SYNC_FLUSH)
    blob += c.compress(text[20:]) + c.flush(zlib.Z_SYNC_FLUSH)
    d = ZlibStreamDecoder()
    d.receive_data(blob)
    assert drain(d) == [json.loads(text)]


def test_a_new_connection_needs_a_new_decoder() -> None:
    first = zlib.compressobj()
    d = ZlibStreamDecoder()
    d.receive_data(_message(first, {"a": 1}))
    second = zlib.compressobj()  # the server starts a new stream on a new connection
    with pytest.raises(GatewayDecodeError, match="zlib"):
        d.receive_data(_message(second, {"b": 2}))
    with pytest.raises(GatewayDecodeError, match="already failed"):
        d.receive_data(b"")
    fresh = ZlibStreamDecoder()
    fresh.receive_data(_message(zlib.compressobj(), {"b": 2}))
    assert drain(fresh) == [{"b": 2}]


def test_buffer_is_bounded() -> None:
    d = ZlibStreamDecoder(max_buffered_bytes=1000)
    with pytest.raises(GatewayDecodeError, match="limit 1000"):
        d.receive_data(b"\x78" * 1001)


@pytest.mark.parametrize(
    "text", ['{"a":1}', ' {"a": [1, 2]} \n', '"s"', "[]", "5", "null", "\ufeff{}"]
)
def test_parse_json_is_json_loads(text: str) -> None:
    try:
        expected: object = json.loads(text)
    except ValueError as exc:
        expected = type(exc)
    try:
        got: object = parse_json(text)
        got_bytes: object = parse_json(text.encode())
    except ValueError as exc:
        got = got_bytes = type(exc)
    assert got == expected
    if text.isascii():
        assert got_bytes == expected


@pytest.mark.parametrize("text", ['{"a":1} x', '{"a":', "", "{'a': 1}"])
def test_parse_json_rejects_what_json_loads_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_json(text)


def test_each_message_is_parsed_into_a_dict_once() -> None:
    c = zlib.compressobj()
    d = ZlibStreamDecoder()
    assert d.receive_messages(_message(c, {"op": 11})) == [{"op": 11}]
    blob = _message(c, {"op": 0, "s": 1}) + _message(c, {"op": 0, "s": 2})
    assert d.receive_messages(blob[:7]) == []
    assert d.receive_messages(blob[7:]) == [{"op": 0, "s": 1}, {"op": 0, "s": 2}]
    assert d.next_event() is NEED_DATA
