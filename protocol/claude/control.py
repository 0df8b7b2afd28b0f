"""What we write to the CLI's stdin: user messages, control requests and control responses.

Every builder returns the JSON object to send; :func:`encode_line` turns it into one
NDJSON line. Framing and envelopes follow ``shared/research/claude-cli.md`` §c:

* a user message: ``{"type":"user","message":{"role":"user","content":...},...}``;
* our requests: ``{"type":"control_request","request_id":<ours>,"request":{"subtype":...}}``,
  answered by a ``control_response`` carrying the same id;
* our answers to the CLI's requests (``can_use_tool``, ``elicitation``...):
  ``{"type":"control_response","response":{"subtype":"success","request_id":<theirs>,
  "response":{...}}}`` or the ``error`` envelope.

The CLI validates neither permission modes nor model names (``set_permission_mode`` with
``"bogus"`` and ``set_model`` with ``"no-such-model-xyz"`` both answer success), so the
builders do, and raise :class:`ControlError` (the caller's fault) before anything is sent.
"""

from __future__ import annotations

import base64
import html
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, Final

import attrs

from protocol.claude import events as ev


@attrs.frozen
class ControlError(ValueError):
    """A message we were asked to build is invalid (the caller's fault, nothing was sent)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


#: ``--permission-mode`` / ``set_permission_mode`` values (``claude --help``, 2.1.x).
PERMISSION_MODES: Final = frozenset(
    {"default", "acceptEdits", "auto", "bypassPermissions", "dontAsk", "plan"}
)

#: Model aliases the CLI resolves itself (``/model`` and ``--model``, 2.1.x). The ones its
#: ``initialize`` answer lists under ``models`` (2.1.330: default, opus, fable, sonnet,
#: haiku) are pinned by ``tests/e2e/test_claude_cli_models.py``.
MODEL_ALIASES: Final = frozenset(
    {"default", "sonnet", "opus", "haiku", "fable", "opusplan", "sonnet[1m]", "opus[1m]", "best"}
)

#: Full model ids: ``claude-<family>-<version>`` with an optional date and ``[1m]`` suffix.
_MODEL_ID: Final = re.compile(r"^claude-[a-z0-9]+(?:[-.][a-z0-9]+)*(?:\[1m\])?$")

#: Media types the Messages API accepts in base64 image blocks.
IMAGE_MEDIA_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

#: Elicitation answers (MCP ``elicitation/create`` result actions).
ELICITATION_ACTIONS: Final = frozenset({"accept", "decline", "cancel"})


def validate_permission_mode(mode: str) -> str:
    """Return ``mode`` if the CLI knows it.

    Raises:
        ControlError: it is not one of :data:`PERMISSION_MODES`.
    """
    if mode not in PERMISSION_MODES:
        raise ControlError(
            "permission_mode",
            f"unknown mode {mode!r}; expected one of {', '.join(sorted(PERMISSION_MODES))}",
        )
    return mode


def validate_model(model: str) -> str:
    """Return ``model`` if it is an alias or a well-formed ``claude-...`` model id.

    Raises:
        ControlError: anything else (the CLI would accept it and fail at the API).
    """
    if model in MODEL_ALIASES or _MODEL_ID.fullmatch(model):
        return model
    raise ControlError(
        "model",
        f"unknown model {model!r}; use an alias ({', '.join(sorted(MODEL_ALIASES))}) "
        "or a full id such as 'claude-sonnet-4-5'",
    )


def encode_line(message: dict[str, Any]) -> bytes:
    """One NDJSON line (compact JSON, ``\\n``-terminated). ``json.dumps`` escapes any
    newline inside strings, so a message can never break the framing."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


# ---------------------------------------------------------------------------------------
# User messages
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ImageAttachment:
    """An image to send as a base64 ``image`` block."""

    media_type: str
    data: bytes


@attrs.frozen(kw_only=True)
class TextAttachment:
    """A text file whose content is appended to the prompt."""

    filename: str
    text: str


def attachment_name(filename: str) -> str:
    """``filename`` escaped for the quoted ``name`` attribute of the ``<attached_file>``
    frame: XML's five special characters become entities, and control characters, line
    breaks and lone surrogates become character references, so a name can neither close
    the attribute or the tag nor start a new line; ``html.unescape`` gives the name back."""
    return "".join(
        f"&#{ord(c)};" if unicodedata.category(c) in _ESCAPED_CATEGORIES else c
        for c in html.escape(filename, quote=True)
    )


