"""Notifications now and later (R2, R3) and scheduled Claude tasks (R4, A1).

The handlers validate, write the store, and tell the scheduler to reload; the scheduler
actor (``bridge/scheduler``) decides when things run.
"""

from __future__ import annotations

import os
from typing import Any, Final

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse

from bridge.api._auth import Caller, require_admin
from bridge.api._bodies import NotifyBody, ScheduleBody, TaskBody, TaskPatch, read_body
from bridge.api._deps import ASK_TIMEOUT, ApiDeps
from bridge.api._errors import ApiError
from bridge.api._tokens import parse_snowflake
from bridge.discord.errors import DiscordError
from bridge.scheduler import ScheduleError, make_schedule
from bridge.scheduler.actor import ReloadSchedule, RunTaskNow
from bridge.sessions.presentation.render import quiet
from bridge.store import Database, NotificationRecord, NotificationState, TaskRecord, TaskRun
from bridge.store.actor import store_call
from protocol.claude.control import ControlError, validate_model

__all__ = [
    "MAX_PENDING_PER_SESSION",
    "is_directory",
    "is_model_name",
    "notify",
    "schedule",
    "scheduled_delete",
    "scheduled_list",
    "task_create",
    "task_delete",
    "task_get",
    "task_list",
    "task_patch",
    "task_run",
]

MAX_SCHEDULE_AHEAD: Final = 366 * 24 * 3600.0
"""A notification is due within a year."""
MAX_PAST: Final = 60.0
"""An ``at`` this far in the past is refused (a clock or unit mistake, not "now")."""
MAX_PENDING_PER_SESSION: Final = 50
"""Pending notifications one session may hold (a runaway loop meets a 429)."""
MAX_TASK_TIMEOUT: Final = 7 * 24 * 3600.0
MIN_TASK_TIMEOUT: Final = 1.0


def is_model_name(name: str) -> bool:
    """An alias (``sonnet``, ``opus[1m]``) or a full ``claude-...`` id: what ``--model``
    takes (never a flag), so a stored model always reaches the session's turns."""
    try:
        validate_model(name)
    except ControlError:
        return False
    return True


def is_directory(path: str) -> bool:
    """An existing absolute directory (one ``stat``: fast enough for the event loop)."""
    return os.path.isabs(path) and os.path.isdir(path)


def _id(value: int | None) -> str | None:
    return str(value) if value is not None else None


def _parse_id(request: Request, what: str) -> int:
    raw = request.path_params["id"]
    value = parse_snowflake(raw)
    if value is None:
        raise ApiError(404, f"there is no {what} {raw[:40]!r}", (f"id: not a {what} id",))
    return value


def _notify_target(deps: ApiDeps, caller: Caller, thread_text: str | None) -> tuple[int, bool]:
    """The channel a notification goes to, and whether it must be a stored session."""
    thread_id = None
    if thread_text is not None:
        thread_id = parse_snowflake(thread_text)
        if thread_id is None:
            raise ApiError(422, "thread_id must be a thread id", ("thread_id: not an id",))
    if caller.thread_id is not None:
        if thread_id not in (None, caller.thread_id):
            raise ApiError(403, "a session may notify only its own thread")
        return caller.thread_id, False
    if thread_id is not None:
        return thread_id, True
    if deps.channel_id is None:
        raise ApiError(503, "no main channel is configured for notifications")
    return deps.channel_id, False


async def _check_session(deps: ApiDeps, thread_id: int) -> None:
    record = await store_call(deps.store, lambda db: db.get_session(thread_id), timeout=ASK_TIMEOUT)
    if record is None:
        raise ApiError(404, f"thread {thread_id} has no session", ("thread_id: unknown",))


