"""GatewaySession, one checklist row at a time (shared/research/discord-protocol.md §1)."""

from __future__ import annotations

import random

import pytest

from protocol.discord.gateway import (
    HELLO_TIMEOUT,
    MAX_RESUME_ATTEMPTS,
    Close,
    ConnectFailed,
    ConnectionClosed,
    ConnectionOpened,
    Fatal,
    FrameReceived,
    GatewaySession,
    GatewayState,
    GatewayUsageError,
    Reconnect,
    ReconnectMode,
    SendPayload,
    SendRequested,
    ShutdownRequested,
    StartRequested,
    TimerFired,
    TimerKind,
)
from protocol.discord.gateway_codes import (
    RESUMABLE_CLOSE_CODE,
    SESSION_ENDING_CLOSE_CODES,
    CloseCode,
    Opcode,
)
from protocol.discord.pacing import heartbeat_reserve

from .gateway_harness import HEARTBEAT_MS, TOKEN, Harness

INTERVAL = HEARTBEAT_MS / 1000


def test_start_connects_to_the_gateway_url_with_the_v10_query() -> None:
    h = Harness.build()
    h.start()
    assert h.reconnects == [
        Reconnect(
            mode=ReconnectMode.IDENTIFY,
            url="wss://gateway.example/?v=10&encoding=json&compress=zlib-stream",
            delay=0.0,
        )
    ]
    assert h.session.state is GatewayState.CONNECTING


def test_identify_payload_and_first_heartbeat_is_jittered() -> None:
    h = Harness.build(seed=7, shard=(0, 1), large_threshold=250)
    h.start()
    h.connect()
    assert h.session.state is GatewayState.AWAITING_HELLO
    h.hello()
    identify = h.sent[-1]
    assert identify.op == Opcode.IDENTIFY
    assert identify.d == {
        "token": TOKEN,
        "intents": 34305,
        "properties": {"os": "linux", "browser": "ccbridge", "device": "ccbridge"},
        "compress": False,
        "shard": [0, 1],
        "large_threshold": 250,
    }
    # Row 3: the first beat is at interval * rng.random(), with the injected rng.
    expected = INTERVAL * random.Random(7).random()
    assert h.timers[TimerKind.HEARTBEAT] == pytest.approx(expected)
    assert 0 <= h.timers[TimerKind.HEARTBEAT] < INTERVAL


def test_token_is_not_in_reprs_or_snapshot() -> None:
    h = Harness.build()
    h.connect_and_ready()
    identify = next(a for _, _, acts in h.log for a in acts if isinstance(a, SendPayload))
    assert TOKEN not in repr(identify)
    assert TOKEN in identify.text
    assert TOKEN not in repr(h.session.snapshot())
    assert TOKEN not in repr(h.session)


def test_ready_stores_session_and_resume_url_with_query() -> None:
    h = Harness.build()
    h.connect_and_ready()
    snap = h.session.snapshot()
    assert snap.state is GatewayState.CONNECTED
    assert snap.session_id == "sess-1"
    assert snap.resume_url == "wss://resume.example/?v=10&encoding=json&compress=zlib-stream"
    assert snap.seq == 1
    assert [d.dispatch.name for d in h.delivered] == ["READY"]


def test_heartbeats_carry_the_sequence_and_need_acks() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.dispatch("MESSAGE_CREATE", 2)
    h.advance(h.timers[TimerKind.HEARTBEAT] - h.now)  # the jittered first beat
    beats = [s for s in h.sent if s.op == Opcode.HEARTBEAT]
    assert [b.d for b in beats] == [2]
    assert h.session.snapshot().awaiting_ack
    h.advance(1.0)
    h.ack()
    assert not h.session.snapshot().awaiting_ack
    assert h.session.snapshot().latency == pytest.approx(1.0)
    h.advance(INTERVAL)
    assert [s.d for s in h.sent if s.op == Opcode.HEARTBEAT] == [2, 2]


