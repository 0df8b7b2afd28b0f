"""Discord data models: plain attrs values, no parsing, no IO.

How to read these classes
-------------------------
* **Snowflakes** are ``int`` in Python (type :data:`Snowflake`) and decimal strings on the
  wire; the converter in :mod:`protocol.discord.converter` does the translation.
* **Absent vs null.** A field Discord may *leave out* is typed ``UndefinedOr[...]`` and
  defaults to :data:`UNDEFINED`; a field Discord sends as ``null`` is typed ``... | None``.
  On output ``UNDEFINED`` is omitted and ``None`` is written as ``null``, which is what a PATCH
  body needs ("leave unchanged" vs "clear"). ``UNDEFINED`` is falsy, so ``if user.bot:`` works.
* **Open enums.** Enum-valued fields are typed ``SomeEnum | int``: Discord adds values before
  we learn them, and an unknown value stays a plain ``int`` instead of failing the payload.
* **Unions by tag.** Components are dispatched on ``type`` and interactions on ``type``; each
  concrete class exposes its tag as a class-level ``type``. Unknown tags become
  :class:`UnknownComponent` / :class:`UnknownInteraction` holding the raw payload.
* Timestamps stay ISO-8601 strings, exactly as Discord sends them.

Field names follow the official OpenAPI description (``shared/discord-api-spec/openapi.json``);
the only rename is ``RateLimitedBody.is_global`` (``global`` on the wire, a Python keyword).
Models cover what ccbridge uses, not the whole API: anything else is ignored when reading.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar, Final, Literal, NewType, TypeAlias, TypeVar, Union

import attrs

__all__ = [
    "THREAD_CHANNEL_TYPES",
    "UNDEFINED",
    "ActionRow",
    "AllowedMentions",
    "ApplicationCommand",
    "ApplicationCommandData",
    "ApplicationCommandType",
    "Attachment",
    "AutocompleteInteraction",
    "AutocompleteResult",
    "Button",
    "ButtonStyle",
    "Channel",
    "ChannelType",
    "CommandChoice",
    "CommandInteraction",
    "CommandInteractionOption",
    "CommandOption",
    "CommandOptionType",
    "Component",
    "ComponentData",
    "ComponentInteraction",
    "ComponentType",
    "CreateMessage",
    "EditMessage",
    "Embed",
    "EmbedAuthor",
    "EmbedField",
    "EmbedFooter",
    "EmbedMedia",
    "EmbedProvider",
    "Emoji",
    "ErrorBody",
    "ExecuteWebhook",
    "GatewayBot",
    "Guild",
    "Interaction",
    "InteractionCallbackType",
    "InteractionMessage",
    "InteractionResponse",
    "InteractionType",
    "Label",
    "Member",
    "Message",
    "MessageFlags",
    "MessageReference",
    "MessageReferenceType",
    "MessageType",
    "Modal",
    "ModalSubmitData",
    "ModalSubmitInteraction",
    "ModifyThread",
    "PartialAttachment",
    "PingInteraction",
    "RateLimitedBody",
    "Reaction",
    "Ready",
    "ReadyApplication",
    "SelectOption",
    "SessionStartLimit",
    "Snowflake",
    "StartThread",
    "StringSelect",
    "TextDisplay",
    "TextInput",
    "TextInputStyle",
    "ThreadMember",
    "ThreadMetadata",
    "UndefinedOr",
    "UndefinedType",
    "UnknownComponent",
    "UnknownInteraction",
    "User",
]

Snowflake = NewType("Snowflake", int)
"""A Discord id: ``int`` here, a decimal string on the wire."""


class UndefinedType(enum.Enum):
    """The type of :data:`UNDEFINED`: "not given", as opposed to ``None`` ("null")."""

    UNDEFINED = "UNDEFINED"

    def __bool__(self) -> Literal[False]:
        # Literal: lets a checker narrow ``value or default`` and ``if value:`` past UNDEFINED.
        return False

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = UndefinedType.UNDEFINED
"""Field absent: omitted on output, and the default when a payload leaves it out."""

_T = TypeVar("_T")
UndefinedOr: TypeAlias = Union[_T, UndefinedType]  # noqa: UP007 (a generic alias needs Union)


# ---------------------------------------------------------------------------------------------
# Open enums (values from openapi.json; unknown values stay int)
# ---------------------------------------------------------------------------------------------


class ChannelType(enum.IntEnum):
    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GROUP_DM = 3
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_STAGE_VOICE = 13
    GUILD_DIRECTORY = 14
    GUILD_FORUM = 15
    GUILD_MEDIA = 16


THREAD_CHANNEL_TYPES: Final = frozenset(
    {ChannelType.ANNOUNCEMENT_THREAD, ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD}
)


class MessageType(enum.IntEnum):
    DEFAULT = 0
    CHANNEL_PINNED_MESSAGE = 6
    THREAD_CREATED = 18
    REPLY = 19
    CHAT_INPUT_COMMAND = 20
    THREAD_STARTER_MESSAGE = 21
    CONTEXT_MENU_COMMAND = 23


class MessageFlags(enum.IntFlag):
    """Message flags (docs ``resources/message.mdx`` "Message Flags")."""

    CROSSPOSTED = 1 << 0
    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_COMPONENTS_V2 = 1 << 15


class MessageReferenceType(enum.IntEnum):
    DEFAULT = 0
    FORWARD = 1


class ComponentType(enum.IntEnum):
    ACTION_ROW = 1
    BUTTON = 2
    STRING_SELECT = 3
    TEXT_INPUT = 4
    USER_SELECT = 5
    ROLE_SELECT = 6
    MENTIONABLE_SELECT = 7
    CHANNEL_SELECT = 8
    SECTION = 9
    TEXT_DISPLAY = 10
    THUMBNAIL = 11
    MEDIA_GALLERY = 12
    FILE = 13
    SEPARATOR = 14
    CONTAINER = 17
    LABEL = 18


class ButtonStyle(enum.IntEnum):
    PRIMARY = 1
    SECONDARY = 2
    SUCCESS = 3
    DANGER = 4
    LINK = 5
    PREMIUM = 6


class TextInputStyle(enum.IntEnum):
    SHORT = 1
    PARAGRAPH = 2


class InteractionType(enum.IntEnum):
    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class InteractionCallbackType(enum.IntEnum):
    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9


class ApplicationCommandType(enum.IntEnum):
    CHAT_INPUT = 1
    USER = 2
    MESSAGE = 3
    PRIMARY_ENTRY_POINT = 4


class CommandOptionType(enum.IntEnum):
    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


# ---------------------------------------------------------------------------------------------
# Users, members, guilds, channels
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class User:
    id: Snowflake
    username: str
    discriminator: str = "0"
    """``"0"`` for users on the new username system."""
    global_name: str | None = None
    avatar: str | None = None
    bot: UndefinedOr[bool] = UNDEFINED
    system: UndefinedOr[bool] = UNDEFINED
    public_flags: int = 0
    flags: int = 0
    primary_guild: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Member:
    """A guild member. In MESSAGE_CREATE ``user`` is absent (it is the message author)."""

    user: UndefinedOr[User] = UNDEFINED
    nick: str | None = None
    roles: list[Snowflake] = attrs.Factory(list)
    joined_at: UndefinedOr[str | None] = UNDEFINED
    avatar: str | None = None
    banner: str | None = None
    communication_disabled_until: str | None = None
    premium_since: str | None = None
    flags: int = 0
    pending: bool = False
    mute: bool = False
    deaf: bool = False
    permissions: UndefinedOr[str] = UNDEFINED
    """Only in interactions: the member's permissions in the channel, a decimal bit set."""


