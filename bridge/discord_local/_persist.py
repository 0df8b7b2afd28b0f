"""Keeping a local Discord's world in a file, so local mode survives a restart.

The file is JSON: the fixed ids (guild, bot, owner, default channel), the bot token, the
last snowflake, and every user, channel, message (with attachment bytes as base64 and its
edit history), webhook, command and interaction. Instants are stored as Unix time, because
each run's trio clock starts anew: a loaded world is re-based on the new run's clock.

Not kept: gateway sessions (clients identify again, as after any Discord outage) and
enforce-nonce memory (a five-minute window).

:func:`autosave` writes the file after changes, at most every ``interval`` seconds, and a
last time when cancelled; each write goes to a temporary file that replaces the old one,
so a crash leaves the previous complete file.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cattrs
import trio

from ._records import Channel, Command, Interaction, Message, Role, User, Webhook
from ._world import World

JSON = dict[str, Any]
FORMAT = 1
"""Bumped when the file's shape changes incompatibly; other versions are refused."""

_TIMES: dict[type, tuple[str, ...]] = {
    Message: ("created_at", "edited_at", "pinned_at", "deleted_at"),
    Channel: ("archive_changed_at", "created_at", "last_pin_at"),
    Interaction: ("created_at", "responded_at"),
}

_converter = cattrs.Converter()
_converter.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode())
_converter.register_structure_hook(bytes, lambda v, _: base64.b64decode(v))
# A message nonce is whatever the client sent (string or integer): kept as it was.
_converter.register_structure_hook_func(lambda t: t == (str | int | None), lambda v, _: v)


class WorldFileError(Exception):
    """The state file exists but cannot be loaded (not ours, another format, corrupt)."""


def _shift(record: JSON, kind: type, delta: float) -> JSON:
    for name in _TIMES.get(kind, ()):
        if record.get(name) is not None:
            record[name] += delta
    if kind is Message:
        record["versions"] = [
            {**v, "visible_at": v["visible_at"] + delta} for v in record["versions"]
        ]
    return record


def dump_world(world: World) -> JSON:
    """The world as JSON-ready data, instants as Unix time."""
    offset = world.wall_offset

    def records(kind: type, items: Any) -> list[JSON]:
        return [_shift(_converter.unstructure(item), kind, offset) for item in items]

    return {
        "format": FORMAT,
        "token": world.token,
        "guild_id": world.guild_id,
        "guild_name": world.guild_name,
        "bot_id": world.bot.id,
        "owner_id": world.owner_id,
        "default_channel_id": world.default_channel.id,
        "last_snowflake": world._last_snowflake,
        "users": records(User, world.users.values()),
        "channels": records(Channel, world.channels.values()),
        "messages": records(Message, world.messages.values()),
        "webhooks": records(Webhook, world.webhooks_by_id.values()),
        "commands": records(Command, world.commands.values()),
        "interactions": records(Interaction, world.interactions.values()),
        "roles": records(Role, world.roles.values()),
    }


def load_world(world: World, data: JSON) -> None:
    """Replace a freshly made world's contents with saved ones (before anyone listens)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise WorldFileError(f"not a local Discord state file of format {FORMAT}")
    offset = -world.wall_offset

    def records(kind: type, key: str) -> list[Any]:
        return [_converter.structure(_shift(dict(r), kind, offset), kind) for r in data[key]]

    try:
        users = records(User, "users")
        channels = records(Channel, "channels")
        messages = records(Message, "messages")
        webhooks = records(Webhook, "webhooks")
        commands = records(Command, "commands")
        interactions = records(Interaction, "interactions")
        # Files written before roles existed have none.
        roles = records(Role, "roles") if "roles" in data else []
        world.roles = {r.id: r for r in roles}
        world.users = {u.id: u for u in users}
        world.channels = {c.id: c for c in channels}
        world.messages = {m.id: m for m in messages}
        world.webhooks_by_id = {w.id: w for w in webhooks}
        world.commands = {c.id: c for c in commands}
        world.interactions = {i.id: i for i in interactions}
        world.interactions_by_token = {i.token: i.id for i in interactions}
        world.attachments = {a.id: (m.id, a) for m in messages for a in m.attachments}
        world.token = data["token"]
        world.guild_id = data["guild_id"]
        world.guild_name = data["guild_name"]
        world.bot = world.users[data["bot_id"]]
        world.application_id = world.bot.id
        world.owner_id = data["owner_id"]
        world.default_channel = world.channels[data["default_channel_id"]]
        world._last_snowflake = max(world._last_snowflake, data["last_snowflake"])
    except (KeyError, TypeError, ValueError, cattrs.BaseValidationError) as exc:
        raise WorldFileError(f"the state file is damaged: {exc!r}") from exc
    world.touch()


def read_world_file(world: World, path: Path) -> bool:
    """Load ``path`` into ``world`` if it exists; whether it did.

    Raises:
        WorldFileError: the file exists but is not a loadable state file.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return False
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise WorldFileError(f"{path} is not JSON: {exc}") from exc
    try:
        load_world(world, data)
    except WorldFileError as exc:
        raise WorldFileError(f"{path}: {exc}") from exc
    return True


def _write(path: Path, payload: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


async def autosave(
    world: World,
    path: Path,
    *,
    interval: float = 0.5,
    saved: Callable[[], object] = lambda: None,
) -> None:
    """Write the world to ``path`` after each change (coalesced over ``interval`` seconds)
    until cancelled, then once more (synchronously) so the last change is kept.
    ``saved`` is called after each write made while running."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        while True:
            await world.next_change()
            await trio.sleep(interval)  # coalesce a burst of edits into one write
            payload = json.dumps(dump_world(world)).encode()
            await trio.to_thread.run_sync(_write, path, payload)
            saved()
    finally:
        # Synchronous on purpose: no checkpoint, so cancellation cannot cut the last write.
        _write(path, json.dumps(dump_world(world)).encode())


__all__ = [
    "WorldFileError",
    "autosave",
    "dump_world",
    "load_world",
    "read_world_file",
]
