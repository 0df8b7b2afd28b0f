"""The server's stored entities. They change in place (a message is edited, a thread archived),
so they are mutable attrs classes, owned and mutated only by :class:`~._world.World`."""

from __future__ import annotations

from typing import Any

import attrs

JSON = dict[str, Any]

# Channel types (channel.mdx "Channel Types").
GUILD_TEXT = 0
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD)

# Interaction types (receiving-and-responding.mdx "Interaction Type").
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Message flags (message.mdx "Message Flags").
EPHEMERAL = 1 << 6
LOADING = 1 << 7


@attrs.define(kw_only=True)
class User:
    """A user or bot account."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    roles: list[int] = attrs.Factory(list)
    """The member's role ids in the one guild (not ``@everyone``)."""


@attrs.define(kw_only=True)
class Role:
    """A guild role (only what approvers by role need: an id and a name)."""

    id: int
    name: str


@attrs.define(kw_only=True)
class Attachment:
    """A stored file; its bytes are served from the CDN path."""

    id: int
    filename: str
    content_type: str | None
    data: bytes
    description: str | None = None


@attrs.define(kw_only=True)
class MessageVersion:
    """One visible state of a message: what a reader saw from ``visible_at`` on."""

    content: str
    embeds: list[JSON]
    components: list[JSON]
    attachment_ids: list[int]
    visible_at: float
    """``trio.current_time()`` when this version became visible to readers."""
    visible_at_wall: float
    """The same instant as Unix time, for reports."""


@attrs.define(kw_only=True)
class Message:
    """A message in a channel or thread, with its full edit history."""

    id: int
    channel_id: int
    author_id: int
    content: str
    embeds: list[JSON]
    components: list[JSON]
    attachments: list[Attachment]
    created_at: float
    type: int = 0
    flags: int = 0
    nonce: str | int | None = None
    tts: bool = False
    edited_at: float | None = None
    pinned: bool = False
    pinned_at: float | None = None
    mentions: list[int] = attrs.Factory(list)
    reactions: dict[str, list[int]] = attrs.Factory(dict)
    """Emoji key (``name`` or ``name:id``) to the users who reacted, in order."""
    message_reference: JSON | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_id: int | None = None
    thread_id: int | None = None
    versions: list[MessageVersion] = attrs.Factory(list)
    deleted_at: float | None = None


@attrs.define(kw_only=True)
class Channel:
    """A guild text channel or a thread."""

    id: int
    type: int
    name: str
    guild_id: int
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    invitable: bool = True
    auto_archive_duration: int = 1440
    archive_changed_at: float = 0.0
    created_at: float = 0.0
    message_ids: list[int] = attrs.Factory(list)
    pins: list[int] = attrs.Factory(list)
    """Pinned message ids, newest first."""
    last_message_id: int | None = None
    last_pin_at: float | None = None
    total_message_sent: int = 0
    member_ids: list[int] = attrs.Factory(list)

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES


@attrs.define(kw_only=True)
class Webhook:
    """An incoming webhook of a channel."""

    id: int
    token: str
    channel_id: int
    name: str


@attrs.define(kw_only=True)
class Interaction:
    """One interaction from a user, and everything the application did with it."""

    id: int
    token: str
    type: int
    data: JSON
    channel_id: int
    user_id: int
    created_at: float
    message_id: int | None = None
    """The message whose component was used (component interactions)."""
    response_type: int | None = None
    response_data: JSON | None = None
    responded_at: float | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = attrs.Factory(list)
    choices: list[JSON] | None = None
    """Autocomplete result (callback type 8)."""
    modal: JSON | None = None
    """Modal the application opened (callback type 9)."""
    late_attempts: int = 0
    """Initial responses refused because the deadline had passed (error 10062)."""


@attrs.define(kw_only=True)
class Command:
    """A registered application command."""

    id: int
    guild_id: int | None
    version: int
    definition: JSON