@attrs.frozen(kw_only=True)
class ThreadMetadata:
    archived: bool = False
    auto_archive_duration: int = 1440
    """Minutes of inactivity before auto-archive: one of 60, 1440, 4320, 10080."""
    archive_timestamp: str | None = None
    locked: bool = False
    invitable: UndefinedOr[bool] = UNDEFINED
    create_timestamp: UndefinedOr[str] = UNDEFINED


@attrs.frozen(kw_only=True)
class ThreadMember:
    """The bot's membership of a thread; ``id``/``user_id`` are left out in GUILD_CREATE."""

    id: UndefinedOr[Snowflake] = UNDEFINED
    user_id: UndefinedOr[Snowflake] = UNDEFINED
    join_timestamp: str = ""
    flags: int = 0


@attrs.frozen(kw_only=True)
class Channel:
    """Any channel: guild text channels, threads (public/private/announcement) and DMs."""

    id: Snowflake
    type: ChannelType | int
    guild_id: UndefinedOr[Snowflake] = UNDEFINED
    name: UndefinedOr[str | None] = UNDEFINED
    position: UndefinedOr[int] = UNDEFINED
    parent_id: UndefinedOr[Snowflake | None] = UNDEFINED
    """For a thread, the channel it lives in; for a channel, its category."""
    topic: UndefinedOr[str | None] = UNDEFINED
    last_message_id: UndefinedOr[Snowflake | None] = UNDEFINED
    flags: int = 0
    nsfw: UndefinedOr[bool] = UNDEFINED
    rate_limit_per_user: UndefinedOr[int] = UNDEFINED
    permissions: UndefinedOr[str] = UNDEFINED
    default_auto_archive_duration: UndefinedOr[int] = UNDEFINED
    owner_id: UndefinedOr[Snowflake] = UNDEFINED
    """Threads: who started it."""
    thread_metadata: UndefinedOr[ThreadMetadata] = UNDEFINED
    message_count: UndefinedOr[int] = UNDEFINED
    member_count: UndefinedOr[int] = UNDEFINED
    total_message_sent: UndefinedOr[int] = UNDEFINED
    member: UndefinedOr[ThreadMember] = UNDEFINED
    newly_created: UndefinedOr[bool] = UNDEFINED
    """THREAD_CREATE only: true when the thread was just made, not when we were added."""
    applied_tags: UndefinedOr[list[Snowflake]] = UNDEFINED
    recipients: UndefinedOr[list[User]] = UNDEFINED
    """DMs only."""

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_CHANNEL_TYPES


