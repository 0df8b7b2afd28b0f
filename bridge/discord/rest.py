"""The Discord REST client: httpx on trio, driven by the rate limits, with priorities.

``open_rest_client`` owns an ``httpx.AsyncClient`` and the scheduler task (see
:mod:`._scheduler` for how requests are ordered, paced and retried). The methods are typed
over :mod:`protocol.discord.models`:

* ``async`` methods queue a request and wait for its result; they raise
  :class:`~bridge.discord.errors.HTTPError` (``Forbidden``, ``NotFound``),
  :class:`~bridge.discord.errors.RateLimitedTooLong` (only requests that are not
  persistent: message creates and edits, followups, thread and channel changes wait out
  any 429, 5xx or dropped connection for as long as the client runs), or
  :class:`protocol.discord.limits.LimitExceeded` before sending a body that breaks a
  documented limit. *Cancellation:* cancelling a call whose request has not been sent takes
  it out of the queue; once sent, the request completes in the background and its result
  is dropped.
* ``submit_*`` methods are sync and never block: they queue (and coalesce) streaming edits
  and status reactions at low priority. Their failures never raise at the caller; they are
  logged, counted in ``stats.background_failures``, kept in ``recent_failures`` and passed
  to listeners added with ``add_failure_listener``. They are the first traffic shed when
  Discord starts answering 401/403/429.
* Every message body (create, edit, followup, interaction response) carries
  ``allowed_mentions`` allowing no ping unless a ``ping_user`` is given; the scheduler writes
  it into each request it sends (:mod:`protocol.discord.mentions`), so no caller can forget.
"""

from __future__ import annotations

import bisect
import functools
import logging
import random as _random
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar, overload

import attrs
import httpx
import trio

from bridge.discord._convert import structure, unstructure
from bridge.discord._direct import DirectSender, env_proxies
from bridge.discord._scheduler import HTTPRequest, Job, Priority, RestStats, Scheduler
from bridge.discord.errors import AttachmentTooLarge, HTTPError, RestClientClosed
from protocol.discord import limits, routes
from protocol.discord import models as m
from protocol.discord.edits import EditQueue, Live
from protocol.discord.models import UNDEFINED, UndefinedOr
from protocol.discord.ratelimit import RETRY_BASE, RETRY_CAP, RateLimiter

T = TypeVar("T")

__all__ = [
    "BackgroundFailure",
    "FileUpload",
    "Priority",
    "RestClient",
    "RestStats",
    "open_rest_client",
]

logger = logging.getLogger("bridge.discord.rest")

USER_AGENT: Final = "DiscordBot (https://github.com/ccbridge/ccbridge, 0.1)"
"""Discord requires ``DiscordBot ($url, $version)`` or Cloudflare may block us
(docs reference.mdx "User Agent")."""
DEFAULT_SHED_THRESHOLD: Final = 1000
"""Invalid requests per 10 minutes at which edits and reactions are shed: a tenth of the
10,000 at which Discord bans the IP, so essential traffic never gets near the line."""
# Discord error codes that, on a *retried* request, mean the first attempt succeeded.
_ALREADY_ACKNOWLEDGED: Final = 40060
_THREAD_ALREADY_EXISTS: Final = 160004


@attrs.frozen
class FileUpload:
    """A file for a multipart upload (``files[n]``)."""

    filename: str
    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")
    content_type: str = "application/octet-stream"
    description: str | None = None


@attrs.frozen
class BackgroundFailure:
    """A ``submit_*`` request that failed; nobody was waiting for it."""

    route: str
    """The route key, e.g. ``PATCH /channels/{channel_id}/messages/{message_id}``."""
    path: str
    error: BaseException


@attrs.define(eq=False)
class _EditWaiter:
    """``edit_message`` waiting for its edit: ``done`` is set when a PATCH carrying
    ``version`` ended. (``submit_edit`` calls have no waiter: their failures go to the
    failure listeners.)"""

    version: int
    done: trio.Event = attrs.Factory(trio.Event)
    result: m.Message | None = None
    error: BaseException | None = None


