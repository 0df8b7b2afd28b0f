"""A randomized fault run against the local Discord server, over real sockets.

An echo bot (our gateway actor + REST client) answers every human message while the server
drops the connection mid-stream, sends op 7 and op 9 (true and false), stops ACKing
heartbeats, asks for heartbeats, and REST answers with 429 storms on a route, global 429s,
5xx bursts and slow responses, and the network loses some responses after the server acted.

Invariants at the end:

* every MESSAGE_CREATE the server sent to our session (including replays after RESUME) was
  delivered to the subscriber exactly once, and nothing else was;
* every echo the bot meant to send exists exactly once.
"""

from __future__ import annotations

import math
import os
import random
from collections import Counter
from typing import Any

import httpx
import trio

from bridge.discord_local import Dispatch
from tests.bridge.discord.live import TIMEOUT, Live, fast_realism, open_live

FAULTS = int(os.environ.get("DISCORD_FAULTS", "60"))
SEED = int(os.environ.get("DISCORD_FAULT_SEED", "20261123"))
CREATE = "POST /channels/{channel_id}/messages"
RECONNECTING = frozenset({"drop", "op7", "op9-true", "op9-false", "zombie"})
RECOVER = 180.0
"""Seconds (mock clock) to reconnect: the session machine backs off up to 60 s between
reconnects that follow each other within 30 s, which a fault every second always does."""
SETTLE = 600.0
"""Seconds (mock clock) for the last echoes: 5 messages per 5 s per channel."""
CHANNELS = 6