@attrs.frozen(kw_only=True)
class Guild:
    """A guild as far as we use it. READY lists guilds as ``unavailable`` stubs (id only);
    GUILD_CREATE carries ``channels`` and the active ``threads``."""

    id: Snowflake
    name: UndefinedOr[str] = UNDEFINED
    unavailable: UndefinedOr[bool] = UNDEFINED
    owner_id: UndefinedOr[Snowflake] = UNDEFINED
    joined_at: UndefinedOr[str] = UNDEFINED
    member_count: UndefinedOr[int] = UNDEFINED
    large: UndefinedOr[bool] = UNDEFINED
    channels: UndefinedOr[list[Channel]] = UNDEFINED
    threads: UndefinedOr[list[Channel]] = UNDEFINED
    members: UndefinedOr[list[Member]] = UNDEFINED


# ---------------------------------------------------------------------------------------------
# Message parts: emoji, reactions, attachments, embeds, references
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Emoji:
    """A partial emoji: unicode emoji have ``id=None`` and the character as ``name``."""

    id: Snowflake | None = None
    name: str | None = None
    animated: UndefinedOr[bool] = UNDEFINED


@attrs.frozen(kw_only=True)
class Reaction:
    emoji: Emoji
    count: int = 1
    me: bool = False
    me_burst: bool = False
    count_details: dict[str, int] = attrs.Factory(lambda: {"burst": 0, "normal": 1})
    burst_colors: list[str] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class Attachment:
    """A stored attachment. ``url`` is signed and expires: download it promptly."""

    id: Snowflake
    filename: str
    size: int
    url: str
    proxy_url: str
    content_type: UndefinedOr[str] = UNDEFINED
    description: UndefinedOr[str] = UNDEFINED
    width: UndefinedOr[int] = UNDEFINED
    height: UndefinedOr[int] = UNDEFINED
    ephemeral: UndefinedOr[bool] = UNDEFINED
    flags: UndefinedOr[int] = UNDEFINED


@attrs.frozen(kw_only=True)
class PartialAttachment:
    """An attachment entry in a request body. For a new upload ``id`` is the index of the
    ``files[n]`` multipart part; to keep an existing attachment on edit, its snowflake."""

    id: int
    filename: UndefinedOr[str] = UNDEFINED
    description: UndefinedOr[str] = UNDEFINED


@attrs.frozen(kw_only=True)
class EmbedFooter:
    text: str
    icon_url: UndefinedOr[str] = UNDEFINED
    proxy_icon_url: UndefinedOr[str] = UNDEFINED


@attrs.frozen(kw_only=True)
class EmbedAuthor:
    name: str
    url: UndefinedOr[str] = UNDEFINED
    icon_url: UndefinedOr[str] = UNDEFINED
    proxy_icon_url: UndefinedOr[str] = UNDEFINED


