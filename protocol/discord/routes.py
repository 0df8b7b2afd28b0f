"""Every REST route ccbridge uses, by name, and the rate-limit key of a compiled route.

Discord computes rate limits per route *and* per top-level resource, its "major
parameters": ``channel_id``, ``guild_id``, and ``webhook_id`` with ``webhook_token``
(docs ``topics/rate-limits.mdx``). Two requests to the same route template for different
channels are in different buckets; two for the same channel share one. So a compiled route
carries:

* ``route_key``: ``"METHOD /template"``, which :mod:`.ratelimit` maps to the bucket hash
  Discord reports in ``X-RateLimit-Bucket`` once it has seen one response;
* ``major``: the major parameters' values, appended to that hash to name the bucket.

Webhook tokens (including interaction tokens, used on the followup routes) are secrets, so
``major`` holds a short digest of the token, never the token.

Templates use the OpenAPI description's parameter names: the followup and ``@original``
routes are ``/webhooks/{webhook_id}/{webhook_token}/...`` with the application id as
``webhook_id`` and the interaction token as ``webhook_token``.
"""

from __future__ import annotations

import functools
import hashlib
import string
from typing import Any, Final
from urllib.parse import quote

import attrs

__all__ = [
    "ADD_OWN_REACTION",
    "BULK_OVERWRITE_GLOBAL_COMMANDS",
    "BULK_OVERWRITE_GUILD_COMMANDS",
    "CREATE_FOLLOWUP_MESSAGE",
    "CREATE_INTERACTION_RESPONSE",
    "CREATE_MESSAGE",
    "CREATE_WEBHOOK",
    "DELETE_ALL_REACTIONS",
    "DELETE_ALL_REACTIONS_FOR_EMOJI",
    "DELETE_FOLLOWUP_MESSAGE",
    "DELETE_MESSAGE",
    "DELETE_ORIGINAL_RESPONSE",
    "DELETE_OWN_REACTION",
    "DELETE_USER_REACTION",
    "EDIT_FOLLOWUP_MESSAGE",
    "EDIT_MESSAGE",
    "EDIT_ORIGINAL_RESPONSE",
    "EXECUTE_WEBHOOK",
    "GET_ACTIVE_THREADS",
    "GET_CHANNEL",
    "GET_CHANNEL_WEBHOOKS",
    "GET_CURRENT_USER",
    "GET_GATEWAY_BOT",
    "GET_GLOBAL_COMMANDS",
    "GET_GUILD",
    "GET_GUILD_CHANNELS",
    "GET_GUILD_COMMANDS",
    "GET_MESSAGE",
    "GET_MESSAGES",
    "GET_ORIGINAL_RESPONSE",
    "GET_PINS",
    "JOIN_THREAD",
    "MAJOR_PARAMETERS",
    "MODIFY_CHANNEL",
    "PIN_MESSAGE",
    "ROUTES",
    "START_THREAD",
    "START_THREAD_FROM_MESSAGE",
    "TRIGGER_TYPING",
    "UNPIN_MESSAGE",
    "CompiledRoute",
    "Route",
    "RouteError",
]

MAJOR_PARAMETERS: Final = ("channel_id", "guild_id", "webhook_id")
"""Top-level resources; ``webhook_id`` goes with ``webhook_token`` when the route has one."""


@attrs.define(auto_exc=True, kw_only=True)
class RouteError(Exception):
    """A route was compiled with missing or extra parameters (a bug in the caller)."""

    route: str
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing {', '.join(self.missing)}")
        if self.extra:
            parts.append(f"unexpected {', '.join(self.extra)}")
        return f"cannot compile route {self.route}: {'; '.join(parts)}"


