"""The bridge's local HTTP API: a Starlette app built by :func:`make_api_app`.

Routes (JSON in and out; bodies are read strictly: unknown keys or wrong types give a 422
listing each bad path):

======================  =====================  ==========================================
route                   who                    what
======================  =====================  ==========================================
GET  /api/health        anyone                 ``{"status": "ok"}``
GET  /api/sessions      admin                  stored sessions, with the live registry
GET  /api/lounge        admin or a session     recent lounge lines (``?limit=``, ≤ 200)
POST /api/lounge        admin or a session     ``{"message", "label"?}``: a lounge line (K4)
======================  =====================  ==========================================

*Who*: the admin sends ``Authorization: Bearer <CCBRIDGE_API_SECRET>`` (no secret
configured: admin routes answer 403). A session's ``claude`` child never sees the admin
secret (X4); it gets a per-session token (:mod:`._tokens`), sent either as a bearer token
or in the path: ``/s/<token>/api/lounge`` is the lounge for that session, which is the
URL the session's appended system prompt tells Claude to ``curl`` (the prompt's command
sends no header). A session's lounge lines are always signed with its thread.

The app holds no state: it asks the coordinator and the store actor.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Final

import attrs
import cattrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import actors
from bridge.api._tokens import SessionTokens
from bridge.sessions.coordinator import LOUNGE_KEEP
from bridge.sessions.messages import CoordinatorMessage, GetRegistry, PostLounge
from bridge.store import Database
from bridge.store.actor import StoreMessage, store_call

__all__ = ["ApiDeps", "LoungePost", "make_api_app"]

log = logging.getLogger(__name__)

ASK_TIMEOUT: Final = 10.0
"""Seconds an API request waits for an actor before answering 503."""
LOUNGE_DEFAULT_LIMIT: Final = 10


@attrs.frozen(kw_only=True)
class LoungePost:
    """The body of ``POST /api/lounge`` (the original bot's field names)."""

    message: str
    label: str | None = None


@attrs.frozen(kw_only=True)
class ApiDeps:
    store: actors.Ref[StoreMessage]
    coordinator: actors.Ref[CoordinatorMessage]
    tokens: SessionTokens
    admin_secret: str | None = attrs.field(default=None, repr=False)


def _make_converter() -> cattrs.Converter:
    # Our own API reads strictly (STYLE: forbid_extra_keys, transform_error for the 422).
    converter = cattrs.Converter(forbid_extra_keys=True)

    def strict_str(value: Any, _: Any) -> str:
        # cattrs would turn 5 into "5"; a number where text belongs is the caller's bug.
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        return value

    converter.register_structure_hook(str, strict_str)
    return converter


@attrs.frozen
class _Caller:
    admin: bool
    thread_id: int | None


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def make_api_app(deps: ApiDeps) -> Starlette:
    """Build the API app over the given actors (no module-level app: one per bridge)."""
    converter = _make_converter()

    def caller(request: Request) -> _Caller | JSONResponse:
        path_token = request.path_params.get("token")
        if path_token is not None:
            thread_id = deps.tokens.thread_of(path_token)
            if thread_id is None:
                return _error(
                    401, "this session token is not valid (it may be from before a restart)"
                )
            return _Caller(admin=False, thread_id=thread_id)
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            return _error(401, "send Authorization: Bearer <CCBRIDGE_API_SECRET or session token>")
        if deps.admin_secret is not None and hmac.compare_digest(
            credential.encode(), deps.admin_secret.encode()
        ):
            return _Caller(admin=True, thread_id=None)
        thread_id = deps.tokens.thread_of(credential)
        if thread_id is not None:
            return _Caller(admin=False, thread_id=thread_id)
        return _error(401, "the bearer credential is neither the API secret nor a session token")

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def sessions(request: Request) -> JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        if not who.admin:
            return _error(403, "GET /api/sessions needs the admin secret")
        try:
            records = await store_call(deps.store, lambda db: db.sessions(), timeout=ASK_TIMEOUT)
            registry = await deps.coordinator.ask(GetRegistry(), timeout=ASK_TIMEOUT)
        except (actors.ActorsError, TimeoutError) as exc:
            return _error(503, f"the bridge is not ready or is shutting down: {exc}")
        live = {s.thread_id: s for s in registry}
        return JSONResponse(
            {
                "sessions": [
                    {
                        "thread_id": str(r.thread_id),
                        "title": r.title,
                        "working_dir": r.working_dir,
                        "status": live[r.thread_id].status
                        if r.thread_id in live
                        else r.status.value,
                        "activity": live[r.thread_id].activity if r.thread_id in live else "",
                        "session_id": r.session_id,
                        "resume_reason": r.resume_reason,
                        "created_at": r.created_at,
                        "updated_at": r.updated_at,
                    }
                    for r in records
                ]
            }
        )

    async def lounge_get(request: Request) -> JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        raw = request.query_params.get("limit", str(LOUNGE_DEFAULT_LIMIT))
        if not raw.isdigit() or not 1 <= int(raw) <= LOUNGE_KEEP:
            return _error(422, f"limit must be a whole number from 1 to {LOUNGE_KEEP}, got {raw!r}")
        limit = int(raw)

        def recent(db: Database) -> list[dict[str, Any]]:
            return [
                {
                    "author": line.author,
                    "message": line.text,
                    "created_at": line.created_at,
                    "thread_id": str(line.thread_id) if line.thread_id is not None else None,
                }
                for line in db.lounge_recent(limit)
            ]

        try:
            lines = await store_call(deps.store, recent, timeout=ASK_TIMEOUT)
        except (actors.ActorsError, TimeoutError) as exc:
            return _error(503, f"the bridge is not ready or is shutting down: {exc}")
        return JSONResponse({"messages": lines})

    async def lounge_post(request: Request) -> JSONResponse:
        who = caller(request)
        if isinstance(who, JSONResponse):
            return who
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 'the body must be JSON: {"message": "...", "label": "..."}')
        try:
            post = converter.structure(body, LoungePost)
        except (cattrs.BaseValidationError, TypeError) as exc:
            problems = (
                cattrs.transform_error(exc)
                if isinstance(exc, cattrs.BaseValidationError)
                else [str(exc)]
            )
            return _error(
                422, "the body does not fit {message: str, label?: str}", problems=problems
            )
        if not post.message.strip():
            return _error(422, "message must not be empty", problems=["message: empty"])
        if who.thread_id is not None:
            # A session speaks as itself, whatever label it picked.
            label = f"thread {who.thread_id}"
            if post.label and post.label.strip() != label:
                label = f"{post.label.strip()} (thread {who.thread_id})"
        else:
            label = (post.label or "admin").strip() or "admin"
        try:
            deps.coordinator.tell(
                PostLounge(author=label, text=post.message, thread_id=who.thread_id)
            )
        except actors.ActorsError as exc:
            return _error(503, f"the lounge is not available: {exc}")
        return JSONResponse({"ok": True, "author": label}, status_code=201)

    routes = [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/sessions", sessions, methods=["GET"]),
        Route("/api/lounge", lounge_get, methods=["GET"]),
        Route("/api/lounge", lounge_post, methods=["POST"]),
        Route("/s/{token}/api/lounge", lounge_get, methods=["GET"]),
        Route("/s/{token}/api/lounge", lounge_post, methods=["POST"]),
    ]
    return Starlette(routes=routes)