def test_missing_ack_is_a_zombie_closed_with_a_resumable_code_then_resumed() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.dispatch("MESSAGE_CREATE", 5)
    h.advance(INTERVAL)  # first beat, never ACKed
    h.advance(INTERVAL)  # next beat due: zombie
    assert h.closes == [
        Close(code=RESUMABLE_CLOSE_CODE, reason="no heartbeat ACK (zombie connection)")
    ]
    assert h.closes[0].code not in SESSION_ENDING_CLOSE_CODES
    assert h.reconnects[-1].mode is ReconnectMode.RESUME
    assert h.reconnects[-1].url.startswith("wss://resume.example/?v=10")
    h.connect()
    h.hello()
    assert h.sent[-1].op == Opcode.RESUME
    assert h.sent[-1].d == {"token": TOKEN, "session_id": "sess-1", "seq": 5}
    assert h.session.state is GatewayState.RESUMING
    h.dispatch("MESSAGE_CREATE", 6)
    assert h.delivered[-1].dispatch.replayed
    h.dispatch("RESUMED", 7)
    assert h.session.state is GatewayState.CONNECTED
    assert not h.delivered[-1].dispatch.replayed
    assert h.sent_ops().count(Opcode.IDENTIFY) == 1


def test_server_heartbeat_request_is_answered_immediately() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.dispatch("X", 3)
    actions = h.server_send({"op": Opcode.HEARTBEAT, "d": None})
    assert [a.payload for a in actions if isinstance(a, SendPayload)] == [{"op": 1, "d": 3}]


@pytest.mark.parametrize("before_hello", [True, False])
def test_op7_reconnect_at_any_time(before_hello: bool) -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.server_close(None)  # dropped: resume
    h.connect()
    if not before_hello:
        h.hello()
    h.server_send({"op": Opcode.RECONNECT, "d": None})
    assert h.closes[-1].code == RESUMABLE_CLOSE_CODE
    assert h.reconnects[-1].mode is ReconnectMode.RESUME
    assert h.sent_ops().count(Opcode.IDENTIFY) == 1


def test_op7_before_hello_without_session_identifies_later() -> None:
    h = Harness.build()
    h.start()
    h.connect()
    h.server_send({"op": Opcode.RECONNECT, "d": None})
    assert h.reconnects[-1].mode is ReconnectMode.IDENTIFY
    assert not h.sent


def test_invalid_session_true_resumes() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.server_send({"op": Opcode.INVALID_SESSION, "d": True})
    assert h.reconnects[-1].mode is ReconnectMode.RESUME
    assert h.session.can_resume


def test_invalid_session_false_waits_1_to_5_s_and_identifies_anew() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.advance(10)
    h.server_send({"op": Opcode.INVALID_SESSION, "d": False})
    last = h.reconnects[-1]
    assert last.mode is ReconnectMode.IDENTIFY
    assert last.url.startswith("wss://gateway.example/")
    assert 1.0 <= last.delay <= 5.0
    assert not h.session.can_resume
    assert h.session.snapshot().seq is None
    h.connect()
    h.hello()
    assert h.sent[-1].op == Opcode.IDENTIFY


def test_identify_is_never_within_5_s() -> None:
    h = Harness.build()
    h.connect_and_ready()
    first = h.sent[0].at
    h.server_send({"op": Opcode.INVALID_SESSION, "d": False})
    assert h.reconnects[-1].delay >= 5.0 - (h.now - first)
    # A driver that connects too early anyway: the IDENTIFY waits for its timer.
    h.connect_at = h.now
    h.connect()
    h.hello()
    assert h.sent_ops(h.connection) == []
    assert h.timers[TimerKind.IDENTIFY] == pytest.approx(first + 5.0)
    h.advance(5.0)
    identifies = [s for s in h.sent if s.op == Opcode.IDENTIFY]
    assert len(identifies) == 2
    assert identifies[1].at - identifies[0].at >= 5.0


