"""One REST request straight to the transport, without ``httpx.AsyncClient``'s layers.

Why: every request of the bridge goes through the scheduler, and the profile of issue 15
(docs/performance.md) showed ``AsyncClient.request`` spending about as much CPU around the
transport (merging URL and headers, the auth and redirect generators, the response
wrapping) as the transport itself. The scheduler only needs: this method and path under
the base URL, these query parameters, this JSON body, the client's headers and cookies,
its timeout; and the response read whole. That is what :class:`DirectSender` does, with
the client's own objects (``base_url``, ``headers``, ``cookies``, ``timeout``), so a
request carries the same headers and cookies as through the client, and cookies that
Discord sets are kept in the client's jar as before.

It is used only where it cannot change where a request goes: not when a proxy is set in
the environment (the client would route through it; :func:`env_proxies`), and never for
multipart bodies (the scheduler sends those through the client).
"""

from __future__ import annotations

import urllib.request
from typing import Any

import httpx


def env_proxies() -> bool:
    """Whether the environment names a proxy (``HTTPS_PROXY``, ``ALL_PROXY``...), which
    ``httpx.AsyncClient`` would use (``trust_env``)."""
    return bool(urllib.request.getproxies())


class DirectSender:
    """Sends requests for ``client`` through ``transport``, the client's own transport."""

    def __init__(self, client: httpx.AsyncClient, transport: httpx.AsyncBaseTransport) -> None:
        self._client = client
        self._transport = transport
        self._base = str(client.base_url).rstrip("/")
        self._extensions = {"timeout": client.timeout.as_dict()}

    async def send(
        self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        """The response, read whole. Raises what the transport raises
        (``httpx.TransportError`` for a connection that failed or timed out)."""
        client = self._client
        request = httpx.Request(
            method,
            self._base + path,
            params=params,
            headers=client.headers,
            json=json,
            extensions=self._extensions,
        )
        if client.cookies:
            client.cookies.set_cookie_header(request)
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        if "set-cookie" in response.headers:
            client.cookies.extract_cookies(response)
        return response