async def notify(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    body = await read_body(request, NotifyBody)
    if not body.message.strip():
        raise ApiError(422, "message must not be empty", ("message: empty",))
    channel_id, must_exist = _notify_target(deps, caller, body.thread_id)
    if must_exist:
        await _check_session(deps, channel_id)
    if deps.post is None:
        raise ApiError(503, "notifications are not available in this bridge")
    try:
        await deps.post(channel_id, quiet(body.message))
    except DiscordError as exc:
        raise ApiError(502, f"Discord did not take the message: {exc}") from None
    return JSONResponse({"delivered": True, "channel_id": str(channel_id)}, status_code=201)


def _notification_json(n: NotificationRecord) -> dict[str, Any]:
    return {
        "id": n.id,
        "message": n.message,
        "channel_id": str(n.channel_id),
        "due_at": n.due_at,
        "created_at": n.created_at,
        "state": n.state.value,
        "delivered_at": n.delivered_at,
        "late": n.late,
        "owner_thread_id": _id(n.owner_thread_id),
    }


def _reload(deps: ApiDeps) -> None:
    if deps.scheduler is not None:
        deps.scheduler.tell(ReloadSchedule())


async def schedule(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    body = await read_body(request, ScheduleBody)
    if not body.message.strip():
        raise ApiError(422, "message must not be empty", ("message: empty",))
    now = deps.clock()
    if (body.at is None) == (body.delay_seconds is None):
        raise ApiError(422, "give exactly one of at and delay_seconds", ("at: or delay_seconds",))
    due = body.at if body.at is not None else now + (body.delay_seconds or 0.0)
    if body.delay_seconds is not None and body.delay_seconds < 0:
        raise ApiError(422, "delay_seconds must not be negative", ("delay_seconds: negative",))
    if due < now - MAX_PAST:
        raise ApiError(422, "at is in the past (seconds since the epoch, UTC)", ("at: past",))
    if due > now + MAX_SCHEDULE_AHEAD:
        raise ApiError(422, "a notification must be due within a year", ("at: too far",))
    channel_id, must_exist = _notify_target(deps, caller, body.thread_id)
    if must_exist:
        await _check_session(deps, channel_id)
    owner = caller.thread_id

    def add(db: Database) -> NotificationRecord | None:
        if owner is not None:
            mine = [
                n for n in db.notifications(NotificationState.PENDING) if n.owner_thread_id == owner
            ]
            if len(mine) >= MAX_PENDING_PER_SESSION:
                return None
        return db.notification_add(body.message, channel_id, due, now, owner_thread_id=owner)

    record = await store_call(deps.store, add, timeout=ASK_TIMEOUT)
    if record is None:
        raise ApiError(
            429, f"a session may hold at most {MAX_PENDING_PER_SESSION} pending notifications"
        )
    _reload(deps)
    return JSONResponse(_notification_json(record), status_code=201)


_STATES: Final = {"pending", "sent", "failed", "all"}


async def scheduled_list(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    state = request.query_params.get("state", "pending")
    if state not in _STATES:
        raise ApiError(
            422, f"state must be one of {', '.join(sorted(_STATES))}", (f"state: {state[:40]!r}",)
        )
    states = () if state == "all" else (NotificationState(state),)
    records = await store_call(
        deps.store, lambda db: db.notifications(*states), timeout=ASK_TIMEOUT
    )
    if caller.thread_id is not None:
        records = [r for r in records if r.owner_thread_id == caller.thread_id]
    return JSONResponse({"scheduled": [_notification_json(r) for r in records]})


async def scheduled_delete(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    nid = _parse_id(request, "scheduled notification")
    record = await store_call(deps.store, lambda db: db.notification_get(nid), timeout=ASK_TIMEOUT)
    if record is None or (
        caller.thread_id is not None and record.owner_thread_id != caller.thread_id
    ):
        raise ApiError(404, f"there is no scheduled notification {nid} of yours")
    if record.state is not NotificationState.PENDING:
        raise ApiError(409, f"notification {nid} is already {record.state.value}")
    await store_call(deps.store, lambda db: db.notification_delete(nid), timeout=ASK_TIMEOUT)
    _reload(deps)
    return JSONResponse({"deleted": nid})


# --- tasks --------------------------------------------------------------------------------


def _task_json(task: TaskRecord, runs: list[TaskRun]) -> dict[str, Any]:
    return {
        **{k: v for k, v in attrs.asdict(task).items() if k != "thread_id"},
        "thread_id": _id(task.thread_id),
        "runs": [
            {
                "id": r.id,
                "due_at": r.due_at,
                "started_at": r.started_at,
                "ended_at": r.ended_at,
                "outcome": r.outcome.value,
                "thread_id": _id(r.thread_id),
                "detail": r.detail,
            }
            for r in runs
        ],
    }


def _check_task_fields(deps: ApiDeps, fields: dict[str, Any], now: float) -> None:
    """Raise a 422 naming the first bad field of a task about to be stored."""
    problems = []
    if not fields["name"].strip():
        problems.append("name: empty")
    if not fields["prompt"].strip():
        problems.append("prompt: empty")
    working_dir = fields["working_dir"]
    if not is_directory(working_dir):
        problems.append(f"working_dir: {working_dir[:200]!r} is not an existing absolute directory")
    model = fields["model"]
    if model is not None and not is_model_name(model):
        problems.append(f"model: {model[:100]!r} is not an alias such as sonnet or a claude-... id")
    timeout = fields["timeout_seconds"]
    if not MIN_TASK_TIMEOUT <= timeout <= MAX_TASK_TIMEOUT:
        problems.append(
            f"timeout_seconds: must be from {MIN_TASK_TIMEOUT:g} to {MAX_TASK_TIMEOUT:g}"
        )
    try:
        make_schedule(
            interval=fields["interval_seconds"],
            cron=fields["cron"],
            timezone=fields["timezone"],
            anchor=now,
        )
    except ScheduleError as exc:
        problems.append(str(exc))
    if problems:
        raise ApiError(422, "the task is not valid", tuple(problems))


async def task_create(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    require_admin(caller, "POST /api/tasks")
    body = await read_body(request, TaskBody)
    now = deps.clock()
    fields = {
        "name": body.name,
        "prompt": body.prompt,
        "working_dir": body.working_dir or deps.default_working_dir,
        "model": body.model,
        "timeout_seconds": deps.default_timeout
        if body.timeout_seconds is None
        else body.timeout_seconds,
        "interval_seconds": body.interval_seconds,
        "cron": body.cron,
        "timezone": body.timezone,
        "enabled": body.enabled,
        "thread_mode": body.thread_mode,
    }
    _check_task_fields(deps, fields, now)
    task = await store_call(
        deps.store,
        lambda db: db.task_add(
            **fields, anchor_at=now, next_run_at=None, created_at=now, updated_at=now
        ),
        timeout=ASK_TIMEOUT,
    )
    _reload(deps)
    return JSONResponse(_task_json(task, []), status_code=201)


async def task_list(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    require_admin(caller, "GET /api/tasks")

    def read(db: Database) -> list[dict[str, Any]]:
        return [_task_json(t, db.runs(t.id, limit=1)) for t in db.tasks()]

    return JSONResponse({"tasks": await store_call(deps.store, read, timeout=ASK_TIMEOUT)})


async def _task_or_404(deps: ApiDeps, request: Request) -> TaskRecord:
    task_id = _parse_id(request, "task")
    task = await store_call(deps.store, lambda db: db.task_get(task_id), timeout=ASK_TIMEOUT)
    if task is None:
        raise ApiError(404, f"there is no task {task_id}")
    return task


async def task_get(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    require_admin(caller, "GET /api/tasks/{id}")
    task = await _task_or_404(deps, request)
    runs = await store_call(deps.store, lambda db: db.runs(task.id), timeout=ASK_TIMEOUT)
    return JSONResponse(_task_json(task, runs))


async def task_patch(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    require_admin(caller, "PATCH /api/tasks/{id}")
    task = await _task_or_404(deps, request)
    body = await read_body(request, TaskPatch)
    now = deps.clock()
    changes = {k: v for k, v in attrs.asdict(body).items() if v is not None}
    if "interval_seconds" in changes and "cron" in changes:
        raise ApiError(422, "give interval_seconds or cron, not both", ("cron: and interval",))
    if "interval_seconds" in changes:
        changes["cron"] = None
    if "cron" in changes:
        changes["interval_seconds"] = None
    merged = {
        name: changes.get(name, getattr(task, name))
        for name in (
            "name",
            "prompt",
            "working_dir",
            "model",
            "timeout_seconds",
            "interval_seconds",
            "cron",
            "timezone",
        )
    }
    _check_task_fields(deps, merged, now)
    rescheduled = {"interval_seconds", "cron", "timezone", "enabled"} & set(changes)
    if rescheduled:
        # A new schedule (or a task enabled again) counts from now: slots missed while it
        # was off are not run.
        changes["next_run_at"] = None
        changes["anchor_at"] = now
    updated = await store_call(
        deps.store, lambda db: db.task_update(task.id, now, **changes), timeout=ASK_TIMEOUT
    )
    if updated is None:
        raise ApiError(404, f"there is no task {task.id}")
    _reload(deps)
    runs = await store_call(deps.store, lambda db: db.runs(task.id), timeout=ASK_TIMEOUT)
    return JSONResponse(_task_json(updated, runs))


async def task_delete(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    require_admin(caller, "DELETE /api/tasks/{id}")
    task = await _task_or_404(deps, request)
    await store_call(deps.store, lambda db: db.task_delete(task.id), timeout=ASK_TIMEOUT)
    _reload(deps)
    return JSONResponse({"deleted": task.id})


async def task_run(deps: ApiDeps, caller: Caller | None, request: Request) -> JSONResponse:
    assert caller is not None
    require_admin(caller, "POST /api/tasks/{id}/run")
    task = await _task_or_404(deps, request)
    if deps.scheduler is None:
        raise ApiError(503, "the scheduler is not running in this bridge")
    deps.scheduler.tell(RunTaskNow(task_id=task.id))
    return JSONResponse({"requested": True, "task_id": task.id}, status_code=202)
