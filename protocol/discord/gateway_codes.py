"""Gateway numbers with names: opcodes, close codes, intents and protocol limits.

Sources: discord/discord-api-docs ``developers/topics/opcodes-and-status-codes.mdx``
("Gateway Opcodes", "Gateway Close Event Codes") and ``developers/events/gateway.mdx``
("List of Intents", "Rate Limiting", "Identifying", "Initiating a Disconnect"); see
shared/research/discord-protocol.md §1 for how discord.py and hikari treat each one.
Both the client machine (:mod:`protocol.discord.gateway`) and the local server use these.
"""

from __future__ import annotations

import enum
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

__all__ = [
    "API_VERSION",
    "DEFAULT_INTENTS",
    "FATAL_CLOSE_CODES",
    "FATAL_CLOSE_MESSAGES",
    "IDENTIFY_INTERVAL",
    "INVALID_SESSION_DELAY",
    "MAX_PAYLOAD_BYTES",
    "PRIVILEGED_INTENTS",
    "REIDENTIFY_CLOSE_CODES",
    "RESUMABLE_CLOSE_CODE",
    "SEND_LIMIT",
    "SEND_WINDOW",
    "SESSION_ENDING_CLOSE_CODES",
    "ZLIB_SUFFIX",
    "CloseCode",
    "Intents",
    "Opcode",
    "gateway_url",
    "is_fatal_close",
]

API_VERSION: Final = 10
"""Gateway and REST API version (a wrong ``v`` gives close code 4012)."""


class Opcode(enum.IntEnum):
    DISPATCH = 0
    """Server -> client: an event (``t``, ``s``, ``d``)."""
    HEARTBEAT = 1
    """Both ways: the client's beat, or the server asking for one right now."""
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    """Server -> client: reconnect and resume. May come at any time, even before HELLO."""
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    """Server -> client: ``d`` true means the session can still be resumed."""
    HELLO = 10
    HEARTBEAT_ACK = 11
    REQUEST_SOUNDBOARD_SOUNDS = 31


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    """Closing with 1000 or 1001 ends the session: it can no longer be resumed."""
    GOING_AWAY = 1001
    ABNORMAL = 1006
    """No close frame (the TCP connection dropped): the session stays resumable."""
    UNKNOWN_ERROR = 4000
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014


RESUMABLE_CLOSE_CODE: Final = 3000
"""The code we close with when we mean to resume. Any code but 1000/1001 keeps the session
alive for a few minutes (gateway.mdx "Initiating a Disconnect"); 3000 is the
library-reserved range hikari uses, so no reader mistakes it for one of Discord's 4xxx."""

SESSION_ENDING_CLOSE_CODES: Final = frozenset({CloseCode.NORMAL, CloseCode.GOING_AWAY})
"""Codes that, sent by the *client*, invalidate the session (the bot goes offline)."""

FATAL_CLOSE_CODES: Final = frozenset(
    {
        CloseCode.AUTHENTICATION_FAILED,
        CloseCode.INVALID_SHARD,
        CloseCode.SHARDING_REQUIRED,
        CloseCode.INVALID_API_VERSION,
        CloseCode.INVALID_INTENTS,
        CloseCode.DISALLOWED_INTENTS,
    }
)
"""Reconnecting after these loops forever and burns a session start each time."""

REIDENTIFY_CLOSE_CODES: Final = frozenset({CloseCode.INVALID_SEQ, CloseCode.SESSION_TIMED_OUT})
"""Reconnect allowed, but the session is gone: identify anew instead of resuming."""

FATAL_CLOSE_MESSAGES: Final[dict[int, str]] = {
    CloseCode.AUTHENTICATION_FAILED: (
        "Discord rejected the bot token (close code 4004): check DISCORD_BOT_TOKEN; if the "
        "token was reset in the Developer Portal (Bot -> Reset Token), use the new one"
    ),
    CloseCode.INVALID_SHARD: (
        "Discord rejected the shard (close code 4010): the shard id/count sent in IDENTIFY "
        "is invalid; run a single shard ([0, 1])"
    ),
    CloseCode.SHARDING_REQUIRED: (
        "Discord requires sharding for this bot (close code 4011): it is in too many guilds "
        "for one connection; ccbridge runs one shard, so remove the bot from unused guilds"
    ),
    CloseCode.INVALID_API_VERSION: (
        f"Discord rejected the gateway API version (close code 4012): connect with "
        f"v={API_VERSION}; this is a ccbridge bug, please report it"
    ),
    CloseCode.INVALID_INTENTS: (
        "Discord rejected the intents bit set (close code 4013): the intents value is "
        "invalid; this is a ccbridge configuration bug"
    ),
    CloseCode.DISALLOWED_INTENTS: (
        "Discord refused a privileged intent (close code 4014): enable the Message Content "
        "intent (and any other privileged intent requested) for this bot in the Discord "
        "Developer Portal, Bot -> Privileged Gateway Intents, then restart"
    ),
}


def is_fatal_close(code: int | None) -> bool:
    """True when reconnecting after this server close code would be pointless."""
    return code in FATAL_CLOSE_CODES


class Intents(enum.IntFlag):
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    """Privileged."""
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    """Privileged."""
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    """Privileged: without it message content, embeds, attachments and components are
    empty (except DMs, mentions of the bot and its own messages)."""
    GUILD_SCHEDULED_EVENTS = 1 << 16
    AUTO_MODERATION_CONFIGURATION = 1 << 20
    AUTO_MODERATION_EXECUTION = 1 << 21
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25


PRIVILEGED_INTENTS: Final = (
    Intents.GUILD_MEMBERS | Intents.GUILD_PRESENCES | Intents.MESSAGE_CONTENT
)

DEFAULT_INTENTS: Final = (
    Intents.GUILDS
    | Intents.GUILD_MESSAGES
    | Intents.GUILD_MESSAGE_REACTIONS
    | Intents.MESSAGE_CONTENT
)
"""What ccbridge needs: guilds/channels/threads, messages with content, reactions (34305)."""

SEND_LIMIT: Final = 120
SEND_WINDOW: Final = 60.0
"""At most 120 gateway sends per 60 s per connection, or the server closes with 4008."""

MAX_PAYLOAD_BYTES: Final = 4096
"""A sent payload over 4096 bytes is closed with 4002."""

IDENTIFY_INTERVAL: Final = 5.0
"""Never identify twice within 5 s (max_concurrency 1; gateway.mdx "Max Concurrency")."""

INVALID_SESSION_DELAY: Final = (1.0, 5.0)
"""After op 9 ``false`` wait a random 1-5 s before identifying (older docs; both libraries
wait at least this long), or the identify rate limit answers with another op 9."""

ZLIB_SUFFIX: Final = b"\x00\x00\xff\xff"
"""zlib-stream: a complete message ends with the Z_SYNC_FLUSH marker."""


def gateway_url(base: str, *, compress: bool = True) -> str:
    """``base`` with ``v=10&encoding=json`` (and ``compress=zlib-stream``) as its query.

    Used for both the ``/gateway/bot`` URL and READY's ``resume_gateway_url``: a resume URL
    opened without the query behaves as a different connection. Any query already on
    ``base`` is replaced.
    """
    parts = urlsplit(base)
    query = {"v": str(API_VERSION), "encoding": "json"}
    if compress:
        query["compress"] = "zlib-stream"
    path = parts.path or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))
