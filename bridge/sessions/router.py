"""The router actor: gateway dispatches in, session messages out (docs/architecture.md).

Theory of operation
-------------------
The gateway tells every dispatch to the router as a ``GatewayDispatch``. The router's loop
never waits on Discord (nor on the store): it parses the dispatch, checks it, and hands the
work to a *lane* (:mod:`bridge.sessions.lanes`), one per channel or thread, or to a helper
task. A lane runs its thread's work in order, so one thread waiting on a rate-limited call
delays only that thread, and messages of one thread keep their order. Four entry points,
each checked against the allowed users first (X5):

* ``MESSAGE_CREATE`` in the configured channel starts a session, in the main channel's lane
  (so starts keep their order): the session record and the message's inbox entry are
  stored first (a thread started from a message takes the message's id, so nothing typed
  in the new thread can arrive before its session exists), then the thread is started
  (named by :func:`~bridge.sessions.presentation.usage.thread_name`, C1), then the session actor is
  started and told ``UserMessage``. In a session thread the message enters the inbox
  (deduplicated by message id) in that thread's lane and then goes to the session.
* ``MESSAGE_CREATE`` from a webhook fires the trigger :func:`bridge.triggers.select` picks
  (A2), through the same path as ``StartSession``; otherwise it is dropped.
* ``INTERACTION_CREATE``: the session-management commands (``/sync-sessions``,
  ``/sessions``, ``/resume-info``, ``/worktree-list``, ``/worktree-cleanup``, ``/usage``)
  and their buttons (``custom_id`` ``ccb:mgmt:...``) go to
  :class:`~bridge.sessions.management.Management` first; any other slash command or
  autocomplete keystroke goes to the command registry (:mod:`bridge.sessions.commands`:
  ``/stop``, ``/task``, ``/model``, ``/skill``, ``/upgrade``),
  which checks the user and keeps errors ephemeral; a prompt button or select
  (``custom_id`` ``ccb:prompt:<prompt_id>:<choice>``) is checked against who may answer
  that kind of prompt (:mod:`bridge.sessions.approvers`), acknowledged with a deferred
  update and becomes ``AnswerPrompt``. Each interaction is answered by its own helper task
  (Discord allows 3 s, whatever a lane is doing); what it tells the session goes through the
  thread's lane, behind the messages typed before it.
* ``READY`` registers the slash commands in each guild, and starts the catch-up
  (:mod:`bridge.sessions.catchup`): the main channel and every session thread that is not
  ended get a lane job that reads the history after the channel's cursor (the newest
  message id handled there, kept in the store) and feeds what it finds through the normal
  path, before any live message of that lane. The first READY of the process also corrects
  stale status reactions and resumes the sessions marked for resume (A4), in that order.
* ``THREAD_DELETE`` of a session's thread marks the session ``ended`` and stops its actor.

Someone not allowed is told so once per channel for messages, and with an ephemeral reply
for interactions; nothing else happens (no thread, no inbox entry, no session).

*Error handling*: a dispatch that does not structure (a cattrs validation error, an id
out of range) is logged with its event name, counted (:class:`GetRouterStats`) and dropped.
A Discord error while handling one (the peer's fault) is logged and routing goes on;
anything else is a bug and crashes the router, which its supervisor restarts.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final, Protocol

import attrs
import cattrs
import trio

import actors
from bridge.claude.sessions import config_dir
from bridge.discord.errors import DiscordError
from bridge.discord.gateway import GatewayDispatch
from bridge.discord.rest import Priority
from bridge.sessions.approvers import APPROVAL_KINDS, NOT_APPROVER, Approvers
from bridge.sessions.attachments import AttachmentInfo
from bridge.sessions.commands import NOT_ALLOWED, Invocation, Registry, registry
from bridge.sessions.lanes import Job, Lanes
from bridge.sessions.management import MANAGEMENT_COMMANDS, Management, ManagementConfig
from bridge.sessions.messages import (
    AnswerPrompt,
    SessionMessage,
    SessionOpened,
    StartSession,
    StopTurn,
    UserMessage,
)
from bridge.sessions.presentation import elicitations, plans, questions
from bridge.sessions.presentation.prompts import PromptKind
from bridge.sessions.presentation.render import EMOJI_REQUESTING, quiet
from bridge.sessions.presentation.usage import thread_name
from bridge.sessions.router_catchup import CATCH_UP_PAGES_MAX, USER_MESSAGE_TYPES, CatchUpMixin
from bridge.sessions.skills import SkillCatalog
from bridge.sessions.task_commands import TaskControl
from bridge.store import (
    Database,
    InboxItem,
    InboxState,
    PromptRecord,
    PromptState,
    SessionRecord,
    SessionStatus,
)
from bridge.store.actor import StoreMessage, store_call
from bridge.triggers import Fire, Trigger, Unlisted, select
from bridge.upgrade._render import parse_approval_custom_id
from bridge.upgrade.actor import AnswerUpgrade, RequestUpgrade, UpgradeAnswer, UpgradeMessage
from protocol.discord import models as m
from protocol.discord.converter import make_converter

__all__ = [
    "CATCH_UP_PAGES_MAX",
    "NOT_ALLOWED",
    "PROMPT_PREFIX",
    "ROUTER_MAILBOX",
    "GetRouterStats",
    "RouterConfig",
    "RouterRest",
    "RouterStats",
    "Startup",
    "parse_prompt_custom_id",
    "prompt_custom_id",
    "router_actor",
]

log = logging.getLogger(__name__)

PROMPT_PREFIX: Final = "ccb:prompt:"
"""Prefix of every prompt component's ``custom_id``: ``ccb:prompt:<prompt_id>:<choice>``."""
CUSTOM_ID_MAX: Final = 100
"""Discord's limit on a component ``custom_id``."""
STORE_TIMEOUT: Final = 30.0
"""Seconds to wait for the store (a queue of writes under load, never a hang)."""
ROUTER_MAILBOX = actors.Mailbox(capacity=1024, overflow=actors.Overflow.BLOCK_SENDER)
"""The gateway sends with backpressure. The loop hands each dispatch to a lane at once, and
lanes queue without bound: a thread stuck behind Discord loses nothing and slows no other
thread; its backlog costs memory (one small job per message) until Discord answers."""
_SNOWFLAKE_MAX: Final = 2**63 - 1
"""Discord ids are 64-bit; SQLite stores signed 64-bit integers. A larger or non-positive
id is no Discord id: such a dispatch is malformed."""

