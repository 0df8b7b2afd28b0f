"""Benchmark of the Discord clients against the local Discord server's realistic limits.

    uv run python -m tests.bench.discord_client [--sessions 100] [--seconds 20] [--quick]

1. **REST under streaming load.** The local server runs in its own process (faithful
   limits: 5 edits per 5 s per channel, 50 requests/s globally, one reaction call per
   0.25 s per channel). ``--sessions`` sessions, each in its own channel (a Discord thread
   per Claude session), ask for a new content of their message every 0.1 s through
   ``submit_edit`` and change a status reaction every 10 s through ``submit_reaction``, for
   ``--seconds`` seconds. Printed:

   * edits applied per second, and the ratio to the most the limits allow: the per-channel
     edit buckets summed, capped by the global budget left after the other globally
     limited requests actually made in the same window (target >= 0.8);
   * 429s received, counted by the client and by the server (target 0);
   * p50 / p99 delay from a requested content to it (or a newer one: edits coalesce) being
     visible, from the server's per-version ``visible_at_wall``; and for each session's
     last content;
   * CPU seconds used by the client process.

2. **Gateway decode throughput.** A recorded zlib-stream of MESSAGE_CREATE dispatches
   (real payloads from the local server) goes through ``GatewaySession`` (inflate, JSON,
   sequence, deliver) plus deduplication and model structuring; the baseline is bare
   ``zlib`` + ``json.loads`` of the same frames in the same run (target ratio >= 0.5).

This is a benchmark, not a test: nothing here asserts, and pytest does not collect it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
import zlib
from typing import Any

import httpx
import trio

from bridge.discord import open_rest_client, parse_message
from bridge.discord._dedup import DispatchDeduplicator
from bridge.discord_local import LocalDiscord, Realism
from protocol.discord.gateway import (
    ConnectionOpened,
    Deliver,
    FrameReceived,
    GatewaySession,
    StartRequested,
)
from protocol.discord.gateway_codes import DEFAULT_INTENTS

EDIT_ROUTE = "PATCH /channels/{channel_id}/messages/{message_id}"
EDIT_BUCKET = (5, 5.0)  # the local server's message-edit bucket (docs/discord-local.md)
GLOBAL_PER_SECOND = 50
STATUS = ["⏳", "🔧", "✍️", "✅"]


# ---------------------------------------------------------------------------------------------
# 1. REST
# ---------------------------------------------------------------------------------------------


class _SendLog(httpx.AsyncBaseTransport):
    """Notes the wall time and method of every request as it leaves."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.log: list[tuple[float, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append((time.time(), request.method))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _start_server() -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "discord-local", "--port", "0", "--realism", "faithful"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    urls = json.loads(proc.stdout.readline())
    return proc, urls


