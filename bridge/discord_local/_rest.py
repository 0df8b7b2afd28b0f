"""The REST API (``/api/v10``): routes, auth, rate limits, faults, and Discord's error bodies.

Every route is an :class:`Endpoint`: a method and Discord's path template, the bucket it
counts against, how it authenticates, and a handler that works on the :class:`World`.
:meth:`RestApi.dispatch` wraps every handler in the same order Discord's edge does:
count the request, apply injected faults, check auth, check rate limits, parse and
validate the body, run the handler, attach ``X-RateLimit-*`` headers, and report the
exchange to observers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs
import trio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _render as render
from . import _validation as validation
from ._config import Realism, RouteLimit
from ._errors import (
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    DiscordHTTPError,
    FieldError,
    invalid_form_body,
    not_found,
)
from ._faults import FaultBook
from ._gateway import GatewayHub
from ._http import Body, Exchange, parse_body
from ._ratelimit import Bucket, RateLimiter
from ._records import LOADING, Message
from ._stats import Stats
from ._world import World

JSON = dict[str, Any]
Auth = Literal["bot", "webhook"]
Handler = Callable[["Call"], Awaitable[tuple[int, Any]]]


def _bucket(name: str, limit: int, window: float) -> Bucket:
    return Bucket(name, RouteLimit(limit=limit, window=window))


# Per-route limits modelled on what Discord serves today; the docs promise no numbers, so
# these are representative, not exact (topics/rate-limits.mdx "don't hard-code limits").
MESSAGE_CREATE = _bucket("message.create", 5, 5.0)
MESSAGE_EDIT = _bucket("message.edit", 5, 5.0)
MESSAGE_DELETE = _bucket("message.delete", 5, 1.0)
CHANNEL_READ = _bucket("channel.read", 50, 1.0)
CHANNEL_EDIT = _bucket("channel.edit", 5, 5.0)
PINS = _bucket("pins", 5, 5.0)
TYPING = _bucket("typing", 5, 5.0)
THREADS = _bucket("threads.create", 10, 10.0)
COMMANDS = _bucket("commands", 5, 20.0)
WEBHOOK = _bucket("webhook", 5, 2.0)
ACCOUNT = _bucket("account", 5, 1.0)


@attrs.define(kw_only=True)
class Call:
    """One request as a handler sees it."""

    world: World
    hub: GatewayHub
    params: dict[str, str]
    query: dict[str, str]
    body: Body

    def snowflake(self, name: str) -> int:
        value = self.params[name]
        if not value.isdigit():
            raise invalid_form_body(
                [FieldError((name,), "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')]
            )
        return int(value)

    @property
    def json(self) -> JSON:
        body = self.body.json
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise invalid_form_body(
                [FieldError((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")]
            )
        return body


@attrs.frozen
class Endpoint:
    method: str
    template: str
    handler: Handler
    bucket: Bucket | None
    auth: Auth = "bot"
    counts_global: bool = True

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


class RestApi:
    """Discord's REST routes over one :class:`World`."""

    def __init__(
        self,
        world: World,
        hub: GatewayHub,
        realism: Realism,
        stats: Stats,
        faults: FaultBook,
        observers: list[Callable[[Exchange], None]],
        gateway_url: Callable[[], str],
    ) -> None:
        self.world = world
        self.hub = hub
        self.realism = realism
        self.stats = stats
        self.faults = faults
        self.observers = observers
        self.gateway_url = gateway_url
        self.limiter = RateLimiter(realism, world.wall_offset)
        reactions = (
            _bucket("reactions", 1, realism.reaction_interval)
            if realism.reaction_interval > 0
            else None
        )
        E = Endpoint
        self.endpoints = [
            E("GET", "/users/@me", self.get_me, ACCOUNT),
            E("GET", "/oauth2/applications/@me", self.get_application, ACCOUNT),
            E("GET", "/applications/@me", self.get_application, ACCOUNT),
            E("GET", "/gateway", self.get_gateway, None, auth="webhook"),
            E("GET", "/gateway/bot", self.get_gateway_bot, ACCOUNT),
            E("GET", "/channels/{channel_id}", self.get_channel, CHANNEL_READ),
            E("PATCH", "/channels/{channel_id}", self.modify_channel, CHANNEL_EDIT),
            E("GET", "/channels/{channel_id}/messages/pins", self.list_pins, PINS),
            E("PUT", "/channels/{channel_id}/messages/pins/{message_id}", self.pin, PINS),
            E("DELETE", "/channels/{channel_id}/messages/pins/{message_id}", self.unpin, PINS),
            E("GET", "/channels/{channel_id}/pins", self.list_pins_legacy, PINS),
            E("PUT", "/channels/{channel_id}/pins/{message_id}", self.pin, PINS),
            E("DELETE", "/channels/{channel_id}/pins/{message_id}", self.unpin, PINS),
            E("GET", "/channels/{channel_id}/messages", self.list_messages, CHANNEL_READ),
            E("POST", "/channels/{channel_id}/messages", self.create_message, MESSAGE_CREATE),
            E(
                "GET",
                "/channels/{channel_id}/messages/{message_id}",
                self.get_message,
                CHANNEL_READ,
            ),
            E(
                "PATCH",
                "/channels/{channel_id}/messages/{message_id}",
                self.edit_message,
                MESSAGE_EDIT,
            ),
            E(
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}",
                self.delete_message,
                MESSAGE_DELETE,
            ),
            E(
                "PUT",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self.add_reaction,
                reactions,
            ),
            E(
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self.remove_own_reaction,
                reactions,
            ),
            E(
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}",
                self.remove_user_reaction,
                reactions,
            ),
            E("POST", "/channels/{channel_id}/typing", self.typing, TYPING),
            E(
                "POST",
                "/channels/{channel_id}/messages/{message_id}/threads",
                self.thread_from_message,
                THREADS,
            ),
            E("POST", "/channels/{channel_id}/threads", self.thread_without_message, THREADS),
            E("POST", "/channels/{channel_id}/webhooks", self.create_webhook, CHANNEL_EDIT),
            E("GET", "/guilds/{guild_id}/threads/active", self.active_threads, CHANNEL_READ),
            E("GET", "/applications/{application_id}/commands", self.get_commands, COMMANDS),
            E("PUT", "/applications/{application_id}/commands", self.put_commands, COMMANDS),
            E(
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self.get_commands,
                COMMANDS,
            ),
            E(
                "PUT",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self.put_commands,
                COMMANDS,
            ),
            E(
                "POST",
                "/interactions/{interaction_id}/{interaction_token}/callback",
                self.callback,
                None,
                auth="webhook",
                counts_global=False,
            ),
            E(
                "POST",
                "/webhooks/{webhook_id}/{webhook_token}",
                self.execute_webhook,
                WEBHOOK,
                auth="webhook",
                counts_global=False,
            ),
            E(
                "GET",
                "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
                self.get_original,
                WEBHOOK,
                auth="webhook",
                counts_global=False,
            ),
            E(
                "PATCH",
                "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
                self.edit_original,
                WEBHOOK,
                auth="webhook",
                counts_global=False,
            ),
            E(
                "DELETE",
                "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
                self.delete_original,
                WEBHOOK,
                auth="webhook",
                counts_global=False,
            ),
            E(
                "GET",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                self.get_webhook_message,
                WEBHOOK,
                auth="webhook",
                counts_global=False,
            ),
            E(
                "PATCH",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                self.edit_webhook_message,
                WEBHOOK,
                auth="webhook",
                counts_global=False,
            ),
            E(
                "DELETE",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                self.delete_webhook_message,
                WEBHOOK,
                auth="webhook",
                counts_global=False,
            ),
        ]

    def routes(self) -> list[Route]:
        """Starlette routes (mounted under ``/api/v10``) plus a Discord-style 404."""
        out = [Route(e.template, self._endpoint(e), methods=[e.method]) for e in self.endpoints]
        out.append(
            Route(
                "/{rest:path}",
                self._unknown_route,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            )
        )
        return out

    # ------------------------------------------------------------------ the wrapper

    def _endpoint(self, e: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await self.dispatch(e, request)

        return endpoint

    async def _unknown_route(self, request: Request) -> Response:
        raw = await request.body()
        return self._finish(
            request,
            "",
            raw,
            Body(json=None, files=[]),
            404,
            {"message": "404: Not Found", "code": 0},
            {},
        )

    async def dispatch(self, e: Endpoint, request: Request) -> Response:
        self.stats.requests[e.key] += 1
        raw = await request.body()
        body = Body(json=None, files=[], content_type=request.headers.get("content-type", ""))
        headers: dict[str, str] = {}
        try:
            body = parse_body(request.headers.get("content-type", ""), raw)
            for fault in self.faults.take(e.key):
                if fault.kind == "slow":
                    await trio.sleep(fault.delay)
                elif fault.kind == "5xx":
                    return self._finish(
                        request,
                        e.key,
                        raw,
                        body,
                        fault.status,
                        {"message": "Internal Server Error", "code": 0},
                        {},
                    )
                elif fault.kind == "429":
                    return self._rate_limited(
                        request,
                        e.key,
                        raw,
                        body,
                        fault.retry_after,
                        fault.scope,
                        fault.is_global,
                        {},
                    )
            token = self._auth(e, request)
            verdict = self.limiter.check(
                e.bucket,
                self._major(e, request),
                token,
                trio.current_time(),
                counts_global=e.counts_global,
            )
            headers = verdict.headers
            if not verdict.allowed:
                return self._rate_limited(
                    request,
                    e.key,
                    raw,
                    body,
                    verdict.retry_after,
                    verdict.scope or "user",
                    verdict.is_global,
                    headers,
                )
            call = Call(
                world=self.world,
                hub=self.hub,
                params=dict(request.path_params),
                query=dict(request.query_params),
                body=body,
            )
            status, payload = await e.handler(call)
        except DiscordHTTPError as exc:
            return self._finish(request, e.key, raw, body, exc.status, exc.body(), headers)
        return self._finish(request, e.key, raw, body, status, payload, headers)

    def _auth(self, e: Endpoint, request: Request) -> str | None:
        if e.auth != "bot":
            return None
        header = request.headers.get("authorization", "")
        if header != f"Bot {self.world.token}":
            raise DiscordHTTPError(401, 0, "401: Unauthorized")
        return self.world.token

    @staticmethod
    def _major(e: Endpoint, request: Request) -> str:
        p = request.path_params
        if "channel_id" in p:
            return str(p["channel_id"])
        if "guild_id" in p:
            return str(p["guild_id"])
        if "webhook_id" in p:
            return f"{p['webhook_id']}+{p.get('webhook_token', '')}"
        return ""

    def _rate_limited(
        self,
        request: Request,
        route: str,
        raw: bytes,
        body: Body,
        retry_after: float,
        scope: str,
        is_global: bool,
        headers: dict[str, str],
    ) -> Response:
        self.stats.responses_429 += 1
        if is_global:
            self.stats.global_429 += 1
        extra = {**headers, "Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": scope}
        if is_global:
            extra["X-RateLimit-Global"] = "true"
        payload = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
            "code": 0,
        }
        return self._finish(
            request, route, raw, body, 429, payload, extra, shared=scope == "shared"
        )

    def _finish(
        self,
        request: Request,
        route: str,
        raw: bytes,
        body: Body,
        status: int,
        payload: Any,
        headers: dict[str, str],
        *,
        shared: bool = False,
    ) -> Response:
        if status in (401, 403) or (status == 429 and not shared):
            self.stats.invalid_requests += 1
        if status >= 500:
            self.stats.errors_5xx += 1
        if payload is None:
            response = Response(status_code=status, headers=headers)
        else:
            response = Response(
                json.dumps(payload),
                status_code=status,
                headers=headers,
                media_type="application/json",
            )
        path = request.url.path
        base = request.scope.get("root_path", "")
        exchange = Exchange(
            method=request.method,
            path=path[len(base) :] if base and path.startswith(base) else path,
            route=route,
            query=dict(request.query_params),
            request_content_type=body.content_type,
            request_json=body.json,
            request_files=body.file_fields,
            status=status,
            response_headers=dict(headers),
            response_json=payload,
            user_agent=request.headers.get("user-agent", ""),
        )
        for observer in self.observers:
            observer(exchange)
        return response

    # ------------------------------------------------------------------ account and gateway

    async def get_me(self, call: Call) -> tuple[int, Any]:
        return 200, render.private_user(self.world.bot)

    async def get_application(self, call: Call) -> tuple[int, Any]:
        w = self.world
        owner = render.user(w.users[w.owner_id])
        return 200, {
            "id": str(w.application_id),
            "name": w.bot.username,
            "icon": None,
            "description": "ccbridge local Discord server",
            "type": None,
            "bot": render.user(w.bot),
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 1 << 19 | 1 << 15,  # GATEWAY_MESSAGE_CONTENT, GATEWAY_GUILD_MEMBERS
            "flags_new": str(1 << 19 | 1 << 15),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "owner": owner,
            "approximate_guild_count": 1,
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "team": None,
            "eligible_oauth2_scopes": [],
            "rpc_origins": [],
            "summary": "",
            "tags": [],
        }

    async def get_gateway(self, call: Call) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url()}

    async def get_gateway_bot(self, call: Call) -> tuple[int, Any]:
        total = self.realism.session_start_total
        return 200, {
            "url": self.gateway_url(),
            "shards": 1,
            "session_start_limit": {
                "total": total,
                "remaining": max(0, total - self.hub.sessions_started),
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    # ------------------------------------------------------------------ channels

    async def get_channel(self, call: Call) -> tuple[int, Any]:
        return 200, render.channel(self.world, self.world.channel(call.snowflake("channel_id")))

    async def modify_channel(self, call: Call) -> tuple[int, Any]:
        c = self.world.modify_channel(call.snowflake("channel_id"), call.json)
        return 200, render.channel(self.world, c)

    async def active_threads(self, call: Call) -> tuple[int, Any]:
        threads = [c for c in self.world.channels.values() if c.is_thread and not c.archived]
        return 200, {
            "has_more": False,
            "threads": [render.channel(self.world, t) for t in threads],
            "members": [
                render.thread_member(self.world, t, self.world.bot.id)
                for t in threads
                if self.world.bot.id in t.member_ids
            ],
        }

    # ------------------------------------------------------------------ messages

    def _check_message(self, body: JSON) -> None:
        errors = validation.check_message_body(
            body, documented=self.realism.enforce_documented_limits
        )
        if errors:
            raise invalid_form_body(errors)

    async def list_messages(self, call: Call) -> tuple[int, Any]:
        q = call.query
        limit = int(q.get("limit", "50")) if q.get("limit", "50").isdigit() else 50
        if not 1 <= limit <= 100:
            raise invalid_form_body(
                [
                    FieldError(
                        ("limit",), "NUMBER_TYPE_MAX", "int value should be between 1 and 100."
                    )
                ]
            )
        kwargs = {k: int(q[k]) for k in ("before", "after", "around") if q.get(k, "").isdigit()}
        messages = self.world.list_messages(call.snowflake("channel_id"), limit=limit, **kwargs)
        return 200, [render.message(self.world, m) for m in messages if not m.flags & 64]

    async def create_message(self, call: Call) -> tuple[int, Any]:
        body = call.json
        self._check_message(body)
        m = self.world.create_message(
            call.snowflake("channel_id"),
            self.world.bot.id,
            content=body.get("content") or "",
            embeds=body.get("embeds"),
            components=body.get("components"),
            files=call.body.files,
            flags=int(body.get("flags") or 0) & ~64,
            nonce=body.get("nonce"),
            enforce_nonce=bool(body.get("enforce_nonce")),
            message_reference=body.get("message_reference"),
            tts=bool(body.get("tts")),
        )
        return 200, render.message(self.world, m)

    async def get_message(self, call: Call) -> tuple[int, Any]:
        m = self.world.message(call.snowflake("channel_id"), call.snowflake("message_id"))
        return 200, render.message(self.world, m)

    async def edit_message(self, call: Call) -> tuple[int, Any]:
        body = call.json
        self._check_message(body)
        m = self.world.message(call.snowflake("channel_id"), call.snowflake("message_id"))
        m = self.world.edit_message(
            m, editor_id=self.world.bot.id, body=body, files=call.body.files
        )
        return 200, render.message(self.world, m)

    async def delete_message(self, call: Call) -> tuple[int, Any]:
        m = self.world.message(call.snowflake("channel_id"), call.snowflake("message_id"))
        self.world.delete_message(m)
        return 204, None

    # ------------------------------------------------------------------ reactions, pins, typing

    def _emoji(self, call: Call) -> str:
        emoji = call.params["emoji"]
        if not emoji or len(emoji) > 100:
            raise DiscordHTTPError(400, 10014, "Unknown Emoji")
        return emoji

    async def add_reaction(self, call: Call) -> tuple[int, Any]:
        m = self.world.message(call.snowflake("channel_id"), call.snowflake("message_id"))
        self.world.add_reaction(m, self._emoji(call), self.world.bot.id)
        return 204, None

    async def remove_own_reaction(self, call: Call) -> tuple[int, Any]:
        m = self.world.message(call.snowflake("channel_id"), call.snowflake("message_id"))
        self.world.remove_reaction(m, self._emoji(call), self.world.bot.id)
        return 204, None

    async def remove_user_reaction(self, call: Call) -> tuple[int, Any]:
        m = self.world.message(call.snowflake("channel_id"), call.snowflake("message_id"))
        self.world.remove_reaction(m, self._emoji(call), call.snowflake("user_id"))
        return 204, None

    async def pin(self, call: Call) -> tuple[int, Any]:
        self.world.pin(
            self.world.message(call.snowflake("channel_id"), call.snowflake("message_id"))
        )
        return 204, None

    async def unpin(self, call: Call) -> tuple[int, Any]:
        self.world.unpin(
            self.world.message(call.snowflake("channel_id"), call.snowflake("message_id"))
        )
        return 204, None

    async def list_pins(self, call: Call) -> tuple[int, Any]:
        c = self.world.channel(call.snowflake("channel_id"))
        limit = (
            int(call.query.get("limit", "50")) if call.query.get("limit", "50").isdigit() else 50
        )
        items = [self.world.messages[i] for i in c.pins]
        before = call.query.get("before")
        if before:
            items = [
                m
                for m in items
                if m.pinned_at is not None and self.world.wall(m.pinned_at) < _parse_iso(before)
            ]
        page = items[:limit]
        return 200, {
            "items": [
                {
                    "pinned_at": render.iso(self.world.wall(m.pinned_at or 0.0)),
                    "message": render.message(self.world, m),
                }
                for m in page
            ],
            "has_more": len(items) > len(page),
        }

    async def list_pins_legacy(self, call: Call) -> tuple[int, Any]:
        c = self.world.channel(call.snowflake("channel_id"))
        return 200, [render.message(self.world, self.world.messages[i]) for i in c.pins]

    async def typing(self, call: Call) -> tuple[int, Any]:
        self.world.typing(call.snowflake("channel_id"), self.world.bot.id)
        return 204, None

    # ------------------------------------------------------------------ threads and webhooks

    async def thread_from_message(self, call: Call) -> tuple[int, Any]:
        body = call.json
        errors = validation.check_thread_body(body)
        if errors:
            raise invalid_form_body(errors)
        m = self.world.message(call.snowflake("channel_id"), call.snowflake("message_id"))
        t = self.world.start_thread_from_message(
            m,
            name=body["name"],
            owner_id=self.world.bot.id,
            auto_archive_duration=body.get("auto_archive_duration"),
        )
        return 201, render.channel(self.world, t)

    async def thread_without_message(self, call: Call) -> tuple[int, Any]:
        body = call.json
        errors = validation.check_thread_body(body)
        if errors:
            raise invalid_form_body(errors)
        t = self.world.start_thread(
            call.snowflake("channel_id"),
            name=body["name"],
            owner_id=self.world.bot.id,
            kind=body.get("type"),
            auto_archive_duration=body.get("auto_archive_duration"),
        )
        return 201, render.channel(self.world, t)

    async def create_webhook(self, call: Call) -> tuple[int, Any]:
        name = call.json.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 80:
            raise invalid_form_body(
                [
                    FieldError(
                        ("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length."
                    )
                ]
            )
        w = self.world.add_webhook(call.snowflake("channel_id"), name)
        return 200, webhook_json(self.world, w)

    # ------------------------------------------------------------------ application commands

    def _guild(self, call: Call) -> int | None:
        if call.snowflake("application_id") != self.world.application_id:
            raise DiscordHTTPError(403, 50001, "Missing Access")
        return call.snowflake("guild_id") if "guild_id" in call.params else None

    async def get_commands(self, call: Call) -> tuple[int, Any]:
        guild = self._guild(call)
        return 200, [render.command(self.world, c) for c in self.world.list_commands(guild)]

    async def put_commands(self, call: Call) -> tuple[int, Any]:
        guild = self._guild(call)
        body = call.body.json
        if not isinstance(body, list):
            raise invalid_form_body([FieldError((), "LIST_TYPE_CONVERT", "Must be an array.")])
        errors = [e for i, c in enumerate(body) for e in validation.check_command(c, (i,))]
        if errors:
            raise invalid_form_body(errors)
        commands = self.world.overwrite_commands(guild, body)
        return 200, [render.command(self.world, c) for c in commands]

    # ------------------------------------------------------------------ interactions

    async def callback(self, call: Call) -> tuple[int, Any]:
        body = call.json
        kind = body.get("type")
        if not isinstance(kind, int) or kind not in (1, 4, 5, 6, 7, 8, 9):
            raise invalid_form_body(
                [
                    FieldError(
                        ("type",),
                        "BASE_TYPE_CHOICES",
                        f"Value must be one of (1, 4, 5, 6, 7, 8, 9, 10, 12), got {kind!r}.",
                    )
                ]
            )
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise invalid_form_body(
                [
                    FieldError(
                        ("data",),
                        "DICT_TYPE_CONVERT",
                        "Only dictionaries may be used in a DictType",
                    )
                ]
            )
        errors: list[FieldError] = []
        if kind in (4, 7):
            errors = [
                attrs.evolve(e, path=("data", *e.path))
                for e in validation.check_message_body(
                    data, documented=self.realism.enforce_documented_limits
                )
            ]
        elif kind == 8:
            errors = validation.check_choices(data)
        elif kind == 9:
            errors = validation.check_modal(data)
        if errors:
            raise invalid_form_body(errors)
        inter = self.world.respond(
            call.snowflake("interaction_id"),
            call.params["interaction_token"],
            kind,
            data,
            call.body.files,
        )
        if call.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        out: JSON = {"interaction": {"id": str(inter.id), "type": inter.type}}
        if inter.original_message_id is not None:
            m = self.world.messages[inter.original_message_id]
            out["interaction"].update(
                response_message_id=str(m.id),
                response_message_loading=bool(m.flags & LOADING),
                response_message_ephemeral=bool(m.flags & 64),
            )
            out["resource"] = {"type": kind, "message": render.message(self.world, m)}
        elif kind == 7 and inter.message_id is not None:
            out["resource"] = {
                "type": kind,
                "message": render.message(self.world, self.world.messages[inter.message_id]),
            }
        return 200, out

    def _webhook_target(self, call: Call) -> tuple[str, Any]:
        """A webhook-token route names either an incoming webhook or an interaction."""
        webhook_id = call.snowflake("webhook_id")
        token = call.params["webhook_token"]
        if webhook_id == self.world.application_id:
            return "interaction", self.world.interaction_by_token(token, for_webhook=True)
        return "webhook", self.world.webhook(webhook_id, token)

    async def execute_webhook(self, call: Call) -> tuple[int, Any]:
        body = call.json
        self._check_message(body)
        kind, target = self._webhook_target(call)
        if kind == "interaction":
            m = self.world.followup(target, body, call.body.files)
            return 200, render.message(self.world, m)
        channel_id = target.channel_id
        if call.query.get("thread_id", "").isdigit():
            channel_id = int(call.query["thread_id"])
        m = self.world.create_message(
            channel_id,
            target.id,
            content=body.get("content") or "",
            embeds=body.get("embeds"),
            components=body.get("components"),
            files=call.body.files,
            webhook_id=target.id,
            tts=bool(body.get("tts")),
        )
        if call.query.get("wait", "").lower() in ("1", "true"):
            return 200, render.message(self.world, m)
        return 204, None

    def _webhook_message(self, call: Call, message_id: int | None) -> Message:
        kind, target = self._webhook_target(call)
        if kind == "interaction":
            if message_id is None:
                return self.world.original_message(target)
            if message_id not in target.followup_ids and message_id != target.original_message_id:
                raise not_found(UNKNOWN_MESSAGE, "Message")
            return self.world.find_message(message_id)
        if message_id is None:
            raise not_found(UNKNOWN_WEBHOOK, "Webhook")
        m = self.world.find_message(message_id)
        if m.webhook_id != target.id:
            raise not_found(UNKNOWN_MESSAGE, "Message")
        return m

    def _message_id(self, call: Call) -> int | None:
        return call.snowflake("message_id") if "message_id" in call.params else None

    async def get_original(self, call: Call) -> tuple[int, Any]:
        return 200, render.message(self.world, self._webhook_message(call, None))

    async def edit_original(self, call: Call) -> tuple[int, Any]:
        body = call.json
        self._check_message(body)
        m = self.world.edit_message(
            self._webhook_message(call, None), editor_id=None, body=body, files=call.body.files
        )
        return 200, render.message(self.world, m)

    async def delete_original(self, call: Call) -> tuple[int, Any]:
        self.world.delete_message(self._webhook_message(call, None))
        return 204, None

    async def get_webhook_message(self, call: Call) -> tuple[int, Any]:
        return 200, render.message(self.world, self._webhook_message(call, self._message_id(call)))

    async def edit_webhook_message(self, call: Call) -> tuple[int, Any]:
        body = call.json
        self._check_message(body)
        m = self.world.edit_message(
            self._webhook_message(call, self._message_id(call)),
            editor_id=None,
            body=body,
            files=call.body.files,
        )
        return 200, render.message(self.world, m)

    async def delete_webhook_message(self, call: Call) -> tuple[int, Any]:
        self.world.delete_message(self._webhook_message(call, self._message_id(call)))
        return 204, None


def webhook_json(world: World, w: Any) -> JSON:
    return {
        "id": str(w.id),
        "type": 1,
        "guild_id": str(world.guild_id),
        "channel_id": str(w.channel_id),
        "name": w.name,
        "avatar": None,
        "token": w.token,
        "application_id": None,
        "user": render.user(world.bot),
    }


def _parse_iso(value: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise invalid_form_body(
            [FieldError(("before",), "DATE_TYPE_CONVERT", "Could not interpret value as a date.")]
        ) from None
