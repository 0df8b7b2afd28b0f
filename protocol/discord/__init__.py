"""Sans-IO Discord: models, gateway session machine, REST rate limits, limits and chunking.

Nothing here opens a socket, reads a clock or draws a random number on its own: the drivers
in ``bridge/discord/`` feed bytes, ``now`` and a ``random.Random`` in, and perform the
actions that come out.

Modules (import names from the module that defines them):

* :mod:`~protocol.discord.models`: attrs models, open enums, ``UNDEFINED``, request bodies.
* :mod:`~protocol.discord.converter`: ``make_converter()``, the one Discord cattrs converter.
* :mod:`~protocol.discord.gateway_codes`: opcodes, close codes, intents, gateway limits.
* :mod:`~protocol.discord.gateway`: ``GatewaySession``, its events, actions and states.
* :mod:`~protocol.discord.zlib_stream`: ``ZlibStreamDecoder`` (h11-style receive/next_event).
* :mod:`~protocol.discord.pacing`: ``SendLimiter``, ``IdentifyPacer``, ``Backoff``.
* :mod:`~protocol.discord.limits`: documented size limits and ``LimitExceeded``.
"""
