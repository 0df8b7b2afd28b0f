"""The bridge's local HTTP API (Starlette on Hypercorn/trio, 127.0.0.1 only).

Claude sessions post and read AI Lounge lines here (K4) with a per-session token; an admin
lists sessions with the ``CCBRIDGE_API_SECRET``. See :mod:`bridge.api._app` for routes.
"""

from bridge.api._app import ApiDeps, LoungePost, make_api_app
from bridge.api._serve import HOST, serve_api
from bridge.api._tokens import SessionTokens

__all__ = ["HOST", "ApiDeps", "LoungePost", "SessionTokens", "make_api_app", "serve_api"]