@attrs.frozen(kw_only=True)
class EmbedMedia:
    """An embed image, thumbnail or video."""

    url: UndefinedOr[str] = UNDEFINED
    proxy_url: UndefinedOr[str] = UNDEFINED
    width: UndefinedOr[int] = UNDEFINED
    height: UndefinedOr[int] = UNDEFINED


@attrs.frozen(kw_only=True)
class EmbedProvider:
    name: UndefinedOr[str] = UNDEFINED
    url: UndefinedOr[str] = UNDEFINED


@attrs.frozen(kw_only=True)
class EmbedField:
    name: str
    value: str
    inline: bool = False


@attrs.frozen(kw_only=True)
class Embed:
    title: UndefinedOr[str] = UNDEFINED
    type: UndefinedOr[str] = UNDEFINED
    """``"rich"`` for bot embeds; Discord fills it in on responses."""
    description: UndefinedOr[str] = UNDEFINED
    url: UndefinedOr[str] = UNDEFINED
    timestamp: UndefinedOr[str] = UNDEFINED
    color: UndefinedOr[int] = UNDEFINED
    footer: UndefinedOr[EmbedFooter] = UNDEFINED
    image: UndefinedOr[EmbedMedia] = UNDEFINED
    thumbnail: UndefinedOr[EmbedMedia] = UNDEFINED
    video: UndefinedOr[EmbedMedia] = UNDEFINED
    provider: UndefinedOr[EmbedProvider] = UNDEFINED
    author: UndefinedOr[EmbedAuthor] = UNDEFINED
    fields: UndefinedOr[list[EmbedField]] = UNDEFINED


@attrs.frozen(kw_only=True)
class MessageReference:
    """A reply target (in a request) or what a message replies to (in a response)."""

    message_id: UndefinedOr[Snowflake] = UNDEFINED
    channel_id: UndefinedOr[Snowflake] = UNDEFINED
    guild_id: UndefinedOr[Snowflake] = UNDEFINED
    type: UndefinedOr[MessageReferenceType | int] = UNDEFINED
    fail_if_not_exists: UndefinedOr[bool] = UNDEFINED


@attrs.frozen(kw_only=True)
class AllowedMentions:
    parse: UndefinedOr[list[str]] = UNDEFINED
    """Any of ``"roles"``, ``"users"``, ``"everyone"``; ``[]`` pings nobody."""
    users: UndefinedOr[list[Snowflake]] = UNDEFINED
    roles: UndefinedOr[list[Snowflake]] = UNDEFINED
    replied_user: UndefinedOr[bool] = UNDEFINED


# ---------------------------------------------------------------------------------------------
# Components (tag: ``type``)
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ActionRow:
    type: ClassVar[ComponentType] = ComponentType.ACTION_ROW
    components: list[Component] = attrs.Factory(list)
    id: UndefinedOr[int] = UNDEFINED


@attrs.frozen(kw_only=True)
class Button:
    type: ClassVar[ComponentType] = ComponentType.BUTTON
    style: ButtonStyle | int
    label: UndefinedOr[str] = UNDEFINED
    custom_id: UndefinedOr[str] = UNDEFINED
    """Required for every style except LINK (which has ``url``) and PREMIUM (``sku_id``)."""
    url: UndefinedOr[str] = UNDEFINED
    emoji: UndefinedOr[Emoji] = UNDEFINED
    disabled: UndefinedOr[bool] = UNDEFINED
    sku_id: UndefinedOr[Snowflake] = UNDEFINED
    id: UndefinedOr[int] = UNDEFINED


@attrs.frozen(kw_only=True)
class SelectOption:
    label: str
    value: str
    description: UndefinedOr[str] = UNDEFINED
    emoji: UndefinedOr[Emoji] = UNDEFINED
    default: UndefinedOr[bool] = UNDEFINED


@attrs.frozen(kw_only=True)
class StringSelect:
    type: ClassVar[ComponentType] = ComponentType.STRING_SELECT
    custom_id: str
    options: list[SelectOption] = attrs.Factory(list)
    placeholder: UndefinedOr[str] = UNDEFINED
    min_values: UndefinedOr[int] = UNDEFINED
    max_values: UndefinedOr[int] = UNDEFINED
    disabled: UndefinedOr[bool] = UNDEFINED
    id: UndefinedOr[int] = UNDEFINED
    required: UndefinedOr[bool] = UNDEFINED
    """In a modal (inside a :class:`Label`): whether a pick is required."""
    values: UndefinedOr[list[str]] = UNDEFINED
    """In a MODAL_SUBMIT: the values picked (only ``custom_id`` and ``values`` come back)."""


