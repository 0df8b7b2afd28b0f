"""Serving the API with Hypercorn on trio, on the loopback interface unless configured."""

from __future__ import annotations

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from starlette.applications import Starlette

__all__ = ["serve_api"]

HOST = "127.0.0.1"
"""The default: loopback only, since the API is for this machine's ``claude`` children and
its admin. ``CCBRIDGE_API_HOST`` binds elsewhere (the configuration refuses that without
an admin secret)."""


async def serve_api(
    app: Starlette,
    port: int,
    *,
    host: str = HOST,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``host:port`` (0: any free port) until cancelled.

    ``task_status.started`` gets the base URL, e.g. ``http://127.0.0.1:43121``, once the
    socket accepts connections.

    *Cancellation*: cancelling ends the server; in-flight requests are abandoned after a
    short grace.
    """
    config = HypercornConfig()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0

    async def started(
        *, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await serve(app, config, task_status=task_status)  # type: ignore[arg-type]  # hypercorn types ASGI apps more narrowly than Starlette declares its app

    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(started)
        task_status.started(binds[0])
