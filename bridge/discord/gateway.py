"""The Discord gateway client: a trio-websocket driver for ``GatewaySession``, as an actor.

Theory of operation
-------------------
Every protocol decision lives in :class:`protocol.discord.gateway.GatewaySession`. This
module is its driver: it reads, feeds, and performs. One actor incarnation runs::

    driver loop (the only task that touches the machine)
     ^  events channel (bounded)
     |-- mailbox pump      Subscribe / Unsubscribe / GetGatewayStatus / SendGatewayCommand
     |-- timer tasks       one per TimerKind: sleep until ``at``, then TimerFired
     |                     (so a heartbeat never waits behind frame handling or delivery)
     `-- connection task   one per connection: open, then every frame; its own nursery
    delivery task          tells each dispatch to the subscribers (backpressure: ``send``)

Events from a connection carry that connection's number; once the machine has given a
connection up (it emitted ``Close`` or ``Reconnect``) its late frames and close notice are
dropped here, as the machine's docstring asks.

Delivery is at least once: dispatches the server replays after a RESUME, or sends twice,
are dropped by id for creation events (:mod:`._dedup`). A slow subscriber slows the socket
reads (the backlog is bounded), never the heartbeats.

``GET /gateway/bot`` gives the URL and ``session_start_limit``; the machine counts the
session starts from it and stops (``Fatal``) before the reserve is burnt.

Using it
--------
Spawn :func:`run_gateway` with ``Restart.TEMPORARY`` (or ``critical=True``): a fatal close
(bad token 4004, disallowed intents 4014, ...) crashes it with :class:`GatewayFatalError`,
and restarting would only repeat the refusal. The CLI exits with
:data:`~bridge.discord.errors.EXIT_GATEWAY_FATAL` (78) on that error.
:func:`open_gateway` is the simple form for scripts: a context manager that yields a
receive channel of dispatches and raises the fatal error out of the block.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Protocol

import attrs
import trio
import trio_websocket

import actors
from bridge.discord._dedup import DispatchDeduplicator
from bridge.discord.errors import GatewayFatalError, HTTPError
from protocol.discord import models as m
from protocol.discord.gateway import (
    ArmTimer,
    Close,
    ConnectFailed,
    ConnectionClosed,
    ConnectionOpened,
    Deliver,
    Fatal,
    FrameReceived,
    GatewayAction,
    GatewayEvent,
    GatewaySession,
    GatewayState,
    GatewayUsageError,
    PayloadNotSent,
    Reconnect,
    SendPayload,
    SendRequested,
    ShutdownRequested,
    StartRequested,
    TimerFired,
    TimerKind,
)
from protocol.discord.gateway_codes import (
    DEFAULT_INTENTS,
    FATAL_CLOSE_MESSAGES,
    CloseCode,
    Intents,
    Opcode,
)

__all__ = [
    "GatewayConfig",
    "GatewayDispatch",
    "GatewayHandle",
    "GatewayStatus",
    "GetGatewayStatus",
    "SendGatewayCommand",
    "Subscribe",
    "Unsubscribe",
    "WaitUntilConnected",
    "open_gateway",
    "run_gateway",
]

logger = logging.getLogger("bridge.discord.gateway")

DELIVERY_HIGH_WATER: Final = 1000
"""Dispatches waiting for subscribers before we stop reading the socket (a bounded buffer;
heartbeats go on, and a long stall ends as a zombie close and a RESUME that replays)."""

EVENT_QUEUE: Final = 256
"""Events waiting for the driver loop; senders wait when it is full."""


# ---------------------------------------------------------------------------------------------
# Configuration and messages
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class GatewayConfig:
    """What the gateway client needs besides a REST client."""

    token: str = attrs.field(repr=False)
    """The bot token (sent in IDENTIFY/RESUME only)."""
    intents: Intents | int = DEFAULT_INTENTS
    """Gateway intents; the default asks for MESSAGE_CONTENT (privileged: enable it in the
    Developer Portal, or the gateway closes with 4014)."""
    compress: bool = True
    """zlib-stream transport compression."""
    large_threshold: int | None = None
    presence: dict[str, Any] | None = None
    session_start_reserve: int = 10
    """Stop rather than IDENTIFY when ``session_start_limit.remaining`` is at or below this:
    when the daily 1000 run out Discord resets the bot token (gateway.mdx "Identifying")."""
    connect_timeout: float = 15.0
    """Seconds to open the WebSocket before the attempt counts as failed."""
    close_timeout: float = 5.0
    """Seconds to wait for the close handshake before cutting the socket."""
    max_message_size: int = 64 * 1024 * 1024
    """Largest WebSocket message accepted (a big GUILD_CREATE is several MiB)."""


@attrs.frozen
class GatewayDispatch:
    """One gateway event, told to every subscriber. Parse ``data`` with the helpers in
    :mod:`bridge.discord` (``parse_message`` ...). Delivered at least once; creation events
    are deduplicated by id, so handlers of updates should still be idempotent."""

    name: str
    """``t``: MESSAGE_CREATE, INTERACTION_CREATE, THREAD_UPDATE, READY ..."""
    data: dict[str, Any]
    """``d``, parsed JSON (``{}`` when the event had none)."""
    seq: int | None
    """``s``: the session's sequence number."""


