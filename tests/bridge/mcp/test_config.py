"""The ``--mcp-config`` every session gets: this Python running ``-m bridge mcp``, and no
credential in it (the token travels in the environment, out of ``ps``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bridge.mcp import MCP_TOOLS_RULE, SERVER_NAME, mcp_config_json
from protocol.claude.argv import ClaudeCommand, build_argv


def test_the_config_starts_this_python_with_the_bridge_module() -> None:
    config = json.loads(mcp_config_json())
    assert config == {
        "mcpServers": {
            SERVER_NAME: {
                "type": "stdio",
                "command": sys.executable,
                "args": ["-P", "-m", "bridge", "mcp"],
            }
        }
    }


def test_the_argv_carries_the_config_and_allows_the_tools() -> None:
    argv = build_argv(ClaudeCommand(mcp_config=mcp_config_json(), allowed_tools=[MCP_TOOLS_RULE]))
    assert argv[argv.index("--mcp-config") + 1] == mcp_config_json()
    assert argv[argv.index("--allowedTools") + 1] == "mcp__ccbridge"


def test_a_bridge_directory_in_the_working_directory_does_not_shadow_ours(
    tmp_path: Path,
) -> None:
    (tmp_path / "bridge").mkdir()
    (tmp_path / "bridge" / "__init__.py").write_text("raise SystemExit('shadowed')\n")
    server = json.loads(mcp_config_json())["mcpServers"][SERVER_NAME]
    argv = [server["command"], *server["args"][:-1], "version"]  # `version`, not `mcp`
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ccbridge ")
