"""What the API's handlers reach: actor refs and limits, built once by ``bridge/app.py``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import attrs
import trio

import actors
from bridge.api._tokens import SessionTokens
from bridge.scheduler.actor import SchedulerMessage
from bridge.sessions.coordinator import ChannelPoster
from bridge.sessions.messages import CoordinatorMessage
from bridge.sessions.router import RouterMessage
from bridge.store.actor import StoreMessage

__all__ = ["SPAWN_MAX_DEPTH", "SPAWN_PER_HOUR", "ApiDeps", "LateRefs"]

SPAWN_MAX_DEPTH: Final = 2
"""A person's (or the admin's) session is depth 0; its children 1, theirs 2; no deeper."""
SPAWN_PER_HOUR: Final = 10
"""Children one session may spawn in any rolling hour."""
ASK_TIMEOUT: Final = 10.0
"""Seconds a request waits for the store or an actor before answering 503."""


@attrs.define(kw_only=True)
class LateRefs:
    """Refs the app sets once the actors exist; until then their routes answer 503."""

    router: actors.Ref[RouterMessage] | None = None
    scheduler: actors.Ref[SchedulerMessage] | None = None


@attrs.frozen(kw_only=True)
class ApiDeps:
    store: actors.Ref[StoreMessage]
    coordinator: actors.Ref[CoordinatorMessage]
    tokens: SessionTokens
    admin_secret: str | None = attrs.field(default=None, repr=False)
    late: LateRefs = attrs.field(factory=lambda: LateRefs())
    """The router and scheduler, started after the API (sessions need its URL first)."""
    post: ChannelPoster | None = None
    """Posts ``/api/notify`` messages; ``None``: it answers 503."""
    channel_id: int | None = None
    """The main channel: where a notification without a thread goes."""
    default_working_dir: str = "."
    default_timeout: float = 1800.0
    """A task's timeout when none is given (SESSION_TIMEOUT_SECONDS)."""
    spawn_max_depth: int = SPAWN_MAX_DEPTH
    spawn_per_hour: int = SPAWN_PER_HOUR
    clock: Callable[[], float] = time.time
    """Wall-clock seconds (tests pass their own)."""

    @property
    def router(self) -> actors.Ref[RouterMessage] | None:
        """Starts spawned sessions (``StartSession``); ``None``: ``/api/spawn`` answers 503."""
        return self.late.router

    @property
    def scheduler(self) -> actors.Ref[SchedulerMessage] | None:
        """Told to reload after task and notification changes."""
        return self.late.scheduler

    spawn_lock: trio.Lock = attrs.field(factory=trio.Lock, eq=False, repr=False)
    """Spawns are checked and recorded one at a time, so two at once cannot both pass a
    rate limit that has room for one."""