@attrs.frozen(kw_only=True)
class TextInput:
    """A modal text field. In a MODAL_SUBMIT only ``custom_id`` and ``value`` come back."""

    type: ClassVar[ComponentType] = ComponentType.TEXT_INPUT
    custom_id: str
    style: UndefinedOr[TextInputStyle | int] = UNDEFINED
    label: UndefinedOr[str | None] = UNDEFINED
    """Deprecated inside a :class:`Label`, which carries the label instead."""
    value: UndefinedOr[str] = UNDEFINED
    placeholder: UndefinedOr[str] = UNDEFINED
    required: UndefinedOr[bool] = UNDEFINED
    min_length: UndefinedOr[int | None] = UNDEFINED
    max_length: UndefinedOr[int | None] = UNDEFINED
    id: UndefinedOr[int] = UNDEFINED


@attrs.frozen(kw_only=True)
class TextDisplay:
    type: ClassVar[ComponentType] = ComponentType.TEXT_DISPLAY
    content: str
    id: UndefinedOr[int] = UNDEFINED


@attrs.frozen(kw_only=True)
class Label:
    """The modal wrapper that gives one component (usually a TextInput) a label."""

    type: ClassVar[ComponentType] = ComponentType.LABEL
    component: Component
    label: str = ""
    """Required when sent; a MODAL_SUBMIT leaves it out (only the component comes back)."""
    description: UndefinedOr[str] = UNDEFINED
    id: UndefinedOr[int] = UNDEFINED


@attrs.frozen(kw_only=True)
class UnknownComponent:
    """A component type we do not model; ``raw`` is written back unchanged."""

    type: int
    raw: dict[str, Any]


Component: TypeAlias = Union[  # noqa: UP007 (a runtime alias, resolved below)
    ActionRow, Button, StringSelect, TextInput, TextDisplay, Label, UnknownComponent
]


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Message:
    id: Snowflake
    channel_id: Snowflake
    author: User
    """For a webhook message, the webhook pseudo-user (``webhook_id`` is set)."""
    content: str = ""
    """Empty without the MESSAGE_CONTENT intent (except DMs, mentions and our own)."""
    timestamp: str = ""
    edited_timestamp: str | None = None
    type: MessageType | int = MessageType.DEFAULT
    flags: int = 0
    tts: bool = False
    mention_everyone: bool = False
    mentions: list[User] = attrs.Factory(list)
    mention_roles: list[Snowflake] = attrs.Factory(list)
    attachments: list[Attachment] = attrs.Factory(list)
    embeds: list[Embed] = attrs.Factory(list)
    components: list[Component] = attrs.Factory(list)
    reactions: UndefinedOr[list[Reaction]] = UNDEFINED
    pinned: bool = False
    guild_id: UndefinedOr[Snowflake] = UNDEFINED
    """Set in gateway dispatches; absent in REST responses."""
    member: UndefinedOr[Member] = UNDEFINED
    """Gateway dispatches in guilds; missing for webhook and ephemeral messages."""
    webhook_id: UndefinedOr[Snowflake] = UNDEFINED
    application_id: UndefinedOr[Snowflake] = UNDEFINED
    nonce: UndefinedOr[int | str] = UNDEFINED
    message_reference: UndefinedOr[MessageReference] = UNDEFINED
    referenced_message: UndefinedOr[Message | None] = UNDEFINED
    thread: UndefinedOr[Channel] = UNDEFINED
    """The thread started from this message, if any."""
    position: UndefinedOr[int] = UNDEFINED
    interaction_metadata: UndefinedOr[dict[str, Any]] = UNDEFINED


# ---------------------------------------------------------------------------------------------
# Application commands (definitions) and interactions
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CommandChoice:
    name: str
    value: str | int | float
    name_localizations: UndefinedOr[dict[str, str] | None] = UNDEFINED


