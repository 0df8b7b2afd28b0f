"""GatewaySession: session_start_limit (a reserve is never spent) and backoff resets after
READY / RESUMED. These were decisions of the driver; now the machine makes them."""

from __future__ import annotations

import pytest

from protocol.discord.gateway import (
    ConnectFailed,
    Deliver,
    Dispatch,
    GatewayState,
    PayloadNotSent,
    ReconnectMode,
    SessionStartLimitReceived,
    TimerKind,
)
from protocol.discord.gateway_codes import Opcode
from protocol.discord.models import SessionStartLimit

from .gateway_harness import Harness

DAY_MS = 86_400_000


def _limit(remaining: int, total: int = 1000, reset_after: int = DAY_MS) -> SessionStartLimit:
    return SessionStartLimit(
        total=total, remaining=remaining, reset_after=reset_after, max_concurrency=1
    )


def _identify_again(h: Harness) -> None:
    """op 9 d=false: the session is gone; wait out the delay, connect, HELLO, READY."""
    h.server_send({"op": Opcode.INVALID_SESSION, "d": False})
    assert h.reconnects[-1].mode is ReconnectMode.IDENTIFY
    h.connect()
    h.hello()
    assert h.sent[-1].op == Opcode.IDENTIFY
    h.ready()


def test_identifies_are_counted_and_the_reserve_is_never_spent() -> None:
    h = Harness.build(session_start_limit=_limit(12, total=12), session_start_reserve=10)
    h.connect_and_ready()
    assert h.session.snapshot().session_starts_remaining == 11
    _identify_again(h)
    assert h.session.snapshot().session_starts_remaining == 10
    reconnects = len(h.reconnects)
    h.server_send({"op": Opcode.INVALID_SESSION, "d": False})
    assert len(h.reconnects) == reconnects  # no third IDENTIFY, not even a connection
    assert h.session.state is GatewayState.FATAL
    [fatal] = h.fatal
    assert fatal.error.code is None
    assert "10 of its 12 daily gateway session starts" in str(fatal.error)
    assert "24.0 h" in str(fatal.error)
    assert h.sent_ops().count(Opcode.IDENTIFY) == 2


def test_a_bot_already_at_its_reserve_does_not_connect() -> None:
    h = Harness.build(session_start_limit=_limit(10), session_start_reserve=10)
    h.start()
    assert h.reconnects == []
    assert h.session.state is GatewayState.FATAL
    assert "10 of its 1000" in str(h.fatal[0].error)


# -- the double-counted session start (tests/e2e test_refuses_to_burn_the_last_session_starts)


def test_an_identify_that_never_left_does_not_spend_a_start() -> None:
    # The socket died between HELLO and our IDENTIFY: the driver could not write it. Had
    # the machine kept the start it counted, the bot would stop on the first op 9 at "10 of
    # its 12 left" after one IDENTIFY reached the server.
    h = Harness.build(session_start_limit=_limit(12, total=12), session_start_reserve=10)
    h.start()
    h.connect()
    h.hello()
    assert h.sent[-1].op == Opcode.IDENTIFY
    assert h.session.snapshot().session_starts_remaining == 11
    h.sent.pop()  # it never left: the server did not see it
    h.feed(PayloadNotSent(op=Opcode.IDENTIFY))
    assert h.session.snapshot().session_starts_remaining == 12
    assert h.session.snapshot().identifies == 0
    h.server_close(None)  # the connection task reports the dead socket
    h.connect()
    h.hello()
    h.ready()
    assert h.session.snapshot().session_starts_remaining == 11
    _identify_again(h)  # the first op 9 is survived
    assert h.fatal == []
    h.server_send({"op": Opcode.INVALID_SESSION, "d": False})
    assert "10 of its 12 daily gateway session starts" in str(h.fatal[0].error)
    assert h.sent_ops().count(Opcode.IDENTIFY) == 2


def test_only_an_unanswered_identify_is_given_back() -> None:
    h = Harness.build(session_start_limit=_limit(12, total=12), session_start_reserve=10)
    h.connect_and_ready()
    h.feed(PayloadNotSent(op=Opcode.IDENTIFY))  # READY answered it: it did leave
    h.feed(PayloadNotSent(op=Opcode.HEARTBEAT))
    assert h.session.snapshot().session_starts_remaining == 11