async def _rest_bench(sessions: int, seconds: float) -> dict[str, Any]:
    proc, urls = _start_server()
    try:
        async with httpx.AsyncClient(base_url=urls["control_url"]) as control:
            channels = [
                int((await control.post("/channels", json={"name": f"s{i}"})).json()["id"])
                for i in range(sessions)
            ]
            sent = _SendLog(httpx.AsyncHTTPTransport())
            async with open_rest_client(
                urls["rest_url"], urls["token"], transport=sent, random=random.Random(1)
            ) as rest:
                messages = []
                for c in channels:
                    messages.append(await rest.create_message(c, content="starting"))
                await rest.wait_idle()
                await trio.sleep(5.5)  # let the buckets the setup used refill
                stats_before = (await control.get("/stats")).json()
                requested: dict[int, list[tuple[float, int]]] = {m.id: [] for m in messages}
                cpu_start = time.process_time()
                wall_start = time.time()
                client_429_before = rest.stats.responses_429

                async def session(index: int) -> None:
                    msg = messages[index]
                    step = 0
                    status = 0
                    next_status = trio.current_time() + random.Random(index).uniform(0, 10)
                    deadline = trio.current_time() + seconds
                    while trio.current_time() < deadline:
                        step += 1
                        requested[msg.id].append((time.time(), step))
                        rest.submit_edit(msg.channel_id, msg.id, content=f"{index}:{step}")
                        if trio.current_time() >= next_status:
                            rest.submit_reaction(
                                msg.channel_id,
                                msg.id,
                                add=[STATUS[(status + 1) % len(STATUS)]],
                                remove=[STATUS[status]] if status else [],
                            )
                            status = (status + 1) % len(STATUS)
                            next_status += 10.0
                        await trio.sleep(0.1)

                async with trio.open_nursery() as nursery:
                    for i in range(sessions):
                        nursery.start_soon(session, i)
                wall_end = time.time()
                await rest.wait_idle()
                wall_idle = time.time()
                cpu = time.process_time() - cpu_start
                stats_after = (await control.get("/stats")).json()
                versions = {
                    m.id: (await control.get(f"/messages/{m.id}")).json()["versions"]
                    for m in messages
                }
                client_429 = rest.stats.responses_429 - client_429_before
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    window = wall_end - wall_start
    applied = 0
    delays: list[float] = []
    last_delays: list[float] = []
    for message_id, asks in requested.items():
        shown = [
            (v["visible_at_wall"], int(v["content"].split(":")[1]))
            for v in versions[message_id]
            if ":" in (v["content"] or "")
        ]
        applied += sum(1 for at, _ in shown if wall_start <= at <= wall_end)
        for asked_at, step in asks:
            # Visible once this step or a later one (coalesced over it) is shown.
            seen = [at for at, shown_step in shown if shown_step >= step]
            if seen:
                delays.append(min(seen) - asked_at)
        if asks:
            asked_at, step = asks[-1]
            seen = [at for at, shown_step in shown if shown_step >= step]
            if seen:
                last_delays.append(min(seen) - asked_at)

    def diff(key: str) -> int:
        return int(stats_after[key]) - int(stats_before[key])

    # Reactions queue behind edits (lower priority) and mostly go after the load stops:
    # count what the other globally limited requests really took from the budget in the
    # window, by send time.
    other = sum(1 for at, method in sent.log if wall_start <= at <= wall_end and method != "PATCH")
    other_per_second = other / window
    limit, per = EDIT_BUCKET
    max_allowed = min(sessions * limit / per, GLOBAL_PER_SECOND - other_per_second)
    rate = applied / window
    return {
        "sessions": sessions,
        "window": window,
        "drain": wall_idle - wall_end,
        "applied_per_second": rate,
        "max_per_second": max_allowed,
        "ratio": rate / max_allowed,
        "other_per_second": other_per_second,
        "client_429": client_429,
        "server_429": diff("responses_429"),
        "p50": statistics.median(delays),
        "p99": statistics.quantiles(delays, n=100)[98],
        "last_p50": statistics.median(last_delays),
        "last_p99": max(last_delays),
        "cpu": cpu,
    }


# ---------------------------------------------------------------------------------------------
# 2. Gateway decode
# ---------------------------------------------------------------------------------------------


def _recorded_stream(count: int) -> tuple[list[bytes], list[bytes]]:
    """(handshake frames, dispatch frames) of one zlib-stream connection."""

    async def make() -> list[dict[str, Any]]:
        server = LocalDiscord(realism=Realism.off(), rng=random.Random(3))
        captured: list[dict[str, Any]] = []
        server.world.subscribe(lambda d: captured.append(d.data))
        channel = server.world.default_channel.id
        owner = server.world.owner_id
        words = [
            "the",
            "quick",
            "brown",
            "fox",
            "jumps",
            "over",
            "the",
            "lazy",
            "dog",
            "while",
            "claude",
            "writes",
            "code",
        ]
        rng = random.Random(4)
        for i in range(count):
            text = " ".join(rng.choices(words, k=rng.randint(3, 60)))
            server.control.post_message(channel, owner, f"{i} {text}")
        return [d for d in captured if "content" in d]

    payloads = trio.run(make)
    deflate = zlib.compressobj()

    def frame(obj: dict[str, Any]) -> bytes:
        data = json.dumps(obj, separators=(",", ":")).encode()
        return deflate.compress(data) + deflate.flush(zlib.Z_SYNC_FLUSH)

    hello = frame({"op": 10, "d": {"heartbeat_interval": 41250}})
    ready = frame(
        {
            "op": 0,
            "t": "READY",
            "s": 1,
            "d": {
                "v": 10,
                "user": {"id": "1", "username": "bot", "discriminator": "0"},
                "session_id": "s",
                "resume_gateway_url": "wss://example.invalid",
                "application": {"id": "1", "flags": 0},
                "guilds": [],
            },
        }
    )
    frames = [
        frame({"op": 0, "t": "MESSAGE_CREATE", "s": i + 2, "d": d}) for i, d in enumerate(payloads)
    ]
    return [hello, ready], frames


