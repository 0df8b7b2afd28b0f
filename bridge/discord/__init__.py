"""The Discord clients: the gateway (trio-websocket, an actor) and REST (httpx on trio).

Both drive sans-IO machinery from :mod:`protocol.discord`; see ``gateway.py`` and
``rest.py`` for the theory of operation, and ``errors.py`` for what can go wrong.
"""

from bridge.discord._convert import parse_channel, parse_interaction, parse_message, parse_ready
from bridge.discord.errors import (
    EXIT_GATEWAY_FATAL,
    AttachmentTooLarge,
    DiscordError,
    Forbidden,
    GatewayFatalError,
    HTTPError,
    NotFound,
    RateLimitedTooLong,
    RequestShed,
    RestClientClosed,
    find_gateway_fatal,
)
from bridge.discord.gateway import (
    GatewayConfig,
    GatewayDispatch,
    GatewayHandle,
    GatewayStatus,
    GetGatewayStatus,
    SendGatewayCommand,
    Subscribe,
    Unsubscribe,
    WaitUntilConnected,
    open_gateway,
    run_gateway,
)
from bridge.discord.rest import (
    BackgroundFailure,
    FileUpload,
    Priority,
    RestClient,
    RestStats,
    open_rest_client,
)

__all__ = [
    "EXIT_GATEWAY_FATAL",
    "AttachmentTooLarge",
    "BackgroundFailure",
    "DiscordError",
    "FileUpload",
    "Forbidden",
    "GatewayConfig",
    "GatewayDispatch",
    "GatewayFatalError",
    "GatewayHandle",
    "GatewayStatus",
    "GetGatewayStatus",
    "HTTPError",
    "NotFound",
    "Priority",
    "RateLimitedTooLong",
    "RequestShed",
    "RestClient",
    "RestClientClosed",
    "RestStats",
    "SendGatewayCommand",
    "Subscribe",
    "Unsubscribe",
    "WaitUntilConnected",
    "find_gateway_fatal",
    "open_gateway",
    "open_rest_client",
    "parse_channel",
    "parse_interaction",
    "parse_message",
    "parse_ready",
    "run_gateway",
]