_USER_MESSAGE_TYPES: Final = USER_MESSAGE_TYPES

_MANAGEMENT_NAMES: Final = frozenset(c.name for c in MANAGEMENT_COMMANDS)

UPGRADE_ASK_TIMEOUT: Final = 2.0
"""Seconds to wait for the upgrade actor's answer (an interaction must be answered in 3)."""
UPGRADES_OFF: Final = "Upgrades are off on this bot: its owner has not set UPGRADE_COMMAND."


class RouterRest(Protocol):
    """The REST calls the router makes (``bridge.discord.rest.RestClient`` has them)."""

    async def create_message(
        self, channel_id: int, *, content: str | None = ..., reply_to: int | None = ...
    ) -> m.Message: ...

    async def start_thread_from_message(
        self, channel_id: int, message_id: int, *, name: str
    ) -> m.Channel: ...

    async def create_interaction_response(
        self, interaction_id: int, token: str, response: m.InteractionResponse
    ) -> None: ...

    async def bulk_overwrite_guild_commands(
        self, application_id: int, guild_id: int, commands: Sequence[m.ApplicationCommand]
    ) -> Any: ...

    async def edit_original_response(
        self,
        application_id: int,
        token: str,
        *,
        content: Any = ...,
        embeds: Any = ...,
        components: Any = ...,
    ) -> m.Message: ...

    async def delete_message(self, channel_id: int, message_id: int) -> None: ...

    async def get_messages(
        self,
        channel_id: int,
        *,
        after: int | None = ...,
        before: int | None = ...,
        limit: int = ...,
    ) -> list[m.Message]: ...

    def submit_reaction(
        self,
        channel_id: int,
        message_id: int,
        *,
        add: Sequence[str] = ...,
        remove: Sequence[str] = ...,
        priority: Priority = ...,
    ) -> None: ...


@attrs.frozen(kw_only=True)
class RouterConfig:
    channel_id: int
    """Where a new message starts a session (DISCORD_CHANNEL_ID)."""
    allowed_user_ids: frozenset[int]
    """X5: only these users start or steer anything."""
    working_dir: str
    """Stored in each new session's record (CLAUDE_WORKING_DIR)."""
    model: str | None = None
    clock: Callable[[], float] = time.time
    """Wall-clock seconds for stored timestamps and message ages."""
    api_author_id: int | None = None
    """Recorded as the author of prompts from :class:`StartSession` (the API and the
    scheduler act for the owner); ``None`` refuses them."""
    catch_up_max_age: float = 86400.0
    """CATCHUP_MAX_AGE_SECONDS: older messages found at catch-up are listed, not run."""
    catch_up_max_messages: int = 20
    """CATCHUP_MAX_MESSAGES: at most this many (the newest) run per channel at catch-up."""
    started_at: float | None = None
    """When the bridge started (wall clock): a channel with no cursor yet is caught up from
    here, so a message sent between the start and READY is not missed. Default: when the
    router starts."""
    triggers: tuple[Trigger, ...] = ()
    """Webhook triggers (A2, TRIGGERS_FILE): the only way a webhook message starts anything."""
    task_control: TaskControl | None = None
    """The scheduler, for ``/task``; ``None``: the command says it is not running."""
    approvers: Approvers | None = None
    """Who may answer approval prompts; ``None``: the allowed users."""
    skills_dir: str | None = None
    """The CLI's user skills directory (``/skill``); ``None``: ``$CLAUDE_CONFIG_DIR/skills``
    or ``~/.claude/skills`` of this process."""
    upgrade: actors.Ref[UpgradeMessage] | None = None
    """The upgrade actor (A3), for ``/upgrade``, its approval buttons and ``upgrade``
    triggers; ``None``: upgrades are off (no ``UPGRADE_COMMAND``)."""
    management: ManagementConfig | None = None
    """S1-S4 (``bridge.sessions.management``); ``None``: those commands are answered as
    unknown."""


@attrs.frozen(kw_only=True)
class Startup:
    """What the first READY does besides the catch-up (A4: only once Discord is seen)."""

    to_resume: tuple[tuple[int, str], ...] = ()
    """``(thread_id, reason)`` of the sessions to resume."""
    resume: Callable[[int, str], Awaitable[None]] | None = None
    """Start a thread's session and tell it ``ResumeSession``; called in the thread's lane
    after its catch-up, so the resumed turn carries the messages found."""
    done: trio.Event = attrs.Factory(trio.Event)
    """Set once reactions are corrected, every lane has caught up and the marked sessions
    are resumed."""


@attrs.define
class RouterStats:
    """Counters of one router incarnation."""

    malformed: collections.Counter[str] = attrs.Factory(collections.Counter)
    """Dispatches dropped because they did not structure, per event name."""
    caught_up: int = 0
    """Messages found at catch-up and fed through the normal path."""
    not_run: int = 0
    """Messages found at catch-up but only listed (too old, over the count)."""
    reactions_fixed: int = 0
    catch_ups: int = 0
    """READYs that started a catch-up."""


@attrs.frozen(kw_only=True)
class GetRouterStats(actors.Ask[RouterStats]):
    """A copy of the router's :class:`RouterStats` (tests, the dashboard)."""


@attrs.frozen
class _InLane:
    """Run ``job`` in ``key``'s lane: how a helper task hands ordered work to the loop,
    the lanes' only owner."""

    key: int
    job: Job


@attrs.frozen
class _LiveThread:
    """A lane started a session (at catch-up): catch it up at later READYs too."""

    thread_id: int


@attrs.frozen
class _MainCaughtUp:
    """The main channel's catch-up job ended (see ``_Router.main_catch_ups``)."""


class _Malformed(ValueError):
    """A dispatch that structures but cannot be Discord's (an id out of range)."""


