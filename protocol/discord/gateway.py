"""GatewaySession: the Discord gateway client as a sans-IO state machine.

Theory of operation
-------------------
The driver (``bridge/discord/gateway.py``) owns the WebSocket and the clock. It feeds facts
into :meth:`GatewaySession.handle` with the current time, and performs the actions that come
back, in order::

    StartRequested ---------> Reconnect(IDENTIFY, url, delay)   (open a socket after delay)
    ConnectionOpened -------> (waits for HELLO; arms HELLO_TIMEOUT)
    FrameReceived(bytes|str)-> SendPayload / ArmTimer / Deliver / Close + Reconnect / Fatal
    TimerFired(kind) -------> heartbeat, zombie check, delayed IDENTIFY, queued sends
    ConnectionClosed(code) -> Reconnect(RESUME or IDENTIFY, ...) or Fatal
    ConnectFailed ----------> Reconnect(..., delay=backoff)
    SendRequested(op, d) ---> SendPayload now, or later within the 120/60 s budget
    ShutdownRequested ------> Close(1000) (the session ends; the bot goes offline)

States (:class:`GatewayState`)::

    IDLE -> CONNECTING -> AWAITING_HELLO -> IDENTIFYING -> CONNECTED
                 ^              |       \\-> RESUMING ----^
                 |              v
                 +---- (close, op 7, op 9, zombie, hello timeout, decode error)
    any -> FATAL (fatal close code)         any -> CLOSED (ShutdownRequested)

The rules come from the research checklist (shared/research/discord-protocol.md §1; the row
numbers are quoted in comments below):

* HELLO: the first heartbeat goes at ``interval * rng.random()`` (row 3), then every
  ``interval``. A beat comes due with no ACK since the previous one: the connection is a
  zombie (row 4); close with :data:`RESUMABLE_CLOSE_CODE` and resume.
* Server op 1: beat at once (row 5). op 11: ACK.
* IDENTIFY carries intents, properties, ``compress: false`` (we use transport compression,
  row 18), optional ``shard``/``large_threshold``/``presence`` (row 6). Never two within 5 s
  (rows 7, 11): a too-early IDENTIFY waits on the IDENTIFY timer.
* READY: keep ``session_id`` and ``resume_gateway_url`` until the session is invalidated
  (row 8); RESUME on the resume URL with the last sequence (row 9); RESUMED ends the replay.
* op 7 at any time, even before HELLO (row 10): close and resume (or identify if we have no
  session yet). op 9 ``true``: resume; ``false``: forget the session, wait 1-5 s, identify
  anew at the ``/gateway/bot`` URL (row 11).
* Close codes (row 12): fatal ones end in :class:`Fatal` with a message saying what to do;
  4007/4009 forget the session and identify; everything else (including a dropped TCP
  connection) resumes. We never close with 1000/1001 unless shutting down (row 13).
* Sequence: the largest non-null ``s`` of the session; it never goes backwards (row 14).
* The 120/60 s send budget with the heartbeat reserve, per connection (row 15).
* zlib-stream with a new inflater per connection (row 16), in :mod:`.zlib_stream`.
* Resuming fails three times in a row: give up the session and identify (row 9: "cap
  resume attempts"). Consecutive failed connections back off exponentially with jitter;
  READY or RESUMED resets the backoff (as discord.py does), so op 7 or a drop after a
  successful resume reconnects at once instead of waiting longer each time.
* ``session_start_limit`` (from ``GET /gateway/bot``, given to the constructor or fed as
  :class:`SessionStartLimitReceived`): every IDENTIFY spends one of the day's starts, and
  when they run out Discord resets the bot's token. Before connecting to identify, the
  machine counts what is left; at or below ``session_start_reserve`` (and before the limit
  resets) it stops with :class:`Fatal` instead of burning the rest in a crash loop.

Timers are keyed by :class:`TimerKind`; ``ArmTimer(kind, at)`` replaces that kind's timer.
The machine keeps its own deadlines and ignores a ``TimerFired`` that is early or no longer
wanted, so a driver never needs to cancel one. After the machine emits :class:`Close`, the
old connection is gone for it: frames and the close notice from it are ignored.
"""

from __future__ import annotations

import enum
import json
import random
from typing import Any, Final

import attrs

from protocol.discord.gateway_codes import (
    FATAL_CLOSE_CODES,
    FATAL_CLOSE_MESSAGES,
    INVALID_SESSION_DELAY,
    MAX_PAYLOAD_BYTES,
    REIDENTIFY_CLOSE_CODES,
    RESUMABLE_CLOSE_CODE,
    CloseCode,
    Intents,
    Opcode,
    gateway_url,
)
from protocol.discord.models import SessionStartLimit
from protocol.discord.pacing import Backoff, IdentifyPacer, SendLimiter, heartbeat_reserve
from protocol.discord.zlib_stream import (
    GatewayDecodeError,
    ZlibStreamDecoder,
    parse_json,
)