def _decode_bench(count: int, runs: int) -> dict[str, Any]:
    handshake, frames = _recorded_stream(count)
    n = len(frames)

    def bare() -> float:
        start = time.perf_counter()
        inflater = zlib.decompressobj()
        for f in handshake + frames:
            json.loads(inflater.decompress(f))
        return time.perf_counter() - start

    def ours(structure: bool = True) -> float:
        session = GatewaySession(
            token="t", intents=DEFAULT_INTENTS, url="wss://x", rng=random.Random(0)
        )
        session.handle(StartRequested(), 0.0)
        session.handle(ConnectionOpened(), 0.0)
        for f in handshake:
            session.handle(FrameReceived(data=f), 0.0)
        dedup = DispatchDeduplicator()
        start = time.perf_counter()
        delivered = 0
        for f in frames:
            for action in session.handle(FrameReceived(data=f), 0.0):
                if isinstance(action, Deliver):
                    d = action.dispatch
                    if dedup.admit(d.name, d.data):
                        if structure:
                            parse_message(d.data)
                        delivered += 1
        elapsed = time.perf_counter() - start
        assert delivered == n, (delivered, n)
        return elapsed

    bare(), ours()  # warm up (cattrs compiles its structuring functions on first use)
    bare_times, our_times, machine_times = [], [], []
    for _ in range(runs):  # interleaved, best of each: other load on the machine hurts both
        bare_times.append(bare())
        our_times.append(ours())
        machine_times.append(ours(structure=False))
    bare_rate = n / min(bare_times)
    our_rate = n / min(our_times)
    return {
        "dispatches": n,
        "bare": bare_rate,
        "ours": our_rate,
        "ratio": our_rate / bare_rate,
        "machine": n / min(machine_times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--dispatches", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10 s of REST load, 1000 dispatches")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.dispatches, args.runs = 10.0, 1000, 3

    rest = trio.run(_rest_bench, args.sessions, args.seconds)
    print(f"REST: {rest['sessions']} sessions streaming edits for {rest['window']:.1f} s")
    print(
        f"  edits applied/s      {rest['applied_per_second']:7.1f}"
        f"  of {rest['max_per_second']:.1f} allowed (other globally limited requests"
        f" {rest['other_per_second']:.1f}/s)  ratio {rest['ratio']:.2f}  (target >= 0.8)"
    )
    print(
        f"  429s                 client {rest['client_429']}, server {rest['server_429']}"
        "  (target 0)"
    )
    print(
        f"  request -> visible   p50 {rest['p50']:.2f} s  p99 {rest['p99']:.2f} s;"
        f" last content p50 {rest['last_p50']:.2f} s  max {rest['last_p99']:.2f} s"
    )
    print(f"  queue drained in     {rest['drain']:.2f} s after the load stopped")
    print(f"  client CPU           {rest['cpu']:.2f} s for {rest['window']:.1f} s of load")

    decode = _decode_bench(args.dispatches, args.runs)
    print(f"Gateway decode: {decode['dispatches']} MESSAGE_CREATE dispatches (zlib-stream)")
    print(
        f"  ours {decode['ours']:9.0f}/s  bare zlib+json {decode['bare']:9.0f}/s"
        f"  ratio {decode['ratio']:.2f}  (target >= 0.5)"
    )
    per = 1e6 / decode["ours"]
    machine = 1e6 / decode["machine"]
    print(
        f"  per dispatch: {per:.1f} us = GatewaySession (inflate, JSON, seq) {machine:.1f} us"
        f" + structuring a Message {per - machine:.1f} us; bare {1e6 / decode['bare']:.1f} us"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
