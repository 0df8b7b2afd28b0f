"""The hand-over of Claude messages to their owner under random read speeds (hypothesis;
only our code and the actors runtime run).

The stdout pump hands each message straight to the owner's mailbox (``try_send``) and
falls back to a bounded buffer and the forwarder task (``send``) only when the mailbox is
full; the watchdog's reports go the same way. Whatever the interleaving of pump bursts,
reports and owner reads:

* nothing is lost and each sender's messages arrive in the order it handed them over;
* backpressure holds: while the owner reads nothing, at most mailbox + buffer + the one
  the forwarder holds are accepted, and a pump with more to hand over waits (exactly at
  that bound);
* once the owner reads everything, every message has arrived.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import actors
from bridge.claude.process import _Handover

Step = tuple[str, int]

steps_st = st.lists(
    st.one_of(
        st.tuples(st.just("pump"), st.integers(1, 12)),
        st.tuples(st.just("report"), st.just(1)),
        st.tuples(st.just("read"), st.integers(0, 12)),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(capacity=st.integers(1, 4), buffer_size=st.integers(1, 4), steps=steps_st)
def test_handover_keeps_order_loses_nothing_and_holds_backpressure(
    capacity: int, buffer_size: int, steps: list[Step]
) -> None:
    trio.run(_run, capacity, buffer_size, steps)


async def _run(capacity: int, buffer_size: int, steps: list[Step]) -> None:
    received: list[tuple[str, int]] = []
    credits = trio.Semaphore(0, max_value=1_000_000)
    # Nothing but the lots-of-credit read at the end lets the owner read.

    async def owner(ctx: actors.Context[Any]) -> None:
        ctx.started()
        while True:
            await credits.acquire()
            received.append(await ctx.mailbox.receive())

    async with actors.open_system() as system:
        ref = await system.spawn(
            owner, mailbox=actors.Mailbox(capacity, actors.Overflow.BLOCK_SENDER)
        )
        send, receive = trio.open_memory_channel[Any](buffer_size)
        handover = _Handover(ref.try_send, send)
        handed: dict[str, list[int]] = {"pump": [], "report": []}
        pump_in, pump_out = trio.open_memory_channel[int](1000)
        next_id = {"pump": 0, "report": 0}
        in_flight_reports = 0

        async def pump() -> None:
            async for i in pump_out:
                message: Any = ("pump", i)  # the hand-over passes any message on
                if not handover.put_nowait(message):
                    await handover.put(message)
                handed["pump"].append(i)

        async def report(i: int) -> None:
            nonlocal in_flight_reports
            report_message: Any = ("report", i)
            await handover.put(report_message)
            handed["report"].append(i)
            in_flight_reports -= 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump)
            nursery.start_soon(handover.forward, receive, ref.send)
            await trio.testing.wait_all_tasks_blocked()
            for kind, n in steps:
                if kind == "pump":
                    for _ in range(n):
                        pump_in.send_nowait(next_id["pump"])
                        next_id["pump"] += 1
                elif kind == "report":
                    in_flight_reports += 1
                    nursery.start_soon(report, next_id["report"])
                    next_id["report"] += 1
                else:
                    for _ in range(n):
                        credits.release()
                await trio.testing.wait_all_tasks_blocked()
                _check(received, handed, capacity, buffer_size, credits.value)
                pump_waits = len(handed["pump"]) < next_id["pump"]
                if (pump_waits or in_flight_reports) and credits.value == 0:
                    # Backpressure: a sender waits only when everything is full.
                    accepted = len(handed["pump"]) + len(handed["report"])
                    assert accepted - len(received) == capacity + buffer_size + 1
            for _ in range(1_000):
                credits.release()
            await trio.testing.wait_all_tasks_blocked()
            _check(received, handed, capacity, buffer_size, credits.value)
            assert [i for k, i in received if k == "pump"] == list(range(next_id["pump"]))
            assert sorted(i for k, i in received if k == "report") == list(range(next_id["report"]))
            assert handover.waiting == 0
            nursery.cancel_scope.cancel()


def _check(
    received: list[tuple[str, int]],
    handed: dict[str, list[int]],
    capacity: int,
    buffer_size: int,
    spare_credits: int,
) -> None:
    for kind in ("pump", "report"):
        got = [i for k, i in received if k == kind]
        assert len(got) == len(set(got)), f"{kind}: delivered twice"
        if kind == "pump":
            # One sender: what arrived is what it handed over, in order (a prefix, plus
            # possibly the one it is handing over right now).
            assert got == list(range(len(got))), f"pump order broken: {got}"
    accepted = len(handed["pump"]) + len(handed["report"])
    if spare_credits == 0:
        assert accepted - len(received) <= capacity + buffer_size + 1, "backpressure broke"
