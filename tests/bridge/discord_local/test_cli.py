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
            assert set(urls) == {
                "web_url",
                "rest_url",
                "gateway_url",
                "control_url",
                "cdn_url",
                "token",
                "owner_id",
                "default_channel_id",
            }
            assert urls["rest_url"].startswith("http://127.0.0.1:")
            assert urls["web_url"] == urls["rest_url"].removesuffix("api/v10")
            async with httpx.AsyncClient() as http:
                me = await http.get(
                    urls["rest_url"] + "/users/@me",
                    headers={"Authorization": f"Bot {urls['token']}"},
                )
                assert me.status_code == 200
                state = (await http.get(urls["control_url"] + "/state")).json()
                assert state["default_channel_id"] == urls["default_channel_id"]
                owner = [u for u in state["users"] if u["username"] == "owner"]
                assert [u["id"] for u in owner] == [urls["owner_id"]]
                page = await http.get(urls["web_url"])
                assert page.status_code == 200
                assert "text/html" in page.headers["content-type"]
            async with open_websocket_url(urls["gateway_url"] + "?v=10&encoding=json") as ws:
                assert json.loads(await ws.get_message())["op"] == 10
            proc.send_signal(signal.SIGINT)
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
        with trio.CancelScope(shield=True):
            await proc.wait()