__all__ = [
    "EXIT_GATEWAY_FATAL",
    "HELLO_TIMEOUT",
    "MAX_RESUME_ATTEMPTS",
    "SESSION_START_RESERVE",
    "ArmTimer",
    "Close",
    "ConnectFailed",
    "ConnectionClosed",
    "ConnectionOpened",
    "Deliver",
    "Dispatch",
    "Fatal",
    "FrameReceived",
    "GatewayAction",
    "GatewayEvent",
    "GatewayFatalError",
    "GatewaySession",
    "GatewaySnapshot",
    "GatewayState",
    "GatewayUsageError",
    "PayloadNotSent",
    "Reconnect",
    "ReconnectMode",
    "SendPayload",
    "SendRequested",
    "SessionStartLimitReceived",
    "ShutdownRequested",
    "StartRequested",
    "TimerFired",
    "TimerKind",
]

HELLO_TIMEOUT: Final = 20.0
"""Seconds to wait for HELLO (or op 7) after the socket opens before trying again; a client
that waits forever hangs when the server sends something else first (row 10)."""

SESSION_START_RESERVE: Final = 10
"""Session starts we never spend: a bot at this many has a bug reconnecting in a loop, and
reaching 0 gets its token reset by Discord (docs: "Session Start Limit")."""

MAX_RESUME_ATTEMPTS: Final = 3
"""Consecutive resumes that end without RESUMED before we identify instead (row 9: odd
servers answer RESUME with repeated 1006 closes)."""

_SESSION_START_WINDOW: Final = 86_400.0
"""Seconds in one session-start window after the first reset (a day)."""


# ---------------------------------------------------------------------------------------------
# Inputs: facts about the connection, the clock and the caller
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StartRequested:
    """Begin: connect and identify. Only valid in IDLE."""


@attrs.frozen(kw_only=True)
class ConnectionOpened:
    """The WebSocket asked for by the last :class:`Reconnect` is open."""


@attrs.frozen(kw_only=True)
class ConnectFailed:
    """Opening the WebSocket asked for by the last :class:`Reconnect` failed."""

    reason: str = ""


@attrs.frozen(kw_only=True, repr=False)
class FrameReceived:
    """One WebSocket message: ``str`` for a text frame, ``bytes`` for a binary one
    (zlib-stream data, possibly only part of a gateway message)."""

    data: str | bytes

    def __repr__(self) -> str:
        return f"FrameReceived(<{type(self.data).__name__} of {len(self.data)}>)"


@attrs.frozen(kw_only=True)
class ConnectionClosed:
    """The connection ended. ``code`` is the server's close code, or ``None`` if the
    connection dropped without a close frame (1006)."""

    code: int | None = None
    reason: str = ""


class TimerKind(enum.Enum):
    HEARTBEAT = "heartbeat"
    """The next heartbeat (and zombie check) is due."""
    HELLO_TIMEOUT = "hello_timeout"
    """No HELLO arrived in time on a fresh connection."""
    IDENTIFY = "identify"
    """The identify pacing allows the delayed IDENTIFY now."""
    SEND = "send"
    """The send budget allows the next queued payload now."""


@attrs.frozen(kw_only=True)
class TimerFired:
    kind: TimerKind


@attrs.frozen(kw_only=True)
class SendRequested:
    """Send a payload (e.g. op 3 presence update) within the send budget; it is queued
    until the session is connected and the budget allows it."""

    op: Opcode | int
    d: Any


@attrs.frozen(kw_only=True)
class PayloadNotSent:
    """The driver could not write a :class:`SendPayload` of opcode ``op``: the socket was
    already closed (h11's ``send_failed()``). Discord never saw it, so an IDENTIFY does not
    spend a session start. The connection's own end is reported as usual."""

    op: Opcode | int


@attrs.frozen(kw_only=True)
class SessionStartLimitReceived:
    """A fresh ``session_start_limit`` from ``GET /gateway/bot`` (it replaces what the
    machine counted; its window starts now)."""

    limit: SessionStartLimit


@attrs.frozen(kw_only=True)
class ShutdownRequested:
    """Stop for good: close with 1000, which ends the session (the bot goes offline)."""


GatewayEvent = (
    StartRequested
    | ConnectionOpened
    | ConnectFailed
    | FrameReceived
    | ConnectionClosed
    | TimerFired
    | SendRequested
    | PayloadNotSent
    | SessionStartLimitReceived
    | ShutdownRequested
)


# ---------------------------------------------------------------------------------------------
# Outputs: orders for the driver
# ---------------------------------------------------------------------------------------------


def _redact(payload: dict[str, Any]) -> str:
    d = payload.get("d")
    if isinstance(d, dict) and "token" in d:
        payload = {**payload, "d": {**d, "token": "<redacted>"}}
    return repr(payload)


@attrs.frozen(kw_only=True)
class SendPayload:
    """Send ``text`` as one text frame. ``payload`` is the same, decoded, for inspection;
    the token in IDENTIFY/RESUME is kept out of ``repr``."""

    op: Opcode | int
    payload: dict[str, Any] = attrs.field(repr=_redact)
    text: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class ArmTimer:
    """Feed ``TimerFired(kind)`` back at time ``at`` (replaces any timer of that kind)."""

    kind: TimerKind
    at: float


