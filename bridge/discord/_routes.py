"""The REST routes the client calls, with their bucket identity.

A route is a method and a path template; a compiled route fills the template and knows its
*major parameter* (``channel_id``, ``guild_id``, or ``webhook_id`` + token: Discord counts
a bucket per major value, docs topics/rate-limits.mdx) and whether the global 50/s budget
applies (not for interaction callbacks and interaction-token webhook routes, docs
receiving-and-responding.mdx "Endpoints").
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

import attrs

__all__ = ["CompiledRoute", "Route"]


@attrs.frozen
class Route:
    method: str
    template: str
    counts_global: bool = True
    """False for routes Discord leaves out of the global budget."""
    reaction: bool = False
    """Reaction routes: one bucket per channel for all of them, paced 1 per 0.25 s."""

    @property
    def key(self) -> str:
        """``"POST /channels/{channel_id}/messages"``: the name in stats and errors."""
        return f"{self.method} {self.template}"

    def compile(self, **params: Any) -> CompiledRoute:
        encoded = {k: quote(str(v), safe="") for k, v in params.items()}
        path = self.template.format(**encoded)
        if "channel_id" in params:
            major = f"channel:{params['channel_id']}"
        elif "guild_id" in params:
            major = f"guild:{params['guild_id']}"
        elif "webhook_id" in params:
            major = f"webhook:{params['webhook_id']}:{params.get('webhook_token', '')}"
        elif "interaction_id" in params:
            major = f"interaction:{params['interaction_id']}"
        else:
            major = ""
        return CompiledRoute(route=self, path=path, major=major, params=params)


@attrs.frozen
class CompiledRoute:
    route: Route
    path: str
    major: str
    params: dict[str, Any] = attrs.field(eq=False, hash=False)

    @property
    def key(self) -> str:
        return self.route.key

    @property
    def bucket_key(self) -> str:
        """Where requests of this route are counted before Discord names the bucket.
        Reaction routes share one key per channel (they share one bucket, discord-api-docs
        #981)."""
        if self.route.reaction:
            return f"reactions|{self.major}"
        return f"{self.route.key}|{self.major}"


_CHANNEL: Final = "/channels/{channel_id}"
_MESSAGE: Final = _CHANNEL + "/messages/{message_id}"
_WEBHOOK: Final = "/webhooks/{webhook_id}/{webhook_token}"

GET_CURRENT_USER = Route("GET", "/users/@me")
GET_GATEWAY_BOT = Route("GET", "/gateway/bot")
GET_CHANNEL = Route("GET", _CHANNEL)
MODIFY_CHANNEL = Route("PATCH", _CHANNEL)
CREATE_MESSAGE = Route("POST", _CHANNEL + "/messages")
GET_MESSAGE = Route("GET", _MESSAGE)
EDIT_MESSAGE = Route("PATCH", _MESSAGE)
DELETE_MESSAGE = Route("DELETE", _MESSAGE)
ADD_REACTION = Route("PUT", _MESSAGE + "/reactions/{emoji}/@me", reaction=True)
REMOVE_OWN_REACTION = Route("DELETE", _MESSAGE + "/reactions/{emoji}/@me", reaction=True)
PIN_MESSAGE = Route("PUT", _CHANNEL + "/messages/pins/{message_id}")
TRIGGER_TYPING = Route("POST", _CHANNEL + "/typing")
START_THREAD_FROM_MESSAGE = Route("POST", _MESSAGE + "/threads")
START_THREAD = Route("POST", _CHANNEL + "/threads")
GLOBAL_COMMANDS = Route("PUT", "/applications/{application_id}/commands")
GUILD_COMMANDS = Route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
INTERACTION_CALLBACK = Route(
    "POST", "/interactions/{interaction_id}/{interaction_token}/callback", counts_global=False
)
EDIT_ORIGINAL = Route("PATCH", _WEBHOOK + "/messages/@original", counts_global=False)
CREATE_FOLLOWUP = Route("POST", _WEBHOOK, counts_global=False)
