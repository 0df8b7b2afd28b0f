"""Who a message may ping: ``allowed_mentions`` on every body that carries a message.

Discord pings whatever a message's content mentions (``@everyone``, ``@here``, ``<@id>``,
``<@&id>``) unless the body's ``allowed_mentions`` restricts it (docs ``message.mdx``,
"Allowed Mentions Object"). The bot posts text it does not control (Claude's output, echoed
user text, thread titles, lounge and coordination lines), so a body allows no ping at all
unless its sender names the users it means to ping. :func:`apply_allowed_mentions` writes
the field into every request body on a message route; the REST client calls it for every
request it sends, overwriting whatever a caller put there, so no caller can forget it or
widen it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from protocol.discord import routes

__all__ = [
    "INTERACTION_MESSAGE_TYPES",
    "MAX_PINGED_USERS",
    "MESSAGE_ROUTES",
    "allowed_mentions_json",
    "apply_allowed_mentions",
]

MESSAGE_ROUTES: Final = frozenset(
    {
        routes.CREATE_MESSAGE.name,
        routes.EDIT_MESSAGE.name,
        routes.EXECUTE_WEBHOOK.name,
        routes.CREATE_FOLLOWUP_MESSAGE.name,
        routes.EDIT_ORIGINAL_RESPONSE.name,
        routes.EDIT_FOLLOWUP_MESSAGE.name,
    }
)
"""Routes whose JSON body is a message (create, edit, webhook execution, followups)."""
INTERACTION_MESSAGE_TYPES: Final = frozenset({4, 7})
"""Interaction callback types whose ``data`` is a message (CHANNEL_MESSAGE_WITH_SOURCE,
UPDATE_MESSAGE); the others carry no content (1, 5, 6) or no message (8, 9)."""
MAX_PINGED_USERS: Final = 100
"""Discord's limit on ``allowed_mentions.users``."""


def allowed_mentions_json(users: Sequence[int] = ()) -> dict[str, Any]:
    """The ``allowed_mentions`` JSON: no ``@everyone``/``@here``, no roles, no reply ping,
    and only the given users (none by default).

    Raises:
        ValueError: more than :data:`MAX_PINGED_USERS` users, or a duplicate.
    """
    if len(users) > MAX_PINGED_USERS:
        raise ValueError(f"at most {MAX_PINGED_USERS} users may be pinged, got {len(users)}")
    if len(set(users)) != len(users):
        raise ValueError(f"a user is listed twice in {list(users)}")
    return {"parse": [], "users": [str(u) for u in users], "replied_user": False}


def apply_allowed_mentions(route: routes.Route, body: Any, users: Sequence[int] = ()) -> Any:
    """``body`` with ``allowed_mentions`` set to allow exactly ``users``, if ``route``
    carries a message; otherwise ``body`` unchanged. The given body is not mutated."""
    if route.name == routes.CREATE_INTERACTION_RESPONSE.name:
        # A junk ``type`` (a list, say) is no message type; it must not reach the set lookup.
        kind = body.get("type") if isinstance(body, dict) else None
        if not isinstance(kind, int) or kind not in INTERACTION_MESSAGE_TYPES:
            return body
        data = body.get("data")
        data = dict(data) if isinstance(data, dict) else {}
        data["allowed_mentions"] = allowed_mentions_json(users)
        return {**body, "data": data}
    if route.name not in MESSAGE_ROUTES:
        return body
    fields = dict(body) if isinstance(body, dict) else {}
    fields["allowed_mentions"] = allowed_mentions_json(users)
    return fields
