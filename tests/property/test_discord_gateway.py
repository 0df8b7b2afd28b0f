"""GatewaySession against a randomized Discord server (hypothesis stateful testing).

The server side is a model: it answers IDENTIFY with READY and RESUME with RESUMED (or
not), sends dispatches, duplicates, op 1 / 7 / 9 / 11 at random points, closes with any
close code, and delivers its zlib-stream bytes cut at random byte boundaries (so a frame
may hold half a message or several). Time moves in random steps and timers fire.

Invariants, checked after every step:

* never IDENTIFY while a resumable session exists: once READY made a session, only
  op 9 ``false``, close 4007/4009, or MAX_RESUME_ATTEMPTS failed resumes in a row may end
  it (and a RESUME is only sent while the model says a session exists);
* never two IDENTIFYs within 5 s;
* after a fatal close code, no action ever again (no resume, no identify, no reconnect);
* the sequence never goes backwards: every heartbeat and RESUME carries the largest ``s``
  the client has processed in this session;
* heartbeats never starve: on a connection past HELLO the heartbeat timer is always armed
  no later than one interval after the last beat (or HELLO), and when it fires the
  client beats or, with no ACK, closes the zombie;
* we never close with 1000/1001, and never send more than 120 payloads per 60 s.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from protocol.discord.gateway import (
    MAX_RESUME_ATTEMPTS,
    Close,
    ConnectFailed,
    Fatal,
    FrameReceived,
    GatewayAction,
    GatewayState,
    Reconnect,
    ReconnectMode,
    SendPayload,
    SendRequested,
    TimerFired,
    TimerKind,
)
from protocol.discord.gateway_codes import (
    FATAL_CLOSE_CODES,
    REIDENTIFY_CLOSE_CODES,
    SESSION_ENDING_CLOSE_CODES,
    Opcode,
)
from protocol.discord.zlib_stream import NEED_DATA, ZlibStreamDecoder
from tests.protocol.discord.gateway_harness import Harness

NONFATAL_CODES = [None, 1000, 1001, 1006, 4000, 4001, 4002, 4003, 4005, 4007, 4008, 4009]
FATAL_CODES = [4004, 4010, 4011, 4012, 4013, 4014]
# Fatal codes end the run, so draw them rarely enough that the interesting paths get explored.
CLOSE_CODES = NONFATAL_CODES * 4 + FATAL_CODES
INTERVAL_MS = 41250
INTERVAL = INTERVAL_MS / 1000


class GatewayAgainstRandomServer(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Harness.build()
        # Server-side view of the current connection.
        self.conn = 0
        self.pending = bytearray()
        self.mirror = ZlibStreamDecoder()
        self.hello_sent = False
        self.ready_sent = False
        self.resumed_sent = False
        self.server_seq = 0
        self.session_counter = 0
        # Client-side facts the invariants need (the model).
        self.session_valid = False
        self.model_seq: int | None = None
        self.resume_fail_streak = 0
        self.fatal = False
        self.attempt: ReconnectMode = ReconnectMode.IDENTIFY
        self.established_on_conn = False
        self.hello_processed_at: float | None = None
        self.awaiting_ack: bool | None = False
        """True/False when certain; None when one frame both ACKed and beat (order unknown)."""
        self.identify_times: list[float] = []
        self.steps_actions: list[GatewayAction] = []

    # -- plumbing --------------------------------------------------------------------------------

    @initialize(seed=st.integers(0, 2**32 - 1))
    def start(self, seed: int) -> None:
        self.h = Harness.build(seed=seed)
        self._track(lambda: self.h.start())

    def _track(self, step: Any) -> None:
        """Run one harness step whose input the model already knows; check its actions."""
        before = len(self.h.log)
        step()
        for _now, event, actions in self.h.log[before:]:
            if event == TimerFired(kind=TimerKind.HEARTBEAT) and self.awaiting_ack is True:
                # The beat is due and the last one was never ACKed: a zombie connection.
                assert any(isinstance(a, Close) for a in actions), "zombie not detected"
            self._check_actions(actions, [self._snapshot()])

    def _snapshot(self) -> tuple[Any, ...]:
        return (
            self.session_valid,
            self.model_seq,
            self.resume_fail_streak,
            self.established_on_conn,
            self.hello_processed_at,
        )

    def _restore(self, snap: tuple[Any, ...]) -> None:
        (
            self.session_valid,
            self.model_seq,
            self.resume_fail_streak,
            self.established_on_conn,
            self.hello_processed_at,
        ) = snap

    def _check_actions(self, actions: list[GatewayAction], states: list[tuple[Any, ...]]) -> None:
        """Check one ``handle`` call's actions against the model.

        ``states`` are the model states after each payload the call processed (one frame can
        hold several messages, and the actions of all of them come back together). Actions
        must match the states in order: each one is checked against the earliest state, at
        or after the previous action's, that it is consistent with.
        """
        if self.fatal:
            assert actions == [], f"acted after a fatal close: {actions}"
        index = 0
        closed = False
        self._restore(states[0])
        for action in actions:
            if isinstance(action, Close):
                # A close ends processing, so it follows the last payload processed; it then
                # changes the model itself (a failed resume attempt).
                closed = True
                index = len(states) - 1
                self._restore(states[index])
            while not self._consistent(action) and index < len(states) - 1:
                index += 1
                self._restore(states[index])
            self._check_action(action)
        if not closed:
            self._restore(states[-1])

    def _consistent(self, action: GatewayAction) -> bool:
        if isinstance(action, SendPayload):
            d = action.payload["d"]
            if action.op == Opcode.IDENTIFY:
                return not self.session_valid
            if action.op == Opcode.RESUME:
                return self.session_valid and d["seq"] == self.model_seq
            if action.op == Opcode.HEARTBEAT:
                return d == self.model_seq
        if isinstance(action, Reconnect):
            return not self.session_valid or action.mode is ReconnectMode.RESUME
        return True

    def _check_action(self, action: GatewayAction) -> None:
        if isinstance(action, SendPayload):
            if action.op == Opcode.IDENTIFY:
                assert not self.session_valid, "IDENTIFY while a resumable session exists"
                if self.identify_times:
                    assert self.h.now - self.identify_times[-1] >= 5.0 - 1e-9
                self.identify_times.append(self.h.now)
                self.model_seq = None
            elif action.op == Opcode.RESUME:
                assert self.session_valid, "RESUME without a session"
                assert action.payload["d"]["seq"] == self.model_seq, "RESUME with a stale seq"
            elif action.op == Opcode.HEARTBEAT:
                assert action.payload["d"] == self.model_seq, "heartbeat with a stale seq"
                self.awaiting_ack = True
        elif isinstance(action, Close):
            assert action.code not in SESSION_ENDING_CLOSE_CODES
            self._connection_ended()
        elif isinstance(action, Reconnect):
            self.attempt = action.mode
            if self.session_valid:
                assert action.mode is ReconnectMode.RESUME, "identify planned over a session"
        elif isinstance(action, Fatal):
            assert action.error.code in FATAL_CLOSE_CODES

    def _connection_ended(self) -> None:
        if (
            self.attempt is ReconnectMode.RESUME
            and not self.established_on_conn
            and self.session_valid
        ):
            self.resume_fail_streak += 1
            if self.resume_fail_streak >= MAX_RESUME_ATTEMPTS:
                self._invalidate()
        self.established_on_conn = False
        self.hello_processed_at = None
        self.awaiting_ack = False
        self.pending.clear()

    def _invalidate(self) -> None:
        self.session_valid = False
        self.model_seq = None
        self.resume_fail_streak = 0

    def _processed(self, payload: dict[str, Any]) -> None:
        op = payload["op"]
        if op == Opcode.HELLO:
            self.hello_processed_at = self.h.now
        elif op == Opcode.DISPATCH:
            s = payload["s"]
            if s is not None:
                self.model_seq = s if self.model_seq is None else max(self.model_seq, s)
            if payload["t"] == "READY":
                self.session_valid = True
                self.resume_fail_streak = 0
                self.established_on_conn = True
            elif payload["t"] == "RESUMED":
                self.resume_fail_streak = 0
                self.established_on_conn = True
        elif op == Opcode.INVALID_SESSION and not payload["d"]:
            self._invalidate()

    @property
    def live(self) -> bool:
        return self.h.open and not self.fatal and self.h.connection == self.conn

    def _queue(self, payload: dict[str, Any]) -> None:
        assert self.h.wire is not None
        self.pending += self.h.wire.encode(payload)

    def _client_sent_on_conn(self, op: int) -> bool:
        return op in self.h.sent_ops(self.conn)

    # -- connection rules ----------------------------------------------------------------------

    @precondition(lambda self: self.h.pending_reconnect is not None and not self.fatal)
    @rule(refuse=st.sampled_from([False, False, False, True]))
    def connection_attempt(self, refuse: bool) -> None:
        if refuse:
            assert self.h.connect_at is not None
            self._track(lambda: self.h.advance(max(0.0, self.h.connect_at - self.h.now)))
            self.h.pending_reconnect = None
            self._track(lambda: self.h.feed(ConnectFailed(reason="refused")))
            return
        self._track(self.h.connect)
        self.conn = self.h.connection
        self.mirror = ZlibStreamDecoder()
        self.pending.clear()
        self.hello_sent = self.ready_sent = self.resumed_sent = False

    @precondition(lambda self: self.live)
    @rule(replay=st.integers(0, 2))
    def happy_handshake_step(self, replay: int) -> None:
        """What a healthy server sends next, delivered at once: keeps runs making progress."""
        if not self.hello_sent:
            self.send_hello()
        elif not self.ready_sent and self._client_sent_on_conn(Opcode.IDENTIFY):
            self.send_ready()
        elif not self.resumed_sent and self._client_sent_on_conn(Opcode.RESUME):
            self.send_resumed(replay)
        else:
            self._queue({"op": Opcode.HEARTBEAT_ACK})
        self.deliver_bytes(len(self.pending))

    @precondition(lambda self: self.live)
    @rule(code=st.sampled_from(CLOSE_CODES))
    def server_closes(self, code: int | None) -> None:
        was_state = self.h.session.state
        if code in FATAL_CLOSE_CODES:
            self._track(lambda: self.h.server_close(code))
            assert self.h.fatal, f"close code {code} in {was_state} did not stop the session"
            self.fatal = True
            self.session_valid = False
            self.awaiting_ack = False
            return
        if code in REIDENTIFY_CLOSE_CODES:
            self._invalidate()
        self._connection_ended()
        self._track(lambda: self.h.server_close(code))

    # -- server payloads -----------------------------------------------------------------------

    @precondition(lambda self: self.live and not self.hello_sent)
    @rule()
    def send_hello(self) -> None:
        self.hello_sent = True
        self._queue({"op": Opcode.HELLO, "d": {"heartbeat_interval": INTERVAL_MS}})

    @precondition(
        lambda self: (
            self.live and not self.ready_sent and self._client_sent_on_conn(Opcode.IDENTIFY)
        )
    )
    @rule()
    def send_ready(self) -> None:
        self.ready_sent = True
        self.session_counter += 1
        self.server_seq = 1
        self._queue(
            {
                "op": 0,
                "t": "READY",
                "s": 1,
                "d": {"session_id": f"s{self.session_counter}", "resume_gateway_url": "wss://r"},
            }
        )

    @precondition(
        lambda self: (
            self.live and not self.resumed_sent and self._client_sent_on_conn(Opcode.RESUME)
        )
    )
    @rule(replay=st.integers(0, 3))
    def send_resumed(self, replay: int) -> None:
        self.resumed_sent = True
        for _ in range(replay):
            self.server_seq += 1
            self._queue({"op": 0, "t": "MESSAGE_CREATE", "s": self.server_seq, "d": {}})
        self.server_seq += 1
        self._queue({"op": 0, "t": "RESUMED", "s": self.server_seq, "d": {}})

    @precondition(lambda self: self.live and (self.ready_sent or self.resumed_sent))
    @rule(duplicate_back=st.integers(0, 3))
    def send_dispatch(self, duplicate_back: int) -> None:
        if duplicate_back and self.server_seq > duplicate_back:
            # A duplicate delivery of an older event: its s is below the latest.
            seq = self.server_seq - duplicate_back
        else:
            self.server_seq += 1
            seq = self.server_seq
        self._queue({"op": 0, "t": "MESSAGE_CREATE", "s": seq, "d": {"content": "x" * seq}})

    @precondition(lambda self: self.live)
    @rule(payload=st.sampled_from([
        {"op": Opcode.RECONNECT, "d": None},
        {"op": Opcode.INVALID_SESSION, "d": True},
        {"op": Opcode.INVALID_SESSION, "d": False},
        {"op": Opcode.HEARTBEAT, "d": None},
        {"op": Opcode.HEARTBEAT_ACK},
        {"op": 99, "d": {"new": "opcode"}},
    ]))  # fmt: skip
    def send_op(self, payload: dict[str, Any]) -> None:
        self._queue(payload)

    @precondition(lambda self: self.live and bool(self.pending))
    @rule(cut=st.integers(1, 400))
    def deliver_bytes(self, cut: int) -> None:
        chunk = bytes(self.pending[:cut])
        del self.pending[:cut]
        self.mirror.receive_data(chunk)
        payloads = []
        while (message := self.mirror.next_event()) is not NEED_DATA:
            assert isinstance(message, dict)
            payloads.append(message)
        # The client stops reading a frame once a payload in it ended the connection
        # (op 7 / op 9): model exactly the payloads it processed, then check its actions.
        states = [self._snapshot()]
        for payload in payloads:
            self._processed(payload)
            states.append(self._snapshot())
            if payload["op"] in (Opcode.RECONNECT, Opcode.INVALID_SESSION):
                break
        actions = self.h.feed(FrameReceived(data=chunk))
        acked = any(p["op"] == Opcode.HEARTBEAT_ACK for p in payloads[: len(states) - 1])
        beat = any(isinstance(a, SendPayload) and a.op == Opcode.HEARTBEAT for a in actions)
        self._check_actions(actions, states)
        if acked and self.h.open:
            self.awaiting_ack = None if beat else False

    # -- client-side rules -----------------------------------------------------------------------

    @rule(seconds=st.one_of(st.floats(0.0, 2.0), st.floats(0.0, 10.0), st.floats(0.0, 70.0)))
    def time_passes(self, seconds: float) -> None:
        self._track(lambda: self.h.advance(seconds))

    @precondition(lambda self: not self.fatal)
    @rule(n=st.sampled_from([1, 1, 2, 5, 40]))
    def app_sends(self, n: int) -> None:
        for i in range(n):
            self._track(
                lambda i=i: self.h.feed(SendRequested(op=Opcode.PRESENCE_UPDATE, d={"i": i}))
            )

    # -- invariants ------------------------------------------------------------------------------

    @invariant()
    def fatal_is_terminal(self) -> None:
        if self.fatal:
            assert self.h.session.state is GatewayState.FATAL
            assert not self.h.session.can_resume

    @invariant()
    def heartbeats_never_starve(self) -> None:
        if not self.live or self.hello_processed_at is None:
            return
        beats = [
            s.at for s in self.h.sent if s.connection == self.conn and s.op == Opcode.HEARTBEAT
        ]
        reference = max([self.hello_processed_at, *beats])
        armed = self.h.timers.get(TimerKind.HEARTBEAT)
        assert armed is not None, "no heartbeat armed on a live connection"
        assert armed <= reference + INTERVAL + 1e-9

    @invariant()
    def send_budget_respected(self) -> None:
        times = [s.at for s in self.h.sent if s.connection == self.conn]
        recent = [t for t in times if t > self.h.now - 60.0]
        assert len(recent) <= 120

    @invariant()
    def identifies_are_5_s_apart(self) -> None:
        times = [s.at for s in self.h.sent if s.op == Opcode.IDENTIFY]
        assert all(b - a >= 5.0 - 1e-9 for a, b in itertools.pairwise(times))


GatewayAgainstRandomServer.TestCase.settings = settings(
    stateful_step_count=60, deadline=None, parent=settings.get_profile(settings._current_profile)
)
TestGatewayAgainstRandomServer = GatewayAgainstRandomServer.TestCase
