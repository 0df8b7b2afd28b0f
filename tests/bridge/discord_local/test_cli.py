"""``ccbridge discord-local``: one JSON line with working URLs, then serves until Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import trio
from trio_websocket import open_websocket_url


async def test_cli_prints_urls_and_serves_until_interrupted() -> None:
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "bridge", "discord-local", "--realism", "off", "--seed", "3"],
        stdout=subprocess.PIPE,
    )
    try:
        with trio.fail_after(60):
            assert proc.stdout is not None
            line = b""
            while not line.endswith(b"\n"):
                chunk = await proc.stdout.receive_some(4096)
                assert chunk, "the server exited before printing its URLs"
                line += chunk
            urls = json.loads(line)
            assert set(urls) == {"rest_url", "gateway_url", "control_url", "cdn_url", "token"}
            assert urls["rest_url"].startswith("http://127.0.0.1:")
            async with httpx.AsyncClient() as http:
                me = await http.get(
                    urls["rest_url"] + "/users/@me",
                    headers={"Authorization": f"Bot {urls['token']}"},
                )
                assert me.status_code == 200
                assert (await http.get(urls["control_url"] + "/state")).status_code == 200
            async with open_websocket_url(urls["gateway_url"] + "?v=10&encoding=json") as ws:
                assert json.loads(await ws.get_message())["op"] == 10
            proc.send_signal(signal.SIGINT)
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
        with trio.CancelScope(shield=True):
            await proc.wait()