@attrs.frozen(kw_only=True)
class CommandOption:
    """An option in a command *definition*."""

    type: CommandOptionType | int
    name: str
    description: str
    required: UndefinedOr[bool] = UNDEFINED
    choices: UndefinedOr[list[CommandChoice]] = UNDEFINED
    options: UndefinedOr[list[CommandOption]] = UNDEFINED
    """Sub-command and sub-command-group options."""
    autocomplete: UndefinedOr[bool] = UNDEFINED
    """Not allowed together with ``choices``."""
    channel_types: UndefinedOr[list[int]] = UNDEFINED
    min_value: UndefinedOr[int | float] = UNDEFINED
    max_value: UndefinedOr[int | float] = UNDEFINED
    min_length: UndefinedOr[int] = UNDEFINED
    max_length: UndefinedOr[int] = UNDEFINED


@attrs.frozen(kw_only=True)
class ApplicationCommand:
    """A command definition: the PUT body of a bulk overwrite, and what GET returns
    (then ``id``, ``application_id`` and ``version`` are set)."""

    name: str
    description: str = ""
    type: UndefinedOr[ApplicationCommandType | int] = UNDEFINED
    options: UndefinedOr[list[CommandOption]] = UNDEFINED
    default_member_permissions: UndefinedOr[str | None] = UNDEFINED
    contexts: UndefinedOr[list[int] | None] = UNDEFINED
    integration_types: UndefinedOr[list[int]] = UNDEFINED
    nsfw: UndefinedOr[bool] = UNDEFINED
    name_localizations: UndefinedOr[dict[str, str] | None] = UNDEFINED
    description_localizations: UndefinedOr[dict[str, str] | None] = UNDEFINED
    id: UndefinedOr[Snowflake] = UNDEFINED
    application_id: UndefinedOr[Snowflake] = UNDEFINED
    guild_id: UndefinedOr[Snowflake] = UNDEFINED
    version: UndefinedOr[Snowflake] = UNDEFINED


@attrs.frozen(kw_only=True)
class CommandInteractionOption:
    """An option value as the user filled it in. During autocomplete ``focused`` marks the
    option being typed, and its ``value`` may be partial."""

    name: str
    type: CommandOptionType | int
    value: UndefinedOr[str | int | float | bool] = UNDEFINED
    options: UndefinedOr[list[CommandInteractionOption]] = UNDEFINED
    focused: UndefinedOr[bool] = UNDEFINED


@attrs.frozen(kw_only=True)
class ApplicationCommandData:
    id: Snowflake
    name: str
    type: ApplicationCommandType | int = ApplicationCommandType.CHAT_INPUT
    options: UndefinedOr[list[CommandInteractionOption]] = UNDEFINED
    resolved: UndefinedOr[dict[str, Any]] = UNDEFINED
    guild_id: UndefinedOr[Snowflake] = UNDEFINED
    target_id: UndefinedOr[Snowflake] = UNDEFINED


@attrs.frozen(kw_only=True)
class ComponentData:
    custom_id: str
    component_type: ComponentType | int
    values: UndefinedOr[list[str]] = UNDEFINED
    """Select menus: the picked option values."""
    resolved: UndefinedOr[dict[str, Any]] = UNDEFINED


@attrs.frozen(kw_only=True)
class ModalSubmitData:
    custom_id: str
    components: list[Component] = attrs.Factory(list)
    """Action rows or labels holding :class:`TextInput` values."""


@attrs.frozen(kw_only=True)
class _InteractionBase:
    id: Snowflake
    application_id: Snowflake
    token: str
    """Valid 15 minutes; the initial response must come within 3 seconds."""
    version: int = 1
    guild_id: UndefinedOr[Snowflake] = UNDEFINED
    channel_id: UndefinedOr[Snowflake] = UNDEFINED
    channel: UndefinedOr[Channel] = UNDEFINED
    member: UndefinedOr[Member] = UNDEFINED
    """Set in guilds (with ``member.user``); ``user`` is set instead in DMs."""
    user: UndefinedOr[User] = UNDEFINED
    locale: UndefinedOr[str] = UNDEFINED
    guild_locale: UndefinedOr[str] = UNDEFINED
    app_permissions: UndefinedOr[str] = UNDEFINED
    context: UndefinedOr[int] = UNDEFINED
    authorizing_integration_owners: UndefinedOr[dict[str, Any]] = UNDEFINED
    attachment_size_limit: UndefinedOr[int] = UNDEFINED

    @property
    def invoker(self) -> User | None:
        """Who triggered it: ``member.user`` in a guild, ``user`` in a DM."""
        if self.member and self.member.user:
            return self.member.user
        return self.user or None