@attrs.frozen(kw_only=True)
class Close:
    """Close the current connection with ``code``. It is never 1000/1001 unless the
    session is meant to end (shutdown). The machine already counts that connection as gone:
    do not feed a :class:`ConnectionClosed` for it (one is ignored until the next
    :class:`ConnectionOpened`, but after that it would be taken for the new connection)."""

    code: int
    reason: str = ""


class ReconnectMode(enum.Enum):
    IDENTIFY = "identify"
    RESUME = "resume"


@attrs.frozen(kw_only=True)
class Reconnect:
    """Open a new connection to ``url`` after ``delay`` seconds, then report
    :class:`ConnectionOpened` or :class:`ConnectFailed`. ``mode`` says what the session
    will send after HELLO (for logs; the machine decides)."""

    mode: ReconnectMode
    url: str
    delay: float


@attrs.frozen(kw_only=True)
class Dispatch:
    """A gateway event (op 0): ``name`` is ``t``, ``data`` is ``d`` as parsed JSON (turn it
    into models with ``converter.structure_dispatch``). ``replayed`` is true for events the
    server replays between RESUME and RESUMED: handlers must be idempotent anyway, since
    Discord may deliver an event more than once."""

    name: str
    seq: int | None
    data: Any
    replayed: bool = False


@attrs.frozen(kw_only=True)
class Deliver:
    """Hand a dispatch to the application."""

    dispatch: Dispatch


EXIT_GATEWAY_FATAL: Final = 78
"""Process exit status for :class:`GatewayFatalError` (``EX_CONFIG`` from sysexits.h: the
token, intents or portal settings are wrong, so restarting the process cannot help and a
service manager should not restart it in a loop)."""


@attrs.define(auto_exc=True, kw_only=True)
class GatewayFatalError(Exception):
    """The gateway refused us for a reason reconnecting cannot fix.

    The one class for this error: the machine emits it in :class:`Fatal`, the bridge's
    gateway client raises the same class (``bridge.discord.errors`` re-exports it).
    ``code`` is the close code (4004 bad token, 4013 invalid intents, 4014 disallowed
    intents, ...) or None when we stopped ourselves (e.g. the daily session starts are
    nearly used up, or ``GET /gateway/bot`` refused the token). ``advice`` says what a
    person must do. A CLI exits with :data:`EXIT_GATEWAY_FATAL`.
    """

    code: int | None
    reason: str = ""
    advice: str

    @property
    def exit_status(self) -> int:
        return EXIT_GATEWAY_FATAL

    def __str__(self) -> str:
        return self.advice


@attrs.frozen(kw_only=True)
class Fatal:
    """Stop: do not reconnect. ``error`` says why and what to do."""

    error: GatewayFatalError


GatewayAction = SendPayload | ArmTimer | Close | Reconnect | Deliver | Fatal

_new = object.__new__
_set_name = Dispatch.__dict__["name"].__set__
_set_seq = Dispatch.__dict__["seq"].__set__
_set_data = Dispatch.__dict__["data"].__set__
_set_replayed = Dispatch.__dict__["replayed"].__set__
_set_dispatch = Deliver.__dict__["dispatch"].__set__


def _deliver(name: str, seq: int | None, data: Any, replayed: bool) -> Deliver:
    """``Deliver(dispatch=Dispatch(...))`` built through the slots, as attrs' ``__init__``
    does but without its per-call overhead: one of these is made per dispatch, and the two
    ``__init__`` calls cost as much as parsing a small payload (issue 4's decode benchmark).
    Both classes have no validators or converters, so the result is the same object."""
    dispatch = _new(Dispatch)
    _set_name(dispatch, name)
    _set_seq(dispatch, seq)
    _set_data(dispatch, data)
    _set_replayed(dispatch, replayed)
    deliver = _new(Deliver)
    _set_dispatch(deliver, dispatch)
    return deliver


@attrs.define(auto_exc=True, kw_only=True)
class GatewayUsageError(Exception):
    """The driver fed an event the machine cannot take in its state (a bug in the driver,
    never the server's fault)."""

    event: str
    state: GatewayState
    detail: str = ""

    def __str__(self) -> str:
        extra = f": {self.detail}" if self.detail else ""
        return f"{self.event} is not valid in gateway state {self.state.name}{extra}"


class GatewayState(enum.Enum):
    IDLE = "idle"
    """Built, not started."""
    CONNECTING = "connecting"
    """A :class:`Reconnect` is out; waiting for ConnectionOpened / ConnectFailed."""
    AWAITING_HELLO = "awaiting_hello"
    """Socket open; waiting for op 10 HELLO."""
    IDENTIFYING = "identifying"
    """IDENTIFY sent (or waiting for its 5 s pacing); waiting for READY."""
    RESUMING = "resuming"
    """RESUME sent; replayed dispatches arrive until RESUMED."""
    CONNECTED = "connected"
    """READY or RESUMED received: dispatches flow."""
    CLOSED = "closed"
    """Shut down on request. Terminal."""
    FATAL = "fatal"
    """Refused by the gateway (fatal close code). Terminal."""