@attrs.frozen
class Route:
    """A REST route: method, path template and how it is rate limited."""

    name: str
    method: str
    template: str
    global_limited: bool = True
    """False for interaction callbacks: they are not subject to the global 50/s limit."""
    reaction: bool = False
    """Reaction routes: paced one call per channel per 0.25 s, whatever the headers say."""

    @property
    def key(self) -> str:
        return _key(self.method, self.template)

    @property
    def parameters(self) -> tuple[str, ...]:
        return _parameters(self.template)

    def compile(self, **params: Any) -> CompiledRoute:
        """Fill the template. Values are percent-encoded; a custom ``emoji_name`` of the
        form ``name:id`` keeps its colon.

        Raises:
            RouteError: a parameter is missing or not part of the template.
        """
        wanted = self.parameters
        missing = tuple(p for p in wanted if p not in params)
        extra = tuple(p for p in params if p not in wanted)
        if missing or extra:
            raise RouteError(route=self.name, missing=missing, extra=extra)
        path = self.template.format(
            **{k: quote(str(v), safe=":@" if k == "emoji_name" else "@") for k, v in params.items()}
        )
        return CompiledRoute(route=self, path=path, major=_major(params))


# Cached: the scheduler and the limiter ask for these on every pick and every request.
@functools.cache
def _key(method: str, template: str) -> str:
    return f"{method} {template}"


@functools.cache
def _parameters(template: str) -> tuple[str, ...]:
    return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f)


@functools.lru_cache(maxsize=4096)
def _channel_of(major: str) -> str | None:
    for part in major.split("&"):
        if part.startswith("channel_id="):
            return part.removeprefix("channel_id=")
    return None


def _major(params: dict[str, Any]) -> str:
    parts = [f"{name}={params[name]}" for name in ("channel_id", "guild_id") if name in params]
    if "webhook_id" in params:
        part = f"webhook_id={params['webhook_id']}"
        token = params.get("webhook_token")
        if token is not None:
            # The bucket is per webhook+token; a digest keeps the token out of keys and logs.
            part += "+token=" + hashlib.sha256(str(token).encode()).hexdigest()[:16]
        parts.append(part)
    return "&".join(parts)


@attrs.frozen
class CompiledRoute:
    route: Route
    path: str
    """The path below the API base, e.g. ``/channels/1/messages``."""
    major: str
    """Major parameter values (``channel_id=1``), part of the bucket name."""

    @property
    def method(self) -> str:
        return self.route.method

    @property
    def route_key(self) -> str:
        return self.route.key

    @property
    def channel_id(self) -> str | None:
        """The channel this request is about, if the route has one (reaction pacing)."""
        return _channel_of(self.major)


def _r(name: str, method: str, template: str, **options: Any) -> Route:
    return Route(name=name, method=method, template=template, **options)


_MSG = "/channels/{channel_id}/messages/{message_id}"
_REACTIONS = _MSG + "/reactions"
_HOOK = "/webhooks/{webhook_id}/{webhook_token}"

