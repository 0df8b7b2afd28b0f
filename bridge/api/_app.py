"""The bridge's local HTTP API: a Starlette app built by :func:`make_api_app`.

Every route, who may call it and every status it answers are in docs/api.md and in the
OpenAPI document this app serves (:mod:`._openapi`). In short:

* ``GET /api/health`` needs nothing; every other route needs ``Authorization: Bearer``
  with the admin secret (``CCBRIDGE_API_SECRET``) or a session's own token (X4: a
  ``claude`` child never sees the admin secret). A session token may use the lounge,
  notify / schedule for its own thread, spawn children and mark itself for resume; the
  rest is the admin's. The lounge also takes the token in the path,
  ``/s/<token>/api/lounge``, the URL a session's appended system prompt shows.
* Bodies are JSON objects of at most ``MAX_BODY_BYTES``, read strictly into attrs types
  (:mod:`._bodies`); anything malformed is a 4xx with a JSON ``{"error", "problems"}``.

The app holds no state of its own: it asks the store, the coordinator, the router and the
scheduler. An actor that does not answer in time (starting, stopping) gives a 503.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import actors
from bridge.api import _routes_automation as automation
from bridge.api import _routes_core as core
from bridge.api import _routes_spawn as spawning
from bridge.api._auth import Caller, identify
from bridge.api._bodies import MAX_BODY_BYTES, LoungePost
from bridge.api._deps import ApiDeps
from bridge.api._errors import ApiError, error_response, http_exception
from bridge.api._limits import BodyLimit
from bridge.api._openapi import openapi_document

__all__ = ["ROUTES", "SESSION_PATHS", "ApiDeps", "LoungePost", "make_api_app"]

log = logging.getLogger(__name__)

Handler = Callable[[ApiDeps, Caller | None, Request], Awaitable[Response]]


async def _openapi(deps: ApiDeps, caller: Caller | None, request: Request) -> Response:
    return JSONResponse(openapi_document(SESSION_PATHS))


_HEADER_ROUTES: Final[tuple[tuple[str, str, Handler, bool], ...]] = (
    # (path, method, handler, needs a credential)
    ("/api/health", "GET", core.health, False),
    ("/api/openapi.json", "GET", _openapi, True),
    ("/api/sessions", "GET", core.sessions, True),
    ("/api/lounge", "GET", core.lounge_get, True),
    ("/api/lounge", "POST", core.lounge_post, True),
    ("/api/notify", "POST", automation.notify, True),
    ("/api/schedule", "POST", automation.schedule, True),
    ("/api/scheduled", "GET", automation.scheduled_list, True),
    ("/api/scheduled/{id}", "DELETE", automation.scheduled_delete, True),
    ("/api/tasks", "GET", automation.task_list, True),
    ("/api/tasks", "POST", automation.task_create, True),
    ("/api/tasks/{id}", "GET", automation.task_get, True),
    ("/api/tasks/{id}", "PATCH", automation.task_patch, True),
    ("/api/tasks/{id}", "DELETE", automation.task_delete, True),
    ("/api/tasks/{id}/run", "POST", automation.task_run, True),
    ("/api/spawn", "POST", spawning.spawn, True),
    ("/api/mark-resume", "POST", spawning.mark_resume, True),
)

SESSION_PATHS: Final = frozenset(
    {
        "/api/openapi.json",
        "/api/lounge",
        "/api/notify",
        "/api/schedule",
        "/api/scheduled",
        "/api/scheduled/{id}",
        "/api/spawn",
        "/api/mark-resume",
    }
)
"""Routes a session may use, also served under ``/s/<token>``: a session's
``CCDB_API_URL`` ends in ``/s/<token>``, so ``$CCDB_API_URL/api/spawn`` works without a
header."""

ROUTES: Final = _HEADER_ROUTES + tuple(
    (f"/s/{{token}}{path}", method, handler, True)
    for path, method, handler, _ in _HEADER_ROUTES
    if path in SESSION_PATHS
)
"""Every route of the app; the OpenAPI test checks the served document against it."""


def _endpoint(
    deps: ApiDeps, handler: Handler, needs_credential: bool
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            caller = identify(request, deps.tokens, deps.admin_secret) if needs_credential else None
            return await handler(deps, caller, request)
        except ApiError as exc:
            return exc.response()
        except (actors.ActorsError, TimeoutError) as exc:
            return error_response(503, f"the bridge is not ready or is shutting down: {exc}")

    return endpoint


async def _internal_error(request: Request, exc: Exception) -> Response:
    # A bug of ours: still JSON, and logged with its traceback.
    log.error("api: %s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error in the bridge; see its log")


def make_api_app(deps: ApiDeps) -> Starlette:
    """Build the API app over the given actors (no module-level app: one per bridge)."""
    by_path: dict[str, list[tuple[str, Handler, bool]]] = {}
    for path, method, handler, needs_credential in ROUTES:
        by_path.setdefault(path, []).append((method, handler, needs_credential))
    routes = []
    for path, entries in by_path.items():
        for method, handler, needs_credential in entries:
            routes.append(Route(path, _endpoint(deps, handler, needs_credential), methods=[method]))
    return Starlette(
        routes=routes,
        middleware=[Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)],
        exception_handlers={HTTPException: http_exception, Exception: _internal_error},
    )
