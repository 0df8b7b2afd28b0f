"""What every session actor is given: the parts of the bridge it talks to.

``bridge/app.py`` builds one :class:`SessionDeps` and makes it the first argument of the
sessions supervisor's dynamic template, so the router starts a thread's session with
``sessions.start_child(thread_id, id=thread_id)`` and the behavior is called as
``session_actor(ctx, deps, thread_id)``. Plain references, no globals: a test builds its
own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

import actors
from bridge.config import Config

__all__ = ["SessionDeps"]


@attrs.frozen(kw_only=True)
class SessionDeps:
    config: Config
    rest: Any
    """The REST client (``bridge.discord.rest.RestClient``)."""
    store: actors.Ref[Any]
    """The store actor: use ``bridge.store.actor.store_call``."""
    limiter: actors.Ref[Any]
    coordinator: actors.Ref[Any]
    claude_env: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    """The base environment of ``claude`` children, before
    ``protocol.claude.argv.child_env`` removes the secrets (X4)."""
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)
    """Secret values to strip from the child environment whatever their variable name:
    the bot token and the API secret."""
    session_api_url: Callable[[int], str] | None = None
    """The local API URL for a thread's session, carrying that session's own token: pass
    it as ``api_url`` to ``build_appended_prompt`` and ``child_env`` (``CCDB_API_URL``);
    ``{url}/api/lounge`` is then that session's lounge. ``None``: no API running."""