GET_CURRENT_USER: Final = _r("GET_CURRENT_USER", "GET", "/users/@me")
GET_GATEWAY_BOT: Final = _r("GET_GATEWAY_BOT", "GET", "/gateway/bot")
GET_GUILD: Final = _r("GET_GUILD", "GET", "/guilds/{guild_id}")
GET_GUILD_CHANNELS: Final = _r("GET_GUILD_CHANNELS", "GET", "/guilds/{guild_id}/channels")
GET_ACTIVE_THREADS: Final = _r("GET_ACTIVE_THREADS", "GET", "/guilds/{guild_id}/threads/active")
GET_CHANNEL: Final = _r("GET_CHANNEL", "GET", "/channels/{channel_id}")
MODIFY_CHANNEL: Final = _r("MODIFY_CHANNEL", "PATCH", "/channels/{channel_id}")
GET_MESSAGES: Final = _r("GET_MESSAGES", "GET", "/channels/{channel_id}/messages")
CREATE_MESSAGE: Final = _r("CREATE_MESSAGE", "POST", "/channels/{channel_id}/messages")
GET_MESSAGE: Final = _r("GET_MESSAGE", "GET", _MSG)
EDIT_MESSAGE: Final = _r("EDIT_MESSAGE", "PATCH", _MSG)
DELETE_MESSAGE: Final = _r("DELETE_MESSAGE", "DELETE", _MSG)
ADD_OWN_REACTION: Final = _r(
    "ADD_OWN_REACTION", "PUT", _REACTIONS + "/{emoji_name}/@me", reaction=True
)
DELETE_OWN_REACTION: Final = _r(
    "DELETE_OWN_REACTION", "DELETE", _REACTIONS + "/{emoji_name}/@me", reaction=True
)
DELETE_USER_REACTION: Final = _r(
    "DELETE_USER_REACTION", "DELETE", _REACTIONS + "/{emoji_name}/{user_id}", reaction=True
)
DELETE_ALL_REACTIONS: Final = _r("DELETE_ALL_REACTIONS", "DELETE", _REACTIONS, reaction=True)
DELETE_ALL_REACTIONS_FOR_EMOJI: Final = _r(
    "DELETE_ALL_REACTIONS_FOR_EMOJI", "DELETE", _REACTIONS + "/{emoji_name}", reaction=True
)
GET_PINS: Final = _r("GET_PINS", "GET", "/channels/{channel_id}/messages/pins")
PIN_MESSAGE: Final = _r("PIN_MESSAGE", "PUT", "/channels/{channel_id}/messages/pins/{message_id}")
UNPIN_MESSAGE: Final = _r(
    "UNPIN_MESSAGE", "DELETE", "/channels/{channel_id}/messages/pins/{message_id}"
)
TRIGGER_TYPING: Final = _r("TRIGGER_TYPING", "POST", "/channels/{channel_id}/typing")
START_THREAD_FROM_MESSAGE: Final = _r("START_THREAD_FROM_MESSAGE", "POST", _MSG + "/threads")
START_THREAD: Final = _r("START_THREAD", "POST", "/channels/{channel_id}/threads")
JOIN_THREAD: Final = _r("JOIN_THREAD", "PUT", "/channels/{channel_id}/thread-members/@me")
CREATE_WEBHOOK: Final = _r("CREATE_WEBHOOK", "POST", "/channels/{channel_id}/webhooks")
GET_CHANNEL_WEBHOOKS: Final = _r("GET_CHANNEL_WEBHOOKS", "GET", "/channels/{channel_id}/webhooks")
EXECUTE_WEBHOOK: Final = _r("EXECUTE_WEBHOOK", "POST", _HOOK)
GET_GLOBAL_COMMANDS: Final = _r(
    "GET_GLOBAL_COMMANDS", "GET", "/applications/{application_id}/commands"
)
BULK_OVERWRITE_GLOBAL_COMMANDS: Final = _r(
    "BULK_OVERWRITE_GLOBAL_COMMANDS", "PUT", "/applications/{application_id}/commands"
)
GET_GUILD_COMMANDS: Final = _r(
    "GET_GUILD_COMMANDS", "GET", "/applications/{application_id}/guilds/{guild_id}/commands"
)
BULK_OVERWRITE_GUILD_COMMANDS: Final = _r(
    "BULK_OVERWRITE_GUILD_COMMANDS",
    "PUT",
    "/applications/{application_id}/guilds/{guild_id}/commands",
)
CREATE_INTERACTION_RESPONSE: Final = _r(
    "CREATE_INTERACTION_RESPONSE",
    "POST",
    "/interactions/{interaction_id}/{interaction_token}/callback",
    global_limited=False,
)
GET_ORIGINAL_RESPONSE: Final = _r("GET_ORIGINAL_RESPONSE", "GET", _HOOK + "/messages/@original")
EDIT_ORIGINAL_RESPONSE: Final = _r("EDIT_ORIGINAL_RESPONSE", "PATCH", _HOOK + "/messages/@original")
DELETE_ORIGINAL_RESPONSE: Final = _r(
    "DELETE_ORIGINAL_RESPONSE", "DELETE", _HOOK + "/messages/@original"
)
CREATE_FOLLOWUP_MESSAGE: Final = _r("CREATE_FOLLOWUP_MESSAGE", "POST", _HOOK)
EDIT_FOLLOWUP_MESSAGE: Final = _r(
    "EDIT_FOLLOWUP_MESSAGE", "PATCH", _HOOK + "/messages/{message_id}"
)
DELETE_FOLLOWUP_MESSAGE: Final = _r(
    "DELETE_FOLLOWUP_MESSAGE", "DELETE", _HOOK + "/messages/{message_id}"
)

ROUTES: Final[dict[str, Route]] = {
    route.name: route for route in list(globals().values()) if isinstance(route, Route)
}
"""Every route above, by name."""
