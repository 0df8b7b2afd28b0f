"""The ``--mcp-config`` given to every session's ``claude``: it starts ``ccbridge mcp``
with this Python (``python -P -m bridge mcp``), so no console script needs to be on PATH.

The config names no credential: the MCP server inherits ``CCDB_API_URL`` (the session's
own URL, token included) from the ``claude`` process, whose environment the bridge sets
(``protocol.claude.argv.child_env``). Keeping the token out of argv keeps it out of the
process list (``ps``), which other users of the machine can read.
"""

from __future__ import annotations

import json
import sys

SERVER_NAME = "ccbridge"
"""Claude sees the tools as ``mcp__ccbridge__<tool>``."""

MCP_TOOLS_RULE = f"mcp__{SERVER_NAME}"
"""An ``--allowedTools`` rule naming every tool of the server: they only reach the API
with the session's own credential, so they run without a permission prompt."""


def mcp_config_json(python: str | None = None) -> str:
    """The ``{"mcpServers": ...}`` JSON text for ``--mcp-config``."""
    server = {
        "type": "stdio",
        "command": python or sys.executable,
        # -P: the CLI starts it in the session's working directory, whose own `bridge`
        # directory (a checkout of ccbridge, or any project's) must not shadow ours.
        "args": ["-P", "-m", "bridge", "mcp"],
    }
    return json.dumps({"mcpServers": {SERVER_NAME: server}})
