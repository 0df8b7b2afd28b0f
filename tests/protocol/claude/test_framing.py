"""StreamJsonReader: framing, EOF, bounded lines."""

from __future__ import annotations

import pytest

from protocol.claude import events as ev
from protocol.claude.framing import END, NEED_DATA, StreamJsonReader

STATUS = b'{"type":"system","subtype":"status","status":"requesting"}'


def test_needs_data_until_a_newline() -> None:
    reader = StreamJsonReader()
    reader.receive_data(STATUS[:10])
    assert reader.next_event() is NEED_DATA
    reader.receive_data(STATUS[10:] + b"\n")
    assert isinstance(reader.next_event(), ev.SystemStatus)
    assert reader.next_event() is NEED_DATA


def test_blank_lines_and_crlf_are_tolerated() -> None:
    reader = StreamJsonReader()
    reader.receive_data(b"\n\r\n" + STATUS + b"\r\n" + STATUS + b"\n")
    assert [type(e) for e in reader.events()] == [ev.SystemStatus, ev.SystemStatus]


def test_last_line_without_newline_is_parsed_at_eof() -> None:
    reader = StreamJsonReader()
    reader.receive_data(STATUS + b"\n" + b'{"type":"resu')
    reader.receive_data(b"")
    first, second = reader.next_event(), reader.next_event()
    assert isinstance(first, ev.SystemStatus)
    assert isinstance(second, ev.Malformed)
    assert reader.next_event() is END
    assert reader.next_event() is END


def test_data_after_eof_is_a_caller_bug() -> None:
    reader = StreamJsonReader()
    reader.receive_data(b"")
    with pytest.raises(RuntimeError):
        reader.receive_data(b"x")


def test_an_oversized_line_is_skipped_as_one_malformed_event() -> None:
    reader = StreamJsonReader(max_line_bytes=100)
    reader.receive_data(b"x" * 80)
    assert reader.next_event() is NEED_DATA
    reader.receive_data(b"y" * 80)
    assert reader.next_event() is NEED_DATA
    # The buffer does not grow while the line goes on.
    reader.receive_data(b"z" * 10_000)
    assert reader.next_event() is NEED_DATA
    assert len(reader._buffer) == 0
    reader.receive_data(b"zz\n" + STATUS + b"\n")
    oversized = reader.next_event()
    assert isinstance(oversized, ev.Malformed)
    assert "longer than 100 bytes" in oversized.reason
    assert oversized.line.startswith(b"x" * 80)
    assert isinstance(reader.next_event(), ev.SystemStatus)


def test_an_oversized_line_arriving_whole_is_malformed() -> None:
    reader = StreamJsonReader(max_line_bytes=10)
    reader.receive_data(b'{"type": "system", "subtype": "status"}\n')
    event = reader.next_event()
    assert isinstance(event, ev.Malformed)


def test_rejects_a_nonsense_limit() -> None:
    with pytest.raises(ValueError):
        StreamJsonReader(max_line_bytes=0)
