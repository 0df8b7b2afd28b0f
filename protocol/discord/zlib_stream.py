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
so could a proxy): every suffix found anywhere in the buffered bytes is a candidate message
end. At a candidate we inflate everything up to it; if the text so far is a complete JSON
document, it is a message. If not, those four bytes happened to occur inside compressed data
and we keep reading. Every gateway payload is a JSON object, and no strict prefix of a JSON
object parses, so a real end is never missed and a false one is never taken.

The API is h11's: :meth:`ZlibStreamDecoder.receive_data` only buffers, and
:meth:`ZlibStreamDecoder.next_event` returns one message or :data:`NEED_DATA`.
"""

from __future__ import annotations

import enum
import json
import zlib
from collections import deque
from typing import Final

import attrs

from protocol.discord.gateway_codes import ZLIB_SUFFIX

__all__ = ["MAX_BUFFERED_BYTES", "NEED_DATA", "GatewayDecodeError", "NeedData", "ZlibStreamDecoder"]

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
    """Decodes one connection's zlib-stream into JSON text messages.

    Make a new decoder for every connection. After a :class:`GatewayDecodeError` the
    decoder is unusable; the connection must be dropped.
    """

    def __init__(self, *, max_buffered_bytes: int = MAX_BUFFERED_BYTES) -> None:
        self._inflater = zlib.decompressobj()
        self._compressed = bytearray()
        self._inflated = bytearray()
        self._scanned = 0
        self._messages: deque[str] = deque()
        self._max = max_buffered_bytes
        self._broken = False

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from one WebSocket frame (or any piece of the stream).

        Raises:
            GatewayDecodeError: the stream is corrupt or the buffer limit was exceeded.
        """
        if self._broken:
            raise GatewayDecodeError(detail="the decoder already failed; reconnect")
        self._compressed += data
        try:
            self._split_messages()
        except GatewayDecodeError:
            self._broken = True
            raise

    def next_event(self) -> str | NeedData:
        """The next complete message as text, or :data:`NEED_DATA`."""
        if self._messages:
            return self._messages.popleft()
        return NEED_DATA

    @property
    def buffered_bytes(self) -> int:
        """Compressed and inflated bytes held for a message not yet complete."""
        return len(self._compressed) + len(self._inflated)

    def _split_messages(self) -> None:
        while True:
            # A suffix may straddle the previous and the new data: rescan the last 3 bytes.
            index = self._compressed.find(ZLIB_SUFFIX, max(0, self._scanned - 3))
            if index < 0:
                self._scanned = len(self._compressed)
                break
            end = index + len(ZLIB_SUFFIX)
            chunk = bytes(self._compressed[:end])
            del self._compressed[:end]
            self._scanned = 0
            try:
                self._inflated += self._inflater.decompress(chunk)
            except zlib.error as exc:
                raise GatewayDecodeError(detail=f"zlib: {exc}") from exc
            text = self._complete_message()
            if text is not None:
                self._messages.append(text)
                self._inflated.clear()
        if self.buffered_bytes > self._max:
            raise GatewayDecodeError(
                detail=f"{self.buffered_bytes} bytes buffered without a complete message "
                f"(limit {self._max})"
            )

    def _complete_message(self) -> str | None:
        try:
            text = self._inflated.decode("utf-8")
        except UnicodeDecodeError:
            return None  # a multi-byte character cut at a false suffix: not complete yet
        try:
            json.loads(text)
        except ValueError:
            return None
        return text