_MALFORMED: Final = (cattrs.BaseValidationError, _Malformed, ValueError, TypeError, KeyError)
"""What structuring junk raises: cattrs' errors, and the plain errors of its hooks."""
_PEER_ERRORS: Final = (DiscordError,)


def prompt_custom_id(prompt_id: str, choice: str) -> str:
    """The ``custom_id`` of a prompt's button or select.

    Raises:
        ValueError: it would exceed Discord's 100 characters, or ``prompt_id`` contains
            ``:`` (it could not be parsed back).
    """
    if ":" in prompt_id:
        raise ValueError(f"a prompt id must not contain ':', got {prompt_id!r}")
    custom_id = f"{PROMPT_PREFIX}{prompt_id}:{choice}"
    if len(custom_id) > CUSTOM_ID_MAX:
        raise ValueError(
            f"custom_id {custom_id!r} is {len(custom_id)} characters; Discord allows "
            f"{CUSTOM_ID_MAX}: use a shorter prompt id or choice"
        )
    return custom_id


def parse_prompt_custom_id(custom_id: str) -> tuple[str, str] | None:
    """``(prompt_id, choice)`` from a prompt component's ``custom_id``, else ``None``."""
    if not custom_id.startswith(PROMPT_PREFIX):
        return None
    prompt_id, sep, choice = custom_id[len(PROMPT_PREFIX) :].partition(":")
    if not sep or not prompt_id:
        return None
    return prompt_id, choice


RouterMessage = (
    GatewayDispatch | StartSession | GetRouterStats | _InLane | _LiveThread | _MainCaughtUp
)
"""Everything the router takes: the gateway's dispatches, sessions asked for by the API or
the scheduler, and (underscored) what its own helper tasks hand back to the loop."""


async def router_actor(
    ctx: actors.Context[RouterMessage],
    config: RouterConfig,
    rest: RouterRest,
    store: actors.Ref[StoreMessage],
    sessions: actors.SupervisorRef,
    startup: Startup | None = None,
) -> None:
    """Route ``GatewayDispatch`` messages (anything with ``name`` and ``data``).

    Args:
        rest: the REST client.
        store: the store actor.
        sessions: the dynamic supervisor of session actors; ``start_child(thread_id,
            id=thread_id)`` starts a thread's session.
        startup: what the first READY does (resume marked sessions); ``None``: nothing.
    """
    if config.started_at is None:
        config = attrs.evolve(config, started_at=config.clock())
    live = await store_call(store, _live_threads, timeout=STORE_TIMEOUT)
    router = _Router(ctx, config, rest, store, sessions, startup or Startup(), set(live))
    ctx.started()
    async for msg in ctx.mailbox:
        router.handle(msg)


def _live_threads(db: Database) -> list[int]:
    return [r.thread_id for r in db.sessions() if r.status is not SessionStatus.ENDED]


def _check_snowflakes(*ids: Any) -> None:
    for value in ids:
        if isinstance(value, int) and not 0 < value <= _SNOWFLAKE_MAX:
            raise _Malformed(f"id {value} is out of Discord's range")


