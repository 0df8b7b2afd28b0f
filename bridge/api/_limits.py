"""The request-size limit, as ASGI middleware in front of every route.

A declared ``Content-Length`` over the limit is refused before anything is read; a body
sent without one (chunked) is counted as it arrives and refused once it passes the limit.
Either way the answer is the API's JSON error with 413 (Starlette's own limiter answers
in plain text).
"""

from __future__ import annotations

from typing import Any

from bridge.api._errors import error_response

__all__ = ["BodyLimit"]


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def watched_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Any, receive: Any, send: Any) -> None:
        response = error_response(
            413, f"the request body is over {self.max_bytes} bytes; send less"
        )
        await response(scope, receive, send)


def _content_length(scope: Any) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # A malformed length is the server's to refuse (Hypercorn answers 400).
            return int(text) if text.isascii() and text.isdigit() and len(text) < 20 else None
    return None