@pytest.mark.parametrize(
    "code",
    [
        CloseCode.AUTHENTICATION_FAILED,
        CloseCode.INVALID_SHARD,
        CloseCode.SHARDING_REQUIRED,
        CloseCode.INVALID_API_VERSION,
        CloseCode.INVALID_INTENTS,
        CloseCode.DISALLOWED_INTENTS,
    ],
)
def test_fatal_close_codes_stop_with_a_message(code: int) -> None:
    h = Harness.build()
    h.connect_and_ready()
    actions = h.server_close(code)
    assert len(actions) == 1
    assert isinstance(actions[0], Fatal)
    assert actions[0].error.code == code
    assert str(code) in str(actions[0].error)
    assert h.session.state is GatewayState.FATAL
    assert not h.session.can_resume
    h.advance(600)
    assert h.session.handle(TimerFired(kind=TimerKind.HEARTBEAT), h.now) == []


def test_4014_says_to_enable_the_message_content_intent() -> None:
    h = Harness.build()
    h.start()
    h.connect()
    h.hello()
    (fatal,) = h.server_close(4014)
    assert isinstance(fatal, Fatal)
    assert "enable the Message Content intent" in str(fatal.error)
    assert "Developer Portal" in str(fatal.error)


@pytest.mark.parametrize("code", [CloseCode.INVALID_SEQ, CloseCode.SESSION_TIMED_OUT])
def test_4007_and_4009_identify_anew(code: int) -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.server_close(code)
    assert h.reconnects[-1].mode is ReconnectMode.IDENTIFY
    assert not h.session.can_resume


@pytest.mark.parametrize("code", [None, 1000, 1001, 1006, 4000, 4001, 4002, 4003, 4005, 4008, 4999])
def test_other_closes_resume(code: int | None) -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.server_close(code)
    assert h.reconnects[-1].mode is ReconnectMode.RESUME
    h.connect()
    h.hello()
    assert h.sent[-1].op == Opcode.RESUME


def test_resume_gives_up_after_repeated_failures() -> None:
    h = Harness.build()
    h.connect_and_ready()
    for _ in range(MAX_RESUME_ATTEMPTS):
        h.server_close(None)
        assert h.reconnects[-1].mode is ReconnectMode.RESUME
        h.connect()
        h.hello()
        assert h.sent[-1].op == Opcode.RESUME
    h.server_close(1006)
    assert h.reconnects[-1].mode is ReconnectMode.IDENTIFY


def test_failed_reconnects_back_off_with_jitter() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.server_close(None)
    delays = [h.reconnects[-1].delay]
    for _ in range(6):
        h.feed(ConnectFailed(reason="refused"))
        delays.append(h.reconnects[-1].delay)
    assert delays[0] == 0.0  # the first resume after a healthy connection goes at once
    assert all(later > 0 for later in delays[1:])
    assert delays[-1] > delays[1]
    assert max(delays) <= 60.0


def test_sequence_never_goes_backwards() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.dispatch("A", 10)
    h.dispatch("B", 4)  # a duplicate, late delivery
    h.server_send({"op": 0, "t": "C", "s": None, "d": {}})
    assert h.session.snapshot().seq == 10


def test_zlib_messages_split_across_frames_and_frames_holding_several() -> None:
    h = Harness.build()
    h.start()
    h.connect()
    assert h.wire is not None
    blob = h.wire.encode({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}})
    blob += h.wire.encode(
        {"op": 0, "t": "READY", "s": 1, "d": {"session_id": "s", "resume_gateway_url": "wss://r"}}
    )
    for i in range(0, len(blob), 7):
        h.feed(FrameReceived(data=blob[i : i + 7]))
    assert h.session.state is GatewayState.CONNECTED
    assert h.sent_ops() == [Opcode.IDENTIFY]


def test_each_connection_gets_a_new_inflater() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.server_close(None)
    h.connect()  # a new ServerWire: a new zlib stream
    h.hello()
    assert h.sent[-1].op == Opcode.RESUME