class LoseSomeResponses(httpx.AsyncBaseTransport):
    """The network loses a random share of message-create responses after the server
    stored the message (the case only a nonce makes safe to retry)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, rng: random.Random, p: float) -> None:
        self.inner = inner
        self.rng = rng
        self.p = p
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        is_create = request.method == "POST" and request.url.path.endswith("/messages")
        if is_create and self.rng.random() < self.p:
            await response.aread()
            await response.aclose()
            self.lost += 1
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _echo_bot(live: Live, echoed: list[int]) -> None:
    """Answer each human MESSAGE_CREATE once, as the bot would."""
    seen = 0
    bot_id = str(live.server.world.bot.id)
    async with trio.open_nursery() as nursery:
        while True:
            await live.recorder.wait_for(lambda s=seen: len(live.recorder.received) > s, math.inf)
            for d in live.recorder.received[seen:]:
                if d.name == "MESSAGE_CREATE" and d.data["author"]["id"] != bot_id:
                    echoed.append(int(d.data["id"]))
                    nursery.start_soon(
                        lambda d=d: live.rest.create_message(
                            int(d.data["channel_id"]), content=f"echo {d.data['id']}"
                        )
                    )
            seen = len(live.recorder.received)


async def _inject(live: Live, rng: random.Random, kind: str) -> None:
    control = live.server.control
    if kind == "drop":
        control.gateway_fault("drop")
    elif kind == "op7":
        control.gateway_fault("reconnect")
    elif kind == "op9-true":
        control.gateway_fault("invalid_session", resumable=True)
    elif kind == "op9-false":
        control.gateway_fault("invalid_session", resumable=False)
    elif kind == "heartbeat-request":
        control.gateway_fault("heartbeat_request")
    elif kind == "zombie":
        closes = live.server.stats.close_codes_received.get(3000, 0)
        control.gateway_fault("stop_acks")
        await live.server.wait_until(
            lambda: live.server.stats.close_codes_received.get(3000, 0) > closes, TIMEOUT
        )
        control.gateway_fault("resume_acks")
    elif kind == "429-route":
        control.rest_fault(
            route=CREATE, kind="429", count=rng.randint(1, 4), retry_after=rng.uniform(0.05, 0.5)
        )
    elif kind == "429-global":
        control.rest_fault(route="*", kind="429", retry_after=0.3, **{"global": True})
    elif kind == "5xx":
        control.rest_fault(
            route="*", kind="5xx", count=rng.randint(1, 3), status=rng.choice([500, 502, 503])
        )
    elif kind == "slow":
        control.rest_fault(route=CREATE, kind="slow", delay=rng.uniform(0.2, 1.5))
    else:  # pragma: no cover - the table below names every kind
        raise AssertionError(kind)


KINDS: list[tuple[str, int]] = [
    ("drop", 6),
    ("op7", 5),
    ("op9-true", 4),
    ("op9-false", 1),
    ("heartbeat-request", 3),
    ("zombie", 2),
    ("429-route", 4),
    ("429-global", 2),
    ("5xx", 4),
    ("slow", 3),
]


async def test_randomized_faults_lose_and_duplicate_nothing(autojump_clock: object) -> None:
    # Everything here is our code in one process (the local server too), over loopback
    # sockets; the mock clock jumps only when every task waits, so reconnect backoff and
    # bucket windows take no real time.
    rng = random.Random(SEED)
    lossy: list[LoseSomeResponses] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        lossy.append(LoseSomeResponses(inner, random.Random(SEED + 1), p=0.1))
        return lossy[0]

    async with open_live(fast_realism(), seed=SEED, wrap=wrap) as live:
        # What the server sent: a world dispatch reaches every live session at once (the
        # hub subscribed before us); with our one client, a live session means "sent".
        sent: list[int] = []

        def on_world(d: Dispatch) -> None:
            if d.event == "MESSAGE_CREATE" and live.server.hub.sessions:
                sent.append(int(d.data["id"]))

        live.server.world.subscribe(on_world)
        echoed: list[int] = []
        injected: Counter[str] = Counter()
        channels = [live.server.world.default_channel.id] + [
            int(live.server.control.create_channel(f"c{i}")["id"]) for i in range(CHANNELS - 1)
        ]
        await live.wait_connected()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_echo_bot, live, echoed)
            kinds, weights = zip(*KINDS, strict=True)
            for i in range(FAULTS):
                kind = rng.choices(kinds, weights)[0]
                for j in range(rng.randint(0, 2)):
                    live.post(f"before {i}.{j}", rng.choice(channels))
                connections = live.server.stats.gateway_connections
                await _inject(live, rng, kind)
                injected[kind] += 1
                for j in range(rng.randint(1, 2)):
                    # mid-stream: right behind the fault, before the client has reacted
                    live.post(f"after {i}.{j}", rng.choice(channels))
                if kind in RECONNECTING:
                    await live.server.wait_until(
                        lambda c=connections: live.server.stats.gateway_connections > c, RECOVER
                    )
                await live.wait_connected(RECOVER)
            live.server.control.clear_faults()
            await live.wait_connected(RECOVER)

            def settled() -> bool:
                humans = [
                    x for x in _messages(live, channels) if not x["content"].startswith("echo ")
                ]
                return set(live.recorder.message_ids()) >= set(sent) and len(echoed) >= len(
                    [h for h in humans if int(h["id"]) in sent]
                )

            # Settle: every human message seen and answered, every answer sent, and every
            # answer's own MESSAGE_CREATE delivered.
            await live.recorder.wait_for(settled, SETTLE)
            await live.rest.wait_idle()
            await live.recorder.wait_for(settled, 120.0)
            nursery.cancel_scope.cancel()

        assert sum(injected.values()) == FAULTS >= 50
        delivered = Counter(live.recorder.message_ids())
        assert [i for i, n in delivered.items() if n > 1] == []  # none twice
        assert set(delivered) == set(sent)  # every one the server sent, nothing else
        messages = _messages(live, channels)
        humans = {int(x["id"]) for x in messages if not x["content"].startswith("echo ")}
        echoes = Counter(x["content"] for x in messages if x["content"].startswith("echo "))
        # Every echo the bot meant to send exists exactly once.
        assert sorted(echoed) == sorted(h for h in humans if h in set(sent))
        assert echoes == Counter(f"echo {h}" for h in echoed)
        # The run really exercised the hard paths.
        status = await live.status()
        assert status.resumes >= 5
        assert live.server.stats.replayed_events > 0
        assert lossy[0].lost > 0
        assert live.rest.stats.responses_429 > 0
        assert live.rest.stats.retries > 0


def _messages(live: Live, channels: list[int]) -> list[dict[str, Any]]:
    return [m for c in channels for m in live.server.control.messages(c)]
