"""Errors of the Discord clients, drawn as a tree::

    DiscordError                     anything the Discord clients raise on purpose
    ├── HTTPError                    Discord answered a REST request with an error status
    │   ├── Forbidden                403: missing permission or access
    │   └── NotFound                 404: unknown channel, message, interaction ...
    ├── RateLimitedTooLong           a 429 asked us to wait longer than we are willing to
    ├── RequestShed                  dropped on purpose to protect the invalid-request budget
    ├── AttachmentTooLarge           a CDN download is over the caller's size cap
    └── RestClientClosed             the client's block has ended (the caller's mistake)

    GatewayFatalError                the gateway refused us; reconnecting cannot help

:class:`GatewayFatalError` (with :data:`EXIT_GATEWAY_FATAL`) is defined once, by the sans-IO
gateway machine in :mod:`protocol.discord.gateway`, and re-exported here: the machine emits
it and the client raises it, so one ``except`` catches it wherever it came from. It is not
a :class:`DiscordError` (the protocol layer knows nothing of the clients).

Every error is an attrs class with fields code can act on, and a ``__str__`` that is a
sentence saying what happened and, where there is one, what to do.
"""

from __future__ import annotations

import attrs

from protocol.discord.gateway import EXIT_GATEWAY_FATAL, GatewayFatalError

__all__ = [
    "EXIT_GATEWAY_FATAL",
    "AttachmentTooLarge",
    "DiscordError",
    "Forbidden",
    "GatewayFatalError",
    "HTTPError",
    "NotFound",
    "RateLimitedTooLong",
    "RequestShed",
    "RestClientClosed",
    "find_gateway_fatal",
]


class DiscordError(Exception):
    """Base of the errors below."""


@attrs.define(auto_exc=True, kw_only=True)
class HTTPError(DiscordError):
    """Discord answered with an error status (after any retries we were allowed).

    ``code`` is Discord's JSON error code (e.g. 50035 Invalid Form Body, 10008 Unknown
    Message), 0 when the body had none; ``errors`` is the per-field detail of a 400.
    """

    status: int
    code: int
    message: str
    route: str
    """The route key, e.g. ``POST /channels/{channel_id}/messages``."""
    errors: dict[str, object] | None = None

    def __str__(self) -> str:
        detail = f"; field errors: {self.errors}" if self.errors else ""
        return (
            f"Discord answered {self.status} (code {self.code}: {self.message}) "
            f"to {self.route}{detail}"
        )


@attrs.define(auto_exc=True, kw_only=True)
class Forbidden(HTTPError):
    """403: the bot lacks a permission or access (check its role in the channel)."""


@attrs.define(auto_exc=True, kw_only=True)
class NotFound(HTTPError):
    """404: the channel, message, webhook or interaction does not exist (any more)."""


@attrs.define(auto_exc=True, kw_only=True)
class RateLimitedTooLong(DiscordError):
    """Discord asked us to wait ``retry_after`` seconds, more than ``limit``, or refused the
    request with 429 ``attempts`` times in a row; we raise rather than hang (some limits
    last hours or days, hikari-py/hikari#264)."""

    route: str
    retry_after: float
    limit: float
    is_global: bool = False
    attempts: int = 1

    def __str__(self) -> str:
        scope = "the global limit" if self.is_global else self.route
        if self.retry_after <= self.limit:
            return (
                f"Discord answered {self.route} with 429 {self.attempts} times in a row; "
                f"giving up on this request, try again later"
            )
        return (
            f"Discord rate-limited {scope} for {self.retry_after:.1f} s, longer than the "
            f"{self.limit:.1f} s we wait; try again later"
        )


@attrs.define(auto_exc=True, kw_only=True)
class RequestShed(DiscordError):
    """A non-essential request (an edit or a reaction) was dropped on purpose: too many
    invalid requests recently, and Discord bans an IP at 10,000 per 10 minutes."""

    route: str
    invalid_requests: int
    threshold: int

    def __str__(self) -> str:
        return (
            f"dropped {self.route}: {self.invalid_requests} invalid requests (401/403/429) in "
            f"the last 10 minutes is over our shedding threshold of {self.threshold}"
        )


@attrs.define(auto_exc=True, kw_only=True)
class AttachmentTooLarge(DiscordError):
    """A download is larger than the cap; nothing beyond the cap was read."""

    url: str
    size: int | None
    """The size the CDN announced, or None if it announced none (we stopped at ``limit``)."""
    limit: int

    def __str__(self) -> str:
        size = f"{self.size} bytes" if self.size is not None else f"more than {self.limit} bytes"
        return f"the attachment at {self.url} is {size}, over the {self.limit}-byte limit"


@attrs.define(auto_exc=True, kw_only=True)
class RestClientClosed(DiscordError):
    """A request was made after the ``open_rest_client`` block ended (a bug in the caller)."""

    route: str

    def __str__(self) -> str:
        return f"{self.route} was requested after the REST client was closed"


def find_gateway_fatal(exc: BaseException) -> GatewayFatalError | None:
    """The :class:`GatewayFatalError` in ``exc``, looking inside exception groups (trio's
    nurseries wrap what crosses them) and causes; None if there is none. For a CLI:
    ``if find_gateway_fatal(e): exit(EXIT_GATEWAY_FATAL)``."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, GatewayFatalError):
            return current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        for linked in (current.__cause__, getattr(current, "cause", None)):
            if isinstance(linked, BaseException):
                stack.append(linked)
    return None
