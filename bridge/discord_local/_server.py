"""Serving the local Discord: the Starlette app, and :func:`open_discord_local` on Hypercorn."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from ._config import Realism
from ._control import Control
from ._faults import FaultBook
from ._gateway import GATEWAY_PATH, RESUME_PATH, GatewayHub
from ._http import Exchange
from ._persist import autosave, read_world_file
from ._rest import RestApi
from ._stats import Stats
from ._web import WebClient
from ._world import World

API_PREFIX = "/api/v10"
CONTROL_PREFIX = "/_control"
CDN_PREFIX = "/cdn"


class LocalDiscord:
    """One local Discord server's state and its ASGI app; not yet listening anywhere.

    Use :func:`open_discord_local` to serve it on a socket, or pass :attr:`app` to
    ``httpx.ASGITransport`` for REST-only tests.

    Attributes:
        world: the state (users, channels, messages ...); mutate only through its methods.
        hub: gateway sessions and connections.
        control: the control API's operations, callable from Python.
        stats: counters; faults: armed REST faults.
        token: the bot token clients must send.
    """

    def __init__(
        self,
        *,
        base_url: str = "http://discord.local",
        realism: Realism | None = None,
        rng: random.Random | None = None,
        wall_offset: float | None = None,
        observers: Iterable[Callable[[Exchange], None]] = (),
    ) -> None:
        self.realism = realism or Realism.faithful()
        self.base_url = base_url
        self.gateway_base = base_url.replace("http", "ws", 1)
        if wall_offset is None:
            # Unix time at trio time 0: the one place the wall clock is read, so that
            # timestamps and snowflakes look real while all timing follows trio's clock.
            wall_offset = time.time() - trio.current_time()
        self.stats = Stats()
        self.faults = FaultBook()
        self.observers: list[Callable[[Exchange], None]] = list(observers)
        self.world = World(
            realism=self.realism,
            rng=rng or random.Random(0),
            wall_offset=wall_offset,
            cdn_base=self.cdn_url,
        )
        self.hub = GatewayHub(self.world, self.realism, self.stats, lambda: self.resume_gateway_url)
        self.control = Control(self.world, self.hub, self.stats, self.faults)
        self.rest = RestApi(
            self.world,
            self.hub,
            self.realism,
            self.stats,
            self.faults,
            self.observers,
            lambda: self.gateway_url,
        )
        self.web = WebClient(self.world, self.control)
        self.app = Starlette(
            routes=[
                *self.web.routes(),
                Mount(API_PREFIX, routes=self.rest.routes()),
                Mount(CONTROL_PREFIX, routes=self.control.routes()),
                Route(
                    CDN_PREFIX + "/attachments/{channel_id}/{attachment_id}/{filename}",
                    self._cdn,
                    methods=["GET"],
                ),
            ]
        )

    def rebase(self, base_url: str, gateway_base: str | None = None) -> None:
        """Set the public base URLs once the listening ports are known."""
        self.base_url = base_url
        if gateway_base is not None:
            self.gateway_base = gateway_base
        self.world.cdn_base = self.cdn_url

    @property
    def token(self) -> str:
        return self.world.token

    @property
    def rest_url(self) -> str:
        """REST base, e.g. ``http://127.0.0.1:PORT/api/v10`` (discord.py's ``Route.BASE``)."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What ``/gateway/bot`` returns; clients add ``?v=10&encoding=json&compress=...``."""
        return self.gateway_base + GATEWAY_PATH

    @property
    def resume_gateway_url(self) -> str:
        """READY's ``resume_gateway_url``: a different path, so tests can see it was used."""
        return self.gateway_base + RESUME_PATH

    @property
    def control_url(self) -> str:
        return self.base_url + CONTROL_PREFIX

    @property
    def cdn_url(self) -> str:
        return self.base_url + CDN_PREFIX

    @property
    def web_url(self) -> str:
        """The web client's page: ``http://127.0.0.1:PORT/``."""
        return self.base_url + "/"

    def urls(self) -> dict[str, str]:
        """What ``ccbridge discord-local`` prints."""
        return {
            "web_url": self.web_url,
            "rest_url": self.rest_url,
            "gateway_url": self.gateway_url,
            "control_url": self.control_url,
            "cdn_url": self.cdn_url,
            "token": self.token,
            "owner_id": str(self.world.owner_id),
            "default_channel_id": str(self.world.default_channel.id),
        }

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait for a condition on the state; see :meth:`World.wait_until`."""
        return await self.world.wait_until(predicate, timeout)

    async def _cdn(self, request: Request) -> Response:
        # CDN downloads carry no Authorization and count against no bucket (research §1).
        self.stats.requests["GET /cdn/attachments"] += 1
        attachment_id = request.path_params["attachment_id"]
        found = self.world.attachments.get(int(attachment_id)) if attachment_id.isdigit() else None
        if (
            found is None
            or str(self.world.messages[found[0]].channel_id) != request.path_params["channel_id"]
        ):
            return Response("Not Found", status_code=404, media_type="text/plain")
        _, attachment = found
        return Response(
            attachment.data, media_type=attachment.content_type or "application/octet-stream"
        )


@asynccontextmanager
async def open_discord_local(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    gateway_port: int = 0,
    realism: Realism | None = None,
    rng: random.Random | None = None,
    observers: Iterable[Callable[[Exchange], None]] = (),
    wall_offset: float | None = None,
    state_path: Path | None = None,
) -> AsyncIterator[LocalDiscord]:
    """Serve a fresh local Discord: HTTP (REST, control, CDN) on ``host:port`` and the
    gateway on ``host:gateway_port`` (0: the OS picks a port).

    Yields the :class:`LocalDiscord` once both accept connections; its URLs carry the
    real ports.

    ``state_path``: keep the world in this file (local mode): it is loaded if it exists,
    written after changes, and a last time when the block ends. Without it the world lives
    in memory only.

    Raises:
        WorldFileError: ``state_path`` exists but cannot be loaded.

    Resource handling:
        Leaving the block cancels both servers: open gateway sockets are cut without a
        close frame and in-flight requests are abandoned.
    """
    if rng is None and state_path is not None:
        # A kept world outlives this run: ids and tokens must not repeat the last run's.
        rng = random.Random()
    server = LocalDiscord(realism=realism, rng=rng, observers=observers, wall_offset=wall_offset)
    if state_path is not None:
        read_world_file(server.world, state_path)
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 0.5
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(_serve, server, config)
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, server.hub.serve_stream, gateway_port, host=host)
        )
        gw_port = listeners[0].socket.getsockname()[1]
        server.rebase(binds[0], f"ws://{host}:{gw_port}")
        if state_path is not None:
            nursery.start_soon(autosave, server.world, state_path)
        try:
            yield server
        finally:
            nursery.cancel_scope.cancel()


async def _serve(
    server: LocalDiscord,
    config: Config,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    await serve(server.app, config, task_status=task_status)  # type: ignore[arg-type]  # hypercorn types ASGI apps more narrowly than Starlette declares its app
