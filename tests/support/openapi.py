"""Validate Discord REST traffic against Discord's official OpenAPI description.

``tests/support/openapi_discord.json`` is discord/discord-api-spec ``specs/openapi.json``
(commit 74fda0f, MIT licence in ``openapi_discord.LICENSE``), kept here so the suite runs
anywhere. Any test that drives the local server can record every exchange and fail on drift:

    recorder = SpecRecorder()
    async with open_discord_local(observers=[recorder]) as server:
        ...
    recorder.assert_valid()

or check one exchange / body directly with :func:`discord_spec` (loaded once per process).

Rules:
  * The operation is found by method and path template; literal segments beat parameters
    (``/messages/pins`` is not ``/messages/{message_id}``).
  * Requests the server accepted (status < 400) must match the spec; a rejected request may
    break it on purpose (that is what the rejection tests send). Checked: the JSON body (or
    a multipart body's ``payload_json``) against the operation's request schema. Discord
    accepts snowflakes as JSON integers in requests, though the spec types them as strings;
    request checks accept both (clients such as discord.py send ints).
  * Responses: the body against the schema declared for the exact status, else ``4XX``/``2XX``.
    A status the operation does not declare is an error, except 5xx (the spec declares none;
    they come only from fault injection). A 204 must have no body.
  * One documented correction: field errors (``_errors`` items) have string codes, as the
    docs show; the spec types them as integers.
  * ``$ref`` is resolved inside the one spec document; formats are not asserted.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.allowed_mentions import mention_errors

SPEC_PATH = Path(__file__).with_name("openapi_discord.json")
_SPEC_URI = "urn:discord-openapi"
_REQUEST_URI = "urn:discord-openapi-requests"
_METHODS = ("get", "put", "post", "patch", "delete")


@attrs.frozen
class Operation:
    method: str
    template: str
    spec: dict[str, Any]


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class DiscordOpenAPI:
    """The loaded spec: operation lookup and schema checks."""

    def __init__(self, spec: dict[str, Any]) -> None:
        spec = copy.deepcopy(spec)
        # The spec reuses Error (integer code) for field errors, but Discord sends string codes
        # there: docs, developers/reference.mdx "Error Messages" shows
        # {"_errors": [{"code": "BASE_TYPE_REQUIRED", ...}]}. When the two disagree, the
        # spec's README says to follow the docs.
        spec["components"]["schemas"]["InnerErrors"]["properties"]["_errors"]["items"] = {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
        self.spec = spec
        # Requests: the same document, but a snowflake may also be an integer (see module doc).
        lenient = copy.deepcopy(spec)
        lenient["components"]["schemas"]["SnowflakeType"] = {
            "oneOf": [
                spec["components"]["schemas"]["SnowflakeType"],
                {"type": "integer", "minimum": 0},
            ]
        }
        self._registry: Registry = Registry().with_resources(
            [
                (_SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)),
                (_REQUEST_URI, Resource.from_contents(lenient, default_specification=DRAFT202012)),
            ]
        )
        self._routes: list[tuple[int, re.Pattern[str], str]] = []
        for template in spec["paths"]:
            literal = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
            regex = (
                "^"
                + re.sub(
                    r"\{[^}]+\}",
                    "[^/]+",
                    re.escape(template).replace(r"\{", "{").replace(r"\}", "}"),
                )
                + "$"
            )
            self._routes.append((literal, re.compile(regex), template))
        self._routes.sort(key=lambda r: -r[0])

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method path`` (path below ``/api/v10``), or None."""
        for _, regex, template in self._routes:
            if regex.match(path):
                op = self.spec["paths"][template].get(method.lower())
                if op is not None:
                    return Operation(method.upper(), template, op)
        return None

    def _errors(self, base: str, pointer: str, instance: Any) -> list[str]:
        validator = Draft202012Validator({"$ref": base + pointer}, registry=self._registry)
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
            for e in validator.iter_errors(instance)
        ]

    def request_errors(self, op: Operation, body: Any, *, multipart: bool) -> list[str]:
        """Problems with a request body (None: no body sent)."""
        request = op.spec.get("requestBody")
        if request is None:
            return (
                []
                if body is None
                else [f"{op.method} {op.template} takes no body, got {body!r}"[:300]]
            )
        if body is None:
            return [f"{op.method} {op.template} requires a body"] if request.get("required") else []
        content = request["content"]
        kind = "application/json" if "application/json" in content else "multipart/form-data"
        if multipart and "multipart/form-data" not in content:
            return [f"{op.method} {op.template} does not accept multipart bodies"]
        pointer = _pointer(
            "paths", op.template, op.method.lower(), "requestBody", "content", kind, "schema"
        )
        return self._errors(_REQUEST_URI, pointer, body)

    def response_errors(self, op: Operation, status: int, body: Any) -> list[str]:
        """Problems with a response status or body."""
        if status >= 500:
            return []
        responses = op.spec.get("responses", {})
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in responses:
                break
        else:
            return [
                f"{op.method} {op.template}: status {status} not declared ({sorted(responses)})"
            ]
        response = responses[key]
        pointer_parts: tuple[str, ...] = ("paths", op.template, op.method.lower(), "responses", key)
        if "$ref" in response:
            name = response["$ref"].rsplit("/", 1)[-1]
            response = self.spec["components"]["responses"][name]
            pointer_parts = ("components", "responses", name)
        content = response.get("content")
        if content is None:
            return (
                []
                if body is None
                else [f"{op.method} {op.template} {status}: expected no body, got {body!r}"[:300]]
            )
        if body is None:
            return [f"{op.method} {op.template} {status}: expected a JSON body, got none"]
        return self._errors(
            _SPEC_URI, _pointer(*pointer_parts, "content", "application/json", "schema"), body
        )

    def exchange_errors(self, exchange: Any) -> list[str]:
        """All problems with one :class:`bridge.discord_local.Exchange`."""
        op = self.operation(exchange.method, exchange.path)
        if op is None:
            return [f"{exchange.method} {exchange.path}: no such operation in the spec"]
        where = f"{exchange.method} {exchange.path} -> {exchange.status}"
        problems = []
        if exchange.status < 400:
            problems += [
                f"{where} request: {e}"
                for e in self.request_errors(
                    op,
                    exchange.request_json,
                    multipart=exchange.request_content_type.startswith("multipart/"),
                )
            ]
        problems += [
            f"{where} response: {e}"
            for e in self.response_errors(op, exchange.status, exchange.response_json)
        ]
        return problems

    def schema_errors(self, schema_name: str, instance: Any) -> list[str]:
        """Check a value against ``#/components/schemas/<schema_name>`` (e.g. a dispatch body)."""
        return self._errors(_SPEC_URI, _pointer("components", "schemas", schema_name), instance)


