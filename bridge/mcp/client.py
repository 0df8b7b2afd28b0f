"""A small client of the bridge's local API (docs/api.md), for the MCP tools and the
``ccbridge lounge`` commands.

A session's credential is its URL: ``CCDB_API_URL`` ends in ``/s/<token>`` and every route a
session may use is served under it without a header. Scripts outside a session give the
base URL and the admin secret instead (``Authorization: Bearer``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

API_URL_VARIABLE = "CCDB_API_URL"
SECRET_VARIABLE = "CCBRIDGE_API_SECRET"


class ApiError(Exception):
    """The API refused a call, or could not be reached; ``str()`` is one clear line."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


@attrs.frozen
class ApiClient:
    base_url: str
    """``http://host:port`` or a session's ``http://host:port/s/<token>``."""
    secret: str | None = attrs.field(default=None, repr=False)
    timeout: float = 30.0
    transport: httpx.AsyncBaseTransport | None = attrs.field(default=None, repr=False)
    """Tests answer in-process (``httpx.MockTransport``); ``None``: the network."""

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON answer of ``method path``.

        Raises:
            ApiError: a status of 400 or more (with the API's error and problems), a
                connection failure, or an answer that is not a JSON object.
        """
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        url = self.base_url.rstrip("/") + path
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as http:
                response = await http.request(
                    method, url, json=body, params=params, headers=headers
                )
        except httpx.HTTPError as exc:
            raise ApiError(None, f"cannot reach the bridge API at {_shown(url)}: {exc}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400:
            raise ApiError(response.status_code, _error_line(response.status_code, answer))
        if not isinstance(answer, dict):
            raise ApiError(response.status_code, "the bridge API answered something not JSON")
        return answer


def _error_line(status: int, answer: Any) -> str:
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        line = f"{status}: {answer['error']}"
        problems = answer.get("problems")
        if isinstance(problems, list) and problems:
            line += " (" + "; ".join(str(p) for p in problems) + ")"
        return line
    return f"{status}: the bridge API refused the call"


def _shown(url: str) -> str:
    """The URL without a session token (it is a credential; errors may be logged)."""
    head, sep, rest = url.partition("/s/")
    if not sep:
        return url
    _, slash, path = rest.partition("/")
    return f"{head}/s/<token>{slash}{path}"


def client_from_env(
    env: Mapping[str, str] | None = None,
    *,
    url: str | None = None,
    secret: str | None = None,
) -> ApiClient:
    """The client for this process: ``url``/``secret`` if given, else ``CCDB_API_URL``
    (a session's own URL) and ``CCBRIDGE_API_SECRET`` if set.

    Raises:
        ApiError: no URL anywhere.
    """
    env = os.environ if env is None else env
    base = url or env.get(API_URL_VARIABLE)
    if not base:
        raise ApiError(
            None,
            f"no API URL: run inside a ccbridge session ({API_URL_VARIABLE} is set there) or "
            "give --url (with --secret or CCBRIDGE_API_SECRET for the admin)",
        )
    if not base.startswith(("http://", "https://")):
        raise ApiError(None, f"the API URL must start with http:// or https://, got {base!r}")
    return ApiClient(base, secret or env.get(SECRET_VARIABLE) or None)