@attrs.frozen(kw_only=True)
class PingInteraction(_InteractionBase):
    type: ClassVar[InteractionType] = InteractionType.PING


@attrs.frozen(kw_only=True)
class CommandInteraction(_InteractionBase):
    type: ClassVar[InteractionType] = InteractionType.APPLICATION_COMMAND
    data: ApplicationCommandData


@attrs.frozen(kw_only=True)
class AutocompleteInteraction(_InteractionBase):
    type: ClassVar[InteractionType] = InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE
    data: ApplicationCommandData


@attrs.frozen(kw_only=True)
class ComponentInteraction(_InteractionBase):
    type: ClassVar[InteractionType] = InteractionType.MESSAGE_COMPONENT
    data: ComponentData
    message: Message
    """The message the clicked component is on."""


@attrs.frozen(kw_only=True)
class ModalSubmitInteraction(_InteractionBase):
    type: ClassVar[InteractionType] = InteractionType.MODAL_SUBMIT
    data: ModalSubmitData
    message: UndefinedOr[Message] = UNDEFINED
    """Set when the modal was opened from a component."""


@attrs.frozen(kw_only=True)
class UnknownInteraction:
    """An interaction type we do not model; ``raw`` is the whole payload."""

    type: int
    raw: dict[str, Any]


Interaction: TypeAlias = Union[  # noqa: UP007
    PingInteraction,
    CommandInteraction,
    AutocompleteInteraction,
    ComponentInteraction,
    ModalSubmitInteraction,
    UnknownInteraction,
]


# ---------------------------------------------------------------------------------------------
# Request bodies
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CreateMessage:
    """``POST /channels/{channel_id}/messages``. With ``nonce`` and ``enforce_nonce`` a
    retried send returns the first message instead of posting a duplicate."""

    content: UndefinedOr[str] = UNDEFINED
    embeds: UndefinedOr[list[Embed]] = UNDEFINED
    components: UndefinedOr[list[Component]] = UNDEFINED
    allowed_mentions: UndefinedOr[AllowedMentions] = UNDEFINED
    message_reference: UndefinedOr[MessageReference] = UNDEFINED
    attachments: UndefinedOr[list[PartialAttachment]] = UNDEFINED
    flags: UndefinedOr[int] = UNDEFINED
    nonce: UndefinedOr[int | str] = UNDEFINED
    """At most 25 characters."""
    enforce_nonce: UndefinedOr[bool] = UNDEFINED
    tts: UndefinedOr[bool] = UNDEFINED


@attrs.frozen(kw_only=True)
class EditMessage:
    """``PATCH .../messages/{id}`` (and ``@original``): ``None`` clears, UNDEFINED keeps.
    ``attachments`` must list every attachment to keep, old and new."""

    content: UndefinedOr[str | None] = UNDEFINED
    embeds: UndefinedOr[list[Embed] | None] = UNDEFINED
    components: UndefinedOr[list[Component] | None] = UNDEFINED
    allowed_mentions: UndefinedOr[AllowedMentions | None] = UNDEFINED
    attachments: UndefinedOr[list[PartialAttachment] | None] = UNDEFINED
    flags: UndefinedOr[int | None] = UNDEFINED


@attrs.frozen(kw_only=True)
class InteractionMessage:
    """Message data of interaction callbacks 4/7 (5 uses only ``flags``) and followups."""

    content: UndefinedOr[str] = UNDEFINED
    embeds: UndefinedOr[list[Embed]] = UNDEFINED
    components: UndefinedOr[list[Component]] = UNDEFINED
    allowed_mentions: UndefinedOr[AllowedMentions] = UNDEFINED
    attachments: UndefinedOr[list[PartialAttachment]] = UNDEFINED
    flags: UndefinedOr[int] = UNDEFINED
    """``MessageFlags.EPHEMERAL`` for a reply only the invoker sees."""
    tts: UndefinedOr[bool] = UNDEFINED