# Control and format characters, lone surrogates, private use and unassigned code points,
# and the line and paragraph separators.
_ESCAPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def user_message(
    text: str,
    *,
    images: Sequence[ImageAttachment] = (),
    text_files: Sequence[TextAttachment] = (),
    uuid: str | None = None,
) -> dict[str, Any]:
    """A user message: the text, attached text files, then the images.

    Text files go in as text blocks introduced by their name, so the model can tell them
    apart from the prompt. An empty prompt gets no text block (an empty text block is
    rejected by the API).

    Raises:
        ControlError: an image type the API does not accept, or nothing to send at all.
    """
    content: list[dict[str, Any]] = []
    if text.strip():
        content.append({"type": "text", "text": text})
    for attached in text_files:
        content.append(
            {
                "type": "text",
                "text": f'<attached_file name="{attachment_name(attached.filename)}">\n'
                f"{attached.text}\n</attached_file>",
            }
        )
    for image in images:
        if image.media_type not in IMAGE_MEDIA_TYPES:
            raise ControlError(
                "images",
                f"media type {image.media_type!r} is not accepted; "
                f"use one of {', '.join(sorted(IMAGE_MEDIA_TYPES))}",
            )
        content.append(
            {
                "type": "image",
                "source": {
                    "type": "base64",
                    "media_type": image.media_type,
                    "data": base64.b64encode(image.data).decode("ascii"),
                },
            }
        )
    if not content:
        raise ControlError("text", "a user message needs text, a text file or an image")
    message: dict[str, Any] = {
        "type": "user",
        "message": {"role": "user", "content": content},
        "parent_tool_use_id": None,
        "session_id": "",
    }
    if uuid is not None:
        message["uuid"] = uuid
    return message


# ---------------------------------------------------------------------------------------
# Our control requests
# ---------------------------------------------------------------------------------------


class RequestIds:
    """Our control request ids: ``<prefix>_<n>``, unique within one CLI process.

    Deterministic on purpose (no randomness in protocol code); the CLI's own ids are UUIDs,
    so a prefix of ours can never collide with them.
    """

    def __init__(self, prefix: str = "ccb") -> None:
        self._prefix = prefix
        self._next = 0

    def next(self) -> str:
        self._next += 1
        return f"{self._prefix}_{self._next}"


def _request(request_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "control_request", "request_id": request_id, "request": body}


