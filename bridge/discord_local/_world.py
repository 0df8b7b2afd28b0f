"""The local server's whole state: users, one guild, channels, threads, messages, commands,
interactions and webhooks, with the rules Discord applies when they change.

Theory of operation
-------------------
One :class:`World` is created per server and every mutation goes through its methods. The
methods are synchronous: none awaits, so under trio no other task can observe a half-made
change, and no lock is needed. Each mutation

1. checks Discord's rules and raises :class:`DiscordHTTPError` with Discord's code if broken;
2. changes the records;
3. emits gateway dispatches (``MESSAGE_CREATE`` ...) to subscribed listeners (the gateway
   hub), synchronously and in order;
4. wakes everyone waiting in :meth:`World.wait_until`.

Time is ``clock()`` (``trio.current_time`` by default); Unix time for timestamps and
snowflakes is derived by adding ``wall_offset``, so a test's ``MockClock`` drives both.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs
import trio

from . import _normalize as normalize
from . import _render as render
from ._config import (
    GUILD_MESSAGE_REACTIONS,
    GUILD_MESSAGE_TYPING,
    GUILD_MESSAGES,
    GUILDS,
    Realism,
)
from ._errors import (
    CANNOT_EDIT_OTHERS_MESSAGE,
    INTERACTION_ALREADY_ACKNOWLEDGED,
    INVALID_WEBHOOK_TOKEN,
    MAX_PINS,
    THREAD_ALREADY_EXISTS,
    THREAD_ARCHIVED,
    UNKNOWN_APPLICATION_COMMAND,
    UNKNOWN_CHANNEL,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_ROLE,
    UNKNOWN_USER,
    UNKNOWN_WEBHOOK,
    DiscordHTTPError,
    FieldError,
    invalid_form_body,
    not_found,
)
from ._records import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    EPHEMERAL,
    GUILD_TEXT,
    LOADING,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    PING,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    Attachment,
    Channel,
    Command,
    Interaction,
    Message,
    MessageVersion,
    Role,
    User,
    Webhook,
)

JSON = dict[str, Any]
T = TypeVar("T")
DISCORD_EPOCH_MS = 1420070400000
PINS_MAX = 250
# "checked for uniqueness in the past few minutes" (message.mdx, Create Message, enforce_nonce).
NONCE_WINDOW = 300.0
# Message types (message.mdx "Message Types").
DEFAULT = 0
THREAD_CREATED = 18
REPLY = 19
CHAT_INPUT_COMMAND = 20
LOCAL_ONLY = -1
"""Intent of notices for the web client alone (``LOCAL_EPHEMERAL``, ``LOCAL_MODAL``,
``LOCAL_COMMANDS``)."""


@attrs.frozen
class Dispatch:
    """One gateway event produced by a change, before per-session filtering."""

    event: str
    """The ``t`` of the payload, e.g. ``MESSAGE_CREATE``."""
    data: JSON
    """The ``d``, as a reader with every intent would see it."""
    intent: int
    """The intent a session needs to receive it; 0 for always."""
    message: Message | None = None
    """For message events: used to apply MESSAGE_CONTENT filtering per session."""


@attrs.frozen
class NewFile:
    """A file uploaded with a message."""

    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None


class World:
    """The in-memory Discord: one bot, one guild, any number of users and channels."""

    def __init__(
        self,
        *,
        realism: Realism,
        rng: random.Random,
        clock: Callable[[], float] = trio.current_time,
        wall_offset: float = 0.0,
        bot_name: str = "ccbridge-local",
        guild_name: str = "ccbridge local",
        cdn_base: str = "",
    ) -> None:
        self.realism = realism
        self.rng = rng
        self.clock = clock
        self.wall_offset = wall_offset
        self.cdn_base = cdn_base
        self._last_snowflake = 0
        self._listeners: list[Callable[[Dispatch], None]] = []
        self._changed = trio.Event()
        self.started_at = clock()

        self.users: dict[int, User] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.attachments: dict[int, tuple[int, Attachment]] = {}
        self.webhooks_by_id: dict[int, Webhook] = {}
        self.roles: dict[int, Role] = {}
        self.interactions: dict[int, Interaction] = {}
        self.interactions_by_token: dict[str, int] = {}
        self.commands: dict[int, Command] = {}
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}

        self.bot = self.add_user(bot_name, bot=True)
        self.application_id = self.bot.id
        self.token = self._make_token(self.bot.id)
        owner = self.add_user("owner", global_name="Owner")
        self.owner_id = owner.id
        self.guild_id = self.snowflake()
        self.guild_name = guild_name
        self.default_channel = self.add_channel("general")

    # ------------------------------------------------------------------ plumbing

    def now(self) -> float:
        return self.clock()

    def wall(self, t: float) -> float:
        """A ``clock()`` instant as Unix time."""
        return t + self.wall_offset

    def snowflake(self) -> int:
        """A new id whose timestamp bits are the current time, strictly increasing."""
        ms = int(self.wall(self.now()) * 1000) - DISCORD_EPOCH_MS
        candidate = max(ms, 0) << 22
        self._last_snowflake = max(candidate, self._last_snowflake + 1)
        return self._last_snowflake

    def _make_token(self, user_id: int) -> str:
        head = base64.urlsafe_b64encode(str(user_id).encode()).decode().rstrip("=")
        tail = "".join(
            self.rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
            for _ in range(38)
        )
        return f"{head}.local.{tail}"

    def secret(self, n: int = 64) -> str:
        """A random token-like string from the injected random source."""
        return "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))

    def subscribe(self, listener: Callable[[Dispatch], None]) -> None:
        """Call ``listener`` synchronously with every dispatch from now on."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Dispatch], None]) -> None:
        """Stop calling ``listener`` (a web client's event stream that closed)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notice(self, event: str, data: JSON) -> None:
        """Tell listeners about a change the gateway never dispatches (an ephemeral message,
        an opened modal): intent -1 matches no gateway session, only the web client."""
        self._emit(event, data, LOCAL_ONLY)

    async def next_change(self) -> None:
        """Return after the next change (the persistence writer waits on this)."""
        await self._changed.wait()

    def _emit(self, event: str, data: JSON, intent: int, message: Message | None = None) -> None:
        for listener in self._listeners:
            listener(Dispatch(event, data, intent, message))

    def touch(self) -> None:
        """Wake :meth:`wait_until` waiters; called after every change (also by the gateway)."""
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float = 10.0) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        Raises:
            trio.TooSlowError: if it is still falsy after ``timeout`` seconds.
        """
        with trio.fail_after(timeout):
            while not (value := predicate()):
                await self._changed.wait()
        return value

    # ------------------------------------------------------------------ lookups

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise not_found(UNKNOWN_USER, "User") from None

    def channel(self, channel_id: int) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise not_found(UNKNOWN_CHANNEL, "Channel") from None

    def message(self, channel_id: int, message_id: int) -> Message:
        self.channel(channel_id)
        m = self.messages.get(message_id)
        if m is None or m.channel_id != channel_id or m.deleted_at is not None:
            raise not_found(UNKNOWN_MESSAGE, "Message")
        return m

    def find_message(self, message_id: int) -> Message:
        m = self.messages.get(message_id)
        if m is None or m.deleted_at is not None:
            raise not_found(UNKNOWN_MESSAGE, "Message")
        return m

    # ------------------------------------------------------------------ users & channels

    def add_user(self, username: str, *, global_name: str | None = None, bot: bool = False) -> User:
        u = User(id=self.snowflake(), username=username, global_name=global_name, bot=bot)
        self.users[u.id] = u
        if hasattr(self, "guild_id"):  # the bot and owner are made before the guild exists
            self._emit(
                "GUILD_MEMBER_ADD",
                {**render.member(self, u), "guild_id": str(self.guild_id)},
                intent=2,
            )
        self.touch()
        return u

    def add_role(self, name: str) -> Role:
        """A guild role (GUILD_ROLE_CREATE, intent GUILDS)."""
        role = Role(id=self.snowflake(), name=name)
        self.roles[role.id] = role
        self._emit(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(self.guild_id), "role": render.role(self, role)},
            intent=1,
        )
        self.touch()
        return role

    def set_member_roles(self, user_id: int, role_ids: list[int]) -> User:
        """Give a member exactly these roles (GUILD_MEMBER_UPDATE, intent GUILD_MEMBERS);
        an unknown role is a 404 ``10011``, as Discord answers."""
        u = self.user(user_id)
        for role_id in role_ids:
            if role_id not in self.roles:
                raise not_found(UNKNOWN_ROLE, "Role")
        u.roles = sorted(set(role_ids))
        self._emit(
            "GUILD_MEMBER_UPDATE",
            {**render.member(self, u), "guild_id": str(self.guild_id)},
            intent=2,
        )
        self.touch()
        return u

    def add_channel(self, name: str, *, topic: str | None = None) -> Channel:
        c = Channel(
            id=self.snowflake(),
            type=GUILD_TEXT,
            name=name,
            guild_id=self.guild_id,
            position=len([c for c in self.channels.values() if not c.is_thread]),
            topic=topic,
            created_at=self.now(),
        )
        self.channels[c.id] = c
        self._emit("CHANNEL_CREATE", render.channel(self, c), GUILDS)
        self.touch()
        return c

    def modify_channel(self, channel_id: int, body: JSON) -> Channel:
        """PATCH /channels/{id}: name, topic, and for threads archived / locked / duration."""
        c = self.channel(channel_id)
        errors: list[FieldError] = []
        if "name" in body and (
            not isinstance(body["name"], str) or not 1 <= len(body["name"]) <= 100
        ):
            errors.append(
                FieldError(
                    ("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                )
            )
        duration = body.get("auto_archive_duration")
        if duration is not None and duration not in (60, 1440, 4320, 10080):
            errors.append(
                FieldError(
                    ("auto_archive_duration",),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of (60, 1440, 4320, 10080).",
                )
            )
        if errors:
            raise invalid_form_body(errors)
        if "name" in body:
            c.name = body["name"]
        if "topic" in body and not c.is_thread:
            c.topic = body["topic"]
        if c.is_thread:
            if "archived" in body and bool(body["archived"]) != c.archived:
                c.archived = bool(body["archived"])
                c.archive_changed_at = self.now()
            if "locked" in body:
                c.locked = bool(body["locked"])
            if duration is not None:
                c.auto_archive_duration = duration
            if "invitable" in body:
                c.invitable = bool(body["invitable"])
        self._emit(
            "THREAD_UPDATE" if c.is_thread else "CHANNEL_UPDATE", render.channel(self, c), GUILDS
        )
        self.touch()
        return c

    def _writable(self, c: Channel) -> None:
        """Sending into an archived thread unarchives it, unless it is locked (threads.mdx)."""
        if c.is_thread and c.archived:
            if c.locked:
                raise DiscordHTTPError(400, THREAD_ARCHIVED, "Thread is locked")
            c.archived = False
            c.archive_changed_at = self.now()
            self._emit("THREAD_UPDATE", render.channel(self, c), GUILDS)

    # ------------------------------------------------------------------ messages

    def _store_files(self, files: Iterable[NewFile]) -> list[Attachment]:
        return [
            Attachment(
                id=self.snowflake(),
                filename=f.filename,
                content_type=f.content_type,
                data=f.data,
                description=f.description,
            )
            for f in files
        ]

    def _version(self, m: Message) -> None:
        now = self.now()
        m.versions.append(
            MessageVersion(
                content=m.content,
                embeds=m.embeds,
                components=m.components,
                attachment_ids=[a.id for a in m.attachments],
                visible_at=now,
                visible_at_wall=self.wall(now),
            )
        )

    def _mentions(self, content: str) -> list[int]:
        return [uid for uid in self.users if f"<@{uid}>" in content or f"<@!{uid}>" in content]

    def create_message(
        self,
        channel_id: int,
        author_id: int,
        *,
        content: str = "",
        embeds: list[JSON] | None = None,
        components: list[JSON] | None = None,
        files: Iterable[NewFile] = (),
        flags: int = 0,
        nonce: str | int | None = None,
        enforce_nonce: bool = False,
        message_reference: JSON | None = None,
        tts: bool = False,
        webhook_id: int | None = None,
        application_id: int | None = None,
        interaction_id: int | None = None,
        type: int = DEFAULT,
        dispatch: bool = True,
    ) -> Message:
        """Post a message; with ``enforce_nonce`` a repeated nonce returns the first message."""
        c = self.channel(channel_id)
        now = self.now()
        if enforce_nonce and nonce is not None:
            seen = self._nonces.get((author_id, str(nonce)))
            if seen is not None and now - seen[1] <= NONCE_WINDOW and seen[0] in self.messages:
                return self.messages[seen[0]]
        if message_reference is not None:
            ref_id = int(message_reference.get("message_id", 0))
            ref = self.messages.get(ref_id)
            if ref is None or ref.deleted_at is not None:
                raise invalid_form_body(
                    [
                        FieldError(
                            ("message_reference",),
                            "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                            "Unknown message",
                        )
                    ]
                )
            message_reference = {
                "type": 0,
                "message_id": str(ref.id),
                "channel_id": str(ref.channel_id),
                "guild_id": str(self.guild_id),
            }
            if type == DEFAULT:
                type = REPLY
        if not content and not embeds and not components and not files and not (flags & LOADING):
            raise DiscordHTTPError(400, 50006, "Cannot send an empty message")
        self._writable(c)
        m = Message(
            id=self.snowflake(),
            channel_id=channel_id,
            author_id=author_id,
            content=content,
            embeds=normalize.embeds(embeds),
            components=normalize.components(components),
            attachments=self._store_files(files),
            created_at=now,
            type=type,
            flags=flags,
            nonce=nonce,
            tts=tts,
            mentions=self._mentions(content),
            message_reference=message_reference,
            webhook_id=webhook_id,
            application_id=application_id,
            interaction_id=interaction_id,
        )
        for a in m.attachments:
            self.attachments[a.id] = (m.id, a)
        self._version(m)
        self.messages[m.id] = m
        if nonce is not None:
            self._nonces[(author_id, str(nonce))] = (m.id, now)
        c.message_ids.append(m.id)
        c.last_message_id = m.id
        c.total_message_sent += 1
        if c.is_thread and author_id not in c.member_ids and author_id in self.users:
            c.member_ids.append(author_id)
        if dispatch and not (flags & EPHEMERAL):
            self._emit("MESSAGE_CREATE", render.message_dispatch(self, m), GUILD_MESSAGES, m)
        elif dispatch:
            self._notice("LOCAL_EPHEMERAL", {"id": str(m.id)})
        self.touch()
        return m

    def edit_message(
        self,
        m: Message,
        *,
        editor_id: int | None,
        body: JSON,
        files: Iterable[NewFile] = (),
    ) -> Message:
        """Apply an edit body; ``attachments`` (if given) lists every attachment to keep."""
        if editor_id is not None and m.author_id != editor_id:
            raise DiscordHTTPError(
                403, CANNOT_EDIT_OTHERS_MESSAGE, "Cannot edit a message authored by another user"
            )
        c = self.channel(m.channel_id)
        if c.is_thread and c.archived:
            raise DiscordHTTPError(400, THREAD_ARCHIVED, "Thread is archived")
        if "content" in body:
            m.content = body["content"] or ""
        if "embeds" in body:
            m.embeds = normalize.embeds(body["embeds"])
        if "components" in body:
            m.components = normalize.components(body["components"])
        if "flags" in body and body["flags"] is not None:
            m.flags = (
                (m.flags & ~LOADING & ~EPHEMERAL)
                | (int(body["flags"]) & ~LOADING)
                | (m.flags & EPHEMERAL)
            )
        new_files = self._store_files(files)
        if "attachments" in body and body["attachments"] is not None:
            keep = {
                int(a["id"])
                for a in body["attachments"]
                if str(a.get("id", "")).isdigit() and int(a["id"]) in {x.id for x in m.attachments}
            }
            m.attachments = [a for a in m.attachments if a.id in keep]
        m.attachments += new_files
        for a in new_files:
            self.attachments[a.id] = (m.id, a)
        m.flags &= ~LOADING
        m.mentions = self._mentions(m.content)
        m.edited_at = self.now()
        self._version(m)
        if not (m.flags & EPHEMERAL):
            self._emit("MESSAGE_UPDATE", render.message_dispatch(self, m), GUILD_MESSAGES, m)
        else:
            self._notice("LOCAL_EPHEMERAL", {"id": str(m.id)})
        self.touch()
        return m

    def delete_message(self, m: Message) -> None:
        m.deleted_at = self.now()
        c = self.channels[m.channel_id]
        if m.id in c.pins:
            c.pins.remove(m.id)
        m.pinned = False
        if m.id in c.message_ids:
            c.message_ids.remove(m.id)
        self._emit(
            "MESSAGE_DELETE",
            {"id": str(m.id), "channel_id": str(m.channel_id), "guild_id": str(self.guild_id)},
            GUILD_MESSAGES,
        )
        self.touch()

    def list_messages(
        self,
        channel_id: int,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[Message]:
        """Newest first, as ``GET /channels/{id}/messages`` returns them."""
        ids = self.channel(channel_id).message_ids
        if before is not None:
            chosen = [i for i in ids if i < before][-limit:]
        elif after is not None:
            chosen = [i for i in ids if i > after][:limit]
        elif around is not None:
            older = [i for i in ids if i < around][-(limit // 2) :] if limit > 1 else []
            newer = [i for i in ids if i >= around][: limit - len(older)]
            chosen = older + newer
        else:
            chosen = ids[-limit:]
        return [self.messages[i] for i in reversed(chosen)]

    # ------------------------------------------------------------------ reactions, pins, typing

    def add_reaction(self, m: Message, emoji: str, user_id: int) -> None:
        users = m.reactions.setdefault(emoji, [])
        if user_id in users:
            return
        users.append(user_id)
        self._emit(
            "MESSAGE_REACTION_ADD",
            {
                "user_id": str(user_id),
                "channel_id": str(m.channel_id),
                "message_id": str(m.id),
                "guild_id": str(self.guild_id),
                "emoji": render.emoji_from_key(emoji),
                "member": render.member(self, self.users[user_id]),
                "burst": False,
                "type": 0,
            },
            GUILD_MESSAGE_REACTIONS,
        )
        self.touch()

    def remove_reaction(self, m: Message, emoji: str, user_id: int) -> None:
        users = m.reactions.get(emoji, [])
        if user_id not in users:
            return
        users.remove(user_id)
        if not users:
            del m.reactions[emoji]
        self._emit(
            "MESSAGE_REACTION_REMOVE",
            {
                "user_id": str(user_id),
                "channel_id": str(m.channel_id),
                "message_id": str(m.id),
                "guild_id": str(self.guild_id),
                "emoji": render.emoji_from_key(emoji),
                "burst": False,
                "type": 0,
            },
            GUILD_MESSAGE_REACTIONS,
        )
        self.touch()

    def pin(self, m: Message) -> None:
        c = self.channels[m.channel_id]
        if m.pinned:
            return
        if len(c.pins) >= PINS_MAX:
            raise DiscordHTTPError(400, MAX_PINS, f"Maximum number of pins reached ({PINS_MAX})")
        m.pinned = True
        m.pinned_at = self.now()
        c.pins.insert(0, m.id)
        c.last_pin_at = m.pinned_at
        self._pins_update(c)

    def unpin(self, m: Message) -> None:
        c = self.channels[m.channel_id]
        if not m.pinned:
            return
        m.pinned = False
        c.pins.remove(m.id)
        self._pins_update(c)

    def _pins_update(self, c: Channel) -> None:
        self._emit(
            "CHANNEL_PINS_UPDATE",
            {
                "guild_id": str(self.guild_id),
                "channel_id": str(c.id),
                "last_pin_timestamp": render.iso(self.wall(c.last_pin_at))
                if c.last_pin_at
                else None,
            },
            GUILDS,
        )
        self.touch()

    def typing(self, channel_id: int, user_id: int) -> None:
        self.channel(channel_id)
        self._emit(
            "TYPING_START",
            {
                "channel_id": str(channel_id),
                "guild_id": str(self.guild_id),
                "user_id": str(user_id),
                "timestamp": int(self.wall(self.now())),
                "member": render.member(self, self.users[user_id]),
            },
            GUILD_MESSAGE_TYPING,
        )
        self.touch()

    # ------------------------------------------------------------------ threads

    def _new_thread(
        self,
        thread_id: int,
        parent: Channel,
        name: str,
        kind: int,
        owner_id: int,
        duration: int | None,
    ) -> Channel:
        if parent.is_thread:
            raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
        now = self.now()
        t = Channel(
            id=thread_id,
            type=kind,
            name=name,
            guild_id=self.guild_id,
            parent_id=parent.id,
            owner_id=owner_id,
            auto_archive_duration=duration or 1440,
            archive_changed_at=now,
            created_at=now,
            member_ids=[owner_id],
        )
        self.channels[t.id] = t
        self._emit(
            "THREAD_CREATE",
            {
                **render.channel(self, t),
                "newly_created": True,
                "member": render.thread_member(self, t, owner_id),
            },
            GUILDS,
        )
        return t

    def start_thread_from_message(
        self, m: Message, *, name: str, owner_id: int, auto_archive_duration: int | None = None
    ) -> Channel:
        """The thread id equals the message id, so one thread per message (error 160004)."""
        if m.thread_id is not None or m.id in self.channels:
            raise DiscordHTTPError(
                400, THREAD_ALREADY_EXISTS, "A thread has already been created for this message"
            )
        parent = self.channels[m.channel_id]
        t = self._new_thread(m.id, parent, name, PUBLIC_THREAD, owner_id, auto_archive_duration)
        m.thread_id = t.id
        self._emit("MESSAGE_UPDATE", render.message_dispatch(self, m), GUILD_MESSAGES, m)
        self.touch()
        return t

    def start_thread(
        self,
        channel_id: int,
        *,
        name: str,
        owner_id: int,
        kind: int | None = None,
        auto_archive_duration: int | None = None,
    ) -> Channel:
        """A thread with no starter message; the type defaults to PRIVATE_THREAD (channel.mdx)."""
        parent = self.channel(channel_id)
        kind = PRIVATE_THREAD if kind is None else kind
        if kind not in (PUBLIC_THREAD, PRIVATE_THREAD):
            raise invalid_form_body(
                [FieldError(("type",), "BASE_TYPE_CHOICES", "Value must be one of (11, 12).")]
            )
        t = self._new_thread(self.snowflake(), parent, name, kind, owner_id, auto_archive_duration)
        self.touch()
        return t

    # ------------------------------------------------------------------ webhooks

    def add_webhook(self, channel_id: int, name: str) -> Webhook:
        self.channel(channel_id)
        w = Webhook(id=self.snowflake(), token=self.secret(), channel_id=channel_id, name=name)
        self.webhooks_by_id[w.id] = w
        self.touch()
        return w

    def webhook(self, webhook_id: int, token: str) -> Webhook:
        w = self.webhooks_by_id.get(webhook_id)
        if w is None:
            raise not_found(UNKNOWN_WEBHOOK, "Webhook")
        if w.token != token:
            raise DiscordHTTPError(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        return w

    # ------------------------------------------------------------------ application commands

    def overwrite_commands(self, guild_id: int | None, definitions: list[JSON]) -> list[Command]:
        """Bulk overwrite: commands keep their id (and bump version) when the name matches."""
        existing = {
            c.definition["name"]: c for c in self.commands.values() if c.guild_id == guild_id
        }
        for c in existing.values():
            del self.commands[c.id]
        out = []
        for d in definitions:
            old = existing.get(d["name"])
            c = Command(
                id=old.id if old else self.snowflake(),
                guild_id=guild_id,
                version=self.snowflake(),
                definition=d,
            )
            self.commands[c.id] = c
            out.append(c)
        self._notice("LOCAL_COMMANDS", {})
        self.touch()
        return out

    def list_commands(self, guild_id: int | None) -> list[Command]:
        return [c for c in self.commands.values() if c.guild_id == guild_id]

    def find_command(self, name: str) -> Command:
        """A guild command shadows a global one of the same name, as in the Discord client."""
        found = [c for c in self.commands.values() if c.definition["name"] == name]
        found.sort(key=lambda c: c.guild_id is None)
        if not found:
            raise not_found(UNKNOWN_APPLICATION_COMMAND, "application command")
        return found[0]

    # ------------------------------------------------------------------ interactions (user side)

    def _interaction(
        self, kind: int, user_id: int, channel_id: int, data: JSON, message_id: int | None = None
    ) -> Interaction:
        self.user(user_id)
        self.channel(channel_id)
        inter = Interaction(
            id=self.snowflake(),
            token=f"aW50ZXJhY3Rpb24.{self.secret(80)}",
            type=kind,
            data=data,
            channel_id=channel_id,
            user_id=user_id,
            created_at=self.now(),
            message_id=message_id,
        )
        self.interactions[inter.id] = inter
        self.interactions_by_token[inter.token] = inter.id
        if kind != PING:
            self._emit("INTERACTION_CREATE", render.interaction(self, inter.id), 0)
        self.touch()
        return inter

    def invoke_command(
        self,
        user_id: int,
        channel_id: int,
        name: str,
        options: list[JSON] | None = None,
        *,
        autocomplete: bool = False,
    ) -> Interaction:
        """A user runs a slash command (or types into an autocomplete option)."""
        cmd = self.find_command(name)
        data: JSON = {"id": str(cmd.id), "name": name, "type": cmd.definition.get("type", 1)}
        if options:
            data["options"] = options
        return self._interaction(
            AUTOCOMPLETE if autocomplete else APPLICATION_COMMAND, user_id, channel_id, data
        )

    def ping(self) -> Interaction:
        """A PING, as Discord sends to an HTTP interactions endpoint (never over the gateway)."""
        return self._interaction(PING, self.owner_id, self.default_channel.id, {})

    def _component(self, m: Message, custom_id: str) -> JSON:
        for row in m.components:
            for child in row.get("components", []):
                if isinstance(child, dict) and child.get("custom_id") == custom_id:
                    return child
        raise invalid_form_body(
            [
                FieldError(
                    ("custom_id",),
                    "COMPONENT_NOT_FOUND",
                    f"No component {custom_id!r} on message {m.id}",
                )
            ]
        )

    def click_button(self, user_id: int, message_id: int, custom_id: str) -> Interaction:
        m = self.find_message(message_id)
        comp = self._component(m, custom_id)
        if comp.get("type") != 2 or comp.get("disabled"):
            raise invalid_form_body(
                [
                    FieldError(
                        ("custom_id",),
                        "COMPONENT_INVALID",
                        f"{custom_id!r} is not an enabled button",
                    )
                ]
            )
        return self._interaction(
            MESSAGE_COMPONENT,
            user_id,
            m.channel_id,
            {"custom_id": custom_id, "component_type": 2},
            m.id,
        )

    def select(
        self, user_id: int, message_id: int, custom_id: str, values: list[str]
    ) -> Interaction:
        m = self.find_message(message_id)
        comp = self._component(m, custom_id)
        allowed = {o.get("value") for o in comp.get("options", [])}
        if comp.get("type") == 3 and not set(values) <= allowed:
            raise invalid_form_body(
                [
                    FieldError(
                        ("values",),
                        "COMPONENT_INVALID",
                        f"{values} not among the options {sorted(allowed)}",
                    )
                ]
            )
        lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise invalid_form_body(
                [
                    FieldError(
                        ("values",), "BASE_TYPE_BAD_LENGTH", f"Pick between {lo} and {hi} values"
                    )
                ]
            )
        return self._interaction(
            MESSAGE_COMPONENT,
            user_id,
            m.channel_id,
            {"custom_id": custom_id, "component_type": comp.get("type", 3), "values": values},
            m.id,
        )

    def submit_modal(
        self, interaction_id: int, values: dict[str, str], user_id: int | None = None
    ) -> Interaction:
        """Submit the modal an interaction's response opened, filling text inputs by custom_id."""
        opener = self.interactions.get(interaction_id)
        if opener is None or opener.modal is None:
            raise invalid_form_body(
                [
                    FieldError(
                        ("interaction_id",),
                        "NO_MODAL",
                        f"Interaction {interaction_id} opened no modal",
                    )
                ]
            )
        components = []
        for top in opener.modal.get("components", []):
            inner = top.get("component") or (top.get("components") or [None])[0]
            if inner is None:
                continue
            given = values.get(inner["custom_id"], "")
            filled: dict[str, Any] = {"type": inner.get("type", 4), "custom_id": inner["custom_id"]}
            if filled["type"] == 3:  # a select: the picked value (one), as Discord sends it
                filled["values"] = [given] if given else []
            else:
                filled["value"] = given
            if top.get("type") == 18:  # Label wraps a single component
                components.append({"type": 18, "component": filled})
            else:
                components.append({"type": 1, "components": [filled]})
        data = {"custom_id": opener.modal["custom_id"], "components": components}
        return self._interaction(
            MODAL_SUBMIT, user_id or opener.user_id, opener.channel_id, data, opener.message_id
        )

    # ------------------------------------------------------------------ interactions (app side)

    def interaction_by_token(self, token: str, *, for_webhook: bool) -> Interaction:
        inter_id = self.interactions_by_token.get(token)
        if inter_id is None:
            if for_webhook:
                raise DiscordHTTPError(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
            raise not_found(UNKNOWN_INTERACTION, "interaction")
        inter = self.interactions[inter_id]
        ttl = self.realism.interaction_token_ttl
        if for_webhook and ttl is not None and self.now() - inter.created_at > ttl:
            raise DiscordHTTPError(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        return inter

    def respond(
        self,
        interaction_id: int,
        token: str,
        kind: int,
        data: JSON | None,
        files: Iterable[NewFile] = (),
    ) -> Interaction:
        """The initial response (``POST /interactions/{id}/{token}/callback``)."""
        inter = self.interactions.get(interaction_id)
        if inter is None or inter.token != token:
            raise not_found(UNKNOWN_INTERACTION, "interaction")
        deadline = self.realism.interaction_deadline
        if inter.response_type is not None:
            raise DiscordHTTPError(
                400, INTERACTION_ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged."
            )
        if deadline is not None and self.now() - inter.created_at > deadline:
            inter.late_attempts += 1
            self.touch()
            raise not_found(UNKNOWN_INTERACTION, "interaction")
        allowed = {
            PING: {1},
            APPLICATION_COMMAND: {4, 5, 9},
            MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
            AUTOCOMPLETE: {8},
            MODAL_SUBMIT: {4, 5, 6, 7},
        }[inter.type]
        if kind not in allowed:
            raise invalid_form_body(
                [
                    FieldError(
                        ("type",),
                        "INTERACTION_RESPONSE_TYPE_INVALID",
                        f"Response type {kind} is not valid for interaction type {inter.type}",
                    )
                ]
            )
        data = data or {}
        if kind in (4, 5):
            flags = int(data.get("flags") or 0)
            m = self.create_message(
                inter.channel_id,
                self.bot.id,
                content=(data.get("content") or "") if kind == 4 else "",
                embeds=data.get("embeds") if kind == 4 else None,
                components=data.get("components") if kind == 4 else None,
                files=files if kind == 4 else (),
                flags=(flags & EPHEMERAL) | (LOADING if kind == 5 else 0),
                webhook_id=self.application_id,
                application_id=self.application_id,
                interaction_id=inter.id,
                type=CHAT_INPUT_COMMAND if inter.type == APPLICATION_COMMAND else DEFAULT,
            )
            inter.original_message_id = m.id
        elif kind == 7:
            m = self.find_message(inter.message_id or 0)
            self.edit_message(m, editor_id=None, body=data, files=files)
        elif kind == 8:
            inter.choices = list(data.get("choices", []))
        elif kind == 9:
            inter.modal = data
            self._notice("LOCAL_MODAL", {"interaction_id": str(inter.id)})
        inter.response_type = kind
        inter.response_data = data
        inter.responded_at = self.now()
        self.touch()
        return inter

    def original_message(self, inter: Interaction) -> Message:
        if inter.original_message_id is None:
            if (
                inter.type == MESSAGE_COMPONENT
                and inter.message_id is not None
                and inter.response_type in (6, 7)
            ):
                return self.find_message(inter.message_id)
            raise not_found(UNKNOWN_MESSAGE, "Message")
        return self.find_message(inter.original_message_id)

    def followup(self, inter: Interaction, body: JSON, files: Iterable[NewFile] = ()) -> Message:
        """``POST /webhooks/{app}/{token}``; after a type-5 defer it fills the loading message."""
        if inter.response_type is None:
            raise not_found(UNKNOWN_WEBHOOK, "Webhook")
        if (
            inter.response_type == 5
            and not inter.followup_ids
            and inter.original_message_id is not None
        ):
            original = self.find_message(inter.original_message_id)
            if original.flags & LOADING:
                inter.followup_ids.append(original.id)
                return self.edit_message(original, editor_id=None, body=body, files=files)
        m = self.create_message(
            inter.channel_id,
            self.bot.id,
            content=body.get("content") or "",
            embeds=body.get("embeds"),
            components=body.get("components"),
            files=files,
            flags=int(body.get("flags") or 0) & EPHEMERAL,
            webhook_id=self.application_id,
            application_id=self.application_id,
            interaction_id=inter.id,
        )
        inter.followup_ids.append(m.id)
        self.touch()
        return m