class _Router(CatchUpMixin):
    """The router's state; :meth:`handle` is the loop's one step and never awaits."""

    def __init__(
        self,
        ctx: actors.Context[RouterMessage],
        config: RouterConfig,
        rest: RouterRest,
        store: actors.Ref[StoreMessage],
        sessions: actors.SupervisorRef,
        startup: Startup,
        live: set[int],
    ) -> None:
        self.ctx = ctx
        self.config = config
        self.rest = rest
        self.store = store
        self.sessions = sessions
        self.startup = startup
        self.live = live
        """Session threads to catch up at a READY (loaded at start, kept by the loop)."""
        self.converter = make_converter()
        self.lanes = Lanes(ctx.nursery)
        self.told_not_allowed: set[tuple[int, int]] = set()
        self.logged_webhooks: set[tuple[int, int, str]] = set()
        self.application_id: int | None = None
        """Ours (from READY): our interaction responses carry it as their ``webhook_id``."""
        self.fired_messages: collections.deque[int] = collections.deque(maxlen=1024)
        """Webhook messages that fired a trigger: a dispatch Discord sends again (after a
        gateway resume) does not fire it twice."""
        self.stats = RouterStats()
        self.readies = 0
        self.main_catch_ups = 0
        """Main-channel catch-ups queued and not finished. Meanwhile a live message may also
        be found by the catch-up, which would start its session without the router's first
        reaction; so none is put on messages then (the session's status is the first)."""
        self.guild_id: int | None = None
        self.skills_dir = Path(config.skills_dir or config_dir() / "skills")
        self.commands: Registry = registry(SkillCatalog(self.skills_dir))
        self.host = _CommandHost(self)
        self.approvers = config.approvers or Approvers(allowed_user_ids=config.allowed_user_ids)
        self.management = (
            Management(
                config.management,
                rest,
                self._db,
                started=self._mark_live,
                guild_id=lambda: self.guild_id,
                deliver=self._deliver_in_lane,
            )
            if config.management is not None
            else None
        )

    # -- the loop's step ---------------------------------------------------------------

    def handle(self, msg: Any) -> None:
        if isinstance(msg, _InLane):
            self.lanes.submit(msg.key, msg.job)
            return
        if isinstance(msg, _LiveThread):
            self.live.add(msg.thread_id)
            return
        if isinstance(msg, _MainCaughtUp):
            self.main_catch_ups -= 1
            return
        if isinstance(msg, GetRouterStats):
            msg.reply(attrs.evolve(self.stats, malformed=collections.Counter(self.stats.malformed)))
            return
        if isinstance(msg, StartSession):
            # In the lane of the channel or thread it posts in: thread creation stays in
            # order with people's messages, and the loop never waits on Discord.
            key = msg.thread_id if msg.thread_id is not None else self.config.channel_id
            self.lanes.submit(key, partial(self._on_start_session, msg))
            return
        name = getattr(msg, "name", None)
        data = getattr(msg, "data", None)
        if not isinstance(name, str) or not isinstance(data, dict):
            log.warning("router: ignoring unexpected message %r", msg)
            return
        try:
            if name == "MESSAGE_CREATE":
                message = self.converter.structure(data, m.Message)
                _check_snowflakes(
                    message.id, message.channel_id, message.author.id, message.guild_id
                )
                self._on_message(message)
            elif name == "INTERACTION_CREATE":
                interaction = self.converter.structure(data, m.Interaction)
                _check_snowflakes(getattr(interaction, "id", None))
                self.ctx.nursery.start_soon(self._on_interaction, interaction)
            elif name == "READY":
                ready = self.converter.structure(data, m.Ready)
                self._on_ready(ready)
            elif name == "THREAD_DELETE":
                thread_id = self.converter.structure(data.get("id"), m.Snowflake)
                _check_snowflakes(thread_id)
                self._on_thread_deleted(thread_id)
        except _MALFORMED as exc:
            self.stats.malformed[name] += 1
            log.warning(
                "router: dropped a malformed %s dispatch (%d so far): %s",
                name,
                self.stats.malformed[name],
                _summary(exc),
            )

    # -- messages ----------------------------------------------------------------------

    def _on_message(self, message: m.Message) -> None:
        if message.webhook_id is not m.UNDEFINED:
            self._on_webhook_message(message)
            return
        if message.author.bot is True:
            return  # bots (ourselves included) never drive Claude
        if message.type not in _USER_MESSAGE_TYPES or message.guild_id is m.UNDEFINED:
            return
        if self.guild_id is None and message.channel_id == self.config.channel_id:
            self.guild_id = int(message.guild_id)
        channel = message.channel_id
        if message.author.id not in self.config.allowed_user_ids:
            key = (message.author.id, channel)
            first = key not in self.told_not_allowed
            self.told_not_allowed.add(key)
            self.lanes.submit(channel, partial(self._stranger, message, tell=first))
        elif channel == self.config.channel_id:
            seen = None
            # Not a dispatch sent again after a resume, nor one the catch-up may also find.
            if message.id not in self.live and not self.main_catch_ups:
                # The first sign the message was seen, now: its thread may wait for the
                # channel's thread bucket (10 per 10 s), but reactions go out in order of
                # arrival at the reaction bucket's pace, ahead of streaming edits (a status
                # change waits behind them). It is the session's first status (asking
                # Claude), which the session takes over as already shown.
                seen = EMOJI_REQUESTING
                self.rest.submit_reaction(
                    channel, message.id, add=[seen], priority=Priority.MESSAGE
                )
            self.live.add(message.id)
            self.lanes.submit(channel, partial(self._start_session, message, seen=seen))
        else:
            self.lanes.submit(channel, partial(self._continue_session, message))

    def _on_webhook_message(self, message: m.Message) -> None:
        """A2: a webhook message may fire a trigger listed for its webhook and channel; its
        text only selects the trigger (X6). Anything else is logged once and dropped."""
        webhook_id = message.webhook_id
        if not isinstance(webhook_id, int) or message.guild_id is m.UNDEFINED:
            return
        if webhook_id == self.application_id:
            return  # our own interaction responses and followups
        if message.type not in _USER_MESSAGE_TYPES:
            return
        decision = select(self.config.triggers, webhook_id, message.channel_id, message.content)
        if isinstance(decision, Fire):
            if message.id in self.fired_messages:
                return
            self.fired_messages.append(message.id)
            if decision.trigger.action == "upgrade":
                self.ctx.nursery.start_soon(self._fire_upgrade, decision.trigger.name)
                return
            log.info(
                "router: webhook %s fired trigger %r in channel %s",
                webhook_id,
                decision.trigger.name,
                message.channel_id,
            )
            self.lanes.submit(self.config.channel_id, partial(self._fire_trigger, decision.trigger))
            return
        why = "unlisted" if isinstance(decision, Unlisted) else "no-match"
        key = (webhook_id, message.channel_id, why)
        if key not in self.logged_webhooks:
            self.logged_webhooks.add(key)
            log.info(
                "router: ignoring messages from webhook %s in channel %s (%s); "
                "logged once per webhook and channel",
                webhook_id,
                message.channel_id,
                "no trigger lists this webhook in this channel"
                if why == "unlisted"
                else "no trigger's match fits the text",
            )

    async def _fire_upgrade(self, name: str) -> None:
        """An ``upgrade`` trigger: the upgrade actor says every step in the main channel."""
        log.info("router: trigger %r asks for an upgrade", name)
        answer = await self._ask_upgrade(RequestUpgrade(trigger=name))
        if not answer.accepted:
            await self._post(self.config.channel_id, f"🪝 Trigger **{quiet(name)}**: {answer.text}")

    async def _ask_upgrade(self, msg: RequestUpgrade | AnswerUpgrade) -> UpgradeAnswer:
        if self.config.upgrade is None:
            return UpgradeAnswer(accepted=False, text=UPGRADES_OFF)
        try:
            return await self.config.upgrade.ask(msg, timeout=UPGRADE_ASK_TIMEOUT)
        except actors.ActorsError as exc:
            log.error("router: the upgrade actor did not answer: %s", exc)
            return UpgradeAnswer(
                accepted=False, text="The upgrade could not be asked for now; try again."
            )

    async def _fire_trigger(self, trigger: Trigger) -> None:
        name = quiet(trigger.name)
        request = StartSession(
            title=trigger.name,
            prompt=trigger.prompt,
            intro=f"🪝 Trigger **{name}** fired by a webhook message.",
            working_dir=trigger.working_dir or self.config.working_dir,
            model=trigger.model,
            origin="trigger",
        )
        try:
            opened = await self._open_requested_session(request)
        except (*_PEER_ERRORS, ValueError):
            log.exception("router: trigger %r could not start its session", trigger.name)
            return
        self.ctx.nursery.start_soon(self._trigger_deadline, trigger, opened)

    async def _trigger_deadline(self, trigger: Trigger, opened: SessionOpened) -> None:
        """Stop the triggered turn if it still runs after the trigger's timeout."""
        await trio.sleep(trigger.timeout_seconds)

        def finished(db: Database) -> bool:
            ended = db.inbox(opened.thread_id, InboxState.DONE, InboxState.REJECTED)
            return any(item.message_id == opened.message_id for item in ended)

        if await self._db(finished):
            return
        author = self.config.api_author_id
        assert author is not None  # the session could not have started without one
        stop = StopTurn(requested_by=author)
        await self._in_lane(opened.thread_id, partial(self._deliver, opened.thread_id, stop))
        await self._post(
            opened.thread_id,
            f"⏱️ This triggered run took longer than {trigger.timeout_seconds:g} s, "
            "so it was stopped.",
        )

    async def _stranger(self, message: m.Message, *, tell: bool) -> None:
        channel, now = message.channel_id, self.config.clock()
        main = channel == self.config.channel_id

        def record(db: Database) -> bool:
            if not main and db.get_session(channel) is None:
                return False  # a channel or thread that is none of ours
            db.cursor_advance(channel, message.id, now)
            return True

        if await self._db(record) and tell:
            # Not in the lane: a rate-limited reply must not hold the thread's messages.
            self.ctx.nursery.start_soon(self._reply_not_allowed, channel, message.id)

    async def _reply_not_allowed(self, channel_id: int, message_id: int) -> None:
        try:
            await self.rest.create_message(channel_id, content=NOT_ALLOWED, reply_to=message_id)
        except _PEER_ERRORS:
            log.exception("router: could not tell a user in %s they are not allowed", channel_id)

    async def _start_session(
        self, message: m.Message, *, notice: str | None = None, seen: str | None = None
    ) -> bool:
        """Start a session from a main-channel message; False if it already had one.
        ``seen``: the emoji the router put on the message (the session takes it over; taken
        off again if no session starts)."""
        title = thread_name(message.content)
        now = self.config.clock()
        guild_id = message.guild_id if isinstance(message.guild_id, int) else self.guild_id
        record = SessionRecord(
            thread_id=message.id,
            channel_id=message.channel_id,
            guild_id=guild_id,
            working_dir=self.config.working_dir,
            title=title,
            created_at=now,
            updated_at=now,
        )
        item = _inbox_item(message, message.id, now)

        def store_new_session(db: Database) -> bool:
            db.cursor_advance(message.channel_id, message.id, now)
            # A redelivered message finds its session stored and starts nothing.
            if db.get_session(message.id) is not None:
                return False
            db.put_session(record)
            return db.inbox_add(item)

        # Stored before the thread exists (Discord gives a thread started from a message
        # that message's id), so nothing typed in the new thread finds no session.
        if not await self._db(store_new_session):
            self._unsee(message, seen)  # its session exists: its own reaction is shown
            return False
        try:
            await self.rest.start_thread_from_message(message.channel_id, message.id, name=title)
        except _PEER_ERRORS as exc:
            log.error("router: could not start a thread from message %s: %s", message.id, exc)
            self._unsee(message, seen)
            await self._db(partial(_abandon_session, message.id, now))
            self.ctx.nursery.start_soon(
                self._reply,
                message.channel_id,
                message.id,
                f"I could not start a thread for this message ({exc}); please send it again.",
            )
            return False
        if notice is not None:
            await self._post(message.id, notice)
        await self._deliver(message.id, _user_message(item, message, seen=seen))
        return True

    def _unsee(self, message: m.Message, seen: str | None) -> None:
        if seen is not None:
            self.rest.submit_reaction(message.channel_id, message.id, remove=[seen])

    async def _continue_session(self, message: m.Message) -> None:
        thread_id, now = message.channel_id, self.config.clock()
        item = _inbox_item(message, thread_id, now)

        def add(db: Database) -> bool:
            if db.get_session(thread_id) is None:
                return False  # a channel or thread that is none of ours
            db.cursor_advance(thread_id, message.id, now)
            return db.inbox_add(item)

        if await self._db(add):
            await self._deliver(thread_id, _user_message(item, message))

    async def _on_start_session(self, request: StartSession) -> None:
        try:
            opened = await self._open_requested_session(request)
        except Exception as exc:  # the asker reports it (a Discord or store failure)
            request.fail(exc)
        else:
            request.reply(opened)

    async def _open_requested_session(
        self, request: StartSession, author_id: int | None = None
    ) -> SessionOpened:
        """A session asked for by the API, the scheduler or a command: a visible starter
        message (in the main channel, whose thread it starts, or in the given thread), then
        the prompt as ``author_id``'s message (default: the owner's) through the normal
        inbox path."""
        author_id = author_id if author_id is not None else self.config.api_author_id
        if author_id is None:
            raise ValueError("no owner or allowed user is configured to start sessions for")
        thread_id = request.thread_id
        channel_id = self.config.channel_id
        if thread_id is None:
            posted = await self.rest.create_message(channel_id, content=request.intro)
            thread = await self.rest.start_thread_from_message(
                channel_id, posted.id, name=thread_name(request.title)
            )
            thread_id = thread.id
            guild_id = posted.guild_id if isinstance(posted.guild_id, int) else self.guild_id
        else:
            posted = await self.rest.create_message(thread_id, content=request.intro)
            guild_id = self.guild_id
        now = self.config.clock()
        record = SessionRecord(
            thread_id=thread_id,
            channel_id=channel_id,
            guild_id=guild_id,
            working_dir=request.working_dir,
            title=thread_name(request.title),
            model=request.model,
            origin=request.origin,
            created_at=now,
            updated_at=now,
        )
        item = InboxItem(
            message_id=posted.id,
            thread_id=thread_id,
            author_id=author_id,
            content=request.prompt,
            received_at=now,
        )
        new_thread = thread_id

        def store(db: Database) -> bool:
            if db.get_session(new_thread) is None:
                db.put_session(record)
            return db.inbox_add(item)

        if await self._db(store):
            await self._mark_live(new_thread)
            await self._deliver(
                new_thread,
                UserMessage(
                    message_id=item.message_id,
                    thread_id=new_thread,
                    author_id=author_id,
                    content=item.content,
                    received_at=now,
                ),
            )
        return SessionOpened(thread_id=new_thread, message_id=posted.id)

    async def _deliver(self, thread_id: int, msg: Any) -> None:
        """Tell the thread's session ``msg``, starting the session actor if it is not running.

        A message already in the inbox is safe if the tell fails (the session is stopping for
        a shutdown): it is marked for resume and picks the message up at the next start.
        """
        session = await self._session_ref(thread_id)
        try:
            await session.send(msg)
        except (actors.ActorStopped, actors.MailboxFull) as exc:
            log.warning("router: could not tell thread %s's session %r: %s", thread_id, msg, exc)

    async def _session_ref(self, thread_id: int) -> actors.Ref[SessionMessage]:
        ref = self.sessions.child(thread_id)
        if ref is not None and ref.alive:
            return ref
        try:
            return await self.sessions.start_child(thread_id, id=thread_id)
        except actors.DuplicateChild:
            # It was being started or is restarting under its supervisor: use that one.
            existing = self.sessions.child(thread_id)
            if existing is None:
                raise
            return existing

    def _on_thread_deleted(self, thread_id: int) -> None:
        self.live.discard(thread_id)
        self.lanes.submit(thread_id, partial(self._end_session, thread_id))

    async def _end_session(self, thread_id: int) -> None:
        """A deleted thread's session can never be used again: it is ENDED (never resumed
        automatically) and its actor, if running, stopped (which ends its ``claude``)."""
        now = self.config.clock()

        def end(db: Database) -> bool:
            if db.get_session(thread_id) is None:
                return False
            db.update_session(thread_id, now, status=SessionStatus.ENDED)
            return True

        if await self._db(end) and self.sessions.child(thread_id) is not None:
            with contextlib.suppress(actors.UnknownChild, actors.ActorStopped):
                await self.sessions.terminate_child(thread_id)

    # -- small IO helpers --------------------------------------------------------------

    async def _db(self, fn: Callable[[Database], Any]) -> Any:
        return await store_call(self.store, fn, timeout=STORE_TIMEOUT)

    async def _post(self, channel_id: int, text: str) -> None:
        try:
            await self.rest.create_message(channel_id, content=text)
        except _PEER_ERRORS:
            log.exception("router: could not post a notice in %s", channel_id)

    async def _reply(self, channel_id: int, message_id: int, text: str) -> None:
        try:
            await self.rest.create_message(channel_id, content=text, reply_to=message_id)
        except _PEER_ERRORS:
            log.exception("router: could not reply in %s", channel_id)

    async def _mark_live(self, thread_id: int) -> None:
        """From a lane: a session started there is caught up at later READYs too."""
        with contextlib.suppress(actors.ActorStopped):
            await self.ctx.self.send(_LiveThread(thread_id))

    def _inbox_item(self, message: m.Message, thread_id: int, now: float) -> InboxItem:
        return _inbox_item(message, thread_id, now)

    def _user_message(self, item: InboxItem, message: m.Message) -> UserMessage:
        return _user_message(item, message)

    async def _deliver_in_lane(self, thread_id: int, msg: Any) -> None:
        """From a helper task: tell a thread's session ``msg`` in its lane."""
        await self._in_lane(thread_id, partial(self._deliver, thread_id, msg))

    async def _in_lane(self, key: int, job: Job) -> None:
        """From a helper task: queue ``job`` in ``key``'s lane (the loop owns the lanes)."""
        with contextlib.suppress(actors.ActorStopped):
            await self.ctx.self.send(_InLane(key, job))

    # -- interactions ------------------------------------------------------------------

    async def _on_interaction(self, interaction: Any) -> None:
        try:
            await self._handle_interaction(interaction)
        except _PEER_ERRORS:
            log.exception("router: Discord failed us while answering interaction %r", interaction)

    async def _handle_interaction(self, interaction: Any) -> None:
        if isinstance(interaction, m.PingInteraction):
            await self._respond(
                interaction, m.InteractionResponse(type=m.InteractionCallbackType.PONG)
            )
            return
        if isinstance(interaction, m.AutocompleteInteraction):
            await self._on_autocomplete(interaction)
            return
        if isinstance(interaction, m.CommandInteraction):
            await self._on_command(interaction)
            return
        if not isinstance(interaction, m.ComponentInteraction | m.ModalSubmitInteraction):
            return  # unknown kinds: we offer none
        user_id = _interaction_user(interaction)
        roles = _interaction_roles(interaction)
        if user_id is None or not (
            user_id in self.config.allowed_user_ids or self.approvers.may_approve(user_id, roles)
        ):
            await self._reply_ephemeral(interaction, NOT_ALLOWED)
            return
        await self._on_component(interaction, user_id)

    def _invocation(self, interaction: Any, user_id: int) -> Invocation:
        channel_id = interaction.channel_id
        return Invocation(
            user_id=user_id,
            channel_id=channel_id
            if isinstance(channel_id, int) and 0 < channel_id <= _SNOWFLAKE_MAX
            else None,
            data=interaction.data,
            role_ids=_interaction_roles(interaction),
        )

    async def _on_autocomplete(self, interaction: m.AutocompleteInteraction) -> None:
        """Type 4 in, callback type 8 out (Discord, "Autocomplete" under "Interaction
        Response Object":
        https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-autocomplete
        ): the registry picks the choices; nobody but an allowed user sees any (X5)."""
        user_id = _interaction_user(interaction)
        choices: list[m.CommandChoice] = []
        if user_id is not None:
            choices = await self.commands.complete(
                self.host, self._invocation(interaction, user_id), self.config.allowed_user_ids
            )
        await self._respond(
            interaction,
            m.InteractionResponse(
                type=m.InteractionCallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT,
                data=m.AutocompleteResult(choices=choices),
            ),
        )

    async def _on_command(self, interaction: m.CommandInteraction) -> None:
        user_id = _interaction_user(interaction)
        if user_id is None:
            await self._reply_ephemeral(interaction, NOT_ALLOWED)
            return
        if self.management is not None and interaction.data.name in _MANAGEMENT_NAMES:
            # The registry checks X5 for its own commands; these are checked here.
            if user_id not in self.config.allowed_user_ids:
                await self._reply_ephemeral(interaction, NOT_ALLOWED)
                return
            if await self.management.on_command(interaction, user_id):
                return
            return
        answer = await self.commands.run(
            self.host, self._invocation(interaction, user_id), self.config.allowed_user_ids
        )
        flags = int(m.MessageFlags.EPHEMERAL) if answer.ephemeral else m.UNDEFINED
        await self._respond(
            interaction,
            m.InteractionResponse(
                type=m.InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
                data=m.InteractionMessage(content=answer.content, flags=flags),
            ),
        )

    async def _on_component(self, interaction: Any, user_id: int) -> None:
        if (
            self.management is not None
            and isinstance(interaction, m.ComponentInteraction)
            and await self.management.on_component(interaction, user_id)
        ):
            return
        custom_id = getattr(interaction.data, "custom_id", None)
        approval = parse_approval_custom_id(custom_id) if isinstance(custom_id, str) else None
        if approval is not None:
            token, approve = approval
            clicked = await self._ask_upgrade(
                AnswerUpgrade(
                    token=token,
                    user_id=user_id,
                    approve=approve,
                    role_ids=frozenset(_interaction_roles(interaction)),
                )
            )
            if not clicked.accepted:
                await self._reply_ephemeral(interaction, clicked.text)
                return
            # The upgrade actor edits the approval message itself.
            await self._respond(
                interaction,
                m.InteractionResponse(type=m.InteractionCallbackType.DEFERRED_UPDATE_MESSAGE),
            )
            return
        parsed = parse_prompt_custom_id(custom_id) if isinstance(custom_id, str) else None
        roles = _interaction_roles(interaction)
        if parsed is None:
            allowed = user_id in self.config.allowed_user_ids
            await self._reply_ephemeral(
                interaction, "This button is not one of this bot's." if allowed else NOT_ALLOWED
            )
            return
        prompt_id, choice = parsed
        prompt = await self._db(lambda db: db.prompt_get(prompt_id))
        if prompt is None:
            await self._reply_ephemeral(interaction, "This prompt is unknown to the bot.")
            return
        if not self.approvers.may_answer(prompt.kind, user_id, roles):
            # An allowed user who is no approver is told about approvers; anyone else
            # hears X5's sentence, as everywhere.
            allowed = user_id in self.config.allowed_user_ids
            await self._reply_ephemeral(
                interaction,
                NOT_APPROVER if allowed and prompt.kind in APPROVAL_KINDS else NOT_ALLOWED,
            )
            return
        if prompt.state is not PromptState.PENDING:
            await self._reply_ephemeral(
                interaction, f"This prompt is already {prompt.state.value}; nothing changed."
            )
            return
        modal = _modal_for(prompt, choice)
        if modal is not None:
            # "Other…": the answer comes with the modal's submission (C12).
            await self._respond(
                interaction, m.InteractionResponse(type=m.InteractionCallbackType.MODAL, data=modal)
            )
            return
        values = _values(interaction)
        refused = _refusal_for(prompt, choice, values)
        if refused is not None:
            await self._reply_ephemeral(interaction, refused)
            return
        await self._respond(
            interaction,
            m.InteractionResponse(type=m.InteractionCallbackType.DEFERRED_UPDATE_MESSAGE),
        )
        answer = AnswerPrompt(
            prompt_id=prompt_id,
            choice=choice,
            values=values,
            user_id=user_id,
            role_ids=roles,
        )
        await self._in_lane(prompt.thread_id, partial(self._deliver, prompt.thread_id, answer))

    async def _respond(self, interaction: Any, response: m.InteractionResponse) -> None:
        await self.rest.create_interaction_response(interaction.id, interaction.token, response)

    async def _reply_ephemeral(self, interaction: Any, text: str) -> None:
        await self._respond(
            interaction,
            m.InteractionResponse(
                type=m.InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
                data=m.InteractionMessage(content=text, flags=int(m.MessageFlags.EPHEMERAL)),
            ),
        )

    # -- READY: commands, catch-up, start-up -------------------------------------------

    def _on_ready(self, ready: m.Ready) -> None:
        self.ctx.nursery.start_soon(self._register_commands, ready)
        self.application_id = ready.application.id
        if self.guild_id is None and len(ready.guilds) == 1:
            self.guild_id = ready.guilds[0].id
        self.readies += 1
        self.stats.catch_ups += 1
        # The start-up work is once per bridge, not per router incarnation: a restarted
        # router must not resume sessions twice.
        first = self.readies == 1 and not self.startup.done.is_set()
        marks = dict(self.startup.to_resume) if first else {}
        threads = sorted(self.live | set(marks))
        done: list[trio.Event] = []

        def job(fn: Callable[[], Awaitable[None]]) -> Job:
            event = trio.Event()
            done.append(event)

            async def run() -> None:
                try:
                    await fn()
                finally:
                    event.set()

            return run

        # Submitted now, by the loop, so each lane catches up before any live message.
        main = self.config.channel_id
        self.main_catch_ups += 1
        self.lanes.submit(main, job(partial(self._catch_up_main_then_tell, repair=first)))
        for thread_id in threads:
            self.lanes.submit(
                thread_id,
                job(partial(self._catch_up_thread, thread_id, marks.get(thread_id), repair=first)),
            )
        if first:
            self.ctx.nursery.start_soon(_set_when_all, done, self.startup.done)

    async def _catch_up_main_then_tell(self, *, repair: bool) -> None:
        try:
            await self._catch_up_main(repair=repair)
        finally:
            with contextlib.suppress(actors.ActorStopped):
                await self.ctx.self.send(_MainCaughtUp())

    def _command_definitions(self) -> list[m.ApplicationCommand]:
        """The registry's commands, then the session-management ones when they are on."""
        defs = list(self.commands.definitions())
        if self.management is not None:
            defs.extend(MANAGEMENT_COMMANDS)
        return defs

    async def _register_commands(self, ready: m.Ready) -> None:
        for guild in ready.guilds:
            try:
                await self.rest.bulk_overwrite_guild_commands(
                    ready.application.id, guild.id, self._command_definitions()
                )
            except _PEER_ERRORS:
                log.exception("router: could not register slash commands in guild %s", guild.id)


