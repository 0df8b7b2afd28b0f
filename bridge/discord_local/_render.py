"""Stored entities to Discord's JSON shapes (the OpenAPI ``*Response`` schemas).

Snowflakes are strings on the wire. Fields the schemas require are always present, even
when null, because the official schema (and strict clients) insist on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ._records import (
    APPLICATION_COMMAND,
    Attachment,
    Channel,
    Command,
    Message,
    Role,
    User,
)

if TYPE_CHECKING:
    from ._world import World

JSON = dict[str, Any]

# "@everyone" with ADMINISTRATOR: the bot may do everything the local server offers.
EVERYONE_PERMISSIONS = "8"


def iso(wall: float) -> str:
    """Unix time to Discord's ISO 8601 timestamp."""
    return datetime.fromtimestamp(wall, UTC).isoformat()


def user(u: User) -> JSON:
    out: JSON = {
        "id": str(u.id),
        "username": u.username,
        "avatar": None,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "global_name": u.global_name,
        "primary_guild": None,
    }
    if u.bot:
        out["bot"] = True
    return out


def private_user(u: User) -> JSON:
    """``GET /users/@me``: the user plus the fields only its owner sees."""
    return {**user(u), "mfa_enabled": False, "locale": "en-US", "verified": True, "email": None}


def member(world: World, u: User) -> JSON:
    return {
        "user": user(u),
        "roles": [str(r) for r in u.roles],
        "nick": None,
        "avatar": None,
        "banner": None,
        "joined_at": iso(world.wall(world.started_at)),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }


def webhook_author(message: Message, name: str) -> JSON:
    return {
        "id": str(message.webhook_id),
        "username": name,
        "avatar": None,
        "discriminator": "0000",
        "public_flags": 0,
        "flags": 0,
        "bot": True,
        "global_name": None,
        "primary_guild": None,
    }


def attachment(world: World, a: Attachment, channel_id: int) -> JSON:
    url = f"{world.cdn_base}/attachments/{channel_id}/{a.id}/{quote(a.filename)}"
    out: JSON = {
        "id": str(a.id),
        "filename": a.filename,
        "size": len(a.data),
        "url": url,
        "proxy_url": url,
    }
    if a.content_type:
        out["content_type"] = a.content_type
    if a.description:
        out["description"] = a.description
    return out


def emoji_from_key(key: str) -> JSON:
    name, _, emoji_id = key.partition(":")
    return {"id": emoji_id or None, "name": name}


def message(world: World, m: Message) -> JSON:
    """A message as REST returns it (``MessageResponse``)."""
    if m.webhook_id is not None and m.application_id is None:
        author = webhook_author(m, world.webhooks_by_id[m.webhook_id].name)
    else:
        author = user(world.users[m.author_id])
    out: JSON = {
        "type": m.type,
        "content": m.content,
        "mentions": [user(world.users[uid]) for uid in m.mentions if uid in world.users],
        "mention_roles": [],
        "attachments": [attachment(world, a, m.channel_id) for a in m.attachments],
        "embeds": m.embeds,
        "timestamp": iso(world.wall(m.created_at)),
        "edited_timestamp": iso(world.wall(m.edited_at)) if m.edited_at is not None else None,
        "flags": m.flags,
        "components": m.components,
        "id": str(m.id),
        "channel_id": str(m.channel_id),
        "author": author,
        "pinned": m.pinned,
        "mention_everyone": False,
        "tts": m.tts,
    }
    if m.nonce is not None:
        out["nonce"] = m.nonce
    if m.webhook_id is not None:
        out["webhook_id"] = str(m.webhook_id)
    if m.application_id is not None:
        out["application_id"] = str(m.application_id)
    if m.message_reference is not None:
        out["message_reference"] = m.message_reference
    if m.reactions:
        out["reactions"] = [
            {
                "emoji": emoji_from_key(key),
                "count": len(users),
                "count_details": {"burst": 0, "normal": len(users)},
                "burst_colors": [],
                "me_burst": False,
                "me": world.bot.id in users,
                "burst_me": False,
                "burst_count": 0,
            }
            for key, users in m.reactions.items()
            if users
        ]
    if m.interaction_id is not None:
        inter = world.interactions[m.interaction_id]
        out["interaction_metadata"] = {
            "id": str(inter.id),
            "type": inter.type,
            "user": user(world.users[inter.user_id]),
            "authorizing_integration_owners": {"0": str(world.guild_id)},
        }
    if m.thread_id is not None and m.thread_id in world.channels:
        out["thread"] = channel(world, world.channels[m.thread_id])
    return out


def message_dispatch(world: World, m: Message) -> JSON:
    """MESSAGE_CREATE / MESSAGE_UPDATE ``d``: the message plus ``guild_id`` and ``member``.

    Webhook messages carry no member (message.mdx, note on ``member``).
    """
    out = message(world, m)
    out["guild_id"] = str(world.guild_id)
    if m.webhook_id is None:
        out["member"] = {
            k: v for k, v in member(world, world.users[m.author_id]).items() if k != "user"
        }
    return out


