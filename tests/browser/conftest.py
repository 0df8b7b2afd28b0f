"""Browser tests: the local Discord's web client in headless Chromium, driven by Playwright.

The browser is the system's Chromium (Debian's ``chromium`` package; ``.ci/run`` installs
it when missing), never a downloaded one: ``CCBRIDGE_CHROMIUM`` names another binary. When
it is missing the tests skip, except under CI (``CI=true``), where that fails the run.

Playwright's sync API is bound to the thread that started it, and the tests run in trio,
so :class:`BrowserThread` owns the browser in one thread and runs steps there one at a
time: ``await browser.step(lambda page: ...)``. The trio side keeps serving the local
Discord server and the bridge while a step waits in the browser.

Screenshots of each step go to ``CCBRIDGE_SCREENSHOTS`` (a folder) if set, else to
``screenshots/`` under the test's tmp path.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio

from tests.e2e.conftest import claude_bin, claude_env, claude_home, model_server
from tests.support.claude_cli import in_ci

__all__ = ["claude_bin", "claude_env", "claude_home", "model_server"]

T = TypeVar("T")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 820}


def chromium_path() -> str | None:
    wanted = os.environ.get("CCBRIDGE_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserThread:
    """One headless Chromium page, owned by one thread; steps run there in order."""

    def __init__(self, executable: str, screenshots: Path) -> None:
        self.executable = executable
        self.screenshots = screenshots
        self.shots: list[Path] = []
        self._steps: queue.Queue[Any] = queue.Queue()
        self._started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name="browser", daemon=True)
        self.console: list[str] = []

    def _run(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=self.executable, args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
                page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
                page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
                self._started.set_result(None)
                while (item := self._steps.get()) is not None:
                    fn, result = item
                    try:
                        result.set_result(fn(page))
                    except BaseException as exc:
                        result.set_exception(exc)
                browser.close()
        except BaseException as exc:
            if not self._started.done():
                self._started.set_exception(exc)
            raise

    async def start(self) -> None:
        self._thread.start()
        await trio.to_thread.run_sync(self._started.result, abandon_on_cancel=True)

    async def step(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(page)`` in the browser thread; its Playwright waits bound it."""
        result: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._steps.put((fn, result))
        return await trio.to_thread.run_sync(result.result, abandon_on_cancel=True)

    async def shot(self, name: str) -> Path:
        """A screenshot of the page now, kept as a test artifact."""
        path = self.screenshots / f"{len(self.shots) + 1:02d}-{name}.png"
        await self.step(lambda page: page.screenshot(path=str(path)))
        self.shots.append(path)
        return path

    async def stop(self) -> None:
        self._steps.put(None)
        await trio.to_thread.run_sync(self._thread.join, 30.0)


@pytest.fixture
def screenshots(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    base = os.environ.get("CCBRIDGE_SCREENSHOTS")
    folder = Path(base) / request.node.name if base else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def browser(screenshots: Path) -> AsyncIterator[BrowserThread]:
    executable = chromium_path()
    if executable is None:
        message = "no Chromium: install Debian's chromium package (.ci/run does)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    thread = BrowserThread(executable, screenshots)
    await thread.start()
    try:
        yield thread
    finally:
        # Shown with a failing test's captured output: what the page logged.
        print("browser console:", *thread.console, sep="\n  ")
        with trio.move_on_after(30):  # the page as the test left it, for a failure's report
            await thread.shot("end")
        await thread.stop()