def initialize_request(
    request_id: str, *, hooks: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """``initialize``: optional; needed only to register SDK hooks or dialog kinds."""
    return _request(request_id, {"subtype": "initialize", "hooks": hooks, **fields})


def interrupt_request(request_id: str) -> dict[str, Any]:
    """``interrupt``: ends the running turn with a ``result`` and keeps the process alive;
    also cancels pending ``can_use_tool`` requests (with ``control_cancel_request``)."""
    return _request(request_id, {"subtype": "interrupt"})


def set_model_request(request_id: str, model: str) -> dict[str, Any]:
    """``set_model``. Raises :class:`ControlError` for an unknown model."""
    return _request(request_id, {"subtype": "set_model", "model": validate_model(model)})


def set_permission_mode_request(request_id: str, mode: str) -> dict[str, Any]:
    """``set_permission_mode``. Raises :class:`ControlError` for an unknown mode."""
    return _request(
        request_id, {"subtype": "set_permission_mode", "mode": validate_permission_mode(mode)}
    )


def end_session_request(request_id: str, reason: str = "host closed the session") -> dict[str, Any]:
    """``end_session``: the CLI acks and exits 0 even with stdin open."""
    return _request(request_id, {"subtype": "end_session", "reason": reason})


# ---------------------------------------------------------------------------------------
# Our answers to the CLI's requests
# ---------------------------------------------------------------------------------------


def _success(request_id: str, response: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "control_response",
        "response": {"subtype": "success", "request_id": request_id, "response": response},
    }


def error_response(request_id: str, error: str) -> dict[str, Any]:
    """The error envelope: for ``can_use_tool`` the tool fails with this text; for an
    elicitation it means ``cancel``; for an unknown request it says we cannot handle it."""
    return {
        "type": "control_response",
        "response": {"subtype": "error", "request_id": request_id, "error": error},
    }


def allow(
    request_id: str,
    updated_input: dict[str, Any],
    *,
    updated_permissions: Iterable[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Allow a ``can_use_tool`` request; the CLI runs ``updated_input`` (send the original
    input to run it unchanged). ``updated_permissions`` (e.g. a ``permission_suggestions``
    entry with ``destination: "session"``) backs an "always allow" answer."""
    if not isinstance(updated_input, dict):
        raise ControlError("updated_input", f"must be an object, got {type(updated_input)}")
    response: dict[str, Any] = {"behavior": "allow", "updatedInput": updated_input}
    if updated_permissions is not None:
        response["updatedPermissions"] = list(updated_permissions)
    return _success(request_id, response)


def deny(request_id: str, message: str, *, interrupt: bool = False) -> dict[str, Any]:
    """Deny a ``can_use_tool`` request. The model sees ``message`` as an error tool result;
    with ``interrupt`` the turn ends at once instead."""
    if not message.strip():
        raise ControlError("message", "a denial needs a message the model can read")
    response: dict[str, Any] = {"behavior": "deny", "message": message}
    if interrupt:
        response["interrupt"] = True
    return _success(request_id, response)


def answer_questions(
    request_id: str, tool_input: dict[str, Any], answers: dict[str, str]
) -> dict[str, Any]:
    """Answer an AskUserQuestion ``can_use_tool``: allow with the original input plus
    ``answers`` (question text -> answer; multi-select answers comma-separated).

    Raises:
        ControlError: an answer names a question that was not asked.
    """
    questions = tool_input.get("questions")
    asked = (
        {
            q["question"]
            for q in questions
            if isinstance(q, dict) and isinstance(q.get("question"), str)
        }
        if isinstance(questions, list)
        else set()
    )
    unknown = sorted(set(answers) - asked)
    if unknown:
        raise ControlError("answers", f"no such question(s): {unknown}; asked: {sorted(asked)}")
    return allow(request_id, {**tool_input, "answers": dict(answers)})


def elicitation_response(
    request_id: str, action: str, content: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Answer an MCP elicitation: ``accept`` (with ``content``), ``decline`` or ``cancel``."""
    if action not in ELICITATION_ACTIONS:
        raise ControlError(
            "action", f"unknown action {action!r}; expected accept, decline or cancel"
        )
    if action == "accept" and content is None:
        raise ControlError("content", "accepting an elicitation needs the form content")
    response: dict[str, Any] = {"action": action}
    if content is not None and action == "accept":
        response["content"] = content
    return _success(request_id, response)


def elicitation_url_accepted(request_id: str) -> dict[str, Any]:
    """Answer a URL-mode elicitation: the user says they finished at the URL. URL mode
    carries no content (the MCP server learns the result out of band), so ``accept`` goes
    back alone; the server receives ``content: null`` (pinned with 2.1.330)."""
    return _success(request_id, {"action": "accept"})


def automatic_reply(event: ev.Event) -> dict[str, Any] | None:
    """The answer the host owes without asking anyone, or ``None``.

    Only control requests we do not handle get one (see :func:`reply_to_unsupported`);
    ``can_use_tool`` and ``elicitation`` are for the owner to answer.
    """
    if not isinstance(event, ev.ControlRequest):
        return None
    body = event.request
    if isinstance(body, ev.OtherRequest):
        return reply_to_unsupported(event.request_id, body.subtype)
    if isinstance(body, ev.HookCallback):
        return reply_to_unsupported(event.request_id, "hook_callback")
    return None


def reply_to_unsupported(request_id: str, subtype: str) -> dict[str, Any]:
    """The answer to a CLI request we do not handle (``hook_callback`` without hooks,
    ``request_user_dialog``, ...). The CLI waits for an answer forever, so every request
    gets one: the error envelope, which the CLI treats as a refusal (``cancel`` for
    dialogs)."""
    return error_response(request_id, f"ccbridge does not support {subtype or 'this'} requests")


def allow_always(request_id: str, request: ev.CanUseTool) -> dict[str, Any]:
    """Allow a ``can_use_tool`` request and the same call for the rest of the session.

    Uses the CLI's own ``addRules`` suggestions with ``destination: "session"``, so the
    rule lives in the process only and nothing is written to the user's settings files
    (the CLI suggests ``localSettings``, which would persist on disk).
    """
    rules = [
        {**suggestion, "destination": "session"}
        for suggestion in request.permission_suggestions
        if suggestion.get("type") == "addRules"
    ]
    return allow(request_id, request.input, updated_permissions=rules)
