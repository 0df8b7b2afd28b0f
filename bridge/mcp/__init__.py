"""Tools for Claude (K6): the ``ccbridge mcp`` stdio server and the API client it shares
with ``ccbridge lounge``. Each call carries the session's own credential, read from
``CCDB_API_URL``; the admin secret never reaches a session."""

from bridge.mcp.client import ApiClient, ApiError, client_from_env
from bridge.mcp.config import MCP_TOOLS_RULE, SERVER_NAME, mcp_config_json

__all__ = [
    "MCP_TOOLS_RULE",
    "SERVER_NAME",
    "ApiClient",
    "ApiError",
    "client_from_env",
    "mcp_config_json",
]
