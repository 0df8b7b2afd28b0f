"""A supervised actor runtime on trio.

Actors are async functions that own a bounded mailbox, live in trio nurseries, are
supervised in the manner of Erlang/OTP, and talk only by messages. The package knows
nothing of Discord or Claude, never calls ``trio.run``, installs no signal handlers and
configures no logging, so it can be embedded in any trio program.
"""