def channel(world: World, c: Channel) -> JSON:
    """A guild channel (``GuildChannelResponse``) or a thread (``ThreadResponse``)."""
    out: JSON = {
        "id": str(c.id),
        "type": c.type,
        "flags": 0,
        "guild_id": str(c.guild_id),
        "name": c.name,
        "last_message_id": str(c.last_message_id) if c.last_message_id else None,
        "rate_limit_per_user": 0,
    }
    if c.last_pin_at is not None:
        out["last_pin_timestamp"] = iso(world.wall(c.last_pin_at))
    if c.is_thread:
        out.update(
            parent_id=str(c.parent_id),
            owner_id=str(c.owner_id),
            thread_metadata={
                "archived": c.archived,
                "archive_timestamp": iso(world.wall(c.archive_changed_at)),
                "auto_archive_duration": c.auto_archive_duration,
                "locked": c.locked,
                "create_timestamp": iso(world.wall(c.created_at)),
                "invitable": c.invitable,
            },
            message_count=len(c.message_ids),
            member_count=len(c.member_ids),
            total_message_sent=c.total_message_sent,
        )
    else:
        out.update(
            position=c.position,
            topic=c.topic,
            parent_id=None,
            nsfw=False,
            permission_overwrites=[],
            default_auto_archive_duration=1440,
        )
    return out


def thread_member(world: World, thread: Channel, user_id: int) -> JSON:
    return {
        "id": str(thread.id),
        "user_id": str(user_id),
        "join_timestamp": iso(world.wall(thread.created_at)),
        "flags": 0,
    }


def role(world: World, r: Role) -> JSON:
    """A role made through the control API: no permissions of its own, below everything."""
    return {
        **role_everyone(world),
        "id": str(r.id),
        "name": r.name,
        "permissions": "0",
        "position": 1,
    }


def role_everyone(world: World) -> JSON:
    return {
        "id": str(world.guild_id),
        "name": "@everyone",
        "description": None,
        "permissions": EVERYONE_PERMISSIONS,
        "position": 0,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def guild_create(world: World, *, all_members: bool) -> JSON:
    """GUILD_CREATE ``d``: the guild with channels, active threads and members.

    Without GUILD_PRESENCES Discord lists only the bot (and users in voice) in ``members``
    (gateway-events.mdx "Guild Create"); ``all_members`` says whether the session has it.
    """
    members = [u for u in world.users.values() if all_members or u.id == world.bot.id]
    channels = [c for c in world.channels.values() if not c.is_thread]
    threads = [c for c in world.channels.values() if c.is_thread and not c.archived]
    return {
        "id": str(world.guild_id),
        "name": world.guild_name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(world.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role_everyone(world), *(role(world, r) for r in world.roles.values())],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "max_members": 500000,
        "joined_at": iso(world.wall(world.started_at)),
        "large": False,
        "unavailable": False,
        "member_count": len(world.users),
        "members": [member(world, u) for u in members],
        "channels": [channel(world, c) for c in channels],
        "threads": [channel(world, c) for c in threads],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def command(world: World, c: Command) -> JSON:
    d = c.definition
    out: JSON = {
        "id": str(c.id),
        "application_id": str(world.application_id),
        "version": str(c.version),
        "default_member_permissions": d.get("default_member_permissions"),
        "type": d.get("type", 1),
        "name": d["name"],
        "description": d.get("description", ""),
        "dm_permission": d.get("dm_permission", True),
        "nsfw": d.get("nsfw", False),
    }
    for key in ("name_localizations", "description_localizations", "contexts", "integration_types"):
        if d.get(key) is not None:
            out[key] = d[key]
    if d.get("options"):
        out["options"] = d["options"]
    if c.guild_id is not None:
        out["guild_id"] = str(c.guild_id)
    return out


def interaction(world: World, inter_id: int) -> JSON:
    """INTERACTION_CREATE ``d``."""
    inter = world.interactions[inter_id]
    chan = world.channels[inter.channel_id]
    out: JSON = {
        "id": str(inter.id),
        "application_id": str(world.application_id),
        "type": inter.type,
        "data": inter.data,
        "guild_id": str(world.guild_id),
        "guild": {"id": str(world.guild_id), "locale": "en-US", "features": []},
        "channel_id": str(chan.id),
        "channel": channel(world, chan),
        "member": {
            **member(world, world.users[inter.user_id]),
            "permissions": EVERYONE_PERMISSIONS,
        },
        "token": inter.token,
        "version": 1,
        "app_permissions": EVERYONE_PERMISSIONS,
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(world.guild_id)},
        "context": 0,
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if inter.message_id is not None:
        out["message"] = message(world, world.messages[inter.message_id])
    if inter.type == APPLICATION_COMMAND:
        out["data"] = {**inter.data, "guild_id": str(world.guild_id)}
    return out