def test_identify_spacing_counts_from_the_answer() -> None:
    # Discord counts an IDENTIFY when it processes it. The first was answered 2 s after we
    # sent it; spacing by send times alone would send the next at t=5, which a quick server
    # processes 3 s after the first: op 9 (not a start) while we counted one.
    h = Harness.build(session_start_limit=_limit(12, total=12), session_start_reserve=10)
    h.start()
    h.connect()
    h.hello()
    first = h.sent[-1]
    assert first.op == Opcode.IDENTIFY
    h.advance(2.0)
    h.ready()
    h.server_send({"op": Opcode.INVALID_SESSION, "d": False})
    h.connect()
    h.hello()
    h.advance(max(0.0, h.timers.get(TimerKind.IDENTIFY, h.now) - h.now))
    second = h.sent[-1]
    assert second.op == Opcode.IDENTIFY
    assert second.at - first.at >= 7.0  # 5 s after the READY at t=2


def test_resumes_do_not_spend_session_starts() -> None:
    h = Harness.build(session_start_limit=_limit(11), session_start_reserve=10)
    h.connect_and_ready()
    for _ in range(3):  # op 7, then a dropped connection: both resume
        h.server_send({"op": Opcode.RECONNECT, "d": None})
        h.connect()
        h.hello()
        assert h.sent[-1].op == Opcode.RESUME
        h.dispatch("RESUMED", 2)
        h.server_close(None)
        h.connect()
        h.hello()
        h.dispatch("RESUMED", 2)
    assert h.session.snapshot().session_starts_remaining == 10
    assert h.fatal == []


def test_the_count_refills_when_the_limit_resets() -> None:
    h = Harness.build(session_start_limit=_limit(11, reset_after=60_000), session_start_reserve=10)
    h.connect_and_ready()  # the window is counted from the first event, at t=0
    h.advance(61)
    _identify_again(h)  # 10 left before the reset; the reset refilled them
    assert h.fatal == []
    assert h.session.snapshot().session_starts_remaining == 999


def test_a_fresh_limit_replaces_the_count() -> None:
    h = Harness.build(session_start_limit=_limit(500), session_start_reserve=10)
    h.connect_and_ready()
    h.feed(SessionStartLimitReceived(limit=_limit(3)))
    snapshot = h.session.snapshot()
    assert snapshot.session_starts_remaining == 3
    assert snapshot.max_concurrency == 1
    h.server_send({"op": Opcode.INVALID_SESSION, "d": False})
    assert "3 of its 1000" in str(h.fatal[0].error)


def test_without_a_limit_nothing_is_counted() -> None:
    h = Harness.build()
    h.connect_and_ready()
    for _ in range(3):
        h.advance(6)
        _identify_again(h)
    assert h.fatal == []
    assert h.session.snapshot().session_starts_remaining is None


# -- backoff ------------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["ready", "resumed"])
def test_op7_after_a_working_connection_never_escalates_the_backoff(event: str) -> None:
    h = Harness.build()
    h.connect_and_ready()
    for _ in range(5):
        h.server_send({"op": Opcode.RECONNECT, "d": None})
        assert h.reconnects[-1].delay == 0.0
        h.connect()
        h.hello()
        if event == "resumed":
            h.dispatch("RESUMED", 2)
        else:  # the server lost the session: op 9 false, identify, READY
            h.server_send({"op": Opcode.INVALID_SESSION, "d": False})
            h.connect()
            h.hello()
            h.ready()
    assert h.session.state is GatewayState.CONNECTED


def test_failures_escalate_and_a_successful_resume_resets_the_backoff() -> None:
    h = Harness.build()
    h.connect_and_ready()
    h.server_close(None)
    for _ in range(4):
        h.feed(ConnectFailed(reason="refused"))
    escalated = h.reconnects[-1].delay
    assert escalated > 1.0
    h.connect()
    h.hello()
    h.dispatch("RESUMED", 2)
    h.server_close(None)
    assert h.reconnects[-1].delay == 0.0  # the first reconnect after RESUMED goes at once
    h.feed(ConnectFailed(reason="refused"))
    assert 0.0 < h.reconnects[-1].delay < escalated  # and growth starts again from the bottom


def test_delivered_dispatches_equal_ones_built_the_ordinary_way() -> None:
    # The session builds Deliver/Dispatch through their slots on the hot path.
    h = Harness.build()
    h.connect_and_ready()
    [action] = h.dispatch("MESSAGE_CREATE", 7, {"id": "1"})
    expected = Deliver(
        dispatch=Dispatch(name="MESSAGE_CREATE", seq=7, data={"id": "1"}, replayed=False)
    )
    assert action == expected
    assert repr(action) == repr(expected)