_MACHINE_OPS: Final = frozenset({Opcode.HEARTBEAT, Opcode.IDENTIFY, Opcode.RESUME})

_DISPATCH: Final = int(Opcode.DISPATCH)
# Enum members as module constants for the per-frame path: ``GatewayState.CONNECTED`` is an
# attribute lookup through the enum's metaclass, which costs more than the check itself.
_CONNECTED: Final = GatewayState.CONNECTED
_RESUMING: Final = GatewayState.RESUMING

_LIVE_STATES: Final = frozenset(
    {
        GatewayState.AWAITING_HELLO,
        GatewayState.IDENTIFYING,
        GatewayState.RESUMING,
        GatewayState.CONNECTED,
    }
)


@attrs.frozen(kw_only=True)
class GatewaySnapshot:
    """What the machine knows, for tests, status pages and logs (no token)."""

    state: GatewayState
    session_id: str | None
    seq: int | None
    resume_url: str | None
    heartbeat_interval: float | None
    latency: float | None
    """Seconds between the last heartbeat and its ACK."""
    awaiting_ack: bool
    identifies: int
    session_starts_remaining: int | None
    """Our count of today's session starts left (None: no ``session_start_limit`` given)."""
    max_concurrency: int | None
    """From ``session_start_limit``: shards that may identify per 5 s (one shard: 1)."""
    resumes: int
    reconnects: int
    queued_sends: int
    timers: dict[TimerKind, float]


