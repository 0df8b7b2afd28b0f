"""Spawned sessions (R5, A5) and resume marks (R6)."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse

from bridge.api._auth import Caller
from bridge.api._bodies import MarkResumeBody, SpawnBody, read_body
from bridge.api._deps import ASK_TIMEOUT, ApiDeps
from bridge.api._errors import ApiError
from bridge.api._routes_automation import is_directory, is_model_name
from bridge.api._tokens import parse_snowflake
from bridge.discord.errors import DiscordError
from bridge.sessions.messages import SessionOpened, StartSession
from bridge.sessions.presentation.render import quiet
from bridge.sessions.presentation.usage import thread_name
from bridge.store import Database, SessionStatus, SpawnRecord
from bridge.store.actor import store_call

__all__ = ["RATE_WINDOW", "mark_resume", "spawn"]

RATE_WINDOW: Final = 3600.0
"""The rolling window of ``SPAWN_PER_HOUR``."""
SPAWN_TIMEOUT: Final = 60.0
"""Seconds to wait for the thread to exist (Discord may rate-limit thread creation)."""


async def spawn(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    body = await read_body(request, SpawnBody)
    if not body.prompt.strip():
        raise ApiError(422, "prompt must not be empty", ("prompt: empty",))
    working_dir = body.working_dir or deps.default_working_dir
    if not is_directory(working_dir):
        raise ApiError(
            422,
            "working_dir must be an existing absolute directory",
            (f"working_dir: {working_dir[:200]!r}",),
        )
    if body.model is not None and not is_model_name(body.model):
        raise ApiError(422, "model is not a model name", (f"model: {body.model[:100]!r}",))
    if deps.router is None:
        raise ApiError(503, "spawning is not available in this bridge")
    title = thread_name(body.title or body.prompt, fallback="spawned session")
    parent = caller.thread_id
    async with deps.spawn_lock:
        now = deps.clock()

        def check(db: Database) -> int:
            if parent is None:
                return 0
            link = db.spawn_get(parent)
            depth = (link.depth if link is not None else 0) + 1
            if depth > deps.spawn_max_depth:
                raise ApiError(
                    403,
                    f"spawn depth limit reached: a session at depth {depth - 1} may not spawn "
                    f"(the limit is {deps.spawn_max_depth})",
                )
            if db.spawn_count_since(parent, now - RATE_WINDOW) >= deps.spawn_per_hour:
                raise ApiError(
                    429,
                    f"this session spawned {deps.spawn_per_hour} sessions in the last hour; "
                    "wait before spawning more",
                )
            return depth

        depth = await store_call(deps.store, check, timeout=ASK_TIMEOUT)
        intro = (
            f"🚀 Spawned by <#{parent}>: **{title}**"
            if parent is not None
            else f"🚀 Started through the API: **{title}**"
        )
        try:
            opened: SessionOpened = await deps.router.ask(
                StartSession(
                    title=title,
                    prompt=body.prompt,
                    intro=quiet(intro),
                    working_dir=working_dir,
                    model=body.model,
                    origin="api",
                ),
                timeout=SPAWN_TIMEOUT,
            )
        except DiscordError as exc:
            raise ApiError(502, f"Discord did not make the thread: {exc}") from None
        except ValueError as exc:  # no owner to act for
            raise ApiError(503, str(exc)) from None
        record = SpawnRecord(
            thread_id=opened.thread_id, parent_thread_id=parent, depth=depth, created_at=now
        )
        await store_call(deps.store, lambda db: db.spawn_add(record), timeout=ASK_TIMEOUT)
    return JSONResponse(
        {
            "thread_id": str(opened.thread_id),
            "parent_thread_id": str(parent) if parent is not None else None,
            "depth": depth,
        },
        status_code=201,
    )


async def mark_resume(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    body = await read_body(request, MarkResumeBody)
    thread_id = None
    if body.thread_id is not None:
        thread_id = parse_snowflake(body.thread_id)
        if thread_id is None:
            raise ApiError(422, "thread_id must be a thread id", ("thread_id: not an id",))
    if caller.thread_id is not None:
        if thread_id not in (None, caller.thread_id):
            raise ApiError(403, "a session may mark only its own thread")
        thread_id = caller.thread_id
    if thread_id is None:
        raise ApiError(422, "give the thread_id to mark", ("thread_id: required",))
    now = deps.clock()

    def mark(db: Database) -> str | None:
        record = db.get_session(thread_id)
        if record is None:
            raise ApiError(404, f"thread {thread_id} has no session")
        if record.status is SessionStatus.ENDED:
            raise ApiError(409, f"the session of thread {thread_id} has ended")
        db.update_session(thread_id, now, resume_reason="api")
        return "api"

    await store_call(deps.store, mark, timeout=ASK_TIMEOUT)
    return JSONResponse({"thread_id": str(thread_id), "resume_reason": "api"})
