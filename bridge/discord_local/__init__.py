"""A local Discord-compatible server: gateway v10 (JSON, zlib-stream) and the REST routes
ccbridge uses, in memory, on loopback; with a control API to act as humans and inject faults.

Used by tests, benchmarks and fault-injection suites, and by ``ccbridge discord-local``.
See ``docs/discord-local.md``.
"""

from ._config import (
    DIRECT_MESSAGES,
    GUILD_MEMBERS,
    GUILD_MESSAGE_REACTIONS,
    GUILD_MESSAGES,
    GUILDS,
    MESSAGE_CONTENT,
    Realism,
    RouteLimit,
)
from ._control import Control
from ._errors import DiscordHTTPError, FieldError
from ._faults import RestFault
from ._gateway import GatewayHub
from ._http import Exchange
from ._persist import WorldFileError, dump_world, load_world
from ._server import LocalDiscord, open_discord_local
from ._stats import Stats
from ._world import Dispatch, NewFile, World

__all__ = [
    "DIRECT_MESSAGES",
    "GUILDS",
    "GUILD_MEMBERS",
    "GUILD_MESSAGES",
    "GUILD_MESSAGE_REACTIONS",
    "MESSAGE_CONTENT",
    "Control",
    "DiscordHTTPError",
    "Dispatch",
    "Exchange",
    "FieldError",
    "GatewayHub",
    "LocalDiscord",
    "NewFile",
    "Realism",
    "RestFault",
    "RouteLimit",
    "Stats",
    "World",
    "WorldFileError",
    "dump_world",
    "load_world",
    "open_discord_local",
]