class RestClient:
    """The REST client; get one from :func:`open_rest_client`. Attributes: ``stats``
    (:class:`RestStats`) and ``recent_failures`` (the last 100 background failures)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        scheduler: Scheduler,
        *,
        rng: _random.Random,
        cdn_max_bytes: int,
    ) -> None:
        self._http = http
        self._scheduler = scheduler
        self._rng = rng
        self.cdn_max_bytes = cdn_max_bytes
        self.stats: RestStats = scheduler.stats
        self.recent_failures: deque[BackgroundFailure] = deque(maxlen=100)
        self._failure_listeners: list[Callable[[BackgroundFailure], None]] = []
        self._edits = EditQueue()
        self._edit_waiters: dict[tuple[int, int], list[_EditWaiter]] = {}
        self._background_edits: dict[tuple[int, int], list[int]] = {}
        """Per message, the versions of ``submit_edit`` calls not yet carried by a PATCH
        that ended (ascending): nobody awaits them, so they need no waiter each."""
        self._reactions: dict[tuple[int, int, str], tuple[Job, bool]] = {}

    # -- plumbing ----------------------------------------------------------------------------

    def add_failure_listener(self, listener: Callable[[BackgroundFailure], None]) -> None:
        """Call ``listener`` (sync, must not block) for every failed ``submit_*`` request."""
        self._failure_listeners.append(listener)

    def _on_background_failure(self, job: Job, error: BaseException) -> None:
        failure = BackgroundFailure(route=job.route.route_key, path=job.route.path, error=error)
        self.stats.background_failures += 1
        self.recent_failures.append(failure)
        logger.warning("background %s %s failed: %s", job.route.route_key, job.route.path, error)
        for listener in self._failure_listeners:
            listener(failure)

    def _job(
        self,
        route: routes.CompiledRoute,
        priority: Priority,
        build: Callable[[], HTTPRequest] | HTTPRequest,
        parse: Callable[[httpx.Response], Any] = lambda r: None,
        **kw: Any,
    ) -> Job:
        if self._scheduler.closed:
            raise RestClientClosed(route=route.route_key)
        builder = build if callable(build) else (lambda: build)
        return self._scheduler.submit(Job(route, priority, builder, parse, **kw))

    async def _call(self, job: Job) -> Any:
        try:
            return await job.wait()
        except trio.Cancelled:
            self._scheduler.withdraw(job)
            raise

    # Typed by ``parse``: what it returns is what the request returns (None without one).
    @overload
    async def _request(
        self,
        route: routes.CompiledRoute,
        priority: Priority,
        json: Any = None,
        *,
        parse: Callable[[httpx.Response], T],
        **kw: Any,
    ) -> T: ...

    @overload
    async def _request(
        self, route: routes.CompiledRoute, priority: Priority, json: Any = None, **kw: Any
    ) -> None: ...

    async def _request(
        self,
        route: routes.CompiledRoute,
        priority: Priority,
        json: Any = None,
        parse: Callable[[httpx.Response], Any] = lambda r: None,
        **kw: Any,
    ) -> Any:
        request = HTTPRequest(route.route.method, route.path, json=json)
        return await self._call(self._job(route, priority, request, parse, **kw))

    def _nonce(self) -> str:
        # At most 25 characters (docs message.mdx "Create Message"); 64 random bits is 20
        # digits and unique enough for the 5 minutes Discord remembers nonces.
        return str(self._rng.getrandbits(64))

    # -- users, gateway, channels ------------------------------------------------------------

    async def get_current_user(self) -> m.User:
        return await self._request(
            routes.GET_CURRENT_USER.compile(), Priority.MESSAGE, parse=_parser(m.User)
        )

    async def get_gateway_bot(self) -> m.GatewayBot:
        return await self._request(
            routes.GET_GATEWAY_BOT.compile(), Priority.MESSAGE, parse=_parser(m.GatewayBot)
        )

    async def get_channel(self, channel_id: int) -> m.Channel:
        return await self._request(
            routes.GET_CHANNEL.compile(channel_id=channel_id),
            Priority.MESSAGE,
            parse=_parser(m.Channel),
        )

    async def get_messages(
        self,
        channel_id: int,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[m.Message]:
        """Up to ``limit`` (1-100) messages of a channel, newest first as Discord returns
        them: the ones just after ``after`` or just before ``before`` (message ids), else
        the newest (docs message.mdx "Get Channel Messages")."""
        if not 1 <= limit <= 100:
            raise ValueError(f"limit must be 1-100, got {limit}")
        query = {"limit": str(limit)}
        if after is not None:
            query["after"] = str(after)
        if before is not None:
            query["before"] = str(before)
        route = routes.GET_MESSAGES.compile(channel_id=channel_id)
        request = HTTPRequest("GET", route.path, query=query)
        history: list[m.Message] = await self._call(
            self._job(route, Priority.MESSAGE, request, _parser(list[m.Message]))
        )
        return history

    async def modify_channel(
        self,
        channel_id: int,
        *,
        name: UndefinedOr[str] = UNDEFINED,
        archived: UndefinedOr[bool] = UNDEFINED,
        locked: UndefinedOr[bool] = UNDEFINED,
    ) -> m.Channel:
        """Rename a channel or thread, or archive / lock a thread."""
        if isinstance(name, str):
            limits.check_thread_name(name)
        body = m.ModifyThread(name=name, archived=archived, locked=locked)
        return await self._request(
            routes.MODIFY_CHANNEL.compile(channel_id=channel_id),
            Priority.MESSAGE,
            json=unstructure(body),
            parse=_parser(m.Channel),
            persistent=True,
        )

    # -- messages ------------------------------------------------------------------------------

    async def create_message(
        self,
        channel_id: int,
        *,
        content: str | None = None,
        embeds: Sequence[m.Embed] = (),
        components: Sequence[m.ActionRow] = (),
        files: Sequence[FileUpload] = (),
        reply_to: int | None = None,
        priority: Priority = Priority.MESSAGE,
        ping_user: int | None = None,
    ) -> m.Message:
        """Post a message (with files as a multipart upload).

        It carries a fresh ``nonce`` with ``enforce_nonce``, so a retry after a lost
        response returns the first message instead of posting it twice. It pings nobody
        (not even the author of ``reply_to``) unless ``ping_user`` names a user its content
        mentions as ``<@id>``: like every message body, its ``allowed_mentions`` is set by
        the client (:mod:`protocol.discord.mentions`).

        Raises:
            LimitExceeded: the body breaks a documented limit (nothing was sent).
            ValueError: ``ping_user`` is not mentioned in ``content``.
            HTTPError: Discord refused it.
        """
        pings = _pings(ping_user, content)
        body = m.CreateMessage(
            content=content if content is not None else UNDEFINED,
            embeds=list(embeds) if embeds else UNDEFINED,
            components=list(components) if components else UNDEFINED,
            message_reference=(
                m.MessageReference(message_id=m.Snowflake(reply_to))
                if reply_to is not None
                else UNDEFINED
            ),
            attachments=(
                [
                    m.PartialAttachment(
                        id=i,
                        filename=f.filename,
                        description=f.description if f.description is not None else UNDEFINED,
                    )
                    for i, f in enumerate(files)
                ]
                if files
                else UNDEFINED
            ),
            nonce=self._nonce(),
            enforce_nonce=True,
        )
        limits.check_message(body)
        route = routes.CREATE_MESSAGE.compile(channel_id=channel_id)
        request = HTTPRequest(
            route.route.method,
            route.path,
            json=unstructure(body),
            files=_files(files) if files else None,
        )
        sent: m.Message = await self._call(
            self._job(
                route, priority, request, _parser(m.Message), ping_users=pings, persistent=True
            )
        )
        return sent

    async def edit_message(
        self,
        channel_id: int,
        message_id: int,
        *,
        content: UndefinedOr[str | None] = UNDEFINED,
        embeds: UndefinedOr[Sequence[m.Embed] | None] = UNDEFINED,
        components: UndefinedOr[Sequence[m.ActionRow] | None] = UNDEFINED,
    ) -> m.Message:
        """Edit a message at :attr:`Priority.EDIT`, in order with every other edit of it and
        merged with those not sent yet (see :meth:`submit_edit`); returns the message as the
        PATCH that carried these fields left it.

        Cancellation: the edit stays queued (other edits of the message may ride on it)."""
        waiter = self._queue_edit(channel_id, message_id, content, embeds, components)
        await waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error
        assert waiter.result is not None  # done without an error means a PATCH answered
        return waiter.result

    def submit_edit(
        self,
        channel_id: int,
        message_id: int,
        *,
        content: UndefinedOr[str | None] = UNDEFINED,
        embeds: UndefinedOr[Sequence[m.Embed] | None] = UNDEFINED,
        components: UndefinedOr[Sequence[m.ActionRow] | None] = UNDEFINED,
    ) -> None:
        """Queue an edit and return at once.

        The edits of one message are applied in order, last writer wins
        (:mod:`protocol.discord.edits`): one PATCH at a time, each attempt carrying every
        field submitted and not yet confirmed, with its latest value. So a streaming message
        costs one request per bucket slot however often it changes, an older edit never
        lands after a newer one, and the last content submitted is what the message ends
        with. It is retried through 429s, 5xx and dropped connections for as long as the
        client runs, and held (not dropped) under invalid-request pressure. Failures that
        retrying cannot fix (the message is gone) go to the failure listeners.

        Raises:
            LimitExceeded: the fields break a documented limit (a caller bug; checked now).
        """
        key, version = self._submit_edit_fields(channel_id, message_id, content, embeds, components)
        self._background_edits.setdefault(key, []).append(version)

    async def edits_landed(self, channel_id: int, message_id: int) -> None:
        """Wait until every edit of the message submitted so far has ended: applied by a
        PATCH, or failed for good (the failure went to whoever submitted it). Returns at
        once when none is outstanding; sends nothing itself.

        Lets a caller keep what Discord shows in the order it asked for: a message posted
        after this returns cannot appear before the edits submitted before it (a create
        would otherwise overtake an edit waiting for its bucket)."""
        key = (channel_id, message_id)
        if not self._edits.outstanding(key):
            return
        waiter = _EditWaiter(self._edits.latest(key))
        self._edit_waiters.setdefault(key, []).append(waiter)
        await waiter.done.wait()

    def submit_live_edit(self, channel_id: int, message_id: int, content: Live) -> None:
        """Queue an edit that makes the message show ``content``'s text (no embeds, no
        components), rendered when the PATCH is sent: each attempt calls it again, so it
        carries the text as it is then. For text that changes many times per edit slot
        (streaming): the caller changes its own state and calls this after each change;
        while such an edit waits to be sent, another call changes nothing and costs a
        lookup. Order, coalescing, retries and failure reports as :meth:`submit_edit`.

        The rendered text is checked against the content limit when it is rendered; one
        over it fails that edit (to the failure listeners, like a message that is gone).
        """
        key = (channel_id, message_id)
        if self._edits.waiting_with(key, "content", content):
            return
        if self._scheduler.closed:
            raise RestClientClosed(route=routes.EDIT_MESSAGE.key)
        submitted = self._edits.submit(key, {"content": content, "embeds": [], "components": []})
        if submitted.coalesced:
            self.stats.coalesced_edits += 1
        if submitted.start:
            self._send_edit(key)
        self._background_edits.setdefault(key, []).append(submitted.version)

    def _queue_edit(
        self, channel_id: int, message_id: int, content: Any, embeds: Any, components: Any
    ) -> _EditWaiter:
        key, version = self._submit_edit_fields(channel_id, message_id, content, embeds, components)
        waiter = _EditWaiter(version)
        self._edit_waiters.setdefault(key, []).append(waiter)
        return waiter

    def _submit_edit_fields(
        self, channel_id: int, message_id: int, content: Any, embeds: Any, components: Any
    ) -> tuple[tuple[int, int], int]:
        """Check and queue the fields; the message's key and the submission's version."""
        update: dict[str, Any] = {
            k: (list(v) if isinstance(v, Sequence) and not isinstance(v, str) else v)
            for k, v in (("content", content), ("embeds", embeds), ("components", components))
            if v is not UNDEFINED
        }
        limits.check_message(m.EditMessage(**update))
        if self._scheduler.closed:
            raise RestClientClosed(route=routes.EDIT_MESSAGE.key)
        key = (channel_id, message_id)
        submitted = self._edits.submit(key, update)
        if submitted.coalesced:
            self.stats.coalesced_edits += 1
        # The caller notes the version after this queues the PATCH: a job only ends once
        # the scheduler task has run it, later.
        if submitted.start:
            self._send_edit(key)
        return key, submitted.version

    def _send_edit(self, key: tuple[int, int]) -> None:
        """Queue the one PATCH of a message; each attempt takes the latest fields."""
        channel_id, message_id = key
        route = routes.EDIT_MESSAGE.compile(channel_id=channel_id, message_id=message_id)
        carried = [0]

        def build() -> HTTPRequest:
            patch = self._edits.take(key)
            carried[0] = patch.version
            body = m.EditMessage(**patch.fields)
            if patch.rendered:
                limits.check_message(body)  # a Live field is checked once it is rendered
            return HTTPRequest("PATCH", route.path, json=unstructure(body))

        job = self._job(
            route, Priority.EDIT, build, _parser(m.Message), persistent=True, holdable=True
        )
        job.on_done.append(lambda j: self._edit_done(key, j, carried[0]))

    def _edit_done(self, key: tuple[int, int], job: Job, version: int) -> None:
        # A job that ended before it was ever built (nothing sent) stood for everything
        # submitted so far.
        version = version or self._edits.latest(key)
        ok = job.error is None
        more = self._edits.confirmed(key, version) if ok else self._edits.failed(key, version)
        waiters = self._edit_waiters.pop(key, [])
        ended = [w for w in waiters if w.version <= version]
        if more and len(ended) < len(waiters):
            self._edit_waiters[key] = [w for w in waiters if w.version > version]
        for waiter in ended:
            waiter.result, waiter.error = job.result, job.error
            waiter.done.set()
        background = self._background_edits.pop(key, [])
        carried = bisect.bisect_right(background, version)
        if more and carried < len(background):
            self._background_edits[key] = background[carried:]
        if not ok and carried:
            assert job.error is not None
            self._on_background_failure(job, job.error)
        if more and not self._scheduler.closed:
            self._send_edit(key)

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        await self._request(
            routes.DELETE_MESSAGE.compile(channel_id=channel_id, message_id=message_id),
            Priority.MESSAGE,
            persistent=True,
        )

    async def pin_message(self, channel_id: int, message_id: int) -> None:
        await self._request(
            routes.PIN_MESSAGE.compile(channel_id=channel_id, message_id=message_id),
            Priority.MESSAGE,
            persistent=True,
        )

    async def get_pinned_messages(self, channel_id: int) -> list[m.Message]:
        """The newest pinned messages of a channel (up to 50), newest pin first (docs
        message.mdx "Get Channel Pins")."""
        route = routes.GET_PINS.compile(channel_id=channel_id)
        request = HTTPRequest("GET", route.path, query={"limit": "50"})

        def parse(response: httpx.Response) -> list[m.Message]:
            items = response.json().get("items", [])
            return [structure(item["message"], m.Message) for item in items]

        pinned: list[m.Message] = await self._call(
            self._job(route, Priority.MESSAGE, request, parse)
        )
        return pinned

    async def trigger_typing(self, channel_id: int) -> None:
        await self._request(routes.TRIGGER_TYPING.compile(channel_id=channel_id), Priority.REACTION)

    # -- reactions -----------------------------------------------------------------------------

    async def add_reaction(self, channel_id: int, message_id: int, emoji: str) -> None:
        """Add our reaction (a unicode emoji, or ``name:id`` for a custom one)."""
        await self._call(self._reaction_job(channel_id, message_id, emoji, add=True))

    async def remove_own_reaction(self, channel_id: int, message_id: int, emoji: str) -> None:
        await self._call(self._reaction_job(channel_id, message_id, emoji, add=False))

    def submit_reaction(
        self,
        channel_id: int,
        message_id: int,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        priority: Priority = Priority.REACTION,
    ) -> None:
        """Queue reaction changes and return at once. A queued add and a later remove of the
        same emoji (or the reverse) cancel out; a repeated change is queued once. Sheddable;
        failures go to the failure listeners. ``priority``: status changes stay at
        :attr:`Priority.REACTION`, behind streaming edits; the first sign a message was seen
        goes sooner (the reaction pacing per channel still applies)."""
        for emoji, is_add in [(e, True) for e in add] + [(e, False) for e in remove]:
            key = (channel_id, message_id, emoji)
            queued = self._reactions.get(key)
            if queued is not None and not queued[0].started:
                job, queued_add = queued
                if queued_add == is_add:
                    continue
                if self._scheduler.withdraw(job):
                    del self._reactions[key]
                    self.stats.cancelled_reactions += 1
                    job.finish(None)
                    continue
            job = self._reaction_job(channel_id, message_id, emoji, add=is_add, priority=priority)
            job.background = True
            job.sheddable = True
            self._reactions[key] = (job, is_add)
            job.on_done.append(functools.partial(self._forget_reaction, key))

    def _forget_reaction(self, key: tuple[int, int, str], job: Job) -> None:
        queued = self._reactions.get(key)
        if queued is not None and queued[0] is job:
            del self._reactions[key]

    def _reaction_job(
        self,
        channel_id: int,
        message_id: int,
        emoji: str,
        *,
        add: bool,
        priority: Priority = Priority.REACTION,
    ) -> Job:
        route = (routes.ADD_OWN_REACTION if add else routes.DELETE_OWN_REACTION).compile(
            channel_id=channel_id, message_id=message_id, emoji_name=emoji
        )
        return self._job(route, priority, HTTPRequest(route.route.method, route.path))

    # -- threads -------------------------------------------------------------------------------

    async def start_thread_from_message(
        self,
        channel_id: int,
        message_id: int,
        *,
        name: str,
        auto_archive_duration: int = 10080,
    ) -> m.Channel:
        """Start a public thread on a message (its id becomes the thread id)."""
        limits.check_thread_name(name)
        body = m.StartThread(name=name, auto_archive_duration=auto_archive_duration)

        async def recover(error: HTTPError, attempts: int) -> m.Channel | None:
            # A retry after a lost response finds the thread already made (160004); the
            # thread id is the message id, so fetch it.
            if error.code == _THREAD_ALREADY_EXISTS:
                return await self.get_channel(message_id)
            return None

        return await self._request(
            routes.START_THREAD_FROM_MESSAGE.compile(channel_id=channel_id, message_id=message_id),
            Priority.MESSAGE,
            json=unstructure(body),
            parse=_parser(m.Channel),
            recover=recover,
            persistent=True,
        )

    async def start_thread(
        self, channel_id: int, *, name: str, auto_archive_duration: int = 10080
    ) -> m.Channel:
        """Start a public thread without a message (Discord's default would be private)."""
        limits.check_thread_name(name)
        body = m.StartThread(
            name=name,
            auto_archive_duration=auto_archive_duration,
            type=m.ChannelType.PUBLIC_THREAD,
        )
        return await self._request(
            routes.START_THREAD.compile(channel_id=channel_id),
            Priority.MESSAGE,
            json=unstructure(body),
            parse=_parser(m.Channel),
            persistent=True,
        )

    # -- application commands ------------------------------------------------------------------

    async def bulk_overwrite_global_commands(
        self, application_id: int, commands: Sequence[m.ApplicationCommand]
    ) -> list[m.ApplicationCommand]:
        for i, command in enumerate(commands):
            limits.check_command(command, path=f"[{i}]")
        return await self._request(
            routes.BULK_OVERWRITE_GLOBAL_COMMANDS.compile(application_id=application_id),
            Priority.MESSAGE,
            json=unstructure(list(commands)),
            parse=_parser(list[m.ApplicationCommand]),
        )

    async def bulk_overwrite_guild_commands(
        self, application_id: int, guild_id: int, commands: Sequence[m.ApplicationCommand]
    ) -> list[m.ApplicationCommand]:
        for i, command in enumerate(commands):
            limits.check_command(command, path=f"[{i}]")
        return await self._request(
            routes.BULK_OVERWRITE_GUILD_COMMANDS.compile(
                application_id=application_id, guild_id=guild_id
            ),
            Priority.MESSAGE,
            json=unstructure(list(commands)),
            parse=_parser(list[m.ApplicationCommand]),
        )

    # -- interactions --------------------------------------------------------------------------

    async def create_interaction_response(
        self, interaction_id: int, token: str, response: m.InteractionResponse
    ) -> None:
        """Answer an interaction (types 1, 4, 5, 6, 7, 8, 9), first in the queue: Discord
        gives 3 seconds. A retry that finds it already acknowledged (40060) succeeded."""
        limits.check_interaction_response(response)

        async def recover(error: HTTPError, attempts: int) -> bool | None:
            return True if error.code == _ALREADY_ACKNOWLEDGED else None

        await self._request(
            routes.CREATE_INTERACTION_RESPONSE.compile(
                interaction_id=interaction_id, interaction_token=token
            ),
            Priority.INTERACTION,
            json=unstructure(response),
            recover=recover,
        )

    async def edit_original_response(
        self,
        application_id: int,
        token: str,
        *,
        content: UndefinedOr[str | None] = UNDEFINED,
        embeds: UndefinedOr[Sequence[m.Embed] | None] = UNDEFINED,
        components: UndefinedOr[Sequence[m.ActionRow] | None] = UNDEFINED,
    ) -> m.Message:
        body = m.EditMessage(
            content=content,
            embeds=list(embeds) if isinstance(embeds, Sequence) else embeds,
            components=list(components) if isinstance(components, Sequence) else components,
        )
        limits.check_message(body)
        return await self._request(
            routes.EDIT_ORIGINAL_RESPONSE.compile(webhook_id=application_id, webhook_token=token),
            Priority.INTERACTION,
            json=unstructure(body),
            parse=_parser(m.Message),
            persistent=True,
        )

    async def create_followup(
        self,
        application_id: int,
        token: str,
        *,
        content: str | None = None,
        embeds: Sequence[m.Embed] = (),
        components: Sequence[m.ActionRow] = (),
        ephemeral: bool = False,
        ping_user: int | None = None,
    ) -> m.Message:
        """A followup message; pings nobody unless ``ping_user`` (mentioned in ``content``
        as ``<@id>``) is given.

        Raises:
            ValueError: ``ping_user`` is not mentioned in ``content``.
        """
        pings = _pings(ping_user, content)
        body = m.InteractionMessage(
            content=content if content is not None else UNDEFINED,
            embeds=list(embeds) if embeds else UNDEFINED,
            components=list(components) if components else UNDEFINED,
            flags=int(m.MessageFlags.EPHEMERAL) if ephemeral else UNDEFINED,
        )
        limits.check_message(body)
        route = routes.CREATE_FOLLOWUP_MESSAGE.compile(
            webhook_id=application_id, webhook_token=token
        )
        request = HTTPRequest("POST", route.path, json=unstructure(body), query={"wait": "true"})
        job = self._job(
            route,
            Priority.INTERACTION,
            request,
            _parser(m.Message),
            ping_users=pings,
            persistent=True,
        )
        followup: m.Message = await self._call(job)
        return followup

    # -- the CDN -------------------------------------------------------------------------------

    async def download_attachment(self, url: str, *, max_bytes: int | None = None) -> bytes:
        """Download an attachment from the CDN (no token sent, no bucket).

        Raises:
            AttachmentTooLarge: the CDN announced, or we read, more than ``max_bytes``
                (default: the client's ``cdn_max_bytes``); we stop reading at the cap.
            HTTPError: the CDN answered with an error (a 403/404 usually means the signed
                URL expired: fetch the message again for a fresh one).
        """
        cap = self.cdn_max_bytes if max_bytes is None else max_bytes
        request = self._http.build_request("GET", url)
        # CDN URLs are signed; the bot token must not travel to them (research §1).
        del request.headers["Authorization"]
        response = await self._http.send(request, stream=True)
        try:
            if response.status_code >= 400:
                raise HTTPError(
                    status=response.status_code,
                    code=0,
                    message=response.reason_phrase,
                    route="GET cdn attachment",
                )
            announced = response.headers.get("content-length")
            if announced is not None and announced.isdigit() and int(announced) > cap:
                raise AttachmentTooLarge(url=url, size=int(announced), limit=cap)
            chunks: list[bytes] = []
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > cap:
                    raise AttachmentTooLarge(url=url, size=None, limit=cap)
                chunks.append(chunk)
        finally:
            await response.aclose()
        return b"".join(chunks)

    # -- introspection ---------------------------------------------------------------------

    async def wait_idle(self) -> None:
        """Wait until no request is queued or in flight (e.g. before shutting down, so the
        last submitted edits are applied)."""
        await self._scheduler.wait_idle()

    @property
    def queued(self) -> int:
        """Requests waiting to be sent."""
        return self._scheduler.queued()

    def invalid_requests(self) -> int:
        """401/403/429 responses in the last 10 minutes (Discord bans at 10,000)."""
        return self._scheduler.limits.invalid_request_count(trio.current_time())


def _pings(user: int | None, content: str | None) -> tuple[int, ...]:
    """The users a message may ping: ``user`` if given, and only if the content names it
    (a ping for a user the text does not mention would be a caller's mistake)."""
    if user is None:
        return ()
    if content is None or (f"<@{user}>" not in content and f"<@!{user}>" not in content):
        raise ValueError(f"ping_user={user} but the content does not mention <@{user}>")
    return (user,)


def _parser(cls: type[T]) -> Callable[[httpx.Response], T]:
    return lambda response: structure(response.json(), cls)


def _files(files: Sequence[FileUpload]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [(f"files[{i}]", (f.filename, f.data, f.content_type)) for i, f in enumerate(files)]


@asynccontextmanager
async def open_rest_client(
    base_url: str,
    token: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    cdn_max_bytes: int = 25 * 2**20,
    random: _random.Random | None = None,
    timeout: float = 30.0,
    max_rate_limit_wait: float = 60.0,
    shed_threshold: int = DEFAULT_SHED_THRESHOLD,
    max_retries: int = 5,
    retry_base: float = RETRY_BASE,
    retry_cap: float = RETRY_CAP,
) -> AsyncIterator[RestClient]:
    """A REST client for ``base_url`` (e.g. ``https://discord.com/api/v10``).

    Args:
        transport: an httpx transport (``httpx.ASGITransport(app)`` in tests); default: the
            network.
        cdn_max_bytes: the default cap of :meth:`RestClient.download_attachment`.
        random: nonces and retry jitter; pass a seeded one in tests.
        timeout: seconds per HTTP request before it counts as a connection error (retried).
        max_rate_limit_wait: a 429 asking for longer raises ``RateLimitedTooLong``.
        max_retries: retries after a 429 or 5xx (each waited out) before giving up.
            ``max_rate_limit_wait`` and ``max_retries`` apply only to requests nobody
            misses if they fail (reads, typing, reactions, interaction callbacks, command
            registration): message creates and edits, followups, thread and channel
            changes are retried through 429s, 5xx and connection errors for as long as the
            client runs (see :mod:`._scheduler`).
        retry_base / retry_cap: the 5xx / connection-error backoff, ``min(cap, base *
            2**attempt)`` with jitter (defaults 1 s and 16 s).
        shed_threshold: invalid requests per 10 minutes at which edits/reactions are shed.

    Resource handling:
        Leaving the block cancels queued and in-flight requests (their callers are gone with
        the block) and closes the connection pool.
    """
    rng = random or _random.Random()
    headers = {"Authorization": f"Bot {token}", "User-Agent": USER_AGENT}
    if transport is None:
        # Made here rather than by the client, so the scheduler can send through it too.
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=200)
        )
    http = httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        headers=headers,
        transport=transport,
        timeout=httpx.Timeout(timeout),
    )
    direct = None if env_proxies() else DirectSender(http, transport)
    stats = RestStats()
    client_box: list[RestClient] = []

    def on_failure(job: Job, error: BaseException) -> None:
        client_box[0]._on_background_failure(job, error)

    limiter = RateLimiter(
        max_retries=max_retries,
        max_wait=max_rate_limit_wait,
        rng=rng,
        retry_base=retry_base,
        retry_cap=retry_cap,
    )
    scheduler = Scheduler(
        http,
        limiter,
        stats,
        shed_threshold=shed_threshold,
        on_background_failure=on_failure,
        direct=direct,
    )
    client = RestClient(http, scheduler, rng=rng, cdn_max_bytes=cdn_max_bytes)
    client_box.append(client)
    async with http, trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        try:
            yield client
        finally:
            scheduler.closed = True
            nursery.cancel_scope.cancel()
