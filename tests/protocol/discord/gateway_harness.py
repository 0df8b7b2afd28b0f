"""A test driver for GatewaySession: the far end (a zlib-stream server) and a fake clock.

It performs the machine's actions the way ``bridge/discord/gateway.py`` will: it keeps one
timer per kind, remembers the pending Reconnect, and records everything that was sent.
Shared by the unit tests here and the property tests in ``tests/property``.
"""

from __future__ import annotations

import json
import random
import zlib
from typing import Any

import attrs

from protocol.discord.gateway import (
    ArmTimer,
    Close,
    ConnectionClosed,
    ConnectionOpened,
    Deliver,
    Fatal,
    FrameReceived,
    GatewayAction,
    GatewayEvent,
    GatewaySession,
    Reconnect,
    SendPayload,
    StartRequested,
    TimerFired,
    TimerKind,
)
from protocol.discord.gateway_codes import Opcode

TOKEN = "Bot.secret.token"
HEARTBEAT_MS = 41250


class ServerWire:
    """One connection's server side: compresses payloads into one zlib stream, each message
    ending with a Z_SYNC_FLUSH, as Discord does."""

    def __init__(self) -> None:
        self._compressor = zlib.compressobj()

    def encode(self, payload: dict[str, Any]) -> bytes:
        data = json.dumps(payload).encode()
        return self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)


@attrs.define
class Sent:
    at: float
    op: int
    d: Any
    connection: int


@attrs.define
class Harness:
    """Drives one GatewaySession with a fake clock and records what it did."""

    session: GatewaySession
    now: float = 0.0
    timers: dict[TimerKind, float] = attrs.Factory(dict)
    pending_reconnect: Reconnect | None = None
    connect_at: float | None = None
    connection: int = 0
    """Count of connections opened so far; the current one's number while open."""
    open: bool = False
    wire: ServerWire | None = None
    sent: list[Sent] = attrs.Factory(list)
    closes: list[Close] = attrs.Factory(list)
    reconnects: list[Reconnect] = attrs.Factory(list)
    delivered: list[Deliver] = attrs.Factory(list)
    fatal: list[Fatal] = attrs.Factory(list)
    log: list[tuple[float, GatewayEvent, list[GatewayAction]]] = attrs.Factory(list)

    @classmethod
    def build(cls, *, seed: int = 0, compress: bool = True, **kwargs: Any) -> Harness:
        session = GatewaySession(
            token=TOKEN,
            intents=34305,
            url="wss://gateway.example",
            rng=random.Random(seed),
            compress=compress,
            **kwargs,
        )
        return cls(session=session)

    # -- feeding -------------------------------------------------------------------------------

    def feed(self, event: GatewayEvent) -> list[GatewayAction]:
        actions = self.session.handle(event, self.now)
        self.log.append((self.now, event, actions))
        for action in actions:
            self._perform(action)
        return actions

    def _perform(self, action: GatewayAction) -> None:
        if isinstance(action, SendPayload):
            assert self.open, f"sent {action!r} with no open connection"
            assert json.loads(action.text) == action.payload
            self.sent.append(
                Sent(self.now, action.payload["op"], action.payload["d"], self.connection)
            )
        elif isinstance(action, ArmTimer):
            self.timers[action.kind] = action.at
        elif isinstance(action, Close):
            assert self.open, "closed a connection that is not open"
            self.closes.append(action)
            self.open = False
            self.wire = None
        elif isinstance(action, Reconnect):
            assert not self.open, "asked to reconnect while a connection is open"
            self.pending_reconnect = action
            self.connect_at = self.now + action.delay
            self.reconnects.append(action)
        elif isinstance(action, Deliver):
            self.delivered.append(action)
        elif isinstance(action, Fatal):
            self.fatal.append(action)
        else:  # pragma: no cover - a new action kind must be handled here
            raise AssertionError(f"unknown action {action!r}")

    def start(self) -> None:
        self.feed(StartRequested())

    def advance(self, seconds: float) -> None:
        """Move the clock, firing due timers in order (as a trio driver would)."""
        target = self.now + seconds
        while True:
            due = [(at, kind) for kind, at in self.timers.items() if at <= target]
            if not due:
                break
            at, kind = min(due, key=lambda item: item[0])
            del self.timers[kind]
            self.now = max(self.now, at)
            self.feed(TimerFired(kind=kind))
        self.now = target

    def connect(self) -> None:
        """Open the connection the last Reconnect asked for, once its delay has passed."""
        assert self.pending_reconnect is not None
        assert self.connect_at is not None
        if self.now < self.connect_at:
            self.advance(self.connect_at - self.now)
        self.pending_reconnect = None
        self.connection += 1
        self.open = True
        self.wire = ServerWire()
        self.feed(ConnectionOpened())

    def server_send(self, payload: dict[str, Any]) -> list[GatewayAction]:
        assert self.wire is not None
        return self.feed(FrameReceived(data=self.wire.encode(payload)))

    def server_close(self, code: int | None) -> list[GatewayAction]:
        self.open = False
        self.wire = None
        return self.feed(ConnectionClosed(code=code))

    # -- common server scripts -----------------------------------------------------------------

    def hello(self, interval_ms: int = HEARTBEAT_MS) -> list[GatewayAction]:
        return self.server_send({"op": Opcode.HELLO, "d": {"heartbeat_interval": interval_ms}})

    def dispatch(self, name: str, seq: int, d: Any = None) -> list[GatewayAction]:
        return self.server_send({"op": 0, "t": name, "s": seq, "d": d if d is not None else {}})

    def ready(self, seq: int = 1, session_id: str = "sess-1") -> list[GatewayAction]:
        return self.dispatch(
            "READY",
            seq,
            {"v": 10, "session_id": session_id, "resume_gateway_url": "wss://resume.example"},
        )

    def ack(self) -> list[GatewayAction]:
        return self.server_send({"op": Opcode.HEARTBEAT_ACK})

    def sent_ops(self, connection: int | None = None) -> list[int]:
        return [s.op for s in self.sent if connection is None or s.connection == connection]

    def connect_and_ready(self) -> None:
        self.start()
        self.connect()
        self.hello()
        self.ready()
