"""The gateway, from the server's side: sessions, dispatch fan-out, replay and faults.

Theory of operation
-------------------
A *session* (what IDENTIFY creates and RESUME continues) outlives its *connections*
(WebSockets). :class:`GatewayHub` subscribes to the :class:`~._world.World`; for every change
it builds one payload per live session, filtered by that session's intents (and
MESSAGE_CONTENT), gives it the session's next sequence number, keeps it in the session's
replay buffer, and queues it on the session's connection if one is attached. A session with
no connection keeps buffering, so RESUME can replay what was missed and then send RESUMED.

A session ends ("invalidated") when the client closes with 1000/1001, when the server closes
with a code after which Discord wants a fresh IDENTIFY (4004, 4009-4014 ...), or on op 9
``false``. Resuming an ended session gets op 9 ``false``.

Per connection, :meth:`GatewayHub.serve_stream` runs a reader and a writer task. The
reader enforces the heartbeat deadline (a connection silent for ``heartbeat_interval *
heartbeat_grace`` is a zombie and is closed with 4009), the 120-per-60 s send limit (4008),
payload size (4002) and the handshake rules (4003, 4004, 4005, 4013, 4014). The writer
serializes payloads and, for ``compress=zlib-stream``, pushes them through the connection's
one deflater, ending each message with a ``Z_SYNC_FLUSH`` (the ``00 00 ff ff`` suffix).
The gateway listens on its own port (as Discord's gateway is its own host) with trio-websocket
over a TCP stream we own; see :meth:`GatewayHub.serve_stream` for why.
"""

from __future__ import annotations

import collections
import json
import math
import urllib.parse
import zlib
from collections.abc import Callable
from typing import Any

import attrs
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_server_stream

from . import _render as render
from ._config import GUILD_PRESENCES, KNOWN_INTENTS, MESSAGE_CONTENT, PRIVILEGED_INTENTS, Realism
from ._stats import Stats
from ._world import LOCAL_ONLY, Dispatch, World

JSON = dict[str, Any]

# Opcodes (opcodes-and-status-codes.mdx "Gateway Opcodes").
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

# Close codes (opcodes-and-status-codes.mdx "Gateway Close Event Codes").
UNKNOWN_OPCODE = 4001
DECODE_ERROR = 4002
NOT_AUTHENTICATED = 4003
AUTHENTICATION_FAILED = 4004
ALREADY_AUTHENTICATED = 4005
RATE_LIMITED = 4008
SESSION_TIMED_OUT = 4009
INVALID_API_VERSION = 4012
INVALID_INTENTS = 4013
DISALLOWED_INTENTS = 4014
# After these the session is gone: the client must IDENTIFY again (4007/4009 say so; the
# rest are fatal).
SESSION_ENDING_CLOSES = frozenset({4004, 4007, 4009, 4010, 4011, 4012, 4013, 4014})
# A 1000 or 1001 close from the client ends the session (gateway.mdx "Initiating a Disconnect").
CLIENT_ENDING_CLOSES = frozenset({1000, 1001})
MAX_PAYLOAD_BYTES = 4096  # gateway.mdx "Sending Events"
CLOSE_HANDSHAKE_TIMEOUT = 2.0
GATEWAY_PATH = "/gateway"
RESUME_PATH = "/gateway-resume"


@attrs.define(kw_only=True, eq=False)
class Session:
    """A gateway session: identity, sequence and the dispatches a RESUME can replay."""

    id: str
    intents: int
    seq: int = 0
    buffer: collections.deque[JSON]
    connection: Connection | None = None
    invalidated: bool = False
    shard: list[int] | None = None
    disconnected_at: float | None = None
    """``trio.current_time()`` when its last connection ended; None while connected."""


@attrs.define(kw_only=True, eq=False)
class Connection:
    """One WebSocket; ``outbox`` feeds its writer task."""

    id: int
    send: trio.MemorySendChannel[tuple[str, Any]]
    session: Session | None = None
    replaying: bool = False
    stop_acks: bool = False
    last_heartbeat: float = 0.0
    received: collections.deque[float] = attrs.Factory(collections.deque)
    resume_url_used: bool = False
    scope: trio.CancelScope | None = None
    """Cancels this connection's tasks; closing the stream without a close frame."""

    def push(self, kind: str, value: Any) -> bool:
        """Queue an item for the writer; False if the connection cannot keep up."""
        try:
            self.send.send_nowait((kind, value))
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True


