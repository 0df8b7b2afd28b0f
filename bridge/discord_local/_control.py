"""The control API: act as humans, observe everything, inject faults, read statistics.

:class:`Control` holds the operations; the same methods serve ``/_control/...`` over HTTP
(see ``docs/discord-local.md``) and Python callers in tests (``server.control``). Every
method returns plain JSON-ready data, so both faces give identical answers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _render as render
from ._errors import DiscordHTTPError, FieldError, invalid_form_body
from ._faults import FaultBook, RestFault
from ._gateway import GatewayHub
from ._records import Interaction, Message
from ._rest import webhook_json
from ._stats import Stats
from ._world import NewFile, World

JSON = dict[str, Any]

MAX_WAIT = 600.0
"""Longest ``/wait`` in seconds: a forgotten long-poll must not hold a request forever."""


def _id(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise invalid_form_body(
        [FieldError((name,), "NUMBER_TYPE_COERCE", f"{name} must be a snowflake, got {value!r}")]
    )


class Control:
    """Operations of the control API over one server's state."""

    def __init__(self, world: World, hub: GatewayHub, stats: Stats, faults: FaultBook) -> None:
        self.world = world
        self.hub = hub
        self.stats = stats
        self.faults = faults

    # ------------------------------------------------------------------ observing

    def state(self) -> JSON:
        w = self.world
        return {
            "guild_id": str(w.guild_id),
            "guild_name": w.guild_name,
            "application_id": str(w.application_id),
            "bot": render.user(w.bot),
            "default_channel_id": str(w.default_channel.id),
            "users": [render.user(u) for u in w.users.values()],
            "channels": [self.channel(c.id) for c in w.channels.values()],
        }

    def channel(self, channel_id: Any) -> JSON:
        c = self.world.channel(_id(channel_id, "channel_id"))
        return {
            **render.channel(self.world, c),
            "archived": c.archived,
            "locked": c.locked,
            "threads": [str(t.id) for t in self.world.channels.values() if t.parent_id == c.id],
            "message_ids": [str(i) for i in c.message_ids],
            "pins": [str(i) for i in c.pins],
            "member_ids": [str(i) for i in c.member_ids],
        }

    def message(self, message_id: Any) -> JSON:
        m = self.world.messages.get(_id(message_id, "message_id"))
        if m is None:
            raise DiscordHTTPError(404, 10008, "Unknown Message")
        return self._message(m)

    def _message(self, m: Message) -> JSON:
        return {
            **render.message(self.world, m),
            "deleted": m.deleted_at is not None,
            "ephemeral": bool(m.flags & 64),
            "thread_id": str(m.thread_id) if m.thread_id else None,
            "reaction_users": {k: [str(u) for u in v] for k, v in m.reactions.items()},
            "versions": [
                {
                    "content": v.content,
                    "embeds": v.embeds,
                    "components": v.components,
                    "attachment_ids": [str(a) for a in v.attachment_ids],
                    "visible_at": v.visible_at,
                    "visible_at_wall": v.visible_at_wall,
                }
                for v in m.versions
            ],
        }

    def messages(self, channel_id: Any, include_deleted: bool = False) -> list[JSON]:
        """Every message of a channel, oldest first, with history (deleted ones on request)."""
        cid = _id(channel_id, "channel_id")
        self.world.channel(cid)
        found = [m for m in self.world.messages.values() if m.channel_id == cid]
        return [self._message(m) for m in found if include_deleted or m.deleted_at is None]

    def interaction(self, interaction_id: Any) -> JSON:
        inter = self.world.interactions.get(_id(interaction_id, "interaction_id"))
        if inter is None:
            raise DiscordHTTPError(404, 10062, "Unknown interaction")
        return self._interaction(inter)

    def _interaction(self, inter: Interaction) -> JSON:
        return {
            "id": str(inter.id),
            "token": inter.token,
            "type": inter.type,
            "data": inter.data,
            "channel_id": str(inter.channel_id),
            "user_id": str(inter.user_id),
            "message_id": str(inter.message_id) if inter.message_id else None,
            "response_type": inter.response_type,
            "response_data": inter.response_data,
            "responded_after": (inter.responded_at - inter.created_at)
            if inter.responded_at is not None
            else None,
            "original_message_id": str(inter.original_message_id)
            if inter.original_message_id
            else None,
            "followup_ids": [str(i) for i in inter.followup_ids],
            "choices": inter.choices,
            "modal": inter.modal,
            "late_attempts": inter.late_attempts,
        }

    def stats_json(self) -> JSON:
        return self.stats.as_json()

    def gateway(self) -> JSON:
        return self.hub.snapshot()

    # ------------------------------------------------------------------ waiting

    async def wait(
        self,
        *,
        channel_id: Any = None,
        contains: str | None = None,
        parent_id: Any = None,
        name_contains: str | None = None,
        message_id: Any = None,
        emoji: str | None = None,
        user_id: Any = None,
        timeout: Any = 10.0,
    ) -> JSON:
        """Wait until one condition holds on the state and return what satisfied it.

        Exactly one kind of condition per call:

        * ``channel_id`` (and ``contains``): a message in that channel or thread, not
          deleted, whose current content or an embed's title or description contains
          ``contains`` (without it, any message); returns the oldest such message. The
          channel need not exist yet (a thread the bot has still to create).
        * ``parent_id`` (and ``name_contains``): a thread or channel under that parent whose
          name contains ``name_contains``; returns the oldest such channel.
        * ``message_id`` and ``emoji`` (and ``user_id``): that reaction on that message (by
          that user); returns the message.

        This is the control API's answer to "poll until": a client in another process
        makes one request, and the server answers the moment the world changes to satisfy
        it (:meth:`World.wait_until`), so neither side sleeps.

        Raises:
            DiscordHTTPError: 400 for a malformed or ambiguous condition; 408 when the
                condition still does not hold after ``timeout`` seconds (at most
                :data:`MAX_WAIT`).
        """
        seconds = _timeout(timeout)
        kinds = [
            kind
            for kind, given in (
                ("channel_id", channel_id is not None),
                ("parent_id", parent_id is not None),
                ("message_id", message_id is not None),
            )
            if given
        ]
        if len(kinds) != 1:
            raise invalid_form_body(
                [
                    FieldError(
                        (),
                        "WAIT_CONDITION",
                        "Give exactly one of channel_id (a message), parent_id (a channel) or"
                        f" message_id with emoji (a reaction); got {kinds or 'none'}",
                    )
                ]
            )
        predicate: Callable[[], JSON | None]
        if channel_id is not None:
            predicate = self._message_predicate(_id(channel_id, "channel_id"), contains)
            what = f"a message in channel {channel_id} containing {contains!r}"
        elif parent_id is not None:
            predicate = self._channel_predicate(_id(parent_id, "parent_id"), name_contains)
            what = f"a channel under {parent_id} named like {name_contains!r}"
        else:
            if not isinstance(emoji, str) or not emoji:
                raise invalid_form_body(
                    [FieldError(("emoji",), "BASE_TYPE_REQUIRED", "A reaction wait needs emoji")]
                )
            uid = _id(user_id, "user_id") if user_id is not None else None
            predicate = self._reaction_predicate(_id(message_id, "message_id"), emoji, uid)
            what = f"reaction {emoji!r} on message {message_id}"
        try:
            return await self.world.wait_until(predicate, seconds)
        except trio.TooSlowError:
            raise DiscordHTTPError(
                408, 0, f"Still no {what} after {seconds} s; the state is unchanged"
            ) from None

    def _message_predicate(
        self, channel_id: int, contains: str | None
    ) -> Callable[[], JSON | None]:
        def found() -> JSON | None:
            c = self.world.channels.get(channel_id)
            for mid in c.message_ids if c is not None else ():
                m = self.world.messages[mid]
                if m.deleted_at is None and (contains is None or contains in _shown(m)):
                    return self._message(m)
            return None

        return found

    def _channel_predicate(
        self, parent_id: int, name_contains: str | None
    ) -> Callable[[], JSON | None]:
        def found() -> JSON | None:
            for c in self.world.channels.values():
                if c.parent_id == parent_id and (name_contains is None or name_contains in c.name):
                    return self.channel(c.id)
            return None

        return found

    def _reaction_predicate(
        self, message_id: int, emoji: str, user_id: int | None
    ) -> Callable[[], JSON | None]:
        def found() -> JSON | None:
            m = self.world.messages.get(message_id)
            if m is None:
                return None
            users = m.reactions.get(emoji, [])
            if users and (user_id is None or user_id in users):
                return self._message(m)
            return None

        return found

    # ------------------------------------------------------------------ acting as humans

    def create_user(self, username: str, global_name: str | None = None) -> JSON:
        if not isinstance(username, str) or not 1 <= len(username) <= 32:
            raise invalid_form_body(
                [
                    FieldError(
                        ("username",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."
                    )
                ]
            )
        return render.user(self.world.add_user(username, global_name=global_name))

    def create_role(self, name: str) -> JSON:
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise invalid_form_body(
                [
                    FieldError(
                        ("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                    )
                ]
            )
        return render.role(self.world, self.world.add_role(name))

    def set_member_roles(self, user_id: Any, role_ids: Any) -> JSON:
        """Give a member exactly these roles (replacing the ones it had)."""
        if not isinstance(role_ids, list):
            raise invalid_form_body(
                [FieldError(("role_ids",), "BASE_TYPE_REQUIRED", "Must be a list of role ids.")]
            )
        ids = [_id(r, "role_ids") for r in role_ids]
        u = self.world.set_member_roles(_id(user_id, "user_id"), ids)
        return render.member(self.world, u)

    def create_channel(self, name: str, topic: str | None = None) -> JSON:
        return self.channel(self.world.add_channel(name, topic=topic).id)

    def create_webhook(self, channel_id: Any, name: str) -> JSON:
        return webhook_json(self.world, self.world.add_webhook(_id(channel_id, "channel_id"), name))

    def post_message(
        self,
        channel_id: Any,
        author_id: Any,
        content: str = "",
        *,
        attachments: list[JSON] | None = None,
        embeds: list[JSON] | None = None,
        reply_to: Any = None,
    ) -> JSON:
        """A user posts. Attachments: ``{filename, content_type?, text | base64}``."""
        author = self.world.user(_id(author_id, "author_id"))
        files = []
        for i, a in enumerate(attachments or []):
            if "base64" in a:
                data = base64.b64decode(a["base64"])
            elif "text" in a:
                data = str(a["text"]).encode()
            else:
                raise invalid_form_body(
                    [FieldError(("attachments", i), "BASE_TYPE_REQUIRED", "Give text or base64")]
                )
            files.append(
                NewFile(filename=a["filename"], data=data, content_type=a.get("content_type"))
            )
        ref = {"message_id": str(_id(reply_to, "reply_to"))} if reply_to is not None else None
        m = self.world.create_message(
            _id(channel_id, "channel_id"),
            author.id,
            content=content,
            files=files,
            embeds=embeds,
            message_reference=ref,
        )
        return self._message(m)

    def react(self, message_id: Any, user_id: Any, emoji: str, remove: bool = False) -> JSON:
        m = self.world.find_message(_id(message_id, "message_id"))
        uid = self.world.user(_id(user_id, "user_id")).id
        if remove:
            self.world.remove_reaction(m, emoji, uid)
        else:
            self.world.add_reaction(m, emoji, uid)
        return self._message(m)

    def set_pinned(self, message_id: Any, pinned: bool = True) -> JSON:
        """A moderator pins or unpins a message (CHANNEL_PINS_UPDATE)."""
        if not isinstance(pinned, bool):
            raise DiscordHTTPError(400, 50035, "pinned must be true or false")
        m = self.world.find_message(_id(message_id, "message_id"))
        if pinned:
            self.world.pin(m)
        else:
            self.world.unpin(m)
        return self._message(m)

    def delete_message(self, message_id: Any) -> JSON:
        """A moderator deletes a message, anyone's (MESSAGE_DELETE); it is unpinned."""
        m = self.world.find_message(_id(message_id, "message_id"))
        self.world.delete_message(m)
        return {"id": str(m.id), "deleted": True}

    def invoke_command(
        self, user_id: Any, channel_id: Any, name: str, options: list[JSON] | None = None
    ) -> JSON:
        inter = self.world.invoke_command(
            _id(user_id, "user_id"), _id(channel_id, "channel_id"), name, options
        )
        return self._interaction(inter)

    async def autocomplete(
        self, user_id: Any, channel_id: Any, name: str, options: list[JSON], timeout: float = 3.0
    ) -> JSON:
        """Type into an autocomplete option (mark it ``focused``) and wait for the choices."""
        inter = self.world.invoke_command(
            _id(user_id, "user_id"), _id(channel_id, "channel_id"), name, options, autocomplete=True
        )
        try:
            await self.world.wait_until(lambda: inter.choices is not None, timeout)
        except trio.TooSlowError:
            raise DiscordHTTPError(
                504, 0, f"The application sent no autocomplete result within {timeout} s"
            ) from None
        return self._interaction(inter)

    def ping(self) -> JSON:
        """Create a PING interaction (answer it with callback type 1)."""
        return self._interaction(self.world.ping())

    def click_button(self, user_id: Any, message_id: Any, custom_id: str) -> JSON:
        return self._interaction(
            self.world.click_button(
                _id(user_id, "user_id"), _id(message_id, "message_id"), custom_id
            )
        )

    def select(self, user_id: Any, message_id: Any, custom_id: str, values: list[str]) -> JSON:
        return self._interaction(
            self.world.select(
                _id(user_id, "user_id"), _id(message_id, "message_id"), custom_id, values
            )
        )

    def submit_modal(
        self, interaction_id: Any, values: dict[str, str], user_id: Any = None
    ) -> JSON:
        uid = _id(user_id, "user_id") if user_id is not None else None
        return self._interaction(
            self.world.submit_modal(_id(interaction_id, "interaction_id"), values, uid)
        )

    # ------------------------------------------------------------------ faults

    def gateway_fault(
        self,
        action: str,
        *,
        session_id: str | None = None,
        resumable: bool = False,
        code: int = 4000,
    ) -> JSON:
        hub = self.hub
        if action == "drop":
            n = hub.inject_drop(session_id)
        elif action == "reconnect":
            n = hub.inject_reconnect(session_id)
        elif action == "invalid_session":
            n = hub.inject_invalid_session(resumable, session_id)
        elif action == "close":
            n = hub.inject_close(code, session_id)
        elif action == "heartbeat_request":
            n = hub.inject_heartbeat_request(session_id)
        elif action in ("stop_acks", "resume_acks"):
            hub.set_ack_heartbeats(action == "resume_acks")
            n = len(hub.connections)
        else:
            raise invalid_form_body(
                [FieldError(("action",), "BASE_TYPE_CHOICES", f"Unknown gateway fault {action!r}")]
            )
        return {"affected": n}

    def dispatch(self, event: str, data: Any = None, session_id: str | None = None) -> JSON:
        if not isinstance(event, str) or not event:
            raise invalid_form_body(
                [FieldError(("event",), "BASE_TYPE_REQUIRED", "event must be a dispatch name")]
            )
        return {"sessions": self.hub.inject_dispatch(event, data, session_id)}

    def rest_fault(self, **fields: Any) -> JSON:
        if "global" in fields:
            fields["is_global"] = fields.pop("global")
        try:
            fault = RestFault(**fields)
        except TypeError as exc:
            raise invalid_form_body([FieldError((), "FAULT_INVALID", str(exc))]) from None
        if fault.kind not in ("429", "5xx", "slow"):
            raise invalid_form_body(
                [FieldError(("kind",), "BASE_TYPE_CHOICES", "kind must be 429, 5xx or slow")]
            )
        self.faults.arm(fault)
        return {"armed": len(self.faults.faults)}

    def clear_faults(self) -> JSON:
        self.faults.clear()
        self.hub.set_ack_heartbeats(True)
        return {"armed": 0}

    # ------------------------------------------------------------------ HTTP face

    def routes(self) -> list[Route]:
        R = Route
        j = self._json_route
        return [
            R("/state", j(lambda b, p: self.state()), methods=["GET"]),
            R("/stats", j(lambda b, p: self.stats_json()), methods=["GET"]),
            R("/gateway", j(lambda b, p: self.gateway()), methods=["GET"]),
            R("/users", j(lambda b, p: self.create_user(**b)), methods=["POST"]),
            R("/roles", j(lambda b, p: self.create_role(**b)), methods=["POST"]),
            R(
                "/members/{user_id}/roles",
                j(lambda b, p: self.set_member_roles(p["user_id"], **b)),
                methods=["PUT"],
            ),
            R(
                "/channels",
                j(lambda b, p: [self.channel(c) for c in self.world.channels]),
                methods=["GET"],
            ),
            R("/channels", j(lambda b, p: self.create_channel(**b)), methods=["POST"]),
            R(
                "/channels/{channel_id}",
                j(lambda b, p: self.channel(p["channel_id"])),
                methods=["GET"],
            ),
            R(
                "/channels/{channel_id}/messages",
                j(lambda b, p: self.messages(p["channel_id"])),
                methods=["GET"],
            ),
            R(
                "/channels/{channel_id}/messages",
                j(lambda b, p: self.post_message(p["channel_id"], **b)),
                methods=["POST"],
            ),
            R(
                "/channels/{channel_id}/webhooks",
                j(lambda b, p: self.create_webhook(p["channel_id"], **b)),
                methods=["POST"],
            ),
            R(
                "/messages/{message_id}",
                j(lambda b, p: self.message(p["message_id"])),
                methods=["GET"],
            ),
            R(
                "/messages/{message_id}/reactions",
                j(lambda b, p: self.react(p["message_id"], **b)),
                methods=["POST"],
            ),
            R(
                "/messages/{message_id}/pin",
                j(lambda b, p: self.set_pinned(p["message_id"], **b)),
                methods=["POST"],
            ),
            R(
                "/messages/{message_id}",
                j(lambda b, p: self.delete_message(p["message_id"])),
                methods=["DELETE"],
            ),
            R("/interactions/command", j(lambda b, p: self.invoke_command(**b)), methods=["POST"]),
            R("/interactions/autocomplete", self._autocomplete_route, methods=["POST"]),
            R("/wait", self._wait_route, methods=["GET"]),
            R("/interactions/ping", j(lambda b, p: self.ping()), methods=["POST"]),
            R("/interactions/button", j(lambda b, p: self.click_button(**b)), methods=["POST"]),
            R("/interactions/select", j(lambda b, p: self.select(**b)), methods=["POST"]),
            R("/interactions/modal", j(lambda b, p: self.submit_modal(**b)), methods=["POST"]),
            R(
                "/interactions/{interaction_id}",
                j(lambda b, p: self.interaction(p["interaction_id"])),
                methods=["GET"],
            ),
            R("/faults/gateway", j(lambda b, p: self.gateway_fault(**b)), methods=["POST"]),
            R("/faults/rest", j(lambda b, p: self.rest_fault(**b)), methods=["POST"]),
            R("/faults/dispatch", j(lambda b, p: self.dispatch(**b)), methods=["POST"]),
            R("/faults", j(lambda b, p: self.clear_faults()), methods=["DELETE"]),
        ]

    def _json_route(
        self, fn: Callable[[JSON, dict[str, str]], Any]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = await _read_json(request)
                result = fn(body, dict(request.path_params))
            except DiscordHTTPError as exc:
                return _json(exc.status, exc.body())
            except TypeError as exc:  # unexpected or missing keyword: the caller's mistake
                return _json(400, {"code": 50035, "message": f"Bad control request: {exc}"})
            return _json(200, result)

        return endpoint

    async def _autocomplete_route(self, request: Request) -> Response:
        try:
            body = await _read_json(request)
            return _json(200, await self.autocomplete(**body))
        except DiscordHTTPError as exc:
            return _json(exc.status, exc.body())
        except TypeError as exc:
            return _json(400, {"code": 50035, "message": f"Bad control request: {exc}"})

    async def _wait_route(self, request: Request) -> Response:
        try:
            return _json(200, await self.wait(**dict(request.query_params)))
        except DiscordHTTPError as exc:
            return _json(exc.status, exc.body())
        except TypeError as exc:
            return _json(400, {"code": 50035, "message": f"Bad control request: {exc}"})


def _shown(m: Message) -> str:
    """The text a reader sees in a message: content, then embed titles and descriptions."""
    parts = [m.content]
    for embed in m.embeds:
        parts += [str(embed.get("title", "")), str(embed.get("description", ""))]
    return "\n".join(parts)


def _timeout(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds <= MAX_WAIT:  # also rejects nan
        raise invalid_form_body(
            [
                FieldError(
                    ("timeout",),
                    "NUMBER_TYPE_MAX",
                    f"timeout must be seconds between 0 and {MAX_WAIT}, got {value!r}",
                )
            ]
        )
    return seconds


async def _read_json(request: Request) -> JSON:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise DiscordHTTPError(400, 50109, "The request body contains invalid JSON.") from None
    if not isinstance(body, dict):
        raise invalid_form_body(
            [FieldError((), "DICT_TYPE_CONVERT", "The body must be a JSON object")]
        )
    return body


def _json(status: int, payload: Any) -> Response:
    return Response(json.dumps(payload), status_code=status, media_type="application/json")