class _CommandHost:
    """What the slash commands may do (:class:`bridge.sessions.commands.CommandHost`),
    on the router's behalf: store calls, and work queued in a thread's lane."""

    def __init__(self, router: _Router) -> None:
        self._router = router

    @property
    def main_channel_id(self) -> int:
        return self._router.config.channel_id

    @property
    def working_dir(self) -> str:
        return self._router.config.working_dir

    @property
    def default_model(self) -> str | None:
        return self._router.config.model

    def now(self) -> float:
        return self._router.config.clock()

    async def db(self, fn: Callable[[Database], Any]) -> Any:
        return await self._router._db(fn)

    async def session(self, channel_id: int | None) -> SessionRecord | None:
        if channel_id is None or channel_id == self._router.config.channel_id:
            return None
        record: SessionRecord | None = await self.db(lambda db: db.get_session(channel_id))
        return record

    async def tell_session(self, thread_id: int, msg: SessionMessage) -> None:
        router = self._router
        await router._in_lane(thread_id, partial(router._deliver, thread_id, msg))

    async def run_prompt(
        self, *, thread_id: int | None, author_id: int, title: str, prompt: str, intro: str
    ) -> None:
        router = self._router
        request = StartSession(
            title=title,
            prompt=prompt,
            intro=intro,
            working_dir=router.config.working_dir,
            origin="discord",  # a person asked, with a slash command
            thread_id=thread_id,
        )

        async def run() -> None:
            try:
                await router._open_requested_session(request, author_id)
            except (*_PEER_ERRORS, ValueError):
                log.exception("router: a command's prompt could not be run")

        await router._in_lane(thread_id if thread_id is not None else self.main_channel_id, run)

    @property
    def task_control(self) -> TaskControl | None:
        return self._router.config.task_control

    async def request_upgrade(self, user_id: int, role_ids: Sequence[int] = ()) -> str:
        ask = RequestUpgrade(user_id=user_id, role_ids=frozenset(role_ids))
        return (await self._router._ask_upgrade(ask)).text