@attrs.frozen
class Subscribe:
    """Add ``ref`` to the subscribers (idempotent)."""

    ref: actors.Ref[GatewayDispatch]


@attrs.frozen
class Unsubscribe:
    ref: actors.Ref[GatewayDispatch]


@attrs.frozen
class SendGatewayCommand(actors.Ask[None]):
    """Send ``{op, d}`` (e.g. op 3 presence update) within the send budget; queued until
    the session is connected. Tell it, or ask it to learn that it was accepted: an ask
    fails with ``GatewayUsageError`` for ops the session sends itself (1, 2, 6), a payload
    over 4096 bytes, or a gateway that has stopped."""

    op: Opcode | int
    d: Any


@attrs.frozen(kw_only=True)
class GatewayStatus:
    """A snapshot of the gateway client (no token)."""

    state: GatewayState
    connected: bool
    """READY or RESUMED received on the current connection: dispatches flow."""
    latency: float | None
    """Seconds between the last heartbeat and its ACK."""
    session_id: str | None
    seq: int | None
    identifies: int
    resumes: int
    reconnects: int
    delivered: int
    """Dispatches handed to the subscribers (after deduplication)."""
    duplicates_dropped: int
    undeliverable: int
    """Tells refused by a full subscriber mailbox (use ``Overflow.BLOCK_SENDER``)."""
    subscribers: int
    session_starts_remaining: int | None


@attrs.define
class GetGatewayStatus(actors.Ask[GatewayStatus]):
    """Ask the gateway actor for a :class:`GatewayStatus`."""


@attrs.define
class WaitUntilConnected(actors.Ask[GatewayStatus]):
    """Ask for the status once the session is CONNECTED (READY or RESUMED received); at
    once if it already is. Use with an ask timeout."""


GatewayMessage = (
    Subscribe | Unsubscribe | SendGatewayCommand | GetGatewayStatus | WaitUntilConnected
)


class GatewayBotSource(Protocol):
    """What the gateway needs from REST: ``GET /gateway/bot`` (``RestClient`` has it)."""

    def get_gateway_bot(self) -> Awaitable[m.GatewayBot]: ...


# ---------------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class _ConnEvent:
    """An event from connection ``conn``; ``ws`` is set with ConnectionOpened."""

    conn: int
    event: GatewayEvent
    ws: trio_websocket.WebSocketConnection | None = None


@attrs.frozen
class _Timer:
    kind: TimerKind


@attrs.frozen
class _FromMailbox:
    msg: Any


_MAILBOX_CLOSED: Final = object()


