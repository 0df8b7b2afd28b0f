"""Benchmark of the ``actors`` runtime against raw trio baselines, in one run.

    uv run python -m tests.bench.actors [--runs N] [--quick]

Prints, for each figure, the median of ``--runs`` runs and the ratio to its raw baseline
measured in the same process on the same machine:

1. tell throughput through an actor vs a raw trio memory channel with ``send_nowait`` and
   batch ``receive_nowait`` (target: >= 0.5x);
2. ask round trips per second vs a raw request/reply through a ``trio.Event`` slot
   (target: >= 0.6x);
3. spawn + stop of 10,000 actors vs ``await nursery.start`` of 10,000 bare tasks;
4. memory per idle actor (tracemalloc) vs an idle task with its own channel
   (target: <= 10 KB).

This is a benchmark, not a test: nothing here asserts, and it is not collected by pytest.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import attrs
import trio
import trio.testing

import actors

N_MSG = 200_000
N_ASK = 50_000
N_ACTORS = 10_000
CHANNEL_BUFFER = 1000  # as in the research baseline (research/actors.md §3)


@attrs.frozen
class Inc(actors.Ask[int]):
    n: int


# -- 1. tell throughput --------------------------------------------------------------------


async def raw_tell() -> float:
    send, receive = trio.open_memory_channel[int](CHANNEL_BUFFER)

    async def producer() -> None:
        with send:
            for i in range(N_MSG):
                try:
                    send.send_nowait(i)
                except trio.WouldBlock:
                    await send.send(i)

    async def consumer() -> None:
        with receive:
            while True:
                try:
                    try:
                        receive.receive_nowait()
                        continue
                    except trio.WouldBlock:
                        pass
                    await receive.receive()
                except trio.EndOfChannel:
                    return

    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        nursery.start_soon(producer)
    return N_MSG / (time.perf_counter() - t0)


async def actor_tell() -> float:
    done = trio.Event()

    async def sink(ctx: actors.Context[int]) -> None:
        count = 0
        async for _ in ctx.mailbox:
            count += 1
            if count == N_MSG:
                done.set()

    mailbox = actors.Mailbox(CHANNEL_BUFFER, actors.Overflow.BLOCK_SENDER)
    async with actors.open_system() as system:
        ref = await system.spawn(sink, mailbox=mailbox)
        t0 = time.perf_counter()
        for i in range(N_MSG):
            try:
                ref.tell(i)
            except actors.MailboxFull:
                await ref.send(i)
        await done.wait()
        return N_MSG / (time.perf_counter() - t0)


# -- 2. ask round trips --------------------------------------------------------------------


async def raw_ask() -> float:
    send, receive = trio.open_memory_channel[Any](100)

    async def server() -> None:
        async for n, slot in receive:
            slot[1] = n + 1
            slot[0].set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        t0 = time.perf_counter()
        for i in range(N_ASK):
            slot: list[Any] = [trio.Event(), None]
            await send.send((i, slot))
            await slot[0].wait()
        elapsed = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return N_ASK / elapsed


async def actor_ask() -> float:
    async def server(ctx: actors.Context[Inc]) -> None:
        async for msg in ctx.mailbox:
            msg.reply(msg.n + 1)

    async with actors.open_system() as system:
        ref = await system.spawn(server)
        t0 = time.perf_counter()
        for i in range(N_ASK):
            await ref.ask(Inc(i), timeout=5)
        return N_ASK / (time.perf_counter() - t0)


# -- 3. spawn and stop ---------------------------------------------------------------------


async def raw_spawn_stop() -> float:
    """µs per task: start with a handshake, then cancel each."""

    async def child(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            task_status.started(scope)
            await trio.sleep_forever()

    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        scopes = [await nursery.start(child) for _ in range(N_ACTORS)]
        for scope in reversed(scopes):
            scope.cancel()
    return (time.perf_counter() - t0) / N_ACTORS * 1e6


async def idle(ctx: actors.Context[Any]) -> None:
    async for _ in ctx.mailbox:
        pass


async def actor_spawn_stop() -> float:
    """µs per actor: spawn 10,000 (each waits for started), then stop each."""
    async with actors.open_system() as system:
        t0 = time.perf_counter()
        refs = [await system.spawn(idle) for _ in range(N_ACTORS)]
        for ref in reversed(refs):
            await ref.stop()
        return (time.perf_counter() - t0) / N_ACTORS * 1e6


# -- 4. memory per idle actor --------------------------------------------------------------


async def _bytes_per(start: Callable[[trio.Nursery], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    async with trio.open_nursery() as nursery:
        keep = [await start(nursery) for _ in range(N_ACTORS)]
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        nursery.cancel_scope.cancel()
    del keep
    return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / N_ACTORS


async def raw_idle_memory() -> float:
    async def receiver(receive: trio.MemoryReceiveChannel[Any]) -> None:
        async for _ in receive:
            pass

    async def start(nursery: trio.Nursery) -> Any:
        send, receive = trio.open_memory_channel[Any](16)
        nursery.start_soon(receiver, receive)
        return send

    return await _bytes_per(start)


async def actor_idle_memory() -> float:
    result = 0.0
    async with actors.open_system() as system:

        async def start(_: trio.Nursery) -> Any:
            return await system.spawn(idle)

        result = await _bytes_per(start)
    return result


# -- report --------------------------------------------------------------------------------


def paired(runs: int, ours: Callable[[], Any], raw: Callable[[], Any]) -> tuple[float, ...]:
    """Run baseline and ours back to back ``runs`` times (the machine is shared and noisy,
    so a ratio is only fair between neighbouring runs); return the medians of ours, of
    the baseline, and of the per-pair ratios."""
    mine, base, ratios = [], [], []
    for _ in range(runs):
        b = trio.run(raw)
        m = trio.run(ours)
        base.append(b)
        mine.append(m)
        ratios.append(m / b)
    return statistics.median(mine), statistics.median(base), statistics.median(ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="actors runtime vs raw trio baselines")
    parser.add_argument("--runs", type=int, default=5, help="paired runs per figure (median)")
    args = parser.parse_args(argv)
    runs = args.runs
    print(
        f"actors benchmark: trio {trio.__version__}, python {sys.version.split()[0]}, "
        f"median of {runs} paired runs"
    )
    rows = [
        ("tell   msg/s  (vs raw batch-drain channel)", actor_tell, raw_tell, "higher", 0.5),
        ("ask    asks/s (vs raw Event round trip)", actor_ask, raw_ask, "higher", 0.6),
        (
            "spawn+stop µs/actor (vs nursery.start+cancel)",
            actor_spawn_stop,
            raw_spawn_stop,
            "lower",
            None,
        ),
        (
            "idle   bytes/actor (vs task + channel(16))",
            actor_idle_memory,
            raw_idle_memory,
            "lower",
            None,
        ),
    ]
    for label, ours, raw, better, target in rows:
        mine, base, ratio = paired(runs, ours, raw)
        verdict = ""
        if target is not None:
            verdict = f"  target >= {target}x: {'met' if ratio >= target else 'MISSED'}"
        print(
            f"{label:46s} actor {mine:>12,.1f}   raw {base:>12,.1f}   "
            f"ratio {ratio:5.2f}x ({better} is better){verdict}"
        )
        if label.startswith("idle"):
            verdict = "met" if mine <= 10_240 else "MISSED"
            print(f"{'':46s} target <= 10 KB per idle actor: {verdict}")
        if label.startswith("spawn"):
            print(f"{'':46s} = {mine * N_ACTORS / 1e6:.2f} s for {N_ACTORS:,} actors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