def test_text_frames_without_compression() -> None:
    h = Harness.build(compress=False)
    h.start()
    assert "compress" not in h.reconnects[-1].url
    h.connect()
    h.feed(FrameReceived(data='{"op":10,"d":{"heartbeat_interval":41250}}'))
    assert h.sent_ops() == [Opcode.IDENTIFY]


def test_corrupt_data_reconnects() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.feed(FrameReceived(data=b"garbage that is not zlib\x00\x00\xff\xff"))
    assert h.closes[-1].code == RESUMABLE_CLOSE_CODE
    assert h.reconnects[-1].mode is ReconnectMode.RESUME


def test_hello_timeout() -> None:
    h = Harness.build()
    h.start()
    h.connect()
    h.advance(HELLO_TIMEOUT)
    assert h.closes[-1].code == RESUMABLE_CLOSE_CODE
    assert h.session.state is GatewayState.CONNECTING


def test_send_budget_keeps_heartbeats_first() -> None:
    h = Harness.build()
    h.connect_and_ready()
    for i in range(200):
        h.feed(SendRequested(op=Opcode.PRESENCE_UPDATE, d={"n": i}))
    in_first_minute = [s for s in h.sent if s.op == Opcode.PRESENCE_UPDATE]
    reserve = heartbeat_reserve(INTERVAL)
    assert len(in_first_minute) == 120 - reserve - 1  # IDENTIFY used one slot
    assert h.session.snapshot().queued_sends == 200 - len(in_first_minute)
    # Heartbeats still go out on schedule while the queue is saturated.
    for _ in range(3):
        h.advance(INTERVAL)
        h.ack()
    assert [s.op for s in h.sent].count(Opcode.HEARTBEAT) == 3
    h.advance(300)
    assert [s.d["n"] for s in h.sent if s.op == Opcode.PRESENCE_UPDATE] == list(range(200))
    # Never more than 120 sends in any 60 s window.
    times = [s.at for s in h.sent]
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u < t + 60.0) <= 120


def test_oversized_send_is_refused() -> None:
    h = Harness.build()
    h.connect_and_ready()
    with pytest.raises(GatewayUsageError, match="sent by the session itself"):
        h.feed(SendRequested(op=Opcode.IDENTIFY, d={}))
    with pytest.raises(GatewayUsageError, match="4096"):
        h.feed(SendRequested(op=3, d={"x": "y" * 5000}))


def test_shutdown_closes_with_1000_and_ends() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.feed(ShutdownRequested())
    assert h.closes[-1].code == CloseCode.NORMAL
    assert h.session.state is GatewayState.CLOSED
    assert h.session.handle(ConnectionClosed(code=1000), h.now) == []


def test_illegal_inputs_name_the_state() -> None:
    session = GatewaySession(token="t", intents=1, url="wss://g", rng=random.Random(0))
    with pytest.raises(
        GatewayUsageError, match="ConnectionOpened is not valid in gateway state IDLE"
    ):
        session.handle(ConnectionOpened(), 0.0)
    session.handle(StartRequested(), 0.0)
    with pytest.raises(GatewayUsageError, match="CONNECTING"):
        session.handle(StartRequested(), 0.0)


def test_stale_and_early_timers_are_ignored() -> None:
    h = Harness.build()
    h.connect_and_ready()
    due = h.timers[TimerKind.HEARTBEAT]
    assert h.session.handle(TimerFired(kind=TimerKind.HEARTBEAT), due - 0.5) == []
    assert h.session.handle(TimerFired(kind=TimerKind.IDENTIFY), h.now) == []


def test_frames_from_a_closed_connection_are_ignored() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.server_send({"op": Opcode.RECONNECT})
    assert h.session.handle(FrameReceived(data=b"\x00"), h.now) == []
    assert h.session.handle(ConnectionClosed(code=4000), h.now) == []
