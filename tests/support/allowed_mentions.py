"""The suite-wide check that the bridge never pings anybody by accident.

Every request the bridge's REST client sends (told apart by its ``User-Agent``) on a route
that carries a message must carry ``allowed_mentions`` allowing exactly what the bot means
(docs/architecture.md, "Mentions"): no ``@everyone``/``@here`` or role pings
(``parse: []``, no ``roles``), no reply ping, and users only when the content names them
(``<@id>``), which is how the bot opts in to pinging one person. Other clients that talk to
the local server in tests (discord.py, raw httpx) are not the bridge and are not checked.

``tests/conftest.py`` attaches a :class:`MentionsCheck` to every local server a test starts;
:class:`tests.support.openapi.SpecRecorder` runs the same check.
"""

from __future__ import annotations

import re
from typing import Any

from bridge.discord.rest import USER_AGENT
from protocol.discord import routes
from protocol.discord.mentions import INTERACTION_MESSAGE_TYPES, MESSAGE_ROUTES


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z_]+\})", template)
    return re.compile(
        "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts if p) + "$"
    )


_CHECKED = [
    (route.method, _pattern(route.template), route.name)
    for route in routes.ROUTES.values()
    if route.name in MESSAGE_ROUTES or route is routes.CREATE_INTERACTION_RESPONSE
]


def _route_name(method: str, path: str) -> str | None:
    for route_method, pattern, name in _CHECKED:
        if route_method == method and pattern.match(path):
            return name
    return None


def _mentioned(user: Any, content: Any) -> bool:
    return isinstance(content, str) and (f"<@{user}>" in content or f"<@!{user}>" in content)


def _check(where: str, message: Any) -> list[str]:
    if not isinstance(message, dict):
        return [f"{where}: the body is not a JSON object: {message!r}"[:300]]
    allowed = message.get("allowed_mentions")
    if not isinstance(allowed, dict):
        return [f"{where}: no allowed_mentions (it would ping whatever the text mentions)"]
    problems = []
    if allowed.get("parse") != []:
        problems.append(f"{where}: allowed_mentions.parse is {allowed.get('parse')!r}, not []")
    if allowed.get("roles", []) != []:
        problems.append(f"{where}: allowed_mentions.roles allows {allowed['roles']!r}")
    if allowed.get("replied_user") is not False:
        problems.append(f"{where}: allowed_mentions.replied_user is not false")
    users = allowed.get("users", [])
    if not isinstance(users, list):
        problems.append(f"{where}: allowed_mentions.users is {users!r}")
    else:
        content = message.get("content")
        problems += [
            f"{where}: allowed_mentions pings user {u} whom the content does not mention"
            for u in users
            if not _mentioned(u, content)
        ]
    return problems


def mention_errors(exchange: Any) -> list[str]:
    """Problems with the ``allowed_mentions`` of one exchange (none if not the bridge's)."""
    if not exchange.user_agent.startswith(USER_AGENT):
        return []
    name = _route_name(exchange.method, exchange.path)
    if name is None:
        return []
    where = f"{exchange.method} {exchange.path} -> {exchange.status}"
    body = exchange.request_json
    if name == routes.CREATE_INTERACTION_RESPONSE.name:
        if not isinstance(body, dict) or body.get("type") not in INTERACTION_MESSAGE_TYPES:
            return []
        return _check(where + " data", body.get("data"))
    return _check(where, body)


class MentionsCheck:
    """An exchange observer for the local server; :meth:`assert_clean` fails on any
    bridge request whose ``allowed_mentions`` is missing or too wide."""

    def __init__(self) -> None:
        self.checked = 0
        self.problems: list[str] = []

    def __call__(self, exchange: Any) -> None:
        problems = mention_errors(exchange)
        self.problems += problems
        if exchange.user_agent.startswith(USER_AGENT):
            self.checked += 1

    def assert_clean(self) -> None:
        assert not self.problems, "the bridge sent messages that could ping people:\n" + (
            "\n".join(self.problems[:40])
        )
