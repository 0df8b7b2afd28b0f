"""The ``--mcp-config`` every session gets: this Python running ``-m bridge mcp``, and no
credential in it (the token travels in the environment, out of ``ps``)."""

from __future__ import annotations

import json
import sys

from bridge.mcp import MCP_TOOLS_RULE, SERVER_NAME, mcp_config_json
from protocol.claude.argv import ClaudeCommand, build_argv


def test_the_config_starts_this_python_with_the_bridge_module() -> None:
    config = json.loads(mcp_config_json())
    assert config == {
        "mcpServers": {
            SERVER_NAME: {
                "type": "stdio",
                "command": sys.executable,
                "args": ["-m", "bridge", "mcp"],
            }
        }
    }


def test_the_argv_carries_the_config_and_allows_the_tools() -> None:
    argv = build_argv(ClaudeCommand(mcp_config=mcp_config_json(), allowed_tools=[MCP_TOOLS_RULE]))
    assert argv[argv.index("--mcp-config") + 1] == mcp_config_json()
    assert argv[argv.index("--allowedTools") + 1] == "mcp__ccbridge"
