"""The stream-json converter: decoded CLI lines to typed events, and back for unknown ones.

This file is the only place that knows wire spellings. It reads leniently:

* unknown ``type``/``subtype`` values become :class:`~protocol.claude.events.Unknown`
  with the whole object kept, and unknown fields are ignored (but kept in ``raw``);
* ``null`` where we expect a value means "absent", so the field keeps its default;
* a known event whose fields do not fit (a string where a number belongs...) also
  becomes ``Unknown``, with the structuring error as its ``reason``;
* field-name drift across CLI versions is accepted here and nowhere else:
  ``total_cost_usd`` / ``cost_usd`` on results, ``compact_metadata.pre_tokens`` /
  ``compactMetadata.preTokens`` on compact boundaries, camelCase ``permissionMode``,
  ``apiKeySource`` and ``modelUsage``.

:func:`parse_event` never raises, whatever it is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, override

from protocol.claude import events as ev

# The system subtypes we model, by wire name.
_SYSTEM_TYPES: dict[str, type] = {
    "init": ev.SystemInit,
    "status": ev.SystemStatus,
    "compact_boundary": ev.CompactBoundary,
    "hook_started": ev.HookStarted,
    "hook_response": ev.HookResponse,
    "api_retry": ev.ApiRetry,
    "thinking_tokens": ev.ThinkingTokens,
    "session_state_changed": ev.SessionStateChanged,
    "permission_denied": ev.PermissionDenied,
    "task_started": ev.TaskStarted,
    "task_notification": ev.TaskNotification,
    "task_updated": ev.TaskUpdated,
    "background_tasks_changed": ev.BackgroundTasksChanged,
}


def _drop_nulls(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _structure_block(c: cattrs.Converter, data: Any) -> ev.Block:
    if not isinstance(data, dict):
        return ev.UnknownBlock(type="", raw={"value": data})
    kind = data.get("type")
    clean = _drop_nulls(data)
    if kind == "text":
        return c.structure({"text": clean.get("text", "")}, ev.TextBlock)
    if kind == "thinking":
        return c.structure(
            {k: clean[k] for k in ("thinking", "signature") if k in clean}, ev.ThinkingBlock
        )
    if kind == "redacted_thinking":
        return c.structure({"data": clean.get("data", "")}, ev.RedactedThinkingBlock)
    if kind == "tool_use":
        return c.structure(
            {k: clean[k] for k in ("id", "name", "input") if k in clean}, ev.ToolUseBlock
        )
    if kind == "tool_result":
        return ev.ToolResultBlock(
            tool_use_id=str(clean.get("tool_use_id", "")),
            content=data.get("content"),
            is_error=bool(clean.get("is_error", False)),
        )
    if kind == "image":
        source = source if isinstance(source := data.get("source"), dict) else {}
        return ev.ImageBlock(
            media_type=str(source.get("media_type", "")), data=str(source.get("data", ""))
        )
    return ev.UnknownBlock(type=str(kind or ""), raw=dict(data))


def _structure_content(c: cattrs.Converter, data: Any) -> str | tuple[ev.Block, ...]:
    if isinstance(data, str):
        return data
    if isinstance(data, list):
        return tuple(_structure_block(c, block) for block in data)
    return ()


def _structure_request_body(c: cattrs.Converter, data: Any) -> ev.ControlRequestBody:
    if not isinstance(data, dict):
        return ev.OtherRequest()
    subtype = str(data.get("subtype", ""))
    clean = _drop_nulls(data)
    clean.pop("subtype", None)
    if subtype == "can_use_tool":
        return c.structure(clean, ev.CanUseTool)
    if subtype == "elicitation":
        return c.structure(clean, ev.Elicitation)
    if subtype == "hook_callback":
        return c.structure(clean, ev.HookCallback)
    return ev.OtherRequest(subtype=subtype)


def _is(wanted: Any) -> Callable[[Any], bool]:
    return lambda t: t == wanted


def _ignoring_type(hook: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda data, _: hook(data)


def _overrides(renames: dict[str, str]) -> dict[str, Any]:
    # Typed loosely: make_dict_structure_fn's other keyword parameters are flags, not overrides.
    return {field: override(rename=wire) for field, wire in renames.items()}


def make_converter() -> cattrs.Converter:
    """Build the stream-json converter (cheap; one per process is plenty)."""
    c = cattrs.Converter(forbid_extra_keys=False)
    # Unions and generic tuples cannot go through singledispatch; match them exactly.
    special: dict[Any, Callable[[Any], Any]] = {
        ev.Block: lambda data: _structure_block(c, data),
        str | tuple[ev.Block, ...]: lambda data: _structure_content(c, data),
        tuple[ev.Block, ...]: lambda data: tuple(
            _structure_block(c, block) for block in (data if isinstance(data, list) else [])
        ),
        ev.ControlRequestBody: lambda data: _structure_request_body(c, data),
    }
    for wanted, hook in special.items():
        c.register_structure_hook_func(_is(wanted), _ignoring_type(hook))
    camel: dict[type, dict[str, str]] = {
        ev.SystemInit: {"permission_mode": "permissionMode", "api_key_source": "apiKeySource"},
        ev.SystemStatus: {"permission_mode": "permissionMode"},
        ev.ModelUsage: {
            "input_tokens": "inputTokens",
            "output_tokens": "outputTokens",
            "cache_read_input_tokens": "cacheReadInputTokens",
            "cache_creation_input_tokens": "cacheCreationInputTokens",
            "cost_usd": "costUSD",
            "context_window": "contextWindow",
            "max_output_tokens": "maxOutputTokens",
        },
        ev.Result: {"model_usage": "modelUsage"},
    }
    for cls, renames in camel.items():
        c.register_structure_hook(
            cls,
            make_dict_structure_fn(cls, c, **_overrides(renames)),
        )
    return c


# ---------------------------------------------------------------------------------------
# Per-type preparation: wire dict -> constructor dict. Drift is resolved here.
# ---------------------------------------------------------------------------------------


def _prepare_compact(raw: dict[str, Any]) -> dict[str, Any]:
    meta = raw.get("compact_metadata")
    if not isinstance(meta, dict):
        meta = raw.get("compactMetadata")
    meta = meta if isinstance(meta, dict) else {}

    def pick(*names: str) -> Any:
        for name in names:
            if meta.get(name) is not None:
                return meta[name]
        return None

    metadata = _drop_nulls(
        {
            "trigger": pick("trigger"),
            "pre_tokens": pick("pre_tokens", "preTokens"),
            "post_tokens": pick("post_tokens", "postTokens"),
            "duration_ms": pick("duration_ms", "durationMs"),
        }
    )
    out = _envelope(raw)
    out["metadata"] = metadata
    return out


def _envelope(raw: dict[str, Any]) -> dict[str, Any]:
    return _drop_nulls({"session_id": raw.get("session_id"), "uuid": raw.get("uuid")})


def _prepare_result(raw: dict[str, Any]) -> dict[str, Any]:
    out = _drop_nulls(raw)
    # Older CLIs wrote ``cost_usd``; 2.1.x writes ``total_cost_usd``.
    if "total_cost_usd" not in out and "cost_usd" in out:
        out["total_cost_usd"] = out["cost_usd"]
    if isinstance(out.get("modelUsage"), dict):
        out["modelUsage"] = {
            model: _drop_nulls(usage) if isinstance(usage, dict) else {}
            for model, usage in out["modelUsage"].items()
        }
    if isinstance(out.get("usage"), dict):
        out["usage"] = _drop_nulls(out["usage"])
    if isinstance(out.get("permission_denials"), list):
        out["permission_denials"] = [
            _drop_nulls(d) for d in out["permission_denials"] if isinstance(d, dict)
        ]
    if isinstance(out.get("errors"), list):
        out["errors"] = [str(e) for e in out["errors"]]
    return out


def _prepare_assistant(raw: dict[str, Any]) -> dict[str, Any]:
    message = message if isinstance(message := raw.get("message"), dict) else {}
    out = _drop_nulls(
        {
            "message_id": message.get("id"),
            "model": message.get("model"),
            "content": message.get("content"),
            "parent_tool_use_id": raw.get("parent_tool_use_id"),
            "error": raw.get("error"),
        }
    )
    if isinstance(message.get("usage"), dict):
        out["usage"] = _drop_nulls(message["usage"])
    out.update(_envelope(raw))
    return out


def _prepare_user(raw: dict[str, Any]) -> dict[str, Any]:
    message = message if isinstance(message := raw.get("message"), dict) else {}
    out = _drop_nulls(
        {
            "content": message.get("content"),
            "parent_tool_use_id": raw.get("parent_tool_use_id"),
            "is_replay": raw.get("isReplay"),
        }
    )
    out["tool_use_result"] = raw.get("tool_use_result")
    out.update(_envelope(raw))
    return out


def _prepare_control_response(raw: dict[str, Any]) -> dict[str, Any]:
    response = response if isinstance(response := raw.get("response"), dict) else {}
    body = response.get("response")
    return _drop_nulls(
        {
            "request_id": response.get("request_id"),
            "success": response.get("subtype") == "success",
            "response": body if isinstance(body, dict) else None,
            "error": response.get("error"),
            "error_code": response.get("error_code"),
        }
    )


_PREPARE: dict[type, Callable[[dict[str, Any]], dict[str, Any]]] = {
    ev.CompactBoundary: _prepare_compact,
    ev.Result: _prepare_result,
    ev.AssistantMessage: _prepare_assistant,
    ev.UserMessage: _prepare_user,
    ev.ControlResponse: _prepare_control_response,
    ev.StreamEvent: _drop_nulls,
    ev.ControlRequest: _drop_nulls,
    ev.ControlCancelRequest: _drop_nulls,
}


def _event_class(raw: dict[str, Any]) -> type | str:
    """The class for this object, or why there is none."""
    kind = raw.get("type")
    if kind == "system":
        subtype = raw.get("subtype")
        cls = _SYSTEM_TYPES.get(subtype) if isinstance(subtype, str) else None
        return cls or f"unknown system subtype {subtype!r}"
    simple = {
        "assistant": ev.AssistantMessage,
        "user": ev.UserMessage,
        "result": ev.Result,
        "stream_event": ev.StreamEvent,
        "control_request": ev.ControlRequest,
        "control_response": ev.ControlResponse,
        "control_cancel_request": ev.ControlCancelRequest,
    }
    if isinstance(kind, str) and kind in simple:
        return simple[kind]
    return f"unknown type {kind!r}"


_CONVERTER = make_converter()


def parse_event(raw: Any, *, converter: cattrs.Converter | None = None) -> ev.Event:
    """Turn one decoded stream-json object into an event. Never raises.

    Args:
        raw: What ``json.loads`` gave for one line.
        converter: A converter from :func:`make_converter` (a shared one by default).

    Returns:
        The typed event, :class:`~protocol.claude.events.Unknown` for anything not
        recognised, or :class:`~protocol.claude.events.Malformed` if ``raw`` is not an
        object.
    """
    if not isinstance(raw, dict):
        return ev.Malformed(line=_safe_dumps(raw), reason="not a JSON object")
    if raw.get("type") == "stream_event" and converter is None:
        fast = _stream_event(raw)
        if fast is not None:
            return fast
    cls = _event_class(raw)
    if isinstance(cls, str):
        return ev.Unknown(raw=raw, reason=cls)
    prepare = _PREPARE.get(cls, _drop_nulls)
    try:
        data = prepare(raw)
        data["raw"] = raw
        return (converter or _CONVERTER).structure(data, cls)
    except Exception as exc:  # the parser's contract is to never raise
        return ev.Unknown(raw=raw, reason=f"{cls.__name__} did not fit: {_describe(exc)}")


def _stream_event(raw: dict[str, Any]) -> ev.StreamEvent | None:
    """A ``stream_event`` built directly, or ``None`` to take the general path.

    Most lines of a turn are these (one per text delta), and the general path (dropping
    nulls, then cattrs) costs more than decoding the line. This one only takes objects
    whose fields already have their types (what the CLI writes), where it gives exactly
    what cattrs would (``tests/property/test_claude_parser.py`` compares them); anything
    else (a number where a string belongs, a list for ``event``) goes the general way,
    which coerces or reports it."""
    event = raw.get("event")
    parent = raw.get("parent_tool_use_id")
    session_id = raw.get("session_id")
    uuid = raw.get("uuid")
    if event is None:
        event = {}
    elif type(event) is not dict or not all(type(k) is str for k in event):
        return None
    if (
        (parent is not None and type(parent) is not str)
        or (session_id is not None and type(session_id) is not str)
        or (uuid is not None and type(uuid) is not str)
    ):
        return None
    return ev.StreamEvent(
        event=dict(event),
        parent_tool_use_id=parent,
        session_id=session_id or "",
        uuid=uuid or "",
        raw=dict(raw),
    )


def decode_line(line: bytes) -> Any:
    """One line's JSON value, exactly as ``json.loads`` would return it.

    orjson first: it decodes UTF-8 several times faster than the standard library, and
    this runs once per line the CLI writes. What orjson refuses and ``json`` accepts (NaN
    and Infinity, a lone surrogate, a number too large for a float, UTF-16 or UTF-32
    bytes) is decoded by ``json``, unchanged. orjson also turns an integer beyond 64 bits
    into a float, so a line with a run of 19 or more digits (the shortest integer that
    can overflow) goes to ``json`` too: a C-speed scan costs well under one orjson
    decode, and the rare false alarm (a snowflake in a string) is only slower.

    Raises:
        ValueError: not JSON (``json.JSONDecodeError``, ``UnicodeDecodeError``).
        RecursionError: nested too deeply for ``json``.
    """
    if _OVERFLOW_DIGITS in line.translate(_DIGITS_ONLY):
        return json.loads(line)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


# Every digit becomes "0" and everything else a space, so one substring search finds a
# run of digits long enough to overflow a signed 64-bit integer.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_OVERFLOW_DIGITS = b"0" * 19


def parse_line(line: bytes | str) -> ev.Event:
    """Decode and parse one stdout line (without its newline). Never raises."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogatepass")
    try:
        raw = decode_line(line)
    except (ValueError, RecursionError) as exc:
        return ev.Malformed(line=bytes(line), reason=f"not JSON: {exc}")
    return parse_event(raw)


def dump_event(event: ev.Event) -> dict[str, Any]:
    """The wire object for an event read from the CLI (its ``raw``), e.g. to forward or log it.

    Raises:
        ValueError: for :class:`~protocol.claude.events.Malformed`, which has no object.
    """
    if isinstance(event, ev.Malformed):
        raise ValueError("a Malformed line has no JSON object to dump; use its .line bytes")
    return event.raw


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc))
    return f"{type(exc).__name__}: {exc}"


def _safe_dumps(value: Any) -> bytes:
    try:
        return json.dumps(value).encode()
    except (TypeError, ValueError):
        return repr(value).encode()


__all__ = ["decode_line", "dump_event", "make_converter", "parse_event", "parse_line"]
