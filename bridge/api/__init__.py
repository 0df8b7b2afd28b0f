"""The bridge's local HTTP API (Starlette on Hypercorn/trio, 127.0.0.1 by default).

Health, sessions, the AI Lounge (K4), notifications (R2, R3), scheduled tasks (R4),
spawned sessions (R5) and resume marks (R6); see docs/api.md. :func:`make_api_app` builds
the app over the bridge's actors, :func:`serve_api` serves it.
"""

from bridge.api._app import ROUTES, SESSION_PATHS, make_api_app
from bridge.api._bodies import MAX_BODY_BYTES, LoungePost
from bridge.api._deps import SPAWN_MAX_DEPTH, SPAWN_PER_HOUR, ApiDeps, LateRefs
from bridge.api._openapi import openapi_document
from bridge.api._serve import HOST, serve_api
from bridge.api._tokens import SessionTokens

__all__ = [
    "HOST",
    "MAX_BODY_BYTES",
    "ROUTES",
    "SESSION_PATHS",
    "SPAWN_MAX_DEPTH",
    "SPAWN_PER_HOUR",
    "ApiDeps",
    "LateRefs",
    "LoungePost",
    "SessionTokens",
    "make_api_app",
    "openapi_document",
    "serve_api",
]