class GatewayHub:
    """All gateway sessions and connections of one server."""

    def __init__(
        self, world: World, realism: Realism, stats: Stats, resume_url: Callable[[], str]
    ) -> None:
        self.world = world
        self.realism = realism
        self.stats = stats
        self.resume_url = resume_url
        self.sessions: dict[str, Session] = {}
        self.connections: dict[int, Connection] = {}
        self.sessions_started = 0
        self.last_identify: float = -math.inf
        self.ack_heartbeats = True
        self._next_connection = 0
        world.subscribe(self._on_dispatch)

    # ------------------------------------------------------------------ fan-out

    def _visible(self, session: Session, dispatch: Dispatch) -> JSON | None:
        if dispatch.intent == LOCAL_ONLY:  # a notice for the web client, not for bots
            return None
        if dispatch.intent and not session.intents & dispatch.intent:
            return None
        m = dispatch.message
        # gateway.mdx "Message Content Intent": the bot's own messages, DMs and messages
        # that mention the bot keep their content.
        if (
            m is not None
            and not session.intents & MESSAGE_CONTENT
            and m.author_id != self.world.bot.id
            and self.world.bot.id not in m.mentions
        ):
            return {
                **dispatch.data,
                "content": "",
                "embeds": [],
                "attachments": [],
                "components": [],
            }
        return dispatch.data

    def _on_dispatch(self, dispatch: Dispatch) -> None:
        for session in list(self.sessions.values()):
            data = self._visible(session, dispatch)
            if data is not None:
                self._send_dispatch(session, dispatch.event, data)

    def _send_dispatch(
        self, session: Session, event: str, data: JSON, *, keep: bool = True
    ) -> None:
        session.seq += 1
        payload = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        if keep:
            session.buffer.append(payload)
        conn = session.connection
        if conn is not None and not conn.replaying:
            self._deliver(conn, payload)

    def _deliver(self, conn: Connection, payload: JSON) -> None:
        if not conn.push("payload", payload) and conn.scope is not None:
            # The client stopped reading; like Discord we give up on the socket, not the
            # session: the dispatch is in the replay buffer for a RESUME.
            conn.scope.cancel()

    # ------------------------------------------------------------------ faults

    def _targets(self, session_id: str | None) -> list[Connection]:
        return [
            c
            for c in self.connections.values()
            if session_id is None or (c.session is not None and c.session.id == session_id)
        ]

    def inject_reconnect(self, session_id: str | None = None) -> int:
        """Send op 7 RECONNECT; Discord expects the client to close and RESUME."""
        targets = self._targets(session_id)
        for c in targets:
            c.push("payload", {"op": RECONNECT, "d": None})
        return len(targets)

    def inject_invalid_session(self, resumable: bool, session_id: str | None = None) -> int:
        """Send op 9 with ``d = resumable``; ``False`` also ends the session."""
        targets = self._targets(session_id)
        for c in targets:
            c.push("payload", {"op": INVALID_SESSION, "d": resumable})
            if not resumable and c.session is not None:
                self._end_session(c.session)
        return len(targets)

    def inject_close(self, code: int, session_id: str | None = None, reason: str = "") -> int:
        targets = self._targets(session_id)
        for c in targets:
            c.push("close", (code, reason))
        return len(targets)

    def inject_drop(self, session_id: str | None = None) -> int:
        """Reset the TCP connection with no close frame; the session stays resumable."""
        targets = self._targets(session_id)
        for c in targets:
            c.push("drop", None)
        return len(targets)

    def inject_dispatch(self, event: str, data: Any, session_id: str | None = None) -> int:
        """Send a dispatch with exactly this ``t`` and ``d`` (no checks, no world change) to
        every live session, or one: for testing how a client takes junk. Kept for RESUME
        like any dispatch. Returns how many sessions got it."""
        targets = [s for s in self.sessions.values() if session_id is None or s.id == session_id]
        for session in targets:
            self._send_dispatch(session, event, data)
        return len(targets)

    def inject_heartbeat_request(self, session_id: str | None = None) -> int:
        targets = self._targets(session_id)
        for c in targets:
            c.push("payload", {"op": HEARTBEAT, "d": None})
        return len(targets)

    def set_ack_heartbeats(self, on: bool) -> None:
        """Stop (or resume) answering heartbeats, so clients see a zombie connection."""
        self.ack_heartbeats = on

    def snapshot(self) -> JSON:
        return {
            "sessions": [
                {
                    "id": s.id,
                    "seq": s.seq,
                    "intents": s.intents,
                    "connected": s.connection is not None,
                    "invalidated": s.invalidated,
                    "buffered": len(s.buffer),
                }
                for s in self.sessions.values()
            ],
            "connections": len(self.connections),
            "ack_heartbeats": self.ack_heartbeats,
        }

    # ------------------------------------------------------------------ handshake

    def _end_session(self, session: Session) -> None:
        session.invalidated = True
        self.sessions.pop(session.id, None)

    def _identify(self, conn: Connection, d: Any, now: float) -> tuple[int, str] | None:
        """Handle op 2; returns a close (code, reason) or None."""
        if conn.session is not None:
            return ALREADY_AUTHENTICATED, "Already authenticated."
        if not isinstance(d, dict) or d.get("token") != self.world.token:
            return AUTHENTICATION_FAILED, "Authentication failed."
        intents = d.get("intents")
        if (
            not isinstance(intents, int)
            or isinstance(intents, bool)
            or intents & ~KNOWN_INTENTS
            or intents < 0
        ):
            return INVALID_INTENTS, "Invalid intent(s)."
        if intents & PRIVILEGED_INTENTS & ~self.realism.privileged_intents_enabled:
            return DISALLOWED_INTENTS, "Disallowed intent(s)."
        if now - self.last_identify < self.realism.identify_interval:
            # max_concurrency 1: identify too fast and Discord answers op 9 (gateway.mdx).
            conn.push("payload", {"op": INVALID_SESSION, "d": False})
            return None
        self.last_identify = now
        self.sessions_started += 1
        self.stats.identifies += 1
        session = Session(
            id=self.world.secret(32),
            intents=intents,
            buffer=collections.deque(maxlen=self.realism.replay_buffer),
            shard=d.get("shard"),
        )
        self.sessions[session.id] = session
        session.connection = conn
        conn.session = session
        ready = {
            "v": 10,
            "user": render.user(self.world.bot),
            "guilds": [{"id": str(self.world.guild_id), "unavailable": True}],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url(),
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "application": {"id": str(self.world.application_id), "flags": 0},
            "auth": {},
            "_trace": ['["ccbridge-local"]'],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        self._send_dispatch(session, "READY", ready, keep=False)
        if intents & 1:  # GUILDS
            guild = render.guild_create(self.world, all_members=bool(intents & GUILD_PRESENCES))
            self._send_dispatch(session, "GUILD_CREATE", guild)
        self.world.touch()
        return None

    def _resume(self, conn: Connection, d: Any) -> tuple[int, str] | None:
        if conn.session is not None:
            return ALREADY_AUTHENTICATED, "Already authenticated."
        if not isinstance(d, dict) or d.get("token") != self.world.token:
            return AUTHENTICATION_FAILED, "Authentication failed."
        session = self.sessions.get(str(d.get("session_id")))
        seq = d.get("seq")
        oldest = session.buffer[0]["s"] if session and session.buffer else None
        window = self.realism.resume_window
        if (
            session is None
            or session.invalidated
            or (
                window is not None
                and session.disconnected_at is not None
                and trio.current_time() - session.disconnected_at > window
            )
            or not isinstance(seq, int | None)
            or (seq or 0) > session.seq
            or (oldest is not None and (seq or 0) < oldest - 1)
        ):
            self.stats.failed_resumes += 1
            if session is not None:
                self._end_session(session)  # op 9 false: the client must identify anew
            conn.push("payload", {"op": INVALID_SESSION, "d": False})
            self.world.touch()
            return None
        if session.connection is not None:
            # A session lives on one socket: the older one is replaced, as Discord does.
            session.connection.push("close", (4000, "Session resumed elsewhere"))
            session.connection.session = None
        session.connection = conn
        session.disconnected_at = None
        conn.session = session
        missed = [p for p in session.buffer if p["s"] > (seq or 0)]
        # One outbox item for the whole replay, so a long replay cannot overflow the outbox.
        conn.push("replay", missed)
        self.stats.resumes += 1
        self.stats.replayed_events += len(missed)
        self._send_dispatch(session, "RESUMED", {"_trace": ['["ccbridge-local"]']}, keep=False)
        self.world.touch()
        return None

    def _request_members(self, conn: Connection) -> None:
        session = conn.session
        assert session is not None
        if session.intents & 2:
            self._send_dispatch(
                session,
                "GUILD_MEMBERS_CHUNK",
                {
                    "guild_id": str(self.world.guild_id),
                    "members": [render.member(self.world, u) for u in self.world.users.values()],
                    "chunk_index": 0,
                    "chunk_count": 1,
                },
                keep=False,
            )

    def _handle(self, conn: Connection, raw: str | bytes, now: float) -> tuple[int, str] | None:
        """One client payload; returns a close (code, reason) or None."""
        conn.received.append(now)
        while conn.received and conn.received[0] <= now - self.realism.gateway_send_window:
            conn.received.popleft()
        if len(conn.received) > self.realism.gateway_send_limit:
            return RATE_LIMITED, "You are being rate limited."
        if len(raw) > MAX_PAYLOAD_BYTES:
            return DECODE_ERROR, "Payload too large."
        try:
            payload = json.loads(raw)
            op = payload["op"]
        except (ValueError, KeyError, TypeError):
            return DECODE_ERROR, "Error while decoding payload."
        d = payload.get("d")
        if op == HEARTBEAT:
            conn.last_heartbeat = now
            self.stats.heartbeats += 1
            if self.ack_heartbeats and not conn.stop_acks:
                conn.push("payload", {"op": HEARTBEAT_ACK})
            return None
        if op == IDENTIFY:
            return self._identify(conn, d, now)
        if op == RESUME:
            return self._resume(conn, d)
        if op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE, REQUEST_GUILD_MEMBERS):
            if conn.session is None:
                return NOT_AUTHENTICATED, "Not authenticated."
            if op == REQUEST_GUILD_MEMBERS:
                self._request_members(conn)
            return None
        return UNKNOWN_OPCODE, "Unknown opcode."

    # ------------------------------------------------------------------ IO

    async def serve_stream(self, stream: trio.SocketStream) -> None:
        """Serve one TCP connection as a gateway WebSocket until either side ends it.

        We own the TCP stream (rather than letting a server framework own it) for two
        reasons: the client's close code decides whether its session survives (1000/1001
        end it), and Hypercorn 0.18 reports every client-initiated close to an ASGI app as
        1006; and "drop the connection" must reset TCP without a close frame.
        """
        async with stream, trio.open_nursery() as nursery:
            try:
                request = await wrap_server_stream(nursery, stream)
            except (ConnectionClosed, trio.BrokenResourceError):
                nursery.cancel_scope.cancel()
                return
            path, _, query_string = request.path.partition("?")
            if path not in ("/", GATEWAY_PATH, RESUME_PATH):
                await request.reject(404)
                nursery.cancel_scope.cancel()
                return
            ws = await request.accept()
            query = dict(urllib.parse.parse_qsl(query_string))
            await self._serve(ws, stream, query, resume_path=path == RESUME_PATH)
            nursery.cancel_scope.cancel()

    async def _serve(
        self,
        ws: WebSocketConnection,
        stream: trio.SocketStream,
        query: dict[str, str],
        *,
        resume_path: bool,
    ) -> None:
        self.stats.gateway_connections += 1
        if resume_path:
            self.stats.resume_url_connections += 1
        send, receive = trio.open_memory_channel[tuple[str, Any]](self.realism.outbox_size)
        self._next_connection += 1
        conn = Connection(id=self._next_connection, send=send, resume_url_used=resume_path)
        conn.last_heartbeat = trio.current_time()
        self.connections[conn.id] = conn
        compress = query.get("compress")
        deflater = zlib.compressobj() if compress == "zlib-stream" else None
        early_close: tuple[int, str] | None = None
        if query.get("v") != "10":
            early_close = (INVALID_API_VERSION, "Invalid API version.")
        elif query.get("encoding", "json") != "json" or compress not in (None, "zlib-stream"):
            early_close = (DECODE_ERROR, "Only encoding=json and compress=zlib-stream are served.")
        closed_by_client: int | None = None
        try:
            async with trio.open_nursery() as nursery:
                conn.scope = nursery.cancel_scope
                nursery.start_soon(
                    self._writer, ws, stream, receive, deflater, nursery.cancel_scope
                )
                if early_close is not None:
                    conn.push("close", early_close)
                else:
                    interval = int(self.realism.heartbeat_interval * 1000)
                    conn.push("payload", {"op": HELLO, "d": {"heartbeat_interval": interval}})
                    closed_by_client = await self._reader(ws, conn)
                    if closed_by_client is not None:
                        nursery.cancel_scope.cancel()
        finally:
            self.connections.pop(conn.id, None)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                session.disconnected_at = trio.current_time()
                if closed_by_client in CLIENT_ENDING_CLOSES:
                    self._end_session(session)
            self.world.touch()

    async def _reader(self, ws: WebSocketConnection, conn: Connection) -> int | None:
        """Read until the client closes (returns its code) or we push a close (returns None)."""
        silence = self.realism.heartbeat_interval * self.realism.heartbeat_grace
        while True:
            with trio.move_on_at(conn.last_heartbeat + silence) as scope:
                try:
                    raw = await ws.get_message()
                except ConnectionClosed as exc:
                    code = exc.reason.code if exc.reason is not None else 1006
                    self.stats.close_codes_received[code] += 1
                    return code
            if scope.cancelled_caught:
                self.stats.zombie_closes += 1
                self._close(conn, SESSION_TIMED_OUT, "Session timed out.")
                return None
            verdict = self._handle(conn, raw, trio.current_time())
            self.world.touch()  # let wait_until() observers see heartbeats and handshakes
            if verdict is not None:
                self._close(conn, *verdict)
                return None

    def _close(self, conn: Connection, code: int, reason: str) -> None:
        if conn.session is not None and code in SESSION_ENDING_CLOSES:
            self._end_session(conn.session)
        conn.push("close", (code, reason))

    async def _writer(
        self,
        ws: WebSocketConnection,
        stream: trio.SocketStream,
        receive: trio.MemoryReceiveChannel[tuple[str, Any]],
        deflater: Any,
        scope: trio.CancelScope,
    ) -> None:
        async for kind, value in receive:
            if kind == "drop":
                await stream.aclose()  # no close frame: the client sees an abnormal 1006
                scope.cancel()
                return
            if kind == "close":
                code, reason = value
                self.stats.close_codes_sent[code] += 1
                # Wait briefly for the client's closing reply, then cut the stream anyway.
                with trio.move_on_after(CLOSE_HANDSHAKE_TIMEOUT):
                    await ws.aclose(code, reason)
                scope.cancel()
                return
            payloads = value if kind == "replay" else [value]
            try:
                for payload in payloads:
                    await self._send_payload(ws, deflater, payload)
            except ConnectionClosed:
                # The reader sees the same close and reports it; nothing more to send.
                return

    async def _send_payload(self, ws: WebSocketConnection, deflater: Any, payload: JSON) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        if payload.get("op") == DISPATCH:
            self.stats.dispatches_sent += 1
        if deflater is None:
            await ws.send_message(text)
            return
        data = deflater.compress(text.encode()) + deflater.flush(zlib.Z_SYNC_FLUSH)
        if self.realism.split_zlib_frames and len(data) > 1:
            cut = self.world.rng.randrange(1, len(data))
            await ws.send_message(data[:cut])
            await ws.send_message(data[cut:])
        else:
            await ws.send_message(data)
