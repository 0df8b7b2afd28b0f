"""Sans-IO Discord: models, gateway session machine, REST rate limits, limits and chunking.

Nothing here opens a socket, reads a clock or draws a random number on its own: the drivers
in ``bridge/discord/`` feed bytes, ``now`` and a ``random.Random`` in, and perform the
actions that come out. Every public name of the modules below is re-exported here.

* :mod:`~protocol.discord.models`: attrs models, open enums, ``UNDEFINED``, request bodies.
* :mod:`~protocol.discord.converter`: ``make_converter()``, the one Discord cattrs converter.
* :mod:`~protocol.discord.gateway_codes`: opcodes, close codes, intents, gateway limits.
* :mod:`~protocol.discord.gateway`: ``GatewaySession``, its events, actions and states.
* :mod:`~protocol.discord.zlib_stream`: ``ZlibStreamDecoder`` (h11-style receive/next_event).
* :mod:`~protocol.discord.pacing`: ``SendLimiter``, ``IdentifyPacer``, ``Backoff``.
* :mod:`~protocol.discord.routes`: every REST route by name; bucket major parameters.
* :mod:`~protocol.discord.ratelimit`: ``RateLimiter`` ("send now" or "wait until T").
* :mod:`~protocol.discord.mentions`: ``allowed_mentions`` on every message body.
* :mod:`~protocol.discord.edits`: ``EditQueue`` (edits of a message in order, coalesced).
* :mod:`~protocol.discord.limits`: documented size limits and ``LimitExceeded``.
* :mod:`~protocol.discord.chunking`: ``split_message`` / ``chunk_message`` (C23).
"""

from protocol.discord import (
    chunking,
    converter,
    edits,
    gateway,
    gateway_codes,
    limits,
    mentions,
    models,
    pacing,
    ratelimit,
    routes,
    zlib_stream,
)
from protocol.discord.chunking import *  # noqa: F403
from protocol.discord.converter import *  # noqa: F403
from protocol.discord.edits import *  # noqa: F403
from protocol.discord.gateway import *  # noqa: F403
from protocol.discord.gateway_codes import *  # noqa: F403
from protocol.discord.limits import *  # noqa: F403
from protocol.discord.mentions import *  # noqa: F403
from protocol.discord.models import *  # noqa: F403
from protocol.discord.pacing import *  # noqa: F403
from protocol.discord.ratelimit import *  # noqa: F403
from protocol.discord.routes import *  # noqa: F403
from protocol.discord.zlib_stream import *  # noqa: F403

_MODULES = (
    models,
    converter,
    gateway_codes,
    gateway,
    zlib_stream,
    pacing,
    routes,
    ratelimit,
    limits,
    mentions,
    edits,
    chunking,
)

__all__ = sorted({name for module in _MODULES for name in module.__all__})
