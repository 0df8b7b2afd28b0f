"""Who is calling: the admin (``CCBRIDGE_API_SECRET``) or one session (its own token).

A request carries ``Authorization: Bearer <credential>``; the lounge also accepts the
session token in the path (``/s/<token>/api/lounge``), the URL a session's prompt shows.
No credential or an unknown one is a 401; a valid one on a route it may not use is a 403.
"""

from __future__ import annotations

import hmac

import attrs
from starlette.requests import Request

from bridge.api._errors import ApiError
from bridge.api._tokens import SessionTokens

__all__ = ["Caller", "identify", "require_admin"]


@attrs.frozen
class Caller:
    admin: bool
    thread_id: int | None
    """The calling session's thread (``None`` for the admin)."""


def identify(request: Request, tokens: SessionTokens, admin_secret: str | None) -> Caller:
    """The caller, or :class:`ApiError` 401.

    Both comparisons are constant-time (``hmac.compare_digest`` on bytes), so the time a
    refusal takes says nothing about the secret.
    """
    path_token = request.path_params.get("token")
    if path_token is not None:
        thread_id = tokens.thread_of(path_token)
        if thread_id is None:
            raise ApiError(401, "this session token is not valid (it may be from before a restart)")
        return Caller(admin=False, thread_id=thread_id)
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise ApiError(401, "send Authorization: Bearer <CCBRIDGE_API_SECRET or session token>")
    if admin_secret is not None and hmac.compare_digest(
        credential.encode("utf-8", "surrogateescape"), admin_secret.encode()
    ):
        return Caller(admin=True, thread_id=None)
    thread_id = tokens.thread_of(credential)
    if thread_id is not None:
        return Caller(admin=False, thread_id=thread_id)
    raise ApiError(401, "the bearer credential is neither the API secret nor a session token")


def require_admin(caller: Caller, route: str) -> None:
    if not caller.admin:
        raise ApiError(403, f"{route} needs the admin secret (CCBRIDGE_API_SECRET)")
