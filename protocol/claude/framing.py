"""Line framing for the CLI's stdout: bytes in, one parsed event per line out.

h11-style and sans-IO: :meth:`StreamJsonReader.receive_data` only buffers (``b""`` means
the pipe reached EOF), :meth:`StreamJsonReader.next_event` returns an event, or
:data:`NEED_DATA`, or :data:`END` once EOF was seen and the buffer is drained.

The buffer is bounded. A line longer than ``max_line_bytes`` is not kept: the reader
skips to its newline and reports it as one :class:`~protocol.claude.events.Malformed`
holding the first bytes, so a runaway line cannot exhaust memory or wedge the reader.
A last line without its newline at EOF is still parsed (the CLI may die mid-write).
"""

from __future__ import annotations

import enum
from typing import Final

from protocol.claude import events as ev
from protocol.claude.converter import parse_line

#: Lines carry whole tool results and base64 images (replays, tool output), so the limit
#: is generous; it only exists so a broken child cannot grow the buffer without end.
DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024 * 1024

#: How much of an oversized line is kept in the Malformed event, for the log.
_OVERSIZED_PREVIEW: Final = 200


class Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"
    END = "END"


NEED_DATA: Final = Sentinel.NEED_DATA
"""No complete line is buffered yet; call ``receive_data``."""
END: Final = Sentinel.END
"""EOF was received and every line has been returned."""


class StreamJsonReader:
    """Frames stdout bytes into lines and parses each into an event."""

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be positive, got {max_line_bytes}")
        self._max = max_line_bytes
        self._buffer = bytearray()
        self._scanned = 0
        self._eof = False
        self._skipping: bytes | None = None
        """Preview of an oversized line being skipped, until its newline arrives."""

    def receive_data(self, data: bytes | bytearray) -> None:
        """Buffer bytes read from stdout; ``b""`` means EOF.

        Raises:
            RuntimeError: data after EOF (a bug in the caller).
        """
        if self._eof:
            if data:
                raise RuntimeError("receive_data called with bytes after EOF")
            return
        if not data:
            self._eof = True
            return
        self._buffer += data

    def next_event(self) -> ev.Event | Sentinel:
        """The next event, :data:`NEED_DATA`, or :data:`END`. Never raises on bad input."""
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if newline < 0:
                self._scanned = len(self._buffer)
                if self._skipping is None and len(self._buffer) > self._max:
                    self._skipping = bytes(self._buffer[:_OVERSIZED_PREVIEW])
                if self._skipping is not None:
                    # Drop what we have of the oversized line; keep only its preview.
                    del self._buffer[:]
                    self._scanned = 0
                if not self._eof:
                    return NEED_DATA
                return self._at_eof()
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            self._scanned = 0
            if self._skipping is not None:
                preview, self._skipping = self._skipping, None
                return ev.Malformed(line=preview, reason=f"line longer than {self._max} bytes")
            if len(line) > self._max:
                return ev.Malformed(
                    line=line[:_OVERSIZED_PREVIEW], reason=f"line longer than {self._max} bytes"
                )
            if line.strip():
                return parse_line(line.rstrip(b"\r"))

    def _at_eof(self) -> ev.Event | Sentinel:
        if self._skipping is not None:
            preview, self._skipping = self._skipping, None
            return ev.Malformed(line=preview, reason=f"line longer than {self._max} bytes")
        if self._buffer.strip():
            line = bytes(self._buffer)
            del self._buffer[:]
            self._scanned = 0
            return parse_line(line)
        del self._buffer[:]
        return END

    def events(self) -> list[ev.Event]:
        """Every event available now (convenience for tests and the driver loop)."""
        out: list[ev.Event] = []
        while not isinstance(event := self.next_event(), Sentinel):
            out.append(event)
        return out