class GatewaySession:
    """One shard's gateway session: events in, actions out (see the module docstring).

    Args:
        token: the bot token (sent in IDENTIFY/RESUME only; never in reprs or snapshots).
        intents: the gateway intents bit set.
        url: the ``/gateway/bot`` URL (query optional; ``v=10&encoding=json`` is added).
        rng: randomness for heartbeat jitter and backoff; pass a seeded one in tests.
        compress: ask for zlib-stream transport compression.
        properties: IDENTIFY ``properties`` (``os``, ``browser``, ``device``).
        shard: ``(shard_id, shard_count)`` to send, or None to leave it out.
        large_threshold: IDENTIFY ``large_threshold`` (50-250), or None to leave it out.
        presence: IDENTIFY ``presence`` payload, or None.
        session_start_limit: ``session_start_limit`` from ``GET /gateway/bot`` (its window
            counted from the first event), or None not to count session starts.
        session_start_reserve: starts never spent (see :data:`SESSION_START_RESERVE`).
    """

    def __init__(
        self,
        *,
        token: str,
        intents: Intents | int,
        url: str,
        rng: random.Random,
        compress: bool = True,
        properties: dict[str, str] | None = None,
        shard: tuple[int, int] | None = None,
        large_threshold: int | None = None,
        presence: dict[str, Any] | None = None,
        session_start_limit: SessionStartLimit | None = None,
        session_start_reserve: int = SESSION_START_RESERVE,
    ) -> None:
        self._token = token
        self._intents = int(intents)
        self._compress = compress
        self._base_url = gateway_url(url, compress=compress)
        self._rng = rng
        self._properties = properties or {
            "os": "linux",
            "browser": "ccbridge",
            "device": "ccbridge",
        }
        self._shard = shard
        self._large_threshold = large_threshold
        self._presence = presence

        self.state = GatewayState.IDLE
        self._session_id: str | None = None
        self._resume_url: str | None = None
        self._seq: int | None = None

        self._decoder: ZlibStreamDecoder | None = None
        self._heartbeat_interval: float | None = None
        self._awaiting_ack = False
        self._last_beat_at: float | None = None
        self._latency: float | None = None
        self._timers: dict[TimerKind, float] = {}
        self._limiter = SendLimiter()
        self._queue: list[dict[str, Any]] = []
        self._pacer = IdentifyPacer()
        self._backoff = Backoff(rng)
        self._resume_failures = 0
        self._attempt = ReconnectMode.IDENTIFY
        self._start_limit = session_start_limit
        self._start_reserve = session_start_reserve
        self._starts_remaining = (
            None if session_start_limit is None else session_start_limit.remaining
        )
        self._starts_reset_at: float | None = None
        """When the counted window resets (set from the first event's ``now``)."""
        self._identifies = 0
        self._identify_unanswered = False
        """An IDENTIFY was sent on this connection and nothing answered it yet."""
        self._resumes = 0
        self._reconnects = 0

    # -----------------------------------------------------------------------------------------
    # Public face
    # -----------------------------------------------------------------------------------------

    def handle(self, event: GatewayEvent, now: float) -> list[GatewayAction]:
        """Take one event at time ``now``; return the actions to perform, in order.

        Raises:
            GatewayUsageError: the event is not valid in this state (a driver bug), or a
                requested payload is over Discord's 4096-byte limit.
        """
        out: list[GatewayAction] = []
        if isinstance(event, FrameReceived):  # first: by far the most frequent event
            self._on_frame(event.data, now, out)
        elif isinstance(event, StartRequested):
            self._on_start(now, out)
        elif isinstance(event, ConnectionOpened):
            self._on_opened(now, out)
        elif isinstance(event, ConnectFailed):
            self._on_connect_failed(now, out)
        elif isinstance(event, ConnectionClosed):
            self._on_closed(event, now, out)
        elif isinstance(event, TimerFired):
            self._on_timer(event.kind, now, out)
        elif isinstance(event, SendRequested):
            self._on_send_requested(event, now, out)
        elif isinstance(event, PayloadNotSent):
            self._on_payload_not_sent(event.op)
        elif isinstance(event, SessionStartLimitReceived):
            self._set_start_limit(event.limit, now)
        elif isinstance(event, ShutdownRequested):
            self._on_shutdown(out)
        else:
            raise GatewayUsageError(event=repr(event), state=self.state, detail="unknown event")
        return out

    def snapshot(self) -> GatewaySnapshot:
        return GatewaySnapshot(
            state=self.state,
            session_id=self._session_id,
            seq=self._seq,
            resume_url=self._resume_url,
            heartbeat_interval=self._heartbeat_interval,
            latency=self._latency,
            awaiting_ack=self._awaiting_ack,
            identifies=self._identifies,
            session_starts_remaining=self._starts_remaining,
            max_concurrency=None
            if self._start_limit is None
            else self._start_limit.max_concurrency,
            resumes=self._resumes,
            reconnects=self._reconnects,
            queued_sends=len(self._queue),
            timers=dict(self._timers),
        )

    @property
    def can_resume(self) -> bool:
        """Whether a session exists that a new connection can resume."""
        return self._session_id is not None and self._resume_url is not None

    def __repr__(self) -> str:
        return f"<GatewaySession {self.state.name} seq={self._seq}>"

    # -----------------------------------------------------------------------------------------
    # Connection lifecycle
    # -----------------------------------------------------------------------------------------

    def _on_start(self, now: float, out: list[GatewayAction]) -> None:
        if self.state is not GatewayState.IDLE:
            raise GatewayUsageError(event="StartRequested", state=self.state)
        self._reconnect(out, now, delay=0.0)

    def _on_opened(self, now: float, out: list[GatewayAction]) -> None:
        if self.state is not GatewayState.CONNECTING:
            raise GatewayUsageError(
                event="ConnectionOpened",
                state=self.state,
                detail="only after a Reconnect action",
            )
        # Everything per connection starts afresh: the inflater (row 16), the send budget
        # (row 15) and heartbeat bookkeeping.
        self._decoder = ZlibStreamDecoder() if self._compress else None
        self._limiter.reset()
        self._heartbeat_interval = None
        self._awaiting_ack = False
        self._timers.pop(TimerKind.HEARTBEAT, None)
        self._timers.pop(TimerKind.IDENTIFY, None)
        self._timers.pop(TimerKind.SEND, None)
        self.state = GatewayState.AWAITING_HELLO
        self._arm(out, TimerKind.HELLO_TIMEOUT, now + HELLO_TIMEOUT)

    def _on_connect_failed(self, now: float, out: list[GatewayAction]) -> None:
        if self.state is not GatewayState.CONNECTING:
            raise GatewayUsageError(event="ConnectFailed", state=self.state)
        self._reconnect(out, now, delay=self._reconnect_delay(now))

    def _on_closed(self, event: ConnectionClosed, now: float, out: list[GatewayAction]) -> None:
        if self.state not in _LIVE_STATES:
            return  # the close of a connection we already gave up on (or the final one)
        code = event.code
        if code in FATAL_CLOSE_CODES:
            self._fatal(out, code, event.reason)
            return
        # 4007 invalid seq / 4009 session timed out: reconnecting is fine, resuming is not.
        # Anything else (4000-4003, 4005, 4008, a server 1000/1001, a dropped TCP
        # connection) keeps the session: resume.
        self._connection_lost(out, now, forget_session=code in REIDENTIFY_CLOSE_CODES)

    def _on_shutdown(self, out: list[GatewayAction]) -> None:
        if self.state in (GatewayState.CLOSED, GatewayState.FATAL):
            return
        if self.state in _LIVE_STATES:
            out.append(Close(code=CloseCode.NORMAL, reason="shutting down"))
        self._drop_connection()
        self._forget_session()
        self._timers.clear()
        self.state = GatewayState.CLOSED

    def _restart(
        self,
        out: list[GatewayAction],
        now: float,
        *,
        reason: str,
        forget_session: bool = False,
        min_delay: float = 0.0,
    ) -> None:
        """Close the live connection ourselves (never 1000/1001, row 13) and reconnect."""
        out.append(Close(code=RESUMABLE_CLOSE_CODE, reason=reason))
        self._connection_lost(out, now, forget_session=forget_session, min_delay=min_delay)

    def _connection_lost(
        self,
        out: list[GatewayAction],
        now: float,
        *,
        forget_session: bool,
        min_delay: float = 0.0,
    ) -> None:
        self._identify_answered(now)
        if forget_session:
            self._forget_session()
        elif self._attempt is ReconnectMode.RESUME and self.state is not GatewayState.CONNECTED:
            # This connection was meant to resume and never got RESUMED.
            self._resume_failures += 1
            if self._resume_failures >= MAX_RESUME_ATTEMPTS:
                self._forget_session()
        self._drop_connection()
        self._reconnect(out, now, delay=max(min_delay, self._reconnect_delay(now)))

    def _reconnect_delay(self, now: float) -> float:
        # READY / RESUMED reset the backoff (_became_connected): the first reconnect after a
        # working connection goes at once, and only consecutive failures wait longer.
        return self._backoff.next_delay()

    def _reconnect(self, out: list[GatewayAction], now: float, *, delay: float) -> None:
        if self.can_resume:
            assert self._resume_url is not None
            mode, url = ReconnectMode.RESUME, self._resume_url
        else:
            if self._starts_exhausted(now):
                self._stop_for_session_starts(out, now)
                return
            mode, url = ReconnectMode.IDENTIFY, self._base_url
            # Connecting earlier than the identify pacing allows would only make us wait
            # after HELLO; wait before connecting instead.
            delay = max(delay, self._pacer.earliest(now) - now)
        if self.state is not GatewayState.IDLE:
            self._reconnects += 1
        self._attempt = mode
        self.state = GatewayState.CONNECTING
        out.append(Reconnect(mode=mode, url=url, delay=delay))

    # -- session starts ------------------------------------------------------------------------

    def _set_start_limit(self, limit: SessionStartLimit, now: float) -> None:
        self._start_limit = limit
        self._starts_remaining = limit.remaining
        self._starts_reset_at = now + limit.reset_after / 1000.0

    def _starts_exhausted(self, now: float) -> bool:
        """Whether an IDENTIFY now would dig into the reserve."""
        limit = self._start_limit
        if limit is None or self._starts_remaining is None:
            return False
        if self._starts_reset_at is None:
            self._starts_reset_at = now + limit.reset_after / 1000.0
        elif now >= self._starts_reset_at:
            # Discord refills the starts once ``reset_after`` has passed; the next window
            # is a day long (docs: "Session Start Limit Object").
            self._starts_remaining = limit.total
            while self._starts_reset_at <= now:
                self._starts_reset_at += _SESSION_START_WINDOW
        return self._starts_remaining <= self._start_reserve

    def _identify_answered(self, now: float) -> None:
        if self._identify_unanswered:
            self._identify_unanswered = False
            self._pacer.answered(now)

    def _on_payload_not_sent(self, op: Opcode | int) -> None:
        if op == Opcode.IDENTIFY and self._identify_unanswered:
            # The start was counted when the IDENTIFY was ordered; it never left, so give it
            # back (counting it made a bot stop at "10 of its 12 left" after one IDENTIFY).
            self._identify_unanswered = False
            self._identifies -= 1
            if self._starts_remaining is not None:
                self._starts_remaining += 1

    def _stop_for_session_starts(self, out: list[GatewayAction], now: float) -> None:
        limit = self._start_limit
        assert limit is not None
        assert self._starts_remaining is not None
        assert self._starts_reset_at is not None
        hours = (self._starts_reset_at - now) / 3600
        message = (
            f"the bot has {self._starts_remaining} of its {limit.total} daily gateway session "
            f"starts left (we keep {self._start_reserve} in reserve: when they run out "
            f"Discord resets the token); something is reconnecting in a loop: fix it, then "
            f"start again in {hours:.1f} h when the limit resets"
        )
        reason = f"session_start_limit.remaining is {self._starts_remaining} of {limit.total}"
        self._drop_connection()
        self._forget_session()
        self._timers.clear()
        self.state = GatewayState.FATAL
        out.append(Fatal(error=GatewayFatalError(code=None, reason=reason, advice=message)))

    def _drop_connection(self) -> None:
        self._decoder = None
        self._heartbeat_interval = None
        self._awaiting_ack = False
        for kind in (
            TimerKind.HEARTBEAT,
            TimerKind.HELLO_TIMEOUT,
            TimerKind.IDENTIFY,
            TimerKind.SEND,
        ):
            self._timers.pop(kind, None)

    def _forget_session(self) -> None:
        self._session_id = None
        self._resume_url = None
        self._seq = None
        self._resume_failures = 0

    def _fatal(self, out: list[GatewayAction], code: int, reason: str) -> None:
        message = FATAL_CLOSE_MESSAGES.get(
            code, f"the gateway closed the connection with fatal code {code}"
        )
        self._drop_connection()
        self._forget_session()
        self._timers.clear()
        self.state = GatewayState.FATAL
        out.append(Fatal(error=GatewayFatalError(code=code, reason=reason, advice=message)))

    # -----------------------------------------------------------------------------------------
    # Frames and payloads
    # -----------------------------------------------------------------------------------------

    def _on_frame(self, data: str | bytes, now: float, out: list[GatewayAction]) -> None:
        # ``is CONNECTED`` first: the common case, and cheaper than hashing an enum.
        if self.state is not _CONNECTED and self.state not in _LIVE_STATES:
            return  # in flight from a connection we already closed
        try:
            # Each payload is parsed once: by the zlib-stream decoder (which must parse to
            # find where a message ends), or here for a plain text or binary frame.
            decoder = self._decoder
            if decoder is None or data.__class__ is str:
                payloads = [parse_json(data)]
            else:
                payloads = decoder.receive_messages(data)  # type: ignore[arg-type]  # bytes: str went above
        except (GatewayDecodeError, ValueError) as exc:
            self._restart(out, now, reason=f"undecodable data: {exc}")
            return
        for payload in payloads:
            if self.state is not _CONNECTED and self.state not in _LIVE_STATES:
                return  # an earlier payload in this frame ended the connection
            if payload.__class__ is not dict:
                self._restart(out, now, reason="payload is not a JSON object")
                return
            if payload.get("op") == _DISPATCH:  # the hot path, ahead of _on_payload
                self._on_dispatch(payload, now, out)
            else:
                self._on_payload(payload, now, out)

    def _on_payload(self, payload: dict[str, Any], now: float, out: list[GatewayAction]) -> None:
        op = payload.get("op")
        d = payload.get("d")
        if op == Opcode.DISPATCH:
            self._on_dispatch(payload, now, out)
        elif op == Opcode.HELLO:
            self._on_hello(d, now, out)
        elif op == Opcode.HEARTBEAT:
            # Row 5: the server asks for a beat; answer at once, outside the schedule.
            self._send_heartbeat(now, out)
        elif op == Opcode.HEARTBEAT_ACK:
            self._awaiting_ack = False
            if self._last_beat_at is not None:
                self._latency = now - self._last_beat_at
        elif op == Opcode.RECONNECT:
            # Row 10: may arrive at any time, even instead of HELLO.
            self._restart(out, now, reason="server asked to reconnect (op 7)")
        elif op == Opcode.INVALID_SESSION:
            self._on_invalid_session(bool(d), now, out)
        # Unknown opcodes are ignored: Discord adds them (e.g. 31) without notice.

    def _on_hello(self, d: Any, now: float, out: list[GatewayAction]) -> None:
        if self.state is not GatewayState.AWAITING_HELLO:
            return  # a second HELLO on one connection: nothing sensible to do with it
        try:
            interval = float(d["heartbeat_interval"]) / 1000.0
        except (TypeError, KeyError, ValueError):
            self._restart(out, now, reason="HELLO without a heartbeat_interval")
            return
        if interval <= 0:
            self._restart(out, now, reason=f"HELLO with heartbeat_interval {interval}")
            return
        self._timers.pop(TimerKind.HELLO_TIMEOUT, None)
        self._heartbeat_interval = interval
        self._limiter.set_reserve(heartbeat_reserve(interval))
        # Row 3: the first beat after interval * jitter, so clients do not beat in step.
        self._arm(out, TimerKind.HEARTBEAT, now + interval * self._rng.random())
        if self.can_resume:
            self._send_resume(now, out)
        else:
            self.state = GatewayState.IDENTIFYING
            self._identify_when_allowed(now, out)

    def _on_invalid_session(self, resumable: bool, now: float, out: list[GatewayAction]) -> None:
        if resumable and self.can_resume:
            self._restart(out, now, reason="invalid session (resumable)")
            return
        # Row 11: forget the session and identify anew after a random 1-5 s (and never
        # sooner than the identify pacing allows, which _reconnect adds).
        low, high = INVALID_SESSION_DELAY
        self._restart(
            out,
            now,
            reason="invalid session",
            forget_session=True,
            min_delay=self._rng.uniform(low, high),
        )

    def _on_dispatch(self, payload: dict[str, Any], now: float, out: list[GatewayAction]) -> None:
        name = payload.get("t")
        seq = payload.get("s")
        d = payload.get("d")
        if seq.__class__ is int and (self._seq is None or seq > self._seq):
            # Row 14: the latest non-null s; a duplicate or late event never moves it back.
            self._seq = seq
        replayed = self.state is _RESUMING
        if name == "READY" and isinstance(d, dict):
            session_id = d.get("session_id")
            resume_url = d.get("resume_gateway_url")
            if isinstance(session_id, str) and isinstance(resume_url, str):
                self._session_id = session_id
                # Row 2: the resume URL needs the same v/encoding/compress query.
                self._resume_url = gateway_url(resume_url, compress=self._compress)
            self._identify_answered(now)
            self._became_connected(now, out)
        elif name == "RESUMED":
            self._resumes += 1
            self._became_connected(now, out)
            replayed = False
        out.append(
            _deliver(
                name if name.__class__ is str else str(name),
                seq if seq.__class__ is int else None,
                d,
                replayed,
            )
        )

    def _became_connected(self, now: float, out: list[GatewayAction]) -> None:
        self.state = GatewayState.CONNECTED
        self._backoff.reset()
        self._resume_failures = 0
        self._flush_queue(now, out)

    # -----------------------------------------------------------------------------------------
    # Sending
    # -----------------------------------------------------------------------------------------

    def _send(self, out: list[GatewayAction], op: int, d: Any) -> None:
        payload = {"op": int(op), "d": d}
        text = json.dumps(payload, separators=(",", ":"))
        known = Opcode(op) if op in Opcode._value2member_map_ else op
        out.append(SendPayload(op=known, payload=payload, text=text))

    def _identify_when_allowed(self, now: float, out: list[GatewayAction]) -> None:
        at = self._pacer.earliest(now)
        if at > now:
            self._arm(out, TimerKind.IDENTIFY, at)
            return
        self._timers.pop(TimerKind.IDENTIFY, None)
        if not self._limiter.try_acquire(now):
            self._arm(out, TimerKind.IDENTIFY, self._limiter.next_free(now))
            return
        self._pacer.record(now)
        self._identifies += 1
        self._identify_unanswered = True
        if self._starts_remaining is not None:
            self._starts_remaining -= 1
        d: dict[str, Any] = {
            "token": self._token,
            "intents": self._intents,
            "properties": dict(self._properties),
            # Transport compression (zlib-stream) replaces payload compression (row 18).
            "compress": False,
        }
        if self._shard is not None:
            d["shard"] = list(self._shard)
        if self._large_threshold is not None:
            d["large_threshold"] = self._large_threshold
        if self._presence is not None:
            d["presence"] = self._presence
        self._send(out, Opcode.IDENTIFY, d)

    def _send_resume(self, now: float, out: list[GatewayAction]) -> None:
        self.state = GatewayState.RESUMING
        # A fresh connection's budget is empty: the first send always passes.
        self._limiter.try_acquire(now)
        self._send(
            out,
            Opcode.RESUME,
            {"token": self._token, "session_id": self._session_id, "seq": self._seq},
        )

    def _send_heartbeat(self, now: float, out: list[GatewayAction]) -> bool:
        """Send a heartbeat from the reserved budget; False if even that is spent."""
        if not self._limiter.try_acquire(now, priority=True):
            return False
        self._send(out, Opcode.HEARTBEAT, self._seq)
        self._awaiting_ack = True
        self._last_beat_at = now
        return True

    def _on_send_requested(
        self, event: SendRequested, now: float, out: list[GatewayAction]
    ) -> None:
        if self.state in (GatewayState.CLOSED, GatewayState.FATAL):
            raise GatewayUsageError(event=f"SendRequested(op={event.op})", state=self.state)
        if event.op in _MACHINE_OPS:
            raise GatewayUsageError(
                event=f"SendRequested(op={event.op})",
                state=self.state,
                detail="heartbeats, IDENTIFY and RESUME are sent by the session itself",
            )
        payload = {"op": int(event.op), "d": event.d}
        size = len(json.dumps(payload, separators=(",", ":")).encode())
        if size > MAX_PAYLOAD_BYTES:
            raise GatewayUsageError(
                event=f"SendRequested(op={event.op})",
                state=self.state,
                detail=f"the payload is {size} bytes; Discord closes with 4002 above "
                f"{MAX_PAYLOAD_BYTES}",
            )
        self._queue.append(payload)
        if self.state is GatewayState.CONNECTED:
            self._flush_queue(now, out)

    def _flush_queue(self, now: float, out: list[GatewayAction]) -> None:
        while self._queue:
            if not self._limiter.try_acquire(now):
                self._arm(out, TimerKind.SEND, self._limiter.next_free(now))
                return
            payload = self._queue.pop(0)
            self._send(out, payload["op"], payload["d"])
        self._timers.pop(TimerKind.SEND, None)

    # -----------------------------------------------------------------------------------------
    # Timers
    # -----------------------------------------------------------------------------------------

    def _arm(self, out: list[GatewayAction], kind: TimerKind, at: float) -> None:
        self._timers[kind] = at
        out.append(ArmTimer(kind=kind, at=at))

    def _on_timer(self, kind: TimerKind, now: float, out: list[GatewayAction]) -> None:
        due = self._timers.get(kind)
        if due is None or now < due:
            return  # stale or early: the machine no longer wants this one (yet)
        del self._timers[kind]
        if kind is TimerKind.HEARTBEAT:
            self._on_heartbeat_due(now, out)
        elif kind is TimerKind.HELLO_TIMEOUT:
            self._restart(out, now, reason=f"no HELLO within {HELLO_TIMEOUT} s")
        elif kind is TimerKind.IDENTIFY:
            if self.state is GatewayState.IDENTIFYING:
                self._identify_when_allowed(now, out)
        elif kind is TimerKind.SEND and self.state is GatewayState.CONNECTED:
            self._flush_queue(now, out)

    def _on_heartbeat_due(self, now: float, out: list[GatewayAction]) -> None:
        assert self._heartbeat_interval is not None
        if self._awaiting_ack:
            # Row 4: no ACK since the last beat: a zombie connection. Close with a code that
            # keeps the session (row 13) and resume.
            self._restart(out, now, reason="no heartbeat ACK (zombie connection)")
            return
        if self._send_heartbeat(now, out):
            self._arm(out, TimerKind.HEARTBEAT, now + self._heartbeat_interval)
        else:
            # Only the server's own op 1 requests can spend the reserve: beat once it frees.
            self._arm(out, TimerKind.HEARTBEAT, self._limiter.next_free(now, priority=True))