@functools.cache
def discord_spec() -> DiscordOpenAPI:
    """The spec, parsed once per process."""
    return DiscordOpenAPI(json.loads(SPEC_PATH.read_text()))


class SpecRecorder:
    """An exchange observer for the local server that validates everything it sees.

    Pass it in ``observers=[...]``; call :meth:`assert_valid` at the end of the test. The
    exchanges are kept, so tests can also assert what was (or was not) requested. It also
    checks the bridge's ``allowed_mentions`` (:mod:`tests.support.allowed_mentions`).
    """

    def __init__(self, *, allow_unknown_paths: Iterable[str] = ()) -> None:
        self.exchanges: list[Any] = []
        self.problems: list[str] = []
        self._allowed = tuple(allow_unknown_paths)

    def __call__(self, exchange: Any) -> None:
        self.exchanges.append(exchange)
        if exchange.route == "" and exchange.path.startswith(self._allowed):
            return
        self.problems += discord_spec().exchange_errors(exchange)
        self.problems += mention_errors(exchange)

    def routes(self) -> set[str]:
        return {e.route for e in self.exchanges}

    def assert_valid(self) -> None:
        assert self.exchanges, "no REST exchange was recorded: is the recorder attached?"
        assert not self.problems, "REST traffic breaks the OpenAPI spec:\n" + "\n".join(
            self.problems[:40]
        )
