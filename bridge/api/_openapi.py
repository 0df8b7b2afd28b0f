"""The API's OpenAPI 3.1 document, served at ``GET /api/openapi.json``.

Written by hand (paths, who may call, every status a route answers) with the request
schemas derived from the attrs body types, so a body's documented fields are its real
fields. ``tests/bridge/api/test_openapi.py`` checks the document against the app's routes
and the statuses the generated-input test observes.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Final, Literal

import attrs

from bridge.api._bodies import (
    MAX_BODY_BYTES,
    LoungePost,
    MarkResumeBody,
    NotifyBody,
    ScheduleBody,
    SpawnBody,
    TaskBody,
    TaskPatch,
)

__all__ = ["openapi_document"]

_COMMON: Final = {
    "401": "no credential, or one that is neither the API secret nor a session token",
    "405": "the route does not take this method",
    "413": f"the body is over {MAX_BODY_BYTES} bytes",
    "503": "the bridge is starting, stopping or lacks the part this route needs",
}
_BODY: Final = {
    "400": "the body is not valid JSON",
    "422": "the body is not a JSON object of the documented shape; `problems` names each field",
}

# path -> method -> (summary, who, request body type or None, {status: description})
_ROUTES: Final[dict[str, dict[str, tuple[str, str, type | None, dict[str, str]]]]] = {
    "/api/health": {"get": ("Liveness", "anyone", None, {"200": '`{"status": "ok"}`'})},
    "/api/openapi.json": {"get": ("This document", "admin or session", None, {"200": "it"})},
    "/api/sessions": {
        "get": (
            "Stored sessions with live status, origin, parent and children (K3, A5)",
            "admin",
            None,
            {"200": '`{"sessions": [...]}`', "403": "a session token"},
        )
    },
    "/api/lounge": {
        "get": (
            "Recent AI Lounge lines (K4); `?limit=` 1..200, default 10",
            "admin or session",
            None,
            {"200": '`{"messages": [...]}`', "422": "a bad `limit`"},
        ),
        "post": (
            "Post a lounge line (at most 1000 characters; label at most 50)",
            "admin or session",
            LoungePost,
            {"201": '`{"ok": true, "author": ...}`'},
        ),
    },
    "/api/notify": {
        "post": (
            "Post a notification now (R2): in `thread_id` (admin) or the caller's own thread "
            "(session), else the main channel. Mentions are defused.",
            "admin or session",
            NotifyBody,
            {
                "201": '`{"delivered": true, "channel_id": ...}`',
                "403": "a session naming another thread",
                "404": "`thread_id` has no session",
                "502": "Discord refused the message",
            },
        ),
    },
    "/api/schedule": {
        "post": (
            "Schedule a notification (R3) at `at` (epoch seconds) or after `delay_seconds`",
            "admin or session",
            ScheduleBody,
            {
                "201": "the stored notification",
                "403": "a session naming another thread",
                "404": "`thread_id` has no session",
                "429": "the session holds 50 pending notifications",
            },
        ),
    },
    "/api/scheduled": {
        "get": (
            "Scheduled notifications; `?state=pending|sent|failed|all` (default pending); "
            "a session sees its own",
            "admin or session",
            None,
            {"200": '`{"scheduled": [...]}`', "422": "a bad `state`"},
        ),
    },
    "/api/scheduled/{id}": {
        "delete": (
            "Cancel a pending notification (a session: its own)",
            "admin or session",
            None,
            {
                "200": '`{"deleted": id}`',
                "404": "no such notification (of yours)",
                "409": "already sent or failed",
            },
        ),
    },
    "/api/tasks": {
        "get": (
            "Scheduled tasks with their last run (R4)",
            "admin",
            None,
            {"200": '`{"tasks": [...]}`', "403": "a session token"},
        ),
        "post": (
            "Create a task: exactly one of `interval_seconds` and `cron` (+ `timezone`)",
            "admin",
            TaskBody,
            {"201": "the task", "403": "a session token"},
        ),
    },
    "/api/tasks/{id}": {
        "get": (
            "A task and its 20 most recent runs",
            "admin",
            None,
            {"200": "the task", "403": "a session token", "404": "no such task"},
        ),
        "patch": (
            "Change a task; a new schedule, time zone or enabled state counts from now",
            "admin",
            TaskPatch,
            {"200": "the task", "403": "a session token", "404": "no such task"},
        ),
        "delete": (
            "Delete a task (a run in progress finishes)",
            "admin",
            None,
            {"200": '`{"deleted": id}`', "403": "a session token", "404": "no such task"},
        ),
    },
    "/api/tasks/{id}/run": {
        "post": (
            "Run a task now (skipped, and noted in its runs, if a run is in progress)",
            "admin",
            None,
            {"202": '`{"requested": true}`', "403": "a session token", "404": "no such task"},
        ),
    },
    "/api/spawn": {
        "post": (
            "Start a session in a new thread (R5, A5); answers once the thread exists",
            "admin or session",
            SpawnBody,
            {
                "201": '`{"thread_id", "parent_thread_id", "depth"}`',
                "403": "the caller is at the spawn depth limit",
                "429": "the caller spawned 10 sessions in the last hour",
                "502": "Discord refused to make the thread",
            },
        ),
    },
    "/api/mark-resume": {
        "post": (
            "Mark a session to continue at the next start (R6)",
            "admin or session",
            MarkResumeBody,
            {
                "200": '`{"thread_id", "resume_reason": "api"}`',
                "403": "a session naming another thread",
                "404": "the thread has no session",
                "409": "the session has ended",
            },
        ),
    },
}


def _schema_of(kind: Any) -> dict[str, Any]:
    origin = typing.get_origin(kind)
    if origin is Literal:
        return {"enum": list(typing.get_args(kind))}
    if origin in (typing.Union, types.UnionType):
        options = [_schema_of(a) for a in typing.get_args(kind)]
        return {"anyOf": options}
    if kind is type(None):
        return {"type": "null"}
    return {"type": {str: "string", float: "number", bool: "boolean", int: "integer"}[kind]}


def _body_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = attrs.fields(cls)
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in fields if f.default is attrs.NOTHING],
        "properties": {f.name: _schema_of(hints[f.name]) for f in fields},
    }


def openapi_document(session_paths: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The document; ``session_paths`` are also documented under ``/s/{token}``."""
    paths: dict[str, Any] = {}
    for path, methods in _ROUTES.items():
        for method, (summary, who, body, statuses) in methods.items():
            responses = {**statuses, "405": _COMMON["405"], "503": _COMMON["503"]}
            if who != "anyone":
                responses["401"] = _COMMON["401"]
            if body is not None:
                responses.update(_BODY)
            responses["413"] = _COMMON["413"]  # checked before routing: any request
            operation: dict[str, Any] = {
                "summary": summary,
                "description": f"Who: {who}.",
                "responses": {
                    code: {"description": text} for code, text in sorted(responses.items())
                },
            }
            operation["security"] = [] if who == "anyone" else [{"bearer": []}]
            if body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _body_schema(body)}},
                }
            paths.setdefault(path, {})[method] = operation
    for path in sorted(session_paths):
        # The same operations with the session token in the path instead of a header.
        paths[f"/s/{{token}}{path}"] = {
            method: {
                **op,
                "description": "Who: the session whose token is in the path.",
                "security": [],
                "parameters": [
                    {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            }
            for method, op in paths[path].items()
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "ccbridge local API", "version": "1"},
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "CCBRIDGE_API_SECRET (admin) or a session's own token",
                }
            }
        },
        "paths": paths,
    }