class _GatewayDriver:
    def __init__(
        self,
        ctx: actors.Context[GatewayMessage],
        config: GatewayConfig,
        rest: GatewayBotSource,
        subscribers: Sequence[actors.Ref[GatewayDispatch]],
        rng: random.Random,
    ) -> None:
        self.ctx = ctx
        self.config = config
        self.rest = rest
        self.rng = rng
        self.subscribers: list[actors.Ref[GatewayDispatch]] = list(dict.fromkeys(subscribers))
        self.dedup = DispatchDeduplicator()
        self.session: GatewaySession | None = None
        self.events_send, self.events_recv = trio.open_memory_channel[Any](EVENT_QUEUE)
        self.out_send, self.out_recv = trio.open_memory_channel[GatewayDispatch](math.inf)
        self.drained = trio.lowlevel.ParkingLot()
        self.timer_scopes: dict[TimerKind, trio.CancelScope] = {}
        self.conn = 0
        """Number of the connection the machine currently owns (0: none yet)."""
        self.ws: trio_websocket.WebSocketConnection | None = None
        self.conn_scopes: dict[int, trio.CancelScope] = {}
        self.delivered = 0
        self.undeliverable = 0
        self.connected_waiters: list[WaitUntilConnected] = []
        self.nursery: trio.Nursery  # set by run(): timers, connections, the mailbox pump
        self.fatal: GatewayFatalError | None = None

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        bot = await self._fetch_gateway_bot()
        self.session = GatewaySession(
            token=self.config.token,
            intents=self.config.intents,
            url=bot.url,
            rng=self.rng,
            compress=self.config.compress,
            large_threshold=self.config.large_threshold,
            presence=self.config.presence,
            session_start_limit=bot.session_start_limit,
            session_start_reserve=self.config.session_start_reserve,
        )
        async with trio.open_nursery() as outer:
            # Delivery outlives the connection machinery: a stop hands over what was read.
            outer.start_soon(self._deliver_loop)
            try:
                async with trio.open_nursery() as nursery:
                    self.nursery = nursery
                    nursery.start_soon(self._pump_mailbox)
                    await self._drive()
                    nursery.cancel_scope.cancel()  # timers and connection tasks
            finally:
                self.out_send.close()
        if self.fatal is not None:
            raise self.fatal

    async def _drive(self) -> None:
        assert self.session is not None  # made by run()
        await self._perform(self._handle(StartRequested()))
        if self.fatal is not None:
            return
        async for item in self.events_recv:
            if item is _MAILBOX_CLOSED:
                await self._shutdown()
                return
            if isinstance(item, _ConnEvent):
                if item.conn != self.conn:
                    continue  # from a connection the machine already gave up
                if item.ws is not None:
                    self.ws = item.ws
                actions = self._handle(item.event)
            elif isinstance(item, _Timer):
                actions = self._handle(TimerFired(kind=item.kind))
            else:
                actions = self._on_message(item.msg)
            await self._perform(actions)
            if self.fatal is not None:
                return
            if self.connected_waiters and self.session.state is GatewayState.CONNECTED:
                status = self.status()
                for waiter in self.connected_waiters:
                    waiter.reply(status)
                self.connected_waiters.clear()

    def _handle(self, event: GatewayEvent) -> list[GatewayAction]:
        assert self.session is not None
        return self.session.handle(event, trio.current_time())

    async def _perform(self, actions: list[GatewayAction]) -> None:
        for action in actions:
            if isinstance(action, SendPayload):
                await self._send(action)
            elif isinstance(action, ArmTimer):
                self._arm(action.kind, action.at)
            elif isinstance(action, Deliver):
                d = action.dispatch
                data = d.data if isinstance(d.data, dict) else {}
                if self.dedup.admit(d.name, data):
                    self.out_send.send_nowait(GatewayDispatch(d.name, data, d.seq))
            elif isinstance(action, Close):
                self._retire(action.code, action.reason)
            elif isinstance(action, Reconnect):
                await self._reconnect(action)
            elif isinstance(action, Fatal):
                err = action.error
                self._retire(1000, "fatal")
                logger.error("gateway stopped: %s", err.advice)
                # Raised by run() once the helper tasks are gone, so that it is not wrapped
                # in an ExceptionGroup by our nurseries.
                self.fatal = err
                return

    async def _send(self, action: SendPayload) -> None:
        # A closed socket is reported by its connection task; the machine decides what to
        # do about the connection. That the payload never left is reported now: the machine
        # counted an IDENTIFY as a session start when it ordered it.
        try:
            if self.ws is None:
                raise trio_websocket.ConnectionClosed(None)
            await self.ws.send_message(action.text)
        except trio_websocket.ConnectionClosed:
            # trio-websocket raises it before writing (close already seen) or when the peer
            # had reset the stream: either way the frame did not reach the server.
            await self._perform(self._handle(PayloadNotSent(op=action.op)))

    # -- connections -----------------------------------------------------------------------

    async def _reconnect(self, action: Reconnect) -> None:
        self._retire(3000, "reconnecting")
        self.conn += 1
        self.nursery.start_soon(self._connection, self.conn, action.url, action.delay)

    def _retire(self, code: int, reason: str) -> None:
        """Close the current connection in the background; its events are ignored from now."""
        ws, conn = self.ws, self.conn
        self.ws = None
        self.conn += 1  # nothing of the old connection reaches the machine any more
        if ws is not None:
            self.nursery.start_soon(self._close_ws, conn, ws, code, reason)
        else:
            scope = self.conn_scopes.get(conn)
            if scope is not None:
                scope.cancel()

    async def _close_ws(
        self, conn: int, ws: trio_websocket.WebSocketConnection, code: int, reason: str
    ) -> None:
        with trio.move_on_after(self.config.close_timeout):
            await ws.aclose(code, reason)
        scope = self.conn_scopes.get(conn)
        if scope is not None:
            scope.cancel()

    async def _connection(self, conn: int, url: str, delay: float) -> None:
        scope = trio.CancelScope()
        self.conn_scopes[conn] = scope
        try:
            with scope:
                await trio.sleep(delay)
                async with trio.open_nursery() as nursery:
                    ws = await self._open(nursery, conn, url)
                    if ws is None:
                        return
                    await self._read(conn, ws)
                    # trio-websocket's reader task (in this nursery) must still complete the
                    # close handshake that aclose() waits for; give it a bounded time.
                    nursery.cancel_scope.deadline = trio.current_time() + self.config.close_timeout
        finally:
            self.conn_scopes.pop(conn, None)

    async def _open(
        self, nursery: trio.Nursery, conn: int, url: str
    ) -> trio_websocket.WebSocketConnection | None:
        try:
            with trio.fail_after(self.config.connect_timeout):
                ws = await trio_websocket.connect_websocket_url(
                    nursery,
                    url,
                    max_message_size=self.config.max_message_size,
                    message_queue_size=64,
                    receive_buffer_size=65536,
                )
        except (
            OSError,
            trio.TooSlowError,
            trio.BrokenResourceError,
            trio_websocket.HandshakeError,
            trio_websocket.ConnectionClosed,
        ) as exc:
            logger.warning("gateway connection to %s failed: %r", url.split("?")[0], exc)
            await self.events_send.send(_ConnEvent(conn, ConnectFailed(reason=repr(exc))))
            return None
        await self.events_send.send(_ConnEvent(conn, ConnectionOpened(), ws))
        return ws

    async def _read(self, conn: int, ws: trio_websocket.WebSocketConnection) -> None:
        try:
            while True:
                while self._backlog() >= DELIVERY_HIGH_WATER:
                    await self.drained.park()
                data = await ws.get_message()
                await self.events_send.send(_ConnEvent(conn, FrameReceived(data=data)))
        except trio_websocket.ConnectionClosed as exc:
            code = exc.reason.code if exc.reason is not None else None
            reason = (exc.reason.reason or "") if exc.reason is not None else ""
            # 1006: the TCP connection dropped without a close frame (the machine's None).
            closed = ConnectionClosed(code=None if code == 1006 else code, reason=reason)
            await self.events_send.send(_ConnEvent(conn, closed))

    # -- timers ----------------------------------------------------------------------------

    def _arm(self, kind: TimerKind, at: float) -> None:
        old = self.timer_scopes.pop(kind, None)
        if old is not None:
            old.cancel()
        scope = trio.CancelScope()
        self.timer_scopes[kind] = scope
        self.nursery.start_soon(self._timer, kind, at, scope)

    async def _timer(self, kind: TimerKind, at: float, scope: trio.CancelScope) -> None:
        with scope:
            await trio.sleep_until(at)
            await self.events_send.send(_Timer(kind))

    # -- the mailbox -----------------------------------------------------------------------

    async def _pump_mailbox(self) -> None:
        async for msg in self.ctx.mailbox:
            await self.events_send.send(_FromMailbox(msg))
        await self.events_send.send(_MAILBOX_CLOSED)

    def _on_message(self, msg: Any) -> list[GatewayAction]:
        if isinstance(msg, Subscribe):
            if msg.ref not in self.subscribers:
                self.subscribers.append(msg.ref)
        elif isinstance(msg, Unsubscribe):
            if msg.ref in self.subscribers:
                self.subscribers.remove(msg.ref)
        elif isinstance(msg, GetGatewayStatus):
            msg.reply(self.status())
        elif isinstance(msg, WaitUntilConnected):
            self.connected_waiters.append(msg)
        elif isinstance(msg, SendGatewayCommand):
            try:
                actions = self._handle(SendRequested(op=msg.op, d=msg.d))
            except GatewayUsageError as exc:
                # The caller's mistake, not the connection's: refuse it, keep running.
                logger.error("gateway command refused: %s", exc)
                msg.fail(exc)
                return []
            msg.reply(None)
            return actions
        else:
            logger.warning("gateway actor ignored an unknown message %r", msg)
        return []

    def status(self) -> GatewayStatus:
        assert self.session is not None
        snap = self.session.snapshot()
        return GatewayStatus(
            state=snap.state,
            connected=snap.state is GatewayState.CONNECTED,
            latency=snap.latency,
            session_id=snap.session_id,
            seq=snap.seq,
            identifies=snap.identifies,
            resumes=snap.resumes,
            reconnects=snap.reconnects,
            delivered=self.delivered,
            duplicates_dropped=self.dedup.dropped,
            undeliverable=self.undeliverable,
            subscribers=len(self.subscribers),
            session_starts_remaining=snap.session_starts_remaining,
        )

    # -- delivery --------------------------------------------------------------------------

    def _backlog(self) -> int:
        return self.out_recv.statistics().current_buffer_used

    async def _deliver_loop(self) -> None:
        async for dispatch in self.out_recv:
            for ref in list(self.subscribers):
                try:
                    await ref.send(dispatch)
                except actors.ActorStopped:
                    if ref in self.subscribers:
                        self.subscribers.remove(ref)
                except actors.MailboxFull:
                    # Not lost silently: counted, logged, and visible in the status. A
                    # subscriber that must see every event uses Overflow.BLOCK_SENDER.
                    self.undeliverable += 1
                    logger.error(
                        "subscriber %s is full; %s seq=%s not delivered to it",
                        ref.name,
                        dispatch.name,
                        dispatch.seq,
                    )
            self.delivered += 1
            if self._backlog() < DELIVERY_HIGH_WATER:
                self.drained.unpark_all()

    # -- GET /gateway/bot ------------------------------------------------------------------

    async def _fetch_gateway_bot(self) -> m.GatewayBot:
        try:
            return await self.rest.get_gateway_bot()
        except HTTPError as exc:
            if exc.status != 401:
                raise
            # The token is refused before we even reach the gateway: as fatal as close
            # code 4004, and restarting would only repeat it.
            raise GatewayFatalError(
                code=None,
                reason=f"GET /gateway/bot answered 401 ({exc.message})",
                advice=FATAL_CLOSE_MESSAGES[CloseCode.AUTHENTICATION_FAILED].replace(
                    "(close code 4004)", "(HTTP 401 on GET /gateway/bot)"
                ),
            ) from exc

    # -- shutdown --------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        actions = self._handle(ShutdownRequested())
        ws = self.ws
        for action in actions:
            if isinstance(action, Close) and ws is not None:
                self.ws = None
                with self.ctx.cleanup_scope(self.config.close_timeout):
                    await ws.aclose(action.code, action.reason)