async def _set_when_all(events: list[trio.Event], done: trio.Event) -> None:
    for event in events:
        await event.wait()
    done.set()


def _abandon_session(thread_id: int, now: float, db: Database) -> None:
    """Its thread could not be started: the session never runs, its message is answered."""
    db.update_session(thread_id, now, status=SessionStatus.ENDED)
    db.inbox_set_state([thread_id], InboxState.REJECTED)


def _summary(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        try:
            text = "; ".join(cattrs.transform_error(exc))
        except Exception:  # a summary for a log line is never worth a crash
            text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:299] + "…"


def _interaction_user(interaction: Any) -> int | None:
    member = getattr(interaction, "member", m.UNDEFINED)
    if isinstance(member, m.Member) and isinstance(member.user, m.User):
        return member.user.id
    user = getattr(interaction, "user", m.UNDEFINED)
    return user.id if isinstance(user, m.User) else None


def _modal_for(prompt: PromptRecord, choice: str) -> m.Modal | None:
    """The modal a prompt's button opens, if it is one that does (C12 "Other…", C13
    "Revise…", C15 "Fill in…")."""
    if prompt.kind == PromptKind.ELICITATION:
        return elicitations.form_modal(prompt) if choice == elicitations.ElicitChoice.FILL else None
    if prompt.kind == PromptKind.PLAN:
        return plans.revise_modal(prompt) if choice == plans.PlanChoice.REVISE else None
    if prompt.kind != PromptKind.QUESTION:
        return None
    pick = questions.parse_pick(choice)
    if pick is None or pick.kind != "x":
        return None
    return questions.other_modal(prompt, pick.question)


