"""An ordered, non-blocking way to show things in one Discord channel.

Theory of operation
-------------------
The session actor must never wait for Discord inside its loop (issue 9): a /stop queued
behind 500 Claude events would otherwise wait for their posts too. So everything it shows
goes through an :class:`Outbox`: :meth:`Outbox.post` returns a :class:`Placeholder` at
once and queues the post; a *sender task* (:meth:`Outbox.run`, in the actor's nursery)
performs the queue in order, awaiting each ``create_message`` there instead.

Edits keep *latest-edit* semantics: an edit of a message not sent yet replaces what the
post will send; an edit of a message being created is kept (the latest only) and sent
once its id is known; an edit of a message that exists goes straight to the client's
coalescing ``submit_edit``; :meth:`Outbox.edit_live` hands a sent message's text to the
client as a :class:`~protocol.discord.edits.Live` value, rendered when the PATCH is sent.
A delete of a message not sent yet drops the post. Reactions
on a placeholder are queued behind its post (their order kept); reactions on a known id go
straight to ``submit_reaction``.

Edits and posts travel on different rate-limit buckets, so a post can overtake an edit
that waits for its bucket: the completion embed would sit under an answer still missing its
last words. A post asked for with ``after_edits=True`` is therefore held by the sender until
every edit this outbox submitted before it has landed (the client's ``edits_landed``); the
wait is the sender task's, never the owner's, and the posts queued behind it wait with it,
so their order stays the order asked for.

With no sender task (a view used on its own, as the view tests do), :meth:`settle` sends
the queue at the caller's pace. :meth:`drain` waits until everything queued so far is
sent, whoever sends it.

A Discord error is logged and the rest of the queue goes on; any other error propagates
out of the sender task (and so crashes the actor that runs it, as a bug should).

*Who writes what*: the queue is the hand-off between the owner and the sender task, as a
channel would be. A placeholder's payload is the owner's until the sender takes it (then
``in_flight``); from then on the sender writes ``id`` and ``sent``, and the one field both
touch, ``latest_edit``, is written by the owner only while the post is in flight and
taken by the sender once, after it. (Trio switches tasks only at awaits, and none of this
awaits in between.)
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import attrs
import trio

from bridge.discord.errors import DiscordError
from bridge.discord.rest import FileUpload
from bridge.sessions.presentation.render import MessagePayload
from protocol.discord import models as m
from protocol.discord.edits import Live

log = logging.getLogger(__name__)

__all__ = ["Outbox", "OutboxRest", "Placeholder", "Target"]


class OutboxRest(Protocol):
    """The part of the REST client an outbox uses."""

    async def create_message(
        self,
        channel_id: int,
        *,
        content: str | None = None,
        embeds: Sequence[m.Embed] = (),
        components: Sequence[m.ActionRow] = (),
        files: Sequence[FileUpload] = (),
        reply_to: int | None = None,
        ping_user: int | None = None,
    ) -> m.Message: ...

    def submit_edit(
        self,
        channel_id: int,
        message_id: int,
        *,
        content: Any = m.UNDEFINED,
        embeds: Any = m.UNDEFINED,
        components: Any = m.UNDEFINED,
    ) -> None: ...

    def submit_live_edit(self, channel_id: int, message_id: int, content: Live) -> None: ...

    def submit_reaction(
        self,
        channel_id: int,
        message_id: int,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> None: ...

    async def delete_message(self, channel_id: int, message_id: int) -> None: ...

    async def edits_landed(self, channel_id: int, message_id: int) -> None: ...


@attrs.define(eq=False)
class Placeholder:
    """A message queued for posting; ``id`` is known once Discord created it."""

    payload: MessagePayload | None
    """What will be posted; ``None`` once the post was performed (never read again, and a
    tool's placeholder is kept for the rest of the turn and after it)."""
    id: int | None = None
    sent: bool = False
    """The post was performed (``id`` stays ``None`` if Discord refused it)."""
    in_flight: bool = False
    dropped: bool = False
    """Deleted before it was sent: never posted."""
    latest_edit: MessagePayload | None = None
    """An edit that came while the post was in flight; sent once ``id`` is known."""
    deleted: bool = False
    after_edits: bool = False
    """Posted only once the edits submitted before it have landed (see the module)."""
    _done: trio.Event = attrs.field(factory=trio.Event, repr=False)

    async def wait_sent(self) -> None:
        """Wait until the post was performed (or dropped)."""
        await self._done.wait()


Target = int | Placeholder


@attrs.frozen
class _Post:
    placeholder: Placeholder


@attrs.frozen
class _Delete:
    placeholder: Placeholder


@attrs.frozen
class _React:
    channel_id: int
    placeholder: Placeholder
    add: tuple[str, ...]
    remove: tuple[str, ...]


_Op = _Post | _Delete | _React


class Outbox:
    """Everything shown in one channel, in the order it was asked for. See the module
    docstring."""

    def __init__(self, rest: OutboxRest, channel_id: int) -> None:
        self._rest = rest
        self.channel_id = channel_id
        self._queue: collections.deque[_Op] = collections.deque()
        self._wakeup = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self._busy = False
        self._sender_running = False
        self.posted = 0
        self._edited: dict[int, None] = {}
        """Messages this outbox submitted edits of since the last ``after_edits`` post
        (ordered, so they are awaited in the order they were first edited)."""

    # -- asking (never blocks) ---------------------------------------------------------

    def post(self, payload: MessagePayload, *, after_edits: bool = False) -> Placeholder:
        """Queue a post. ``after_edits``: send it only once every edit asked for before it
        has landed on Discord (the message then never shows above a stale one)."""
        placeholder = Placeholder(payload, after_edits=after_edits)
        self._push(_Post(placeholder))
        return placeholder

    def edit(self, target: Target, payload: MessagePayload) -> None:
        """Replace the whole message (content, embeds and components)."""
        if isinstance(target, int):
            self._submit_edit(target, payload)
            return
        if target.dropped or target.deleted:
            return
        if not target.sent and not target.in_flight:
            target.payload = payload  # not sent yet: it goes out as the latest version
        elif target.in_flight:
            target.latest_edit = payload
        elif target.id is not None:
            self._submit_edit(target.id, payload)

    def edit_live(self, target: Placeholder, content: Live) -> bool:
        """Make a sent message show ``content``'s text (no embeds or components), rendered
        when the client sends the PATCH (``RestClient.submit_live_edit``). False, and
        nothing done, while the message has no id (not sent yet, being sent, refused):
        edit it with :meth:`edit` then."""
        if target.id is None or target.deleted:
            return False
        self._edited[target.id] = None  # an ``after_edits`` post waits for it too
        self._rest.submit_live_edit(self.channel_id, target.id, content)
        return True

    def delete(self, target: Placeholder) -> None:
        if target.dropped or target.deleted:
            return
        if not target.sent and not target.in_flight:
            target.dropped = True
            return
        target.deleted = True
        self._push(_Delete(target))

    def react(
        self, channel_id: int, target: Target, *, add: Sequence[str], remove: Sequence[str]
    ) -> None:
        if isinstance(target, int):
            self._rest.submit_reaction(channel_id, target, add=add, remove=remove)
        else:
            self._push(_React(channel_id, target, tuple(add), tuple(remove)))

    # -- sending -----------------------------------------------------------------------

    async def run(self) -> None:
        """The sender task: perform the queue in order, forever."""
        self._sender_running = True
        try:
            while True:
                await self._perform_queued()
                await self._wakeup.wait()
                self._wakeup = trio.Event()
        finally:
            self._sender_running = False

    async def settle(self) -> None:
        """Without a sender task, send what is queued now; with one, return at once."""
        if not self._sender_running:
            await self._perform_queued()

    async def drain(self) -> None:
        """Wait until everything queued so far is sent."""
        if not self._sender_running:
            await self._perform_queued()
        while self._queue or self._busy:
            await self._idle.wait()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- internals ---------------------------------------------------------------------

    def _push(self, op: _Op) -> None:
        self._queue.append(op)
        self._idle = trio.Event() if self._idle.is_set() else self._idle
        self._wakeup.set()

    async def _perform_queued(self) -> None:
        if self._busy:
            return  # the other sender (run or settle) is at it
        self._busy = True
        try:
            while self._queue:
                await self._perform(self._queue.popleft())
        finally:
            self._busy = False
            if not self._queue:
                self._idle.set()

    async def _create(self, payload: MessagePayload) -> m.Message:
        if payload.files:
            return await self._rest.create_message(
                self.channel_id,
                content=payload.content,
                embeds=list(payload.embeds),
                components=list(payload.components),
                ping_user=payload.ping_user,
                files=list(payload.files),
            )
        # No files keyword when there are none: the test doubles need not know it.
        return await self._rest.create_message(
            self.channel_id,
            content=payload.content,
            embeds=list(payload.embeds),
            components=list(payload.components),
            ping_user=payload.ping_user,
        )

    async def _perform(self, op: _Op) -> None:
        match op:
            case _Post(placeholder=p):
                if p.after_edits and not p.dropped:
                    await self._edits_landed()
                if p.dropped:
                    p._done.set()
                    return
                p.in_flight = True
                payload, p.payload = p.payload, None
                assert payload is not None, "a placeholder is posted once"
                try:
                    message = await self._create(payload)
                    p.id = int(message.id)
                    self.posted += 1
                except DiscordError as exc:
                    log.warning("channel %s: could not post a message: %s", self.channel_id, exc)
                finally:
                    p.in_flight = False
                    p.sent = True
                    p._done.set()
                if p.latest_edit is not None and p.id is not None and not p.deleted:
                    latest, p.latest_edit = p.latest_edit, None
                    self._submit_edit(p.id, latest)
            case _Delete(placeholder=p):
                if p.id is None:
                    return
                try:
                    await self._rest.delete_message(self.channel_id, p.id)
                except DiscordError as exc:
                    log.info("channel %s: could not delete %s: %s", self.channel_id, p.id, exc)
            case _React(channel_id=channel_id, placeholder=p, add=add, remove=remove):
                if p.id is not None:
                    self._rest.submit_reaction(channel_id, p.id, add=add, remove=remove)

    async def _edits_landed(self) -> None:
        """Wait for the edits submitted so far. Edits submitted while waiting are noted
        for the next ``after_edits`` post: they were asked for after this one."""
        edited, self._edited = self._edited, {}
        for message_id in edited:
            await self._rest.edits_landed(self.channel_id, message_id)

    def _submit_edit(self, message_id: int, payload: MessagePayload) -> None:
        self._edited[message_id] = None
        self._rest.submit_edit(
            self.channel_id,
            message_id,
            content=payload.content if payload.content is not None else "",
            embeds=list(payload.embeds),
            components=list(payload.components),
        )
