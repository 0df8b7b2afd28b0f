"""The dashboard actor (C17): one pinned message in the main channel, kept current.

Theory of operation
-------------------
The coordinator passes every session report on (``CoordinatorConfig.forward``); this actor
feeds it to its :class:`~bridge.dashboard.board.Board` with the wall-clock time and hands a
copy of the board to its *keeper*, a helper task that owns the Discord side:

1. **Find or create.** At start the keeper asks for the bot's id, the channel's guild (for
   prompt links) and the channel's pins; the dashboard is the bot's pinned message titled
   :data:`~bridge.dashboard.board.DASHBOARD_TITLE`
   (:func:`~bridge.dashboard.placement.find_dashboard`). Not among the pins (someone
   unpinned it, or the bot may not pin), it is looked for among the channel's newest
   :data:`HISTORY_SEARCHED` messages and pinned again. Found nowhere (first start,
   deleted): it posts one and pins it. So a restart edits the same message, and nothing
   needs to be stored.
2. **Edit in place, coalesced.** The keeper renders the newest board it has (every board
   queued behind it is dropped: only the latest matters), and edits the message only when
   the rendering changed. It awaits each edit, so at most one is in flight; the REST client
   paces it within Discord's rate limits. An edit that finds the message gone (deleted)
   posts and pins a new one.

A timer prunes finished entries that grew old (:data:`REFRESH_SECONDS`); the times shown
are Discord timestamps, which count by themselves. When the actor stops, the keeper sends
the last board (within the actor's shutdown time) and ends.

A Discord failure is logged and never ends the actor: the dashboard is a view, and the next
change tries again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import attrs
import trio

import actors
from bridge.dashboard.board import Board, Report, render_dashboard
from bridge.dashboard.placement import find_dashboard
from bridge.discord.errors import DiscordError, HTTPError, NotFound
from bridge.sessions.messages import SessionActivity, SessionFinished, SessionStarted
from bridge.sessions.presentation.render import MessagePayload
from protocol.discord import models as m

__all__ = [
    "DASHBOARD_MAILBOX",
    "REFRESH_SECONDS",
    "DashboardConfig",
    "DashboardRest",
    "dashboard_actor",
]

log = logging.getLogger(__name__)

DASHBOARD_MAILBOX: Final = actors.Mailbox(capacity=4096)
"""Room for bursts: the coordinator ``offer``s every report and a dropped one would leave
the dashboard stale; each costs the actor a dictionary update and no IO."""
REFRESH_SECONDS: Final = 60.0
HISTORY_SEARCHED: Final = 100
"""Newest messages of the main channel searched for an unpinned dashboard at start."""
SETUP_RETRY_SECONDS: Final = 5.0
"""Pause between attempts to find or create the message while Discord refuses."""


class DashboardRest(Protocol):
    """The REST calls the dashboard makes (``bridge.discord.rest.RestClient`` has them)."""

    async def get_current_user(self) -> m.User: ...

    async def get_channel(self, channel_id: int) -> m.Channel: ...

    async def get_pinned_messages(self, channel_id: int) -> list[m.Message]: ...

    async def get_messages(self, channel_id: int, *, limit: int = 100) -> list[m.Message]: ...

    async def create_message(
        self,
        channel_id: int,
        *,
        content: str | None = None,
        embeds: Sequence[m.Embed] = (),
    ) -> m.Message: ...

    async def pin_message(self, channel_id: int, message_id: int) -> None: ...

    async def edit_message(
        self,
        channel_id: int,
        message_id: int,
        *,
        content: Any = m.UNDEFINED,
        embeds: Any = m.UNDEFINED,
    ) -> m.Message: ...


@attrs.frozen(kw_only=True)
class DashboardConfig:
    channel_id: int
    """The main channel (``DISCORD_CHANNEL_ID``): the dashboard is pinned there."""
    clock: Callable[[], float] = time.time
    """Wall-clock seconds (the times shown; tests pass their own)."""
    refresh_seconds: float = REFRESH_SECONDS
    ready: trio.Event | None = None
    """Set once the bridge has seen Discord (READY and the start-up catch-up); the dashboard
    reads and posts only then, so a bridge that never connects (a refused token) makes no
    dashboard calls at all. ``None``: start at once."""


@attrs.frozen
class _Refresh:
    pass


async def dashboard_actor(
    ctx: actors.Context[Any], rest: DashboardRest, config: DashboardConfig
) -> None:
    """Serve session reports (``SessionStarted`` / ``SessionActivity`` / ``SessionFinished``)."""
    board = Board()
    send, receive = trio.open_memory_channel[Board](math.inf)
    done = trio.Event()
    ctx.nursery.start_soon(_keeper, rest, config.channel_id, receive, done, config.ready)
    send.send_nowait(_copy(board))
    ctx.start_timer(config.refresh_seconds, _Refresh())
    ctx.started()
    async for msg in ctx.mailbox:
        match msg:
            case SessionStarted() | SessionActivity() | SessionFinished():
                report: Report = msg
                board.apply(report, config.clock())
            case _Refresh():
                board.prune(config.clock())
            case _:
                log.warning("dashboard: ignoring unexpected message %r", msg)
                continue
        send.send_nowait(_copy(board))
    send.close()
    await done.wait()


def _copy(board: Board) -> Board:
    return Board(entries=dict(board.entries))


async def _keeper(
    rest: DashboardRest,
    channel_id: int,
    receive: trio.MemoryReceiveChannel[Board],
    done: trio.Event,
    ready: trio.Event | None,
) -> None:
    try:
        if ready is not None:
            await ready.wait()
        guild_id, message_id = await _setup(rest, channel_id)
        shown: MessagePayload | None = None
        async for board in receive:
            while True:  # only the newest board matters
                try:
                    board = receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            payload = render_dashboard(board, guild_id)
            if payload == shown and message_id is not None:
                continue
            message_id = await _show(rest, channel_id, message_id, payload)
            shown = payload if message_id is not None else None
    finally:
        done.set()


async def _setup(rest: DashboardRest, channel_id: int) -> tuple[int | None, int | None]:
    """The channel's guild, and the dashboard's message if one is pinned."""
    while True:
        try:
            me = await rest.get_current_user()
            channel = await rest.get_channel(channel_id)
            pinned = await rest.get_pinned_messages(channel_id)
        except DiscordError as exc:
            # A refused token (401) ends the bridge with its own clear message (exit 78).
            refused = isinstance(exc, HTTPError) and exc.status == 401
            level = logging.DEBUG if refused else logging.WARNING
            log.log(level, "dashboard: cannot read channel %s yet: %s", channel_id, exc)
            await trio.sleep(SETUP_RETRY_SECONDS)
            continue
        guild = channel.guild_id
        guild_id = int(guild) if isinstance(guild, int) else None
        found = find_dashboard(pinned, int(me.id))
        if found is None:
            found = await _find_unpinned(rest, channel_id, int(me.id))
        return guild_id, found


async def _find_unpinned(rest: DashboardRest, channel_id: int, bot_id: int) -> int | None:
    """The dashboard among the channel's newest messages, pinned again (best effort)."""
    try:
        recent = await rest.get_messages(channel_id, limit=HISTORY_SEARCHED)
    except DiscordError as exc:
        log.warning("dashboard: cannot read channel %s's history: %s", channel_id, exc)
        return None
    found = find_dashboard(recent, bot_id)
    if found is not None:
        try:
            await rest.pin_message(channel_id, found)
        except DiscordError as exc:
            log.warning("dashboard: could not pin message %s again: %s", found, exc)
    return found


async def _show(
    rest: DashboardRest, channel_id: int, message_id: int | None, payload: MessagePayload
) -> int | None:
    """Edit the dashboard (or post and pin it if it is missing); its id, ``None`` if
    Discord refused (the next change tries again)."""
    if message_id is not None:
        try:
            await rest.edit_message(channel_id, message_id, content="", embeds=list(payload.embeds))
            return message_id
        except NotFound:
            log.info("dashboard: message %s is gone; posting a new one", message_id)
        except DiscordError as exc:
            log.warning("dashboard: could not edit message %s: %s", message_id, exc)
            return message_id
    try:
        created = await rest.create_message(channel_id, embeds=list(payload.embeds))
    except DiscordError as exc:
        log.warning("dashboard: could not post the dashboard: %s", exc)
        return None
    try:
        await rest.pin_message(channel_id, int(created.id))
    except DiscordError as exc:  # shown anyway; unpinned, a restart will post a new one
        log.warning("dashboard: could not pin message %s: %s", created.id, exc)
    return int(created.id)