@attrs.frozen(kw_only=True)
class ExecuteWebhook:
    """``POST /webhooks/{webhook_id}/{webhook_token}``: a webhook message."""

    content: UndefinedOr[str] = UNDEFINED
    embeds: UndefinedOr[list[Embed]] = UNDEFINED
    components: UndefinedOr[list[Component]] = UNDEFINED
    allowed_mentions: UndefinedOr[AllowedMentions] = UNDEFINED
    attachments: UndefinedOr[list[PartialAttachment]] = UNDEFINED
    flags: UndefinedOr[int] = UNDEFINED
    username: UndefinedOr[str] = UNDEFINED
    avatar_url: UndefinedOr[str] = UNDEFINED
    thread_name: UndefinedOr[str] = UNDEFINED
    tts: UndefinedOr[bool] = UNDEFINED


@attrs.frozen(kw_only=True)
class AutocompleteResult:
    """Callback 8 data: at most 25 choices."""

    choices: list[CommandChoice] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class Modal:
    """Callback 9 data: ``custom_id`` 1-100, ``title`` up to 45, 1-5 components."""

    custom_id: str
    title: str
    components: list[Component] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class InteractionResponse:
    """``POST /interactions/{id}/{token}/callback``. ``data`` is an
    :class:`InteractionMessage` for types 4, 5 and 7, :class:`AutocompleteResult` for 8,
    :class:`Modal` for 9, and absent for 1 and 6."""

    type: InteractionCallbackType | int
    data: UndefinedOr[InteractionMessage | AutocompleteResult | Modal] = UNDEFINED


@attrs.frozen(kw_only=True)
class StartThread:
    """Start a thread, from a message or (with ``type``) without one. Without a message
    ``type`` defaults to PRIVATE_THREAD on Discord's side: pass PUBLIC_THREAD explicitly."""

    name: str
    auto_archive_duration: UndefinedOr[int] = UNDEFINED
    rate_limit_per_user: UndefinedOr[int] = UNDEFINED
    type: UndefinedOr[ChannelType | int] = UNDEFINED
    invitable: UndefinedOr[bool] = UNDEFINED


@attrs.frozen(kw_only=True)
class ModifyThread:
    """``PATCH /channels/{thread_id}`` for a thread (rename, archive, lock)."""

    name: UndefinedOr[str] = UNDEFINED
    archived: UndefinedOr[bool] = UNDEFINED
    locked: UndefinedOr[bool] = UNDEFINED
    auto_archive_duration: UndefinedOr[int] = UNDEFINED
    invitable: UndefinedOr[bool] = UNDEFINED
    rate_limit_per_user: UndefinedOr[int | None] = UNDEFINED


# ---------------------------------------------------------------------------------------------
# Gateway and REST bookkeeping bodies
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SessionStartLimit:
    total: int
    remaining: int
    reset_after: int
    """Milliseconds until ``remaining`` resets."""
    max_concurrency: int = 1


@attrs.frozen(kw_only=True)
class GatewayBot:
    """``GET /gateway/bot``."""

    url: str
    shards: int
    session_start_limit: SessionStartLimit


@attrs.frozen(kw_only=True)
class ReadyApplication:
    id: Snowflake
    flags: int = 0


@attrs.frozen(kw_only=True)
class Ready:
    """The READY dispatch: keep ``session_id`` and ``resume_gateway_url`` for resuming."""

    v: int
    user: User
    session_id: str
    resume_gateway_url: str
    application: ReadyApplication
    guilds: list[Guild] = attrs.Factory(list)
    shard: UndefinedOr[list[int]] = UNDEFINED


@attrs.frozen(kw_only=True)
class RateLimitedBody:
    """A 429 body. ``retry_after`` is float seconds; prefer it over the header."""

    message: str
    retry_after: float
    is_global: bool = False
    """``global`` on the wire."""
    code: UndefinedOr[int] = UNDEFINED


@attrs.frozen(kw_only=True)
class ErrorBody:
    """Discord's JSON error: ``{code, message, errors?}`` (e.g. 50035 Invalid Form Body)."""

    code: int
    message: str
    errors: UndefinedOr[dict[str, Any]] = UNDEFINED


# Annotations are strings (``from __future__``) and refer to each other (Message ->
# Message, ActionRow -> Component); resolve them once, here, so cattrs sees real types.
for _cls in [
    obj
    for obj in list(globals().values())
    if isinstance(obj, type) and attrs.has(obj) and obj.__module__ == __name__
]:
    attrs.resolve_types(_cls, globals())
del _cls
