"""A scripted model server speaking the Anthropic Messages API, for driving the real CLI.

Theory of operation
-------------------
The real ``claude`` CLI is pointed at this server with ``ANTHROPIC_BASE_URL``. Every HTTP
request is recorded (:attr:`ModelServer.requests`). Each ``POST /v1/messages`` is then
classified:

* **side requests** the CLI makes on its own (title generation, token counting, quota
  checks, conversation compaction) are answered by fixed handlers and never consume the
  script, so a test's scripted replies cannot be eaten by them;
* every other request is a **turn request** (the model's next step in the conversation).
  It is appended to :attr:`ModelServer.turns` and answered by the script.

A script is either a list of :data:`Reply` values (consumed in order, one per turn
request) or a function from the :class:`RecordedRequest` to a :data:`Reply`. When a list
runs out, the server answers with an :class:`HttpError` 500 and records the request in
:attr:`ModelServer.unscripted`, so a test that under-scripts fails loudly instead of
receiving an invented answer.

Replies are streamed as Server-Sent Events exactly as the real API does: ``message_start``,
per block ``content_block_start`` / ``content_block_delta``... / ``content_block_stop``,
then ``message_delta`` (stop reason and usage) and ``message_stop``. Text and thinking are
split into several deltas; tool inputs arrive as ``input_json_delta`` fragments. A reply
may pace its deltas (``delay``), stall forever before or in the middle of the stream
(:class:`Stall`, or ``stall_after``), or be an HTTP error (429/500/529, with
``retry-after``).

Usage::

    async with open_model_server([Reply.text("Hello there")]) as server:
        env = cli_env(base_url=server.url, home=tmp_path / "home")
        ...
        assert server.turns[0].last_user_text == "hi"
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

# ---------------------------------------------------------------------------------------
# Scripted replies
# ---------------------------------------------------------------------------------------


@attrs.frozen
class TextBlock:
    """A text content block, streamed as several ``text_delta`` events."""

    text: str
    chunks: int = 3
    """How many deltas the text is split into (at least one)."""


@attrs.frozen
class ThinkingBlock:
    """A thinking block: ``thinking_delta`` events, then one ``signature_delta``."""

    thinking: str
    signature: str = "mock-signature"
    chunks: int = 2


@attrs.frozen
class ToolUseBlock:
    """A ``tool_use`` block; the input JSON is streamed as ``input_json_delta`` fragments."""

    name: str
    input: dict[str, Any]
    id: str | None = None
    """The tool_use id; ``None`` gives ``toolu_mock_<n>``."""


Block = TextBlock | ThinkingBlock | ToolUseBlock


@attrs.frozen
class Reply:
    """One streamed assistant message."""

    blocks: tuple[Block, ...]
    stop_reason: str | None = None
    """``None``: ``tool_use`` if any block is a tool use, else ``end_turn``."""
    delay: float = 0.0
    """Seconds to wait before each delta (a slowly streaming model)."""
    stall_after: int | None = None
    """Stop sending (forever) after this many deltas: a stream that hangs mid-message."""
    input_tokens: int = 25
    output_tokens: int = 12

    @classmethod
    def text(cls, text: str, *, chunks: int = 3, delay: float = 0.0) -> Reply:
        return cls(blocks=(TextBlock(text, chunks=chunks),), delay=delay)

    @classmethod
    def tool(cls, name: str, tool_input: dict[str, Any], *, text: str | None = None) -> Reply:
        blocks: list[Block] = [TextBlock(text)] if text else []
        blocks.append(ToolUseBlock(name, tool_input))
        return cls(blocks=tuple(blocks))

    @classmethod
    def bash(cls, command: str, description: str = "run a command") -> Reply:
        return cls.tool("Bash", {"command": command, "description": description})


@attrs.frozen
class HttpError:
    """An HTTP error answer (429 rate limit, 500 server error, 529 overloaded, ...)."""

    status: int
    message: str = "scripted error"
    retry_after: float | None = 0
    """Seconds for the ``retry-after`` header (the CLI honours it); ``None`` omits it."""
    headers: tuple[tuple[str, str], ...] = ()
    """Further response headers (e.g. ``anthropic-ratelimit-unified-*``)."""


@attrs.frozen
class Stall:
    """Never answer: the request stays open without a byte until the client gives up."""


ScriptStep = Reply | HttpError | Stall

#: Error ``type`` names the real API uses for each status.
_ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


# ---------------------------------------------------------------------------------------
# Recorded requests
# ---------------------------------------------------------------------------------------


def _text_of(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out = []
    for block in content or []:
        if isinstance(block, dict) and block.get("type") == "text":
            out.append(str(block.get("text", "")))
    return out


@attrs.frozen
class RecordedRequest:
    """One HTTP request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    """The decoded JSON body (``None`` when there was none or it was not JSON)."""
    kind: str
    """``turn``, ``title``, ``count_tokens``, ``quota``, ``compact``, ``other``."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    @property
    def system_text(self) -> str:
        system = self.body.get("system") if isinstance(self.body, dict) else None
        return "\n".join(_text_of(system))

    @property
    def last_user_message(self) -> dict[str, Any] | None:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message
        return None

    @property
    def last_user_text(self) -> str:
        """The text the user typed last: text blocks of the last user message, minus the
        ``<system-reminder>`` blocks the CLI adds."""
        message = self.last_user_message
        if message is None:
            return ""
        parts = [
            text
            for text in _text_of(message.get("content"))
            if not text.lstrip().startswith("<system-reminder>")
        ]
        return "\n".join(parts).strip()

    def all_text(self) -> str:
        """Every text and tool_result text in the conversation, joined (for 'did the model
        see X' assertions)."""
        out: list[str] = []
        for message in self.messages:
            content = message.get("content")
            out.extend(_text_of(content))
            if isinstance(content, list):
                for block in content:
                    if isinstance(block, dict) and block.get("type") == "tool_result":
                        out.extend(_text_of(block.get("content")))
        return "\n".join(out)

    def tool_results(self) -> list[dict[str, Any]]:
        """The ``tool_result`` blocks of the last user message."""
        message = self.last_user_message
        content = message.get("content") if message else None
        if not isinstance(content, list):
            return []
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def classify(path: str, body: Any) -> str:
    """Tell a conversation turn from the CLI's own side requests.

    Side requests are recognised by what the CLI puts in them (observed with 2.1.x):
    token counting has its own endpoint; title generation carries a system prompt asking
    for a title; the quota probe is a one-token request saying ``quota``; compaction asks
    for an ``<analysis>``/``<summary>`` pair in the last user message.
    """
    if path.endswith("/count_tokens"):
        return "count_tokens"
    if not path.endswith("/v1/messages") or not isinstance(body, dict):
        return "other"
    request = RecordedRequest(method="POST", path=path, headers={}, body=body, kind="turn")
    system = request.system_text
    if "Generate a concise" in system and "title" in system:
        return "title"
    last = request.last_user_text
    if body.get("max_tokens") == 1 and last.strip().lower() == "quota":
        return "quota"
    if "<summary>" in last and "<analysis>" in last:
        return "compact"
    return "turn"


Script = Sequence[ScriptStep] | Callable[[RecordedRequest], ScriptStep]


# ---------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _split(text: str, chunks: int) -> list[str]:
    if not text:
        return [""]
    size = max(1, math.ceil(len(text) / max(1, chunks)))
    return [text[i : i + size] for i in range(0, len(text), size)]


class ModelServer:
    """The server state: the script, the counters and everything recorded.

    Build it with :func:`open_model_server`. Tests read :attr:`requests`, :attr:`turns`
    and :attr:`unscripted`, replace the script with :meth:`set_script`, and wait for
    traffic with :meth:`wait_for_turns`.
    """

    def __init__(self, script: Script) -> None:
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.turns: list[RecordedRequest] = []
        self.unscripted: list[RecordedRequest] = []
        self.errors: list[Exception] = []
        """Exceptions raised while answering (re-raised when the server closes)."""
        self._script: Script = script
        self._position = 0
        self._ids = 0
        self._changed = trio.Event()

    # -- script ------------------------------------------------------------------------

    def set_script(self, script: Script) -> None:
        """Replace the script; a list restarts from its first step."""
        self._script = script
        self._position = 0

    def extend_script(self, steps: Sequence[ScriptStep]) -> None:
        """Append steps to a list script."""
        if callable(self._script):
            raise TypeError("extend_script needs a list script, the current one is a function")
        self._script = [*self._script, *steps]

    def _next_step(self, request: RecordedRequest) -> ScriptStep:
        if callable(self._script):
            return self._script(request)
        if self._position >= len(self._script):
            self.unscripted.append(request)
            return HttpError(500, "model server: the test's script has no reply left")
        step = self._script[self._position]
        self._position += 1
        return step

    def _new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_mock_{self._ids}"

    # -- waiting -----------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        self.requests.append(request)
        if request.kind == "turn":
            self.turns.append(request)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for_turns(self, count: int) -> RecordedRequest:
        """Wait until at least ``count`` turn requests arrived; return the ``count``-th."""
        while len(self.turns) < count:
            await self._changed.wait()
        return self.turns[count - 1]

    # -- HTTP --------------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        try:
            return await self._answer_messages(request)
        except Exception as exc:
            # A bug in a test's script function: keep it, so the test fails with it
            # instead of with a puzzling 500 the CLI retried.
            self.errors.append(exc)
            raise

    async def _answer_messages(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        kind = classify(request.url.path, body)
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers=dict(request.headers),
            body=body,
            kind=kind,
        )
        self._record(recorded)
        if kind == "count_tokens":
            return JSONResponse({"input_tokens": 100})
        if kind == "turn":
            step = self._next_step(recorded)
        elif kind == "title":
            step = Reply.text(json.dumps({"title": "Mock generated title"}))
        elif kind == "compact":
            step = Reply.text(
                "<analysis>Mock analysis.</analysis>\n<summary>Mock summary of the "
                "conversation so far.</summary>"
            )
        else:  # quota
            step = Reply.text("ok", chunks=1)
        stream = bool(isinstance(body, dict) and body.get("stream"))
        model = str(body.get("model", "claude-mock")) if isinstance(body, dict) else "mock"
        return await self._answer(step, stream=stream, model=model)

    async def _answer(self, step: ScriptStep, *, stream: bool, model: str) -> Response:
        if isinstance(step, Stall):
            await trio.sleep_forever()
        if isinstance(step, HttpError):
            headers = dict(step.headers)
            if step.retry_after is not None:
                headers["retry-after"] = str(step.retry_after)
            error = {
                "type": "error",
                "error": {
                    "type": _ERROR_TYPES.get(step.status, "api_error"),
                    "message": step.message,
                },
            }
            return JSONResponse(error, status_code=step.status, headers=headers)
        assert isinstance(step, Reply)
        message_id = self._new_id("msg")
        blocks = [
            attrs.evolve(b, id=self._new_id("toolu"))
            if isinstance(b, ToolUseBlock) and b.id is None
            else b
            for b in step.blocks
        ]
        stop_reason = step.stop_reason or (
            "tool_use" if any(isinstance(b, ToolUseBlock) for b in blocks) else "end_turn"
        )
        if not stream:
            return JSONResponse(self._whole_message(message_id, model, blocks, stop_reason, step))
        return StreamingResponse(
            self._events(message_id, model, blocks, stop_reason, step),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "request-id": f"req_{message_id}"},
        )

    @staticmethod
    def _usage(step: Reply, output_tokens: int) -> dict[str, int]:
        return {
            "input_tokens": step.input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }

    def _whole_message(
        self, message_id: str, model: str, blocks: list[Block], stop: str, step: Reply
    ) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        for block in blocks:
            if isinstance(block, TextBlock):
                content.append({"type": "text", "text": block.text})
            elif isinstance(block, ThinkingBlock):
                content.append(
                    {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
                )
            else:
                content.append(
                    {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
                )
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": self._usage(step, step.output_tokens),
        }

    async def _events(
        self, message_id: str, model: str, blocks: list[Block], stop: str, step: Reply
    ) -> AsyncIterator[bytes]:
        sent = 0

        async def pace() -> None:
            nonlocal sent
            if step.stall_after is not None and sent >= step.stall_after:
                await trio.sleep_forever()
            if step.delay:
                await trio.sleep(step.delay)
            sent += 1

        start = self._whole_message(message_id, model, [], stop, step)
        start.update(stop_reason=None, usage=self._usage(step, 1))
        yield _sse({"type": "message_start", "message": start})
        for index, block in enumerate(blocks):
            if isinstance(block, TextBlock):
                opening: dict[str, Any] = {"type": "text", "text": ""}
                deltas = [
                    {"type": "text_delta", "text": part}
                    for part in _split(block.text, block.chunks)
                ]
            elif isinstance(block, ThinkingBlock):
                opening = {"type": "thinking", "thinking": "", "signature": ""}
                deltas = [
                    {"type": "thinking_delta", "thinking": part}
                    for part in _split(block.thinking, block.chunks)
                ]
                deltas.append({"type": "signature_delta", "signature": block.signature})
            else:
                opening = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
                deltas = [
                    {"type": "input_json_delta", "partial_json": part}
                    for part in _split(json.dumps(block.input), 3)
                ]
            yield _sse({"type": "content_block_start", "index": index, "content_block": opening})
            for delta in deltas:
                await pace()
                yield _sse({"type": "content_block_delta", "index": index, "delta": delta})
            yield _sse({"type": "content_block_stop", "index": index})
        yield _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": step.output_tokens},
            }
        )
        yield _sse({"type": "message_stop"})

    async def _other(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self._record(
            RecordedRequest(
                method=request.method,
                path=request.url.path,
                headers=dict(request.headers),
                body=body,
                kind="other",
            )
        )
        return JSONResponse(
            {"type": "error", "error": {"type": "not_found_error", "message": "not scripted"}},
            status_code=404,
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._messages, methods=["POST"]),
                Route(
                    "/{path:path}",
                    self._other,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
                ),
            ]
        )


@asynccontextmanager
async def open_model_server(script: Script = ()) -> AsyncIterator[ModelServer]:
    """Serve a :class:`ModelServer` on ``127.0.0.1`` (a free port) for the ``with`` block.

    *Resource handling*: leaving the block cancels the server and every open request
    (stalled streams included); the port is closed before this returns.

    *Error handling*: an exception raised while answering (e.g. in a script function) is
    re-raised when the block exits normally, as an ``ExceptionGroup``.
    """
    server = ModelServer(script)
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    # A stalled stream must not be cut by the server itself; the client gives up or the
    # test ends.
    config.keep_alive_timeout = 3600
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, server.app(), config)
        server.url = binds[0]
        try:
            yield server
        finally:
            nursery.cancel_scope.cancel()
    if server.errors:
        raise ExceptionGroup("the model server failed to answer", server.errors)