async def run_gateway(
    ctx: actors.Context[GatewayMessage],
    config: GatewayConfig,
    rest: GatewayBotSource,
    subscribers: Sequence[actors.Ref[GatewayDispatch]] = (),
    rng: random.Random | None = None,
) -> None:
    """The gateway client as an actor behavior (messages: :data:`GatewayMessage`).

    Fetches ``GET /gateway/bot``, connects, identifies with ``config.intents`` and tells
    every dispatch as a :class:`GatewayDispatch` to each subscriber (``await ref.send``, so
    a ``BLOCK_SENDER`` mailbox gives backpressure), until stopped.

    Raises:
        GatewayFatalError: the gateway closed with a fatal code (bad token, disallowed or
            invalid intents, bad version, sharding), or ``session_start_limit`` is nearly
            used up. Do not restart on it (spawn with ``Restart.TEMPORARY`` or
            ``critical=True``); exit with :data:`~bridge.discord.errors.EXIT_GATEWAY_FATAL`.

    Cancellation:
        A stop (``ref.stop()``) closes with 1000, which ends the Discord session (the bot
        goes offline) and delivers what was already received. A crash or cancellation cuts
        the socket without a close frame; the session would stay resumable for a while.
    """
    driver = _GatewayDriver(ctx, config, rest, subscribers, rng or random.Random())
    ctx.started()
    await driver.run()


