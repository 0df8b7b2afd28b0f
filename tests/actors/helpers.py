"""Behaviors and messages shared by the actor tests."""

from __future__ import annotations

from typing import Any

import attrs
import trio

import actors


@attrs.frozen
class Get(actors.Ask[list[Any]]):
    """Reply with every message handled so far."""


@attrs.frozen
class Echo(actors.Ask[Any]):
    value: Any


@attrs.frozen
class Crash:
    """Makes ``recorder`` raise ``ValueError(why)``."""

    why: str = "boom"


@attrs.frozen
class Hold(actors.Ask[Any]):
    """``recorder`` keeps this ask without answering it."""


@attrs.frozen
class Block:
    """``recorder`` waits on ``event`` before handling anything else."""

    event: trio.Event = attrs.field(eq=False)


async def recorder(ctx: actors.Context[Any], log: list[Any] | None = None) -> None:
    """Records plain messages; answers Get/Echo; crashes on Crash; blocks on Block."""
    seen: list[Any] = [] if log is None else log
    held: list[Any] = []
    async for msg in ctx.mailbox:
        match msg:
            case Get() as q:
                q.reply(list(seen))
            case Echo(value) as q:
                q.reply(value)
            case Crash(why):
                raise ValueError(why)
            case Hold() as q:
                held.append(q)
            case Block(event):
                await event.wait()
            case _:
                seen.append(msg)


def drain_events(stream: actors.EventStream) -> list[Any]:
    out = []
    while True:
        try:
            out.append(stream.receive_nowait())
        except trio.WouldBlock:
            return out
