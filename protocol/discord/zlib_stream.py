"""zlib-stream transport decompression for the gateway (``compress=zlib-stream``).

Theory of operation
-------------------
Discord compresses the whole connection as *one* zlib stream and ends every gateway message
with a ``Z_SYNC_FLUSH``, whose last four bytes are ``00 00 ff ff``. So:

* one inflater per connection, never reused: a new connection starts a new stream, and an
  old inflater fails on it ("invalid stored block lengths", dolfies/discord.py-self#565);
* a message may span several WebSocket frames (discord/discord-api-docs#4430): buffer until
  the suffix arrives.

discord.py and hikari only look at the suffix at the *end of a frame*. We go one step
further, because the byte stream may also be cut at arbitrary points (our tests do it, and
so could a proxy), and a sender may flush inside a message: every suffix found anywhere in
the buffered bytes is a candidate message end. At a candidate we inflate everything up to
it and parse the text so far as JSON; if it parses, it is a message, and the parsed value is
what we hand on. If not, those four bytes happened to occur inside compressed data (or the
sender flushed mid-message) and we keep reading. Every gateway payload is a JSON object,
and no strict prefix of a JSON object parses, so a real end is never missed and a false one
is never taken.

Why the decoder parses: the parse that proves a message complete is the only one. Each
message is parsed exactly once (issue 4: parsing it again in the session cost a third of
the gateway's decode time); a failed parse only happens at a false candidate, which is rare.

The API is h11's: :meth:`ZlibStreamDecoder.receive_data` only buffers, and
:meth:`ZlibStreamDecoder.next_event` returns one parsed message or :data:`NEED_DATA`.
"""

from __future__ import annotations

import enum
import json
import json.scanner
import zlib
from collections import deque
from typing import Any, Final

import attrs
import orjson

from protocol.discord.gateway_codes import ZLIB_SUFFIX

__all__ = [
    "MAX_BUFFERED_BYTES",
    "NEED_DATA",
    "GatewayDecodeError",
    "NeedData",
    "ZlibStreamDecoder",
    "parse_json",
]

MAX_BUFFERED_BYTES: Final = 64 * 1024 * 1024
"""Refuse to buffer more than this (compressed plus inflated) without a complete message: a
bounded buffer, as h11 keeps, so a broken peer cannot exhaust memory."""


