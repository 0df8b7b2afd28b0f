"""The web client: a page that shows the local Discord as a person sees it, and its feed.

Routes (on the same Starlette app as REST and the control API):

* ``GET /`` the page, ``GET /web/{file}`` its script and style (files in ``web/``);
* ``GET /_web/state``: guild, users, channels and threads, slash commands;
* ``GET /_web/channels/{channel_id}/messages?viewer=``: ``{seq, messages}``, the messages
  a viewer sees, with their Markdown rendered to HTML (:mod:`._markdown`);
* ``GET /_web/events?viewer=``: the live feed as server-sent events, one per change.

The page acts through the control API (``/_control``): posting, reacting, clicking,
choosing, submitting modals, running commands; so it does exactly what tests and scripts do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import trio
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from . import _render as render
from ._control import Control
from ._markdown import DiscordMarkdown
from ._records import EPHEMERAL, Message
from ._world import Dispatch, World

JSON = dict[str, Any]
WEB_DIR = Path(__file__).with_name("web")
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
FEED_BUFFER = 1000
"""Events queued for one page; a page this far behind is cut off, reconnects and reloads."""
KEEPALIVE = 15.0
"""Seconds between comment lines on an idle feed, so a vanished page is noticed."""


class WebClient:
    """Views of the world for the page, and its event stream."""

    def __init__(self, world: World, control: Control) -> None:
        self.world = world
        self.control = control
        self.markdown = DiscordMarkdown(self._mention_label)
        self.seq = 0
        """Counts world changes; events and snapshots carry it, so a page that loads a
        snapshot while events arrive knows which events the snapshot already contains."""
        world.subscribe(self._count)

    def _count(self, dispatch: Dispatch) -> None:
        self.seq += 1

    def routes(self) -> list[Route]:
        return [
            Route("/", self._index, methods=["GET"]),
            Route("/web/{name}", self._static, methods=["GET"]),
            Route("/_web/state", self._state, methods=["GET"]),
            Route("/_web/channels/{channel_id}/messages", self._messages, methods=["GET"]),
            Route("/_web/events", self._events, methods=["GET"]),
        ]

    # ------------------------------------------------------------------ views

    def _mention_label(self, kind: str, target: int) -> str:
        if kind == "#":
            c = self.world.channels.get(target)
            return c.name if c else "unknown-channel"
        if kind == "@&":
            return "everyone" if target == self.world.guild_id else "role"
        u = self.world.users.get(target)
        return (u.global_name or u.username) if u else "unknown-user"

    def state(self) -> JSON:
        w = self.world
        return {
            "guild_id": str(w.guild_id),
            "guild_name": w.guild_name,
            "bot_id": str(w.bot.id),
            "owner_id": str(w.owner_id),
            "default_channel_id": str(w.default_channel.id),
            "users": [self.user(u.id) for u in w.users.values()],
            "channels": [self.channel(c.id) for c in w.channels.values()],
            "commands": [render.command(w, c) for c in w.commands.values()],
        }

    def user(self, user_id: int) -> JSON:
        u = self.world.users[user_id]
        return {**render.user(u), "display_name": u.global_name or u.username}

    def channel(self, channel_id: int) -> JSON:
        c = self.world.channels[channel_id]
        return {
            "id": str(c.id),
            "name": c.name,
            "type": c.type,
            "parent_id": str(c.parent_id) if c.parent_id else None,
            "topic": c.topic,
            "archived": c.archived,
            "locked": c.locked,
            "pins": [str(i) for i in c.pins],
        }

    def visible_to(self, m: Message, viewer: int | None) -> bool:
        """Ephemeral messages are seen only by the person whose interaction made them."""
        if m.deleted_at is not None:
            return False
        if not m.flags & EPHEMERAL:
            return True
        inter = self.world.interactions.get(m.interaction_id or 0)
        return inter is not None and inter.user_id == viewer

    def message(self, m: Message) -> JSON:
        out = render.message(self.world, m)
        out["html"] = self.markdown.render(m.content)
        out["ephemeral"] = bool(m.flags & EPHEMERAL)
        out["loading"] = bool(m.flags & 128)
        out["thread_id"] = str(m.thread_id) if m.thread_id else None
        out["reaction_users"] = {k: [str(u) for u in v] for k, v in m.reactions.items() if v}
        author = self.world.users.get(m.author_id)
        out["author_name"] = (author.global_name or author.username) if author else "webhook"
        embeds = []
        for embed in m.embeds:
            shown = dict(embed)
            shown["description_html"] = self.markdown.render(str(embed.get("description", "")))
            shown["fields"] = [
                {**f, "value_html": self.markdown.render(str(f.get("value", "")))}
                for f in embed.get("fields", [])
            ]
            embeds.append(shown)
        out["embeds"] = embeds
        return out

    def messages(self, channel_id: int, viewer: int | None) -> list[JSON]:
        """What a channel shows ``viewer``, oldest first; a thread started from a message
        shows that message first, as Discord does."""
        c = self.world.channel(channel_id)
        shown = [
            self.message(self.world.messages[i])
            for i in c.message_ids
            if self.visible_to(self.world.messages[i], viewer)
        ]
        starter = self.world.messages.get(c.id) if c.is_thread else None
        if starter is not None and starter.thread_id == c.id and self.visible_to(starter, viewer):
            shown.insert(0, {**self.message(starter), "starter": True})
        return shown

    # ------------------------------------------------------------------ the feed

    def event_for(self, dispatch: Dispatch, viewer: int | None) -> tuple[str, JSON] | None:
        """What one world change means for a page viewed by ``viewer`` (None: nothing)."""
        d = dispatch.data
        event = dispatch.event
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE", "LOCAL_EPHEMERAL"):
            m = self.world.messages.get(int(d["id"]))
            if m is None or not self.visible_to(m, viewer):
                return None
            return "message", self.message(m)
        if event in ("MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE"):
            m = self.world.messages.get(int(d["message_id"]))
            return ("message", self.message(m)) if m and self.visible_to(m, viewer) else None
        if event == "MESSAGE_DELETE":
            return "delete", {"id": d["id"], "channel_id": d["channel_id"]}
        if event in ("CHANNEL_CREATE", "CHANNEL_UPDATE", "THREAD_CREATE", "THREAD_UPDATE"):
            return "channel", self.channel(int(d["id"]))
        if event == "CHANNEL_PINS_UPDATE":
            return "channel", self.channel(int(d["channel_id"]))
        if event == "GUILD_MEMBER_ADD":
            return "user", self.user(int(d["user"]["id"]))
        if event == "LOCAL_MODAL":
            inter = self.world.interactions[int(d["interaction_id"])]
            if inter.user_id != viewer:
                return None
            return "modal", {"interaction_id": str(inter.id), "modal": inter.modal}
        if event == "LOCAL_COMMANDS":
            return "commands", {"commands": self.state()["commands"]}
        if event == "TYPING_START":
            return "typing", {"channel_id": d["channel_id"], "user_id": d["user_id"]}
        return None

    async def feed(self, viewer: int | None) -> AsyncIterator[str]:
        """Server-sent events for one page, until it goes away or falls too far behind."""
        send, receive = trio.open_memory_channel[tuple[str, JSON]](FEED_BUFFER)

        def listener(dispatch: Dispatch) -> None:
            found = self.event_for(dispatch, viewer)
            if found is None:
                return
            event, data = found
            try:
                send.send_nowait((event, {**data, "seq": self.seq}))
            except trio.WouldBlock:
                send.close()  # too far behind: the page reconnects and reloads
            except trio.ClosedResourceError:
                pass

        self.world.subscribe(listener)
        try:
            # retry: how soon the browser reconnects after the server restarts (ms).
            yield "retry: 1000\nevent: hello\ndata: {}\n\n"
            while True:
                with trio.move_on_after(KEEPALIVE) as idle:
                    try:
                        event, data = await receive.receive()
                    except trio.EndOfChannel:
                        return
                if idle.cancelled_caught:
                    yield ": keepalive\n\n"
                    continue
                yield f"event: {event}\nid: {data['seq']}\ndata: {json.dumps(data)}\n\n"
        finally:
            self.world.unsubscribe(listener)
            send.close()

    # ------------------------------------------------------------------ HTTP

    async def _index(self, request: Request) -> Response:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    async def _static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("Not Found", status_code=404, media_type="text/plain")
        return FileResponse(WEB_DIR / name, media_type=STATIC[name])

    async def _state(self, request: Request) -> Response:
        return _json(200, {**self.state(), "seq": self.seq})

    async def _messages(self, request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        if not channel_id.isdigit() or int(channel_id) not in self.world.channels:
            return _json(404, {"code": 10003, "message": "Unknown Channel"})
        messages = self.messages(int(channel_id), _viewer(request))
        return _json(200, {"seq": self.seq, "messages": messages})

    async def _events(self, request: Request) -> Response:
        return StreamingResponse(
            self.feed(_viewer(request)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def _viewer(request: Request) -> int | None:
    raw = request.query_params.get("viewer", "")
    return int(raw) if raw.isdigit() else None


def _json(status: int, payload: Any) -> Response:
    return Response(json.dumps(payload), status_code=status, media_type="application/json")
