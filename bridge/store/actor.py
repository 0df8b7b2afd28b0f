"""The store actor: the one owner of the SQLite connection.

Every database call goes through this actor's mailbox and runs, one at a time, in a trio
worker thread, so SQLite never blocks the event loop and :class:`~bridge.store.Database`
needs no locks. Others reach it with :func:`store_call`::

    record = await store_call(store, lambda db: db.get_session(thread_id), timeout=10)

*Cancellation*: a call that has started in the worker thread always runs to the end
(SQLite cannot be interrupted halfway safely); if the asking task is cancelled meanwhile,
the result is dropped. A call still queued when the actor stops fails with
``ActorStopped``.

*Error handling*: an exception raised by ``fn`` is the caller's, not the store's: it is
re-raised by :func:`store_call` and the actor carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import attrs
import trio

import actors
from bridge.store._database import Database

__all__ = ["STORE_MAILBOX", "StoreCall", "StoreMessage", "store_actor", "store_call"]

T = TypeVar("T")

log = logging.getLogger(__name__)

STORE_MAILBOX = actors.Mailbox(capacity=1024, overflow=actors.Overflow.BLOCK_SENDER)
"""Every session, the router and the API talk to the store; a burst (100 sessions ending
their turns at once) must wait for room rather than fail, hence BLOCK_SENDER."""


@attrs.frozen(kw_only=True)
class StoreCall(actors.Ask[T]):
    """Run ``fn(database)`` in the store actor's worker thread and reply with its result.

    The store actor is the only owner of the SQLite connection and runs calls one at a
    time, so ``fn`` needs no locking. Use :func:`store_call` rather than building this by
    hand.
    """

    fn: Callable[[Database], T]


StoreMessage: TypeAlias = StoreCall[Any]
"""Everything the store actor takes: refs to it are ``actors.Ref[StoreMessage]``."""


async def store_actor(ctx: actors.Context[StoreMessage], path: Path) -> None:
    """Open (and migrate) the database at ``path``, then serve :class:`StoreCall` asks.

    Raises at start (a ``SpawnError`` for the spawner) if the file cannot be opened or
    migrated. The connection is closed when the actor ends, however it ends.
    """
    database = await trio.to_thread.run_sync(Database.open, path)
    try:
        ctx.started()
        async for msg in ctx.mailbox:
            if not isinstance(msg, StoreCall):
                log.warning("store: ignoring unexpected message %r", msg)
                continue
            try:
                result = await trio.to_thread.run_sync(msg.fn, database)
            except Exception as exc:
                msg.fail(exc)
            else:
                msg.reply(result)
    finally:
        with ctx.cleanup_scope():
            await trio.to_thread.run_sync(database.close)


async def store_call(
    store: actors.Ref[StoreMessage], fn: Callable[[Database], T], *, timeout: float
) -> T:
    """Run ``fn(database)`` in the store actor and return its result.

    Args:
        store: the store actor's ref.
        fn: a synchronous function of the :class:`Database`; it runs in a worker thread,
            alone, so it may make several calls that must not interleave with others.
        timeout: seconds of trio's clock to wait for the answer (queueing included).

    Raises:
        Whatever ``fn`` raised; ``actors.AskTimeout``; ``actors.ActorStopped`` if the store
        is stopping or stopped.
    """
    return await store.ask(StoreCall(fn=fn), timeout=timeout)