def _refusal_for(prompt: PromptRecord, choice: str, values: tuple[str, ...]) -> str | None:
    """Why an answer is refused before it is acknowledged (C15: a form that does not
    validate is told at once, ephemerally), else ``None``."""
    if prompt.kind == PromptKind.ELICITATION:
        return elicitations.refusal(prompt, choice, values)
    return None


def _interaction_roles(interaction: Any) -> tuple[int, ...]:
    """The clicking member's role ids (none outside a guild)."""
    member = getattr(interaction, "member", m.UNDEFINED)
    if isinstance(member, m.Member):
        return tuple(r for r in member.roles if isinstance(r, int))
    return ()


def _values(interaction: Any) -> tuple[str, ...]:
    data = interaction.data
    if isinstance(data, m.ComponentData):
        return tuple(data.values) if isinstance(data.values, list) else ()
    found: list[str] = []

    def walk(component: Any) -> None:
        value = getattr(component, "value", m.UNDEFINED)
        if isinstance(value, str):
            found.append(value)
        picked = getattr(component, "values", m.UNDEFINED)
        if isinstance(picked, list):  # a select in a modal: one value per field (C15)
            found.append(str(picked[0]) if picked else "")
        for child in getattr(component, "components", None) or ():
            walk(child)
        inner = getattr(component, "component", None)
        if inner is not None:
            walk(inner)

    for component in getattr(data, "components", ()):
        walk(component)
    return tuple(found)


def _attachments(message: m.Message) -> tuple[AttachmentInfo, ...]:
    return tuple(
        AttachmentInfo(
            id=a.id,
            filename=a.filename,
            size=a.size,
            url=a.url,
            content_type=a.content_type if isinstance(a.content_type, str) else None,
        )
        for a in message.attachments
    )


def _inbox_item(message: m.Message, thread_id: int, now: float) -> InboxItem:
    return InboxItem(
        message_id=message.id,
        thread_id=thread_id,
        author_id=message.author.id,
        content=message.content,
        attachments=tuple(attrs.asdict(a) for a in _attachments(message)),
        received_at=now,
    )


def _user_message(item: InboxItem, message: m.Message, *, seen: str | None = None) -> UserMessage:
    return UserMessage(
        message_id=item.message_id,
        thread_id=item.thread_id,
        author_id=item.author_id,
        content=item.content,
        attachments=_attachments(message),
        received_at=item.received_at,
        seen_reaction=seen,
    )
