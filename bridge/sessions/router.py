"""The router actor: gateway dispatches in, session messages out (docs/architecture.md).

Theory of operation
-------------------
The gateway tells every dispatch to the router as a ``GatewayDispatch``. The router keeps
no session state of its own beyond what it needs to route: the store says which threads
are sessions (they outlive the process) and the sessions supervisor says which session
actors run. Three entry points, each checked against the allowed users first (X5):

* ``MESSAGE_CREATE`` in the configured channel starts a session: a thread is started from
  the message (named by :func:`~bridge.sessions.usage.thread_name`, C1; Discord gives it the
  message's id), a :class:`~bridge.store.SessionRecord` is stored, the message enters the
  thread's inbox, and the thread's session actor is started and told ``UserMessage``. In
  a session thread the message enters the inbox (deduplicated by message id: the gateway
  may deliver twice) and then goes to the session, started if needed. The inbox write
  comes first, so a message is never lost between the two.
* ``INTERACTION_CREATE``: ``/stop`` becomes ``StopTurn``; a prompt button or select
  (``custom_id`` ``ccb:prompt:<prompt_id>:<choice>``) is acknowledged with a deferred
  update at once (Discord allows 3 s) and becomes ``AnswerPrompt``. Interactions are
  handled in helper tasks, so a slow thread creation never makes an acknowledgement late.
* ``READY`` registers the slash commands in each guild (guild commands apply at once;
  global ones can take an hour to reach clients).
* ``THREAD_DELETE`` of a session's thread marks the session ``ended`` and stops its actor.
  (An archived thread is not ended: Discord archives idle threads, and a new message
  unarchives them.)

Someone not allowed is told so once per channel for messages, and with an ephemeral reply
for interactions; nothing else happens (no thread, no inbox entry, no session).

*Error handling*: a Discord error while handling one dispatch (the peer's fault) is logged
with the dispatch and routing goes on; anything else is a bug and crashes the router, which
its supervisor restarts.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import attrs
import trio

import actors
from bridge.discord.errors import DiscordError
from bridge.sessions.attachments import AttachmentInfo
from bridge.sessions.messages import (
    AnswerPrompt,
    SessionOpened,
    StartSession,
    StopTurn,
    UserMessage,
)
from bridge.sessions.usage import thread_name
from bridge.store import Database, InboxItem, PromptState, SessionRecord, SessionStatus
from bridge.store.actor import store_call
from protocol.discord import models as m
from protocol.discord.converter import make_converter

__all__ = [
    "PROMPT_PREFIX",
    "ROUTER_MAILBOX",
    "SLASH_COMMANDS",
    "RouterConfig",
    "RouterRest",
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
"""The gateway sends with backpressure: a slow router slows socket reads, loses nothing."""

# Message types a person types (resources/message.mdx "Message Types"); joins, pins and
# thread-created notices are not instructions for Claude.
_USER_MESSAGE_TYPES: Final = frozenset({m.MessageType.DEFAULT, m.MessageType.REPLY})

SLASH_COMMANDS: Final = (
    m.ApplicationCommand(
        name="stop",
        description="Stop Claude's running turn in this thread (the session stays resumable)",
        type=m.ApplicationCommandType.CHAT_INPUT,
    ),
)

NOT_ALLOWED: Final = (
    "Sorry, you are not on this bot's list of allowed users, so it will not run Claude for "
    "you. Ask the bot's owner to add your user id to ALLOWED_USER_IDS."
)


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
    """Wall-clock seconds for stored timestamps."""
    api_author_id: int | None = None
    """Recorded as the author of prompts from :class:`StartSession` (the API and the
    scheduler act for the owner); ``None`` refuses them."""


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


@attrs.frozen
class _Deps:
    config: RouterConfig
    rest: RouterRest
    store: actors.Ref[Any]
    sessions: actors.SupervisorRef


async def router_actor(
    ctx: actors.Context[Any],
    config: RouterConfig,
    rest: RouterRest,
    store: actors.Ref[Any],
    sessions: actors.SupervisorRef,
) -> None:
    """Route ``GatewayDispatch`` messages (anything with ``name`` and ``data``).

    Args:
        rest: the REST client.
        store: the store actor.
        sessions: the dynamic supervisor of session actors; ``start_child(thread_id,
            id=thread_id)`` starts a thread's session.
    """
    deps = _Deps(config, rest, store, sessions)
    converter = make_converter()
    told_not_allowed: set[tuple[int, int]] = set()
    ctx.started()
    async for msg in ctx.mailbox:
        if isinstance(msg, StartSession):
            ctx.nursery.start_soon(_on_start_session, deps, msg)
            continue
        name = getattr(msg, "name", None)
        data = getattr(msg, "data", None)
        if not isinstance(name, str) or not isinstance(data, dict):
            log.warning("router: ignoring unexpected message %r", msg)
            continue
        try:
            if name == "MESSAGE_CREATE":
                message = converter.structure(data, m.Message)
                await _on_message(deps, message, told_not_allowed)
            elif name == "INTERACTION_CREATE":
                interaction = converter.structure(data, m.Interaction)  # type: ignore[arg-type]
                ctx.nursery.start_soon(_on_interaction, deps, interaction)
            elif name == "READY":
                ready = converter.structure(data, m.Ready)
                ctx.nursery.start_soon(_register_commands, deps, ready)
            elif name == "THREAD_DELETE":
                await _on_thread_deleted(deps, ctx.nursery, int(data["id"]))
        except _PEER_ERRORS:
            log.exception("router: Discord failed us while handling %s; routing goes on", name)


_PEER_ERRORS: Final = (DiscordError,)


# --- messages --------------------------------------------------------------------------


async def _on_message(
    deps: _Deps, message: m.Message, told_not_allowed: set[tuple[int, int]]
) -> None:
    if message.author.bot is True or message.webhook_id is not m.UNDEFINED:
        return  # bots (ourselves included) and webhooks never drive Claude (A2 may)
    if message.type not in _USER_MESSAGE_TYPES or message.guild_id is m.UNDEFINED:
        return
    in_main_channel = message.channel_id == deps.config.channel_id
    record = None
    if not in_main_channel:
        record = await _session_record(deps, message.channel_id)
        if record is None:
            return  # a channel or thread that is none of ours
    if message.author.id not in deps.config.allowed_user_ids:
        key = (message.author.id, message.channel_id)
        if key not in told_not_allowed:
            told_not_allowed.add(key)
            await deps.rest.create_message(
                message.channel_id, content=NOT_ALLOWED, reply_to=message.id
            )
        return
    if in_main_channel:
        await _start_session(deps, message)
    else:
        await _continue_session(deps, message, message.channel_id)


async def _session_record(deps: _Deps, thread_id: int) -> SessionRecord | None:
    # The store, not the live actors, says which threads are sessions: sessions outlive
    # the process, and a thread whose actor is not running is still a session.
    return await store_call(deps.store, lambda db: db.get_session(thread_id), timeout=STORE_TIMEOUT)


async def _start_session(deps: _Deps, message: m.Message) -> None:
    # A thread started from a message takes the message's id, so a redelivered message
    # finds its session already stored and is not started twice (Discord would refuse a
    # second thread with 160004 anyway).
    existing = await store_call(
        deps.store, lambda db: db.get_session(message.id), timeout=STORE_TIMEOUT
    )
    if existing is not None:
        return
    title = thread_name(message.content)
    thread = await deps.rest.start_thread_from_message(message.channel_id, message.id, name=title)
    now = deps.config.clock()
    record = SessionRecord(
        thread_id=thread.id,
        channel_id=message.channel_id,
        guild_id=message.guild_id if isinstance(message.guild_id, int) else None,
        working_dir=deps.config.working_dir,
        title=title,
        model=deps.config.model,
        created_at=now,
        updated_at=now,
    )
    item = _inbox_item(message, thread.id, now)

    def store_new_session(db: Database) -> bool:
        db.put_session(record)
        return db.inbox_add(item)

    if await store_call(deps.store, store_new_session, timeout=STORE_TIMEOUT):
        await _deliver(deps, thread.id, _user_message(item, message))


async def _on_start_session(deps: _Deps, request: StartSession) -> None:
    try:
        opened = await _open_requested_session(deps, request)
    except Exception as exc:  # the asker reports it (a Discord or store failure)
        request.fail(exc)
    else:
        request.reply(opened)


async def _open_requested_session(deps: _Deps, request: StartSession) -> SessionOpened:
    author_id = deps.config.api_author_id
    if author_id is None:
        raise ValueError("no owner or allowed user is configured to start sessions for")
    thread_id = request.thread_id
    if thread_id is None:
        # As for a person's message: a visible message in the main channel, its thread.
        posted = await deps.rest.create_message(deps.config.channel_id, content=request.intro)
        thread = await deps.rest.start_thread_from_message(
            deps.config.channel_id, posted.id, name=thread_name(request.title)
        )
        thread_id = thread.id
        guild_id = posted.guild_id if isinstance(posted.guild_id, int) else None
    else:
        posted = await deps.rest.create_message(thread_id, content=request.intro)
        guild_id = None
    now = deps.config.clock()
    record = SessionRecord(
        thread_id=thread_id,
        channel_id=deps.config.channel_id,
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

    def store(db: Database) -> bool:
        if db.get_session(thread_id) is None:
            db.put_session(record)
        return db.inbox_add(item)

    if await store_call(deps.store, store, timeout=STORE_TIMEOUT):
        await _deliver(
            deps,
            thread_id,
            UserMessage(
                message_id=item.message_id,
                thread_id=thread_id,
                author_id=author_id,
                content=item.content,
                received_at=now,
            ),
        )
    return SessionOpened(thread_id=thread_id, message_id=posted.id)


async def _continue_session(deps: _Deps, message: m.Message, thread_id: int) -> None:
    item = _inbox_item(message, thread_id, deps.config.clock())
    if await store_call(deps.store, lambda db: db.inbox_add(item), timeout=STORE_TIMEOUT):
        await _deliver(deps, thread_id, _user_message(item, message))


async def _deliver(deps: _Deps, thread_id: int, msg: Any) -> None:
    """Tell the thread's session ``msg``, starting the session actor if it is not running.

    A message already in the inbox is safe if the tell fails (the session is stopping for
    a shutdown): it is marked for resume and picks the message up at the next start.
    """
    session = await _session_ref(deps, thread_id)
    try:
        await session.send(msg)
    except (actors.ActorStopped, actors.MailboxFull) as exc:
        log.warning("router: could not tell thread %s's session %r: %s", thread_id, msg, exc)


async def _session_ref(deps: _Deps, thread_id: int) -> actors.Ref[Any]:
    ref = deps.sessions.child(thread_id)
    if ref is not None and ref.alive:
        return ref
    try:
        return await deps.sessions.start_child(thread_id, id=thread_id)
    except actors.DuplicateChild:
        # It was being started or is restarting under its supervisor: use that one.
        existing = deps.sessions.child(thread_id)
        if existing is None:
            raise
        return existing


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


def _user_message(item: InboxItem, message: m.Message) -> UserMessage:
    return UserMessage(
        message_id=item.message_id,
        thread_id=item.thread_id,
        author_id=item.author_id,
        content=item.content,
        attachments=_attachments(message),
        received_at=item.received_at,
    )


async def _on_thread_deleted(deps: _Deps, nursery: trio.Nursery, thread_id: int) -> None:
    """A deleted thread's session can never be used again: it is ENDED (never resumed
    automatically) and its actor, if running, stopped (which ends its ``claude``)."""

    def end(db: Database) -> bool:
        if db.get_session(thread_id) is None:
            return False
        db.update_session(thread_id, deps.config.clock(), status=SessionStatus.ENDED)
        return True

    if not await store_call(deps.store, end, timeout=STORE_TIMEOUT):
        return
    if deps.sessions.child(thread_id) is not None:
        # Stopping waits for the process to end: not in the routing loop.
        nursery.start_soon(_terminate_session, deps.sessions, thread_id)


async def _terminate_session(sessions: actors.SupervisorRef, thread_id: int) -> None:
    with contextlib.suppress(actors.UnknownChild, actors.ActorStopped):  # it ended meanwhile
        await sessions.terminate_child(thread_id)


# --- interactions ----------------------------------------------------------------------


def _interaction_user(interaction: Any) -> int | None:
    member = getattr(interaction, "member", m.UNDEFINED)
    if isinstance(member, m.Member) and isinstance(member.user, m.User):
        return member.user.id
    user = getattr(interaction, "user", m.UNDEFINED)
    return user.id if isinstance(user, m.User) else None


async def _on_interaction(deps: _Deps, interaction: Any) -> None:
    try:
        await _handle_interaction(deps, interaction)
    except _PEER_ERRORS:
        log.exception("router: Discord failed us while answering interaction %r", interaction)


async def _handle_interaction(deps: _Deps, interaction: Any) -> None:
    if isinstance(interaction, m.PingInteraction):
        await _respond(
            deps, interaction, m.InteractionResponse(type=m.InteractionCallbackType.PONG)
        )
        return
    if not isinstance(
        interaction, m.CommandInteraction | m.ComponentInteraction | m.ModalSubmitInteraction
    ):
        return  # autocomplete and unknown kinds: we offer none
    user_id = _interaction_user(interaction)
    if user_id is None or user_id not in deps.config.allowed_user_ids:
        await _reply_ephemeral(deps, interaction, NOT_ALLOWED)
        return
    if isinstance(interaction, m.CommandInteraction):
        await _on_command(deps, interaction, user_id)
    else:
        await _on_component(deps, interaction, user_id)


async def _on_command(deps: _Deps, interaction: m.CommandInteraction, user_id: int) -> None:
    if interaction.data.name != "stop":
        await _reply_ephemeral(deps, interaction, f"Unknown command /{interaction.data.name}.")
        return
    channel_id = interaction.channel_id
    record = await _session_record(deps, channel_id) if isinstance(channel_id, int) else None
    if record is None or not isinstance(channel_id, int):
        await _reply_ephemeral(
            deps,
            interaction,
            "There is no Claude session in this channel: use /stop in a session's thread.",
        )
        return
    await _respond(
        deps,
        interaction,
        m.InteractionResponse(
            type=m.InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
            data=m.InteractionMessage(content=f"⏹️ Stop requested by <@{user_id}>."),
        ),
    )
    await _deliver(deps, channel_id, StopTurn(requested_by=user_id))


async def _on_component(deps: _Deps, interaction: Any, user_id: int) -> None:
    parsed = parse_prompt_custom_id(interaction.data.custom_id)
    if parsed is None:
        await _reply_ephemeral(deps, interaction, "This button is not one of this bot's.")
        return
    prompt_id, choice = parsed
    prompt = await store_call(
        deps.store, lambda db: db.prompt_get(prompt_id), timeout=STORE_TIMEOUT
    )
    if prompt is None:
        await _reply_ephemeral(deps, interaction, "This prompt is unknown to the bot.")
        return
    if prompt.state is not PromptState.PENDING:
        await _reply_ephemeral(
            deps, interaction, f"This prompt is already {prompt.state.value}; nothing changed."
        )
        return
    await _respond(
        deps,
        interaction,
        m.InteractionResponse(type=m.InteractionCallbackType.DEFERRED_UPDATE_MESSAGE),
    )
    await _deliver(
        deps,
        prompt.thread_id,
        AnswerPrompt(
            prompt_id=prompt_id, choice=choice, values=_values(interaction), user_id=user_id
        ),
    )


def _values(interaction: Any) -> tuple[str, ...]:
    data = interaction.data
    if isinstance(data, m.ComponentData):
        return tuple(data.values) if isinstance(data.values, list) else ()
    found: list[str] = []

    def walk(component: Any) -> None:
        value = getattr(component, "value", m.UNDEFINED)
        if isinstance(value, str):
            found.append(value)
        for child in getattr(component, "components", None) or ():
            walk(child)
        inner = getattr(component, "component", None)
        if inner is not None:
            walk(inner)

    for component in getattr(data, "components", ()):
        walk(component)
    return tuple(found)


async def _respond(deps: _Deps, interaction: Any, response: m.InteractionResponse) -> None:
    await deps.rest.create_interaction_response(interaction.id, interaction.token, response)


async def _reply_ephemeral(deps: _Deps, interaction: Any, text: str) -> None:
    await _respond(
        deps,
        interaction,
        m.InteractionResponse(
            type=m.InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
            data=m.InteractionMessage(content=text, flags=int(m.MessageFlags.EPHEMERAL)),
        ),
    )


# --- commands --------------------------------------------------------------------------


async def _register_commands(deps: _Deps, ready: m.Ready) -> None:
    for guild in ready.guilds:
        try:
            await deps.rest.bulk_overwrite_guild_commands(
                ready.application.id, guild.id, list(SLASH_COMMANDS)
            )
        except _PEER_ERRORS:
            log.exception("router: could not register slash commands in guild %s", guild.id)
