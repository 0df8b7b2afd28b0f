"""Request bodies: attrs types read strictly by one private cattrs converter.

A body must be a JSON object of at most :data:`MAX_BODY_BYTES`; unknown keys, wrong types
(``5`` where text belongs, ``"5"`` where a number belongs, ``true`` where a number
belongs), text with NUL characters or lone surrogates, and text over a field's length
limit are all refused with a 4xx whose ``problems`` name each bad field.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final, Literal, TypeVar

import attrs
import cattrs
from starlette.requests import Request

from bridge.api._errors import ApiError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_PROMPT_CHARS",
    "LoungePost",
    "MarkResumeBody",
    "NotifyBody",
    "ScheduleBody",
    "SpawnBody",
    "TaskBody",
    "TaskPatch",
    "read_body",
]

T = TypeVar("T")

MAX_BODY_BYTES: Final = 64 * 1024
"""Every route's request body limit: a prompt fits; a 20 MB post does not."""
MAX_PROMPT_CHARS: Final = 16_000
"""Longest prompt a task or a spawned session takes (it goes to Claude over stdin)."""
MAX_NOTIFY_CHARS: Final = 2000
"""Discord's message content limit (resources/message.mdx, "Create Message")."""
MAX_NAME_CHARS: Final = 100
"""Discord's thread name limit (resources/channel.mdx, "Start Thread without Message")."""
MAX_PATH_CHARS: Final = 4096
MAX_MODEL_CHARS: Final = 100


@attrs.frozen(kw_only=True)
class LoungePost:
    """``POST /api/lounge`` (the original bot's field names)."""

    message: str
    label: str | None = None


@attrs.frozen(kw_only=True)
class NotifyBody:
    """``POST /api/notify``: post ``message`` now, in ``thread_id`` or the main channel."""

    message: str
    thread_id: str | None = None


@attrs.frozen(kw_only=True)
class ScheduleBody:
    """``POST /api/schedule``: post ``message`` at ``at`` (epoch seconds) or after
    ``delay_seconds``."""

    message: str
    at: float | None = None
    delay_seconds: float | None = None
    thread_id: str | None = None


@attrs.frozen(kw_only=True)
class TaskBody:
    """``POST /api/tasks``."""

    name: str
    prompt: str
    interval_seconds: float | None = None
    cron: str | None = None
    timezone: str = "UTC"
    working_dir: str | None = None
    model: str | None = None
    timeout_seconds: float | None = None
    enabled: bool = True
    thread_mode: Literal["new", "own"] = "new"


@attrs.frozen(kw_only=True)
class TaskPatch:
    """``PATCH /api/tasks/{id}``: every field optional; absent or ``null`` keeps the value.
    Giving ``interval_seconds`` switches the task to an interval, ``cron`` to cron."""

    name: str | None = None
    prompt: str | None = None
    interval_seconds: float | None = None
    cron: str | None = None
    timezone: str | None = None
    working_dir: str | None = None
    model: str | None = None
    timeout_seconds: float | None = None
    enabled: bool | None = None
    thread_mode: Literal["new", "own"] | None = None


@attrs.frozen(kw_only=True)
class SpawnBody:
    """``POST /api/spawn``."""

    prompt: str
    title: str | None = None
    working_dir: str | None = None
    model: str | None = None


@attrs.frozen(kw_only=True)
class MarkResumeBody:
    """``POST /api/mark-resume``: a session marks itself (no ``thread_id``); the admin
    names the thread."""

    thread_id: str | None = None


_LIMITS: Final = {
    "message": MAX_NOTIFY_CHARS,
    "label": 50,
    "prompt": MAX_PROMPT_CHARS,
    "name": MAX_NAME_CHARS,
    "title": MAX_NAME_CHARS,
    "working_dir": MAX_PATH_CHARS,
    "model": MAX_MODEL_CHARS,
    "cron": 120,
    "timezone": 64,
    "thread_id": 20,
}
"""Per-field character limits (a lounge ``message`` has its own, checked by the route)."""


def _make_converter() -> cattrs.Converter:
    # Our own API reads strictly (STYLE: forbid_extra_keys, transform_error for the 4xx).
    converter = cattrs.Converter(forbid_extra_keys=True)

    def strict_str(value: Any, _: Any) -> str:
        # cattrs would turn 5 into "5"; a number where text belongs is the caller's bug.
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode (a lone surrogate was sent)") from None
        return value

    def strict_float(value: Any, _: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        result = float(value)  # an int past float range raises OverflowError: caught below
        if not math.isfinite(result):
            raise ValueError("must be a finite number")
        return result

    def strict_bool(value: Any, _: Any) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {type(value).__name__}")
        return value

    converter.register_structure_hook(str, strict_str)
    converter.register_structure_hook(float, strict_float)
    converter.register_structure_hook(bool, strict_bool)
    return converter


_CONVERTER: Final = _make_converter()


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or an :class:`ApiError` (400 not JSON, 422 not an
    object). The size limit is enforced before this by the app (413)."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        # RecursionError: JSON nested deeper than the parser's recursion limit.
        raise ApiError(400, "the body must be a JSON object (it is not valid JSON)") from None
    if not isinstance(body, dict):
        raise ApiError(
            422, f"the body must be a JSON object, got a JSON {type(body).__name__}"
        ) from None
    return body


async def read_body(request: Request, cls: type[T]) -> T:
    """Read and structure the request body as ``cls``.

    Raises:
        ApiError: 400 (not JSON), 413 (too large, from the app's limit), 422 (not an
            object, an unknown key, a missing or mistyped field, a value over its limit).
    """
    body = await read_json(request)
    try:
        value = _CONVERTER.structure(body, cls)
    except cattrs.BaseValidationError as exc:
        problems = tuple(cattrs.transform_error(exc))
        raise ApiError(422, f"the body does not fit {cls.__name__}", problems) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise ApiError(422, f"the body does not fit {cls.__name__}", (str(exc),)) from None
    problems = tuple(
        f"{name}: over {limit} characters"
        for name, limit in _LIMITS.items()
        if isinstance(getattr(value, name, None), str) and len(getattr(value, name)) > limit
    )
    if problems:
        raise ApiError(422, "a field is too long", problems)
    return value