class NeedData(enum.Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA
"""Returned by :meth:`ZlibStreamDecoder.next_event` when no complete message is buffered."""


@attrs.define(auto_exc=True, kw_only=True)
class GatewayDecodeError(Exception):
    """The peer sent bytes we cannot decode (remote kind): reconnect, do not retry them."""

    detail: str

    def __str__(self) -> str:
        return f"cannot decode gateway data from the server: {self.detail}"


class ZlibStreamDecoder:
    """Decodes one connection's zlib-stream into parsed JSON messages.

    Make a new decoder for every connection. After a :class:`GatewayDecodeError` the
    decoder is unusable; the connection must be dropped.
    """

    def __init__(self, *, max_buffered_bytes: int = MAX_BUFFERED_BYTES) -> None:
        self._inflater = zlib.decompressobj()
        self._compressed = bytearray()
        """Compressed bytes after the last candidate end (a message still arriving)."""
        self._scanned = 0
        """How many bytes of ``_compressed`` were already searched for the suffix."""
        self._inflated = bytearray()
        """Inflated text of a message whose candidate ends so far did not parse."""
        self._messages: deque[Any] = deque()
        self._max = max_buffered_bytes
        self._broken = False

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from one WebSocket frame (or any piece of the stream).

        Raises:
            GatewayDecodeError: the stream is corrupt or the buffer limit was exceeded.
        """
        if self._broken:
            raise GatewayDecodeError(detail="the decoder already failed; reconnect")
        try:
            self._split_messages(data)
        except GatewayDecodeError:
            self._broken = True
            raise

    def receive_messages(self, data: bytes) -> list[Any]:
        """:meth:`receive_data`, then every complete message (parsed), oldest first.

        The gateway session's hot path: in the usual case (a frame that ends one message,
        nothing held back) it inflates and parses in place and builds nothing else.

        Raises:
            GatewayDecodeError: as :meth:`receive_data`.
        """
        if (
            not self._compressed
            and not self._messages
            and not self._broken
            and data.find(ZLIB_SUFFIX) == len(data) - len(ZLIB_SUFFIX) >= 0
        ):
            message = self._candidate_end(data)
            return [] if message is NEED_DATA else [message]
        self.receive_data(data)
        messages = list(self._messages)
        self._messages.clear()
        return messages

    def next_event(self) -> Any | NeedData:
        """The next complete message as parsed JSON (normally a dict), or :data:`NEED_DATA`."""
        if self._messages:
            return self._messages.popleft()
        return NEED_DATA

    @property
    def buffered_bytes(self) -> int:
        """Compressed and inflated bytes held for a message not yet complete."""
        return len(self._compressed) + len(self._inflated)

    def _split_messages(self, data: bytes) -> None:
        # The common case (a frame holding the rest of one message, no bytes held back) is
        # searched and inflated in place; bytes are copied only when a message spans frames.
        if self._compressed:
            # A suffix may straddle the held and the new bytes: rescan the last 3 held ones.
            start = max(0, self._scanned - 3)
            self._compressed += data
            data = bytes(self._compressed)
            self._compressed.clear()
        else:
            start = 0
        taken = 0
        while (index := data.find(ZLIB_SUFFIX, start)) >= 0:
            end = index + len(ZLIB_SUFFIX)
            message = self._candidate_end(
                data if taken == 0 and end == len(data) else data[taken:end]
            )
            if message is not NEED_DATA:
                self._messages.append(message)
            taken = start = end
        if taken < len(data):
            self._compressed += data[taken:] if taken else data
            self._scanned = len(self._compressed)
        if self.buffered_bytes > self._max:
            raise GatewayDecodeError(
                detail=f"{self.buffered_bytes} bytes buffered without a complete message "
                f"(limit {self._max})"
            )

    def _candidate_end(self, chunk: bytes) -> Any | NeedData:
        """Inflate up to a candidate end: the message if it is complete, else NEED_DATA."""
        try:
            inflated = self._inflater.decompress(chunk)
        except zlib.error as exc:
            self._broken = True
            raise GatewayDecodeError(detail=f"zlib: {exc}") from exc
        if self._inflated:
            self._inflated += inflated
            inflated = bytes(self._inflated)
        try:
            # The common case: one whole message. orjson parses UTF-8 bytes several times
            # faster than the stdlib; whatever it refuses (a message cut at a false end,
            # or JSON only the stdlib accepts) takes the stdlib path below unchanged.
            message = orjson.loads(inflated)
        except orjson.JSONDecodeError:
            pass
        else:
            if self._inflated:
                self._inflated.clear()
            return message
        try:
            # UnicodeDecodeError is a ValueError: a character cut at a false end. The
            # common case is parse_json's fast path, inlined (this runs once per message).
            text = inflated.decode("utf-8")
            try:
                message, end = _scan_once(text, 0)
            except StopIteration:
                message, end = None, -1
            if end != len(text):
                message = json.loads(text)
        except ValueError:
            if not self._inflated:
                self._inflated += inflated
            return NEED_DATA
        if self._inflated:
            self._inflated.clear()
        return message


_scan_once: Final = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed wants a make_scanner; any object with a decoder's attributes does (the TODO there)


def parse_json(data: bytes | str) -> Any:
    """``json.loads(data)`` for UTF-8 bytes or text, minus its Python-level wrapping.

    ``json.loads`` detects the encoding and runs two regular expressions around the C
    scanner; for a compact document (what Discord sends) we call the scanner directly and
    fall back to ``json.loads`` for anything else (surrounding whitespace, or an error to
    report), so the result and the errors are exactly ``json.loads``'.

    Raises:
        ValueError: not a complete JSON document (``json.JSONDecodeError`` or
            ``UnicodeDecodeError``).
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass  # the stdlib decides: it accepts more (NaN, huge ints) and words the errors
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        value, end = _scan_once(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    if end != len(text):
        return json.loads(text)  # trailing whitespace is fine; trailing data raises
    return value
