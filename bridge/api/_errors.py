"""Every error the API answers is JSON: ``{"error": "<sentence>", "problems": [...]}``.

Handlers raise :class:`ApiError`; Starlette's own errors (an unknown path: 404, a method
the route lacks: 405) are turned into the same shape by
:func:`http_exception`, so a client never has to parse anything but JSON.
"""

from __future__ import annotations

from typing import Any

import attrs
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = ["ApiError", "error_response", "http_exception"]

_STARLETTE_MESSAGES = {
    404: "there is no such route; see GET /api/openapi.json for the routes",
    405: "this route does not take that method; see GET /api/openapi.json",
}


@attrs.frozen
class ApiError(Exception):
    """The caller's request cannot be served: answer ``status`` with ``message``.

    ``problems`` names each bad field (``"timezone: not a known time zone"``).
    """

    status: int
    message: str
    problems: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.problems)


def error_response(
    status: int, message: str, problems: tuple[str, ...] | list[str] = (), **headers: Any
) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if problems:
        body["problems"] = list(problems)
    return JSONResponse(body, status_code=status, headers=headers or None)


async def http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = _STARLETTE_MESSAGES.get(exc.status_code, str(exc.detail))
    response = error_response(exc.status_code, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response