# ---------------------------------------------------------------------------------------------
# A channel-shaped front for scripts
# ---------------------------------------------------------------------------------------------


@attrs.define
class GatewayHandle:
    """What :func:`open_gateway` yields."""

    ref: actors.Ref[GatewayMessage]
    dispatches: trio.MemoryReceiveChannel[GatewayDispatch]

    async def status(self, timeout: float = 5.0) -> GatewayStatus:
        return await self.ref.ask(GetGatewayStatus(), timeout=timeout)


async def _relay(
    ctx: actors.Context[GatewayDispatch], out: trio.MemorySendChannel[GatewayDispatch]
) -> None:
    async with out:
        async for msg in ctx.mailbox:
            if isinstance(msg, GatewayDispatch):
                await out.send(msg)


@asynccontextmanager
async def open_gateway(
    system: actors.System,
    config: GatewayConfig,
    rest: GatewayBotSource,
    *,
    rng: random.Random | None = None,
    name: str = "gateway",
    buffer: int = 256,
) -> AsyncIterator[GatewayHandle]:
    """Run a gateway actor in ``system`` and yield a :class:`GatewayHandle` whose
    ``dispatches`` channel receives every dispatch.

    Raises:
        GatewayFatalError: out of the block (which is cancelled) when the gateway stops on a
            fatal close.

    Resource handling:
        Leaving the block stops the gateway (close 1000) and the relay.
    """
    send, recv = trio.open_memory_channel[GatewayDispatch](buffer)
    mailbox = actors.Mailbox(capacity=buffer, overflow=actors.Overflow.BLOCK_SENDER)
    relay = await system.spawn(_relay, send, name=f"{name}.relay", mailbox=mailbox)
    gateway = await system.spawn(run_gateway, config, rest, [relay], rng, name=name)
    failure: list[BaseException] = []
    async with trio.open_nursery() as nursery:
        body = trio.CancelScope()

        async def watch() -> None:
            reason = await gateway.wait_stopped()
            if reason.error is not None:
                failure.append(reason.error)
                body.cancel()

        nursery.start_soon(watch)
        try:
            with body:
                yield GatewayHandle(gateway, recv)
        finally:
            nursery.cancel_scope.cancel()
            with trio.CancelScope(shield=True):
                if gateway.alive:
                    await gateway.stop()
                if relay.alive:
                    await relay.stop()
    if failure:
        raise failure[0]
