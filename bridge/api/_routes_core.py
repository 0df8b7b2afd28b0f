"""Health, sessions and the AI Lounge (K3, K4)."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse

from bridge.api._auth import Caller, require_admin
from bridge.api._bodies import LoungePost, read_body
from bridge.api._deps import ASK_TIMEOUT, ApiDeps
from bridge.api._errors import ApiError
from bridge.sessions.coordinator import LOUNGE_AUTHOR_MAX, LOUNGE_KEEP, LOUNGE_TEXT_MAX
from bridge.sessions.messages import GetRegistry, PostLounge
from bridge.store import Database
from bridge.store.actor import store_call

__all__ = ["health", "lounge_get", "lounge_post", "sessions"]

LOUNGE_DEFAULT_LIMIT: Final = 10


async def health(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def sessions(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    require_admin(caller, "GET /api/sessions")

    def read(db: Database) -> tuple[list[Any], dict[int, Any]]:
        return db.sessions(), {s.thread_id: s for s in db.spawns()}

    records, spawns = await store_call(deps.store, read, timeout=ASK_TIMEOUT)
    registry = await deps.coordinator.ask(GetRegistry(), timeout=ASK_TIMEOUT)
    live = {s.thread_id: s for s in registry}
    children: dict[int, list[str]] = {}
    for spawn in spawns.values():
        if spawn.parent_thread_id is not None:
            children.setdefault(spawn.parent_thread_id, []).append(str(spawn.thread_id))
    return JSONResponse(
        {
            "sessions": [
                {
                    "thread_id": str(r.thread_id),
                    "title": r.title,
                    "origin": r.origin,
                    "working_dir": r.working_dir,
                    "model": r.model,
                    "status": live[r.thread_id].status if r.thread_id in live else r.status.value,
                    "activity": live[r.thread_id].activity if r.thread_id in live else "",
                    "session_id": r.session_id,
                    "resume_reason": r.resume_reason,
                    "parent_thread_id": _id(spawns[r.thread_id].parent_thread_id)
                    if r.thread_id in spawns
                    else None,
                    "depth": spawns[r.thread_id].depth if r.thread_id in spawns else 0,
                    "children": children.get(r.thread_id, []),
                    "created_at": r.created_at,
                    "updated_at": r.updated_at,
                }
                for r in records
            ]
        }
    )


def _id(value: int | None) -> str | None:
    return str(value) if value is not None else None


async def lounge_get(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    raw = request.query_params.get("limit", str(LOUNGE_DEFAULT_LIMIT))
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= LOUNGE_KEEP):
        raise ApiError(
            422,
            f"limit must be a whole number from 1 to {LOUNGE_KEEP}",
            (f"limit: got {raw[:40]!r}",),
        )
    limit = int(raw)

    def recent(db: Database) -> list[dict[str, Any]]:
        return [
            {
                "author": line.author,
                "message": line.text,
                "created_at": line.created_at,
                "thread_id": _id(line.thread_id),
            }
            for line in db.lounge_recent(limit)
        ]

    lines = await store_call(deps.store, recent, timeout=ASK_TIMEOUT)
    return JSONResponse({"messages": lines})


async def lounge_post(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    post = await read_body(request, LoungePost)
    if not post.message.strip():
        raise ApiError(422, "message must not be empty", ("message: empty",))
    if len(post.message) > LOUNGE_TEXT_MAX:
        raise ApiError(
            422,
            f"a lounge line is at most {LOUNGE_TEXT_MAX} characters",
            (f"message: {len(post.message)} characters",),
        )
    if post.label is not None and len(post.label) > LOUNGE_AUTHOR_MAX:
        raise ApiError(
            422,
            f"a label is at most {LOUNGE_AUTHOR_MAX} characters",
            (f"label: {len(post.label)} characters",),
        )
    if caller.thread_id is not None:
        # A session speaks as itself, whatever label it picked.
        label = f"thread {caller.thread_id}"
        if post.label and post.label.strip() != label:
            label = f"{post.label.strip()} (thread {caller.thread_id})"
    else:
        label = (post.label or "admin").strip() or "admin"
    deps.coordinator.tell(PostLounge(author=label, text=post.message, thread_id=caller.thread_id))
    return JSONResponse({"ok": True, "author": label}, status_code=201)
