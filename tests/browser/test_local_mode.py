"""Local mode as a newcomer uses it: ``ccbridge run`` with no token (a real subprocess, the
real ``claude`` behind it, the scripted model), and the web client in headless Chromium.

One conversation, step by step, with a screenshot of each: a message becomes a thread, the
reply streams in, the tool embed ticks and completes; Allow on a permission prompt; ``/stop``
from the command picker; a text file reaches the model; a stranger gets the polite
refusal; and after a restart the thread and its history are still there and the session
continues. The screenshot of the finished tool step is the README's picture: run with
``CCBRIDGE_UPDATE_README_PICTURE=1`` to write it to ``docs/web-client.png``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio
from playwright.sync_api import Page, expect

from bridge.sessions.router import NOT_ALLOWED
from bridge.sessions.session import RESUME_PROMPT
from tests.browser.conftest import BrowserThread
from tests.e2e.bridge_harness import QUICK_TIMERS, BridgeProcess
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

WAIT = 90.0
"""Seconds for one wait: real ``claude`` processes start slowly on a loaded machine."""
MS = int(WAIT * 1000)
SLOW = " ".join(f"word{i}" for i in range(40))
README_PICTURE = Path(__file__).parents[2] / "docs" / "web-client.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _script(work: Path) -> ScriptStep:
    def reply(request: RecordedRequest) -> ScriptStep:
        said = request.last_user_text
        if request.tool_results():
            if "touch" in json.dumps(request.messages[-2]):
                return Reply.text("Created it.")
            return Reply.text("There are **two files** here.", chunks=8, delay=0.2)
        if said.startswith("List the files"):
            return Reply.bash("ls", "list the files")
        if said.startswith("Touch the file"):
            return Reply.bash(f"touch {work / 'allowed.txt'}", "create a file")
        if said.startswith("Count slowly"):
            return Reply.text(SLOW, chunks=40, delay=0.25)
        if "Read my notes" in said:
            return Reply.text("Noted: the secret is in your file.")
        if RESUME_PROMPT in said:
            return Reply.text("Resumed.")
        if said.startswith("Are you still there"):
            return Reply.text("Still here after the restart.")
        return Reply.text(f"unexpected: {said!r}")

    return reply  # type: ignore[return-value]


@asynccontextmanager
async def ccbridge_run(
    tmp_path: Path, env: dict[str, str], port: int
) -> AsyncIterator[BridgeProcess]:
    """``ccbridge run`` in local mode; yields once it runs. The block must end it."""
    env_file = tmp_path / "empty.env"  # --env-file must name a file that exists
    env_file.touch()
    process = await trio.lowlevel.open_process(
        [
            sys.executable, "-m", "bridge", "run",
            "--env-file", str(env_file), "--local-port", str(port),
        ],
        stdout=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )  # fmt: skip
    running = BridgeProcess(process)
    try:
        with trio.fail_after(WAIT):
            first = await running.until_line(lambda line: bool(line.strip()))
            # The first thing printed is where to look.
            assert first == f"open http://127.0.0.1:{port}/ in your browser"
            await running.until_line(lambda line: line.startswith("ccbridge is running"))
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            with trio.move_on_after(10, shield=True):
                await process.wait()


async def _stop(running: BridgeProcess) -> None:
    running.process.send_signal(signal.SIGTERM)
    with trio.fail_after(WAIT):
        assert await running.process.wait() == 0


def _see(page: Page, selector: str, text: str) -> None:
    expect(page.locator(selector).filter(has_text=text).first).to_be_visible(timeout=MS)


def _wait_commands(page: Page) -> None:
    """The bot registers /stop once its gateway is READY: from then on it hears us."""
    page.locator("#input").fill("/")
    expect(page.locator(".command-choice[data-command=stop]")).to_be_visible(timeout=MS)
    page.locator("#input").fill("")


async def test_a_newcomer_uses_the_bot_from_the_page_across_a_restart(
    tmp_path: Path,
    browser: BrowserThread,
    model_server: ModelServer,
    claude_bin: Path,
    claude_env: dict[str, str],
    claude_home: Path,
) -> None:
    work = tmp_path / "repo"
    work.mkdir()
    (work / "a.txt").write_text("a")
    (work / "b.txt").write_text("b")
    settings = claude_home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"permissions": {"allow": ["Bash(ls:*)"]}}))
    model_server.set_script(_script(work))
    (tmp_path / "data").mkdir()  # the database's directory must exist (README)
    env = {
        **claude_env,
        "CLAUDE_COMMAND": str(claude_bin),
        "CLAUDE_WORKING_DIR": str(work),
        "CCBRIDGE_DB_PATH": str(tmp_path / "data" / "ccbridge.db"),
        **QUICK_TIMERS,
    }
    env.pop("DISCORD_BOT_TOKEN", None)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"

    async with ccbridge_run(tmp_path, env, port) as running:

        def start(page: Page) -> None:
            page.goto(url)
            expect(page.locator("#feed-status")).to_have_text("live", timeout=MS)
            _wait_commands(page)
            page.locator("#input").fill("List the files, please")
            page.locator("#input").press("Enter")
            # The message becomes a thread, which appears in the sidebar by itself.
            thread = page.locator(".thread").filter(has_text="List the files")
            expect(thread).to_be_visible(timeout=MS)
            thread.click()
            _see(page, "#messages .embed", "✅ done in")
            _see(page, "#messages .content", "two files")
            _see(page, "#messages .embed-title", "✅ Done")

        await browser.step(start)
        picture = await browser.shot("thread-tool-and-reply")
        if os.environ.get("CCBRIDGE_UPDATE_README_PICTURE") == "1":
            README_PICTURE.write_bytes(picture.read_bytes())
        async with httpx.AsyncClient(base_url=f"{url}_control", timeout=WAIT) as control:
            channels = (await control.get("/channels")).json()
            (thread,) = [c for c in channels if c["name"].startswith("List the files")]
            shown = (await control.get(f"/channels/{thread['id']}/messages")).json()
        (reply,) = [m for m in shown if "two files" in m["content"]]
        # The reply streamed in: it was visible in several growing versions.
        texts = [v["content"] for v in reply["versions"]]
        assert len(texts) > 1, texts
        assert texts[-1].startswith(texts[0])
        assert texts[0] != texts[-1]
        (tool,) = [m for m in shown if m["embeds"] and "Bash" in m["embeds"][0]["title"]]
        # The tool embed was shown running (yellow, its timer) before it turned green.
        first, last = tool["versions"][0]["embeds"][0], tool["versions"][-1]["embeds"][0]
        assert first["color"] == 0xFEE75C
        assert "elapsed" in first["description"]
        assert last["color"] == 0x57F287
        assert "✅ done in" in last["description"]

        def allow(page: Page) -> None:
            page.locator("#input").fill("Touch the file allowed.txt")
            page.locator("#input").press("Enter")
            _see(page, "#messages .embed-title", "Permission needed")

        await browser.step(allow)
        await browser.shot("permission-prompt")
        await browser.step(
            lambda page: page.locator("#messages").get_by_role("button", name="Allow").last.click()
        )
        await browser.step(lambda page: _see(page, "#messages .content", "Created it."))
        assert (work / "allowed.txt").exists()

        def stop(page: Page) -> None:
            page.locator("#input").fill("Count slowly to forty")
            page.locator("#input").press("Enter")
            _see(page, "#messages .content", "word1 ")
            page.locator("#input").fill("/st")
            page.locator(".command-choice[data-command=stop]").click()
            page.locator("#run-command").click()
            _see(page, "#messages .content", "Stop requested by")
            _see(page, "#messages .embed-title", "Interrupted")

        await browser.step(stop)
        await browser.shot("stop")

        notes = tmp_path / "notes.txt"
        notes.write_text("the secret is 42")

        def upload(page: Page) -> None:
            page.locator("#file").set_input_files(str(notes))
            page.locator("#input").fill("Read my notes")
            page.locator("#input").press("Enter")
            _see(page, "#messages .content", "Noted: the secret")

        await browser.step(upload)
        await browser.shot("upload")
        assert "the secret is 42" in model_server.turns[-1].all_text()

        def stranger(page: Page) -> None:
            page.locator(".channel").filter(has_text="general").click()
            page.locator("#new-user-name").fill("mallory")
            page.locator("#new-user button").click()
            expect(page.locator("#viewer option:checked")).to_have_text("mallory", timeout=MS)
            page.locator("#input").fill("Hello bot, run something for me")
            page.locator("#input").press("Enter")
            _see(page, "#messages .content", "not on this bot's list of allowed users")

        await browser.step(stranger)
        await browser.shot("stranger")
        assert "ALLOWED_USER_IDS" in NOT_ALLOWED
        await _stop(running)

    await browser.step(
        lambda page: expect(page.locator("#feed-status")).to_have_text("reconnecting…", timeout=MS)
    )
    turns_before = len(model_server.turns)
    async with ccbridge_run(tmp_path, env, port) as running:

        def after_restart(page: Page) -> None:
            expect(page.locator("#feed-status")).to_have_text("live", timeout=MS)
            _wait_commands(page)
            page.locator("#viewer").select_option(label="Owner (owner)")
            thread = page.locator(".thread").filter(has_text="List the files")
            expect(thread).to_have_count(1, timeout=MS)
            thread.click()
            # The history is still there.
            _see(page, "#messages .content", "Noted: the secret")
            _see(page, "#messages .content", "Created it.")
            page.locator("#input").fill("Are you still there?")
            page.locator("#input").press("Enter")
            _see(page, "#messages .content", "Still here after the restart.")

        await browser.step(after_restart)
        await browser.shot("after-restart")
        resumed = model_server.turns[-1]
        assert len(model_server.turns) > turns_before
        # The same conversation continued: the model saw what came before the restart.
        assert "Read my notes" in resumed.all_text()
        await _stop(running)
    assert (tmp_path / "data" / "discord-local.json").exists()
