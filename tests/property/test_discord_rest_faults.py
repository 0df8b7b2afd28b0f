"""Exactly once and in order under random storms of faults (issue 10, point 2).

Sessions stream replies through the real REST client into the local Discord server: each
posts a message, edits it many times as the reply grows (``submit_edit``, sometimes an
awaited ``edit_message``), and ends with a completion embed. Meanwhile a chaos task arms
random faults: route and global 429s and 5xx bursts through the local server's fault API,
and dropped REST connections, before the server saw the request or after it handled it
(the response is lost), by the network below the client. Invariants, per seeded round:

* every create happened exactly once (one message per create, whatever was retried);
* the final visible content and embeds of every message equal what was rendered last;
* an older edit never landed after a newer one (the contents Discord applied to a message
  only ever grow, as the rendered reply does).

The run prints its fault count and asserts at least 200 faults. Only our code and the
in-process server run, so trio's autojump clock makes the minutes of waiting free.
"""

from __future__ import annotations

import random
from collections import Counter

import httpx
import pytest
import trio

from bridge.discord_local import Realism
from protocol.discord import models as m
from tests.bridge.discord.conftest import Rig, open_rig
from tests.bridge.discord.live import Live, fast_realism, open_live

CREATE = "POST /channels/{channel_id}/messages"
EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
ROUNDS = 6
SESSIONS = 4
REPLIES = 3


class FlakyNetwork(httpx.AsyncBaseTransport):
    """Drops connections on demand: before the request reaches the server, or after the
    server handled it (the response is lost: the case that makes retries dangerous)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.drop_before = 0
        self.drop_after = 0
        self.dropped: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.drop_before > 0:
            self.drop_before -= 1
            self.dropped["before"] += 1
            raise httpx.ConnectError("connection refused", request=request)
        response = await self.inner.handle_async_request(request)
        if self.drop_after > 0:
            self.drop_after -= 1
            self.dropped["after"] += 1
            await response.aread()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


async def _session(
    rig: Rig | Live, rng: random.Random, rendered: dict[int, str], pace: float = 1.0
) -> None:
    channel = rig.server.world.default_channel.id
    for _ in range(REPLIES):
        text = f"reply {rng.getrandbits(32)}:"
        sent = await rig.rest.create_message(channel, content=text)
        rendered[sent.id] = text
        for step in range(rng.randint(5, 25)):
            text += f" w{step}"
            rendered[sent.id] = text
            if rng.random() < 0.15:
                await rig.rest.edit_message(channel, sent.id, content=text)
            else:
                rig.rest.submit_edit(channel, sent.id, content=text)
            await trio.sleep(rng.uniform(0.0, 0.4) * pace)
        rig.rest.submit_edit(channel, sent.id, embeds=[m.Embed(title="done", description=text)])


async def _chaos(
    rig: Rig | Live,
    net: FlakyNetwork,
    rng: random.Random,
    stop: trio.Event,
    pace: float = 1.0,
    gateway: bool = False,
) -> None:
    control = rig.server.control
    while not stop.is_set():
        # One burst at a time: a burst armed faster than retries use it up would keep the
        # network down for good, which is an outage, not a storm. (Polled: the fault book
        # has no change event, and the clock is virtual.)
        while rig.server.faults.faults or net.drop_before or net.drop_after:  # noqa: ASYNC110
            await trio.sleep(0.5 * pace)
        kinds = ["429", "429", "global", "5xx", "drop_before", "drop_after"]
        kind = rng.choice(kinds + ["gateway"] * (2 if gateway else 0))
        count = rng.randint(1, 4)
        route = rng.choice([CREATE, EDIT, EDIT, "*"])
        if kind == "429":
            control.rest_fault(
                route=route, kind="429", count=count, retry_after=rng.uniform(0.05, 3.0) * pace
            )
        elif kind == "global":
            control.rest_fault(
                route=route,
                kind="429",
                count=1,
                retry_after=rng.uniform(0.05, 2.0) * pace,
                scope="global",
                **{"global": True},
            )
        elif kind == "5xx":
            control.rest_fault(
                route=route, kind="5xx", count=count, status=rng.choice([500, 502, 503, 504])
            )
        elif kind == "gateway":
            control.gateway_fault("drop")
            net.dropped["gateway"] += 1
        elif kind == "drop_before":
            net.drop_before += count
        else:
            net.drop_after += count
        await trio.sleep(rng.uniform(0.2, 2.0) * pace)


def _faults(rig: Rig, net: FlakyNetwork) -> int:
    stats = rig.server.stats
    return stats.responses_429 + stats.errors_5xx + sum(net.dropped.values())


async def _round(seed: int) -> tuple[int, Counter[str]]:
    nets: list[FlakyNetwork] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        nets.append(FlakyNetwork(inner))
        return nets[0]

    rendered: dict[int, str] = {}
    async with open_rig(Realism.faithful(), wrap=wrap) as rig:
        [net] = nets
        stop = trio.Event()
        async with trio.open_nursery() as chaos:
            chaos.start_soon(_chaos, rig, net, random.Random(seed + 1), stop)
            async with trio.open_nursery() as sessions:
                for i in range(SESSIONS):
                    sessions.start_soon(_session, rig, random.Random(seed * 100 + i), rendered)
            stop.set()
            chaos.cancel_scope.cancel()
        # The faults still armed would hit nothing now; let everything queued land.
        rig.server.control.clear_faults()
        net.drop_before = net.drop_after = 0
        await rig.rest.wait_idle()

        messages = rig.server.control.messages(rig.channel_id)
        assert len(messages) == SESSIONS * REPLIES, f"seed {seed}: creates not exactly once"
        assert {int(x["id"]) for x in messages} == set(rendered), f"seed {seed}"
        for message in messages:
            text = rendered[int(message["id"])]
            assert message["content"] == text, f"seed {seed}: stale content"
            assert [e["description"] for e in message["embeds"]] == [text], f"seed {seed}"
        applied: dict[str, list[int]] = {}
        for exchange in rig.exchanges:
            if exchange.route == EDIT and exchange.status == 200:
                content = exchange.request_json.get("content")
                if content is not None:
                    applied.setdefault(exchange.path, []).append(len(content))
        for path, lengths in applied.items():
            assert lengths == sorted(lengths), f"seed {seed}: an older edit landed later {path}"
        kinds = Counter(
            {
                "429": rig.server.stats.responses_429,
                "5xx": rig.server.stats.errors_5xx,
                **{f"drop_{k}": v for k, v in net.dropped.items()},
            }
        )
        return _faults(rig, net), kinds


async def test_exactly_once_and_in_order_under_random_faults(
    autojump_clock: object, capsys: pytest.CaptureFixture[str]
) -> None:
    base = random.SystemRandom().randrange(1_000_000)
    total = 0
    kinds: Counter[str] = Counter()
    for offset in range(ROUNDS):
        faults, round_kinds = await _round(base + offset)
        total += faults
        kinds.update(round_kinds)
    with capsys.disabled():
        print(
            f"\nREST fault run (seeds {base}..{base + ROUNDS - 1}): {total} faults "
            f"{dict(sorted(kinds.items()))}"
        )
    assert total >= 200


async def test_exactly_once_through_gateway_drops_while_streaming(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Over real sockets, on the real clock (waits scaled down): the gateway connection is
    # dropped again and again while replies stream. What the bot's own gateway sees agrees
    # with the server: one MESSAGE_CREATE per message, and its last MESSAGE_UPDATE shows
    # the last rendered content.
    seed = random.SystemRandom().randrange(1_000_000)
    nets: list[FlakyNetwork] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        nets.append(FlakyNetwork(inner))
        return nets[0]

    rendered: dict[int, str] = {}
    pace = 0.05
    rest_config = {"retry_base": 0.02, "retry_cap": 0.2}
    async with open_live(fast_realism(), seed=seed, wrap=wrap, rest_config=rest_config) as live:
        [net] = nets
        await live.wait_connected()
        stop = trio.Event()
        async with trio.open_nursery() as chaos:
            chaos.start_soon(_chaos, live, net, random.Random(seed), stop, pace, True)
            async with trio.open_nursery() as sessions:
                for i in range(2):
                    sessions.start_soon(_session, live, random.Random(seed + i), rendered, pace)
            stop.set()
            chaos.cancel_scope.cancel()
        live.server.control.clear_faults()
        net.drop_before = net.drop_after = 0
        await live.rest.wait_idle()
        channel = live.server.world.default_channel.id
        messages = live.server.control.messages(channel)
        assert {int(x["id"]): x["content"] for x in messages} == rendered, f"seed {seed}"

        def seen_final() -> bool:
            last: dict[int, str] = {}
            for d in live.recorder.received:
                if d.name in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and "content" in d.data:
                    last[int(d.data["id"])] = d.data["content"]
            return all(last.get(i) == text for i, text in rendered.items())

        await live.recorder.wait_for(seen_final)
        creates = Counter(
            int(d.data["id"]) for d in live.recorder.received if d.name == "MESSAGE_CREATE"
        )
        assert creates == Counter(set(rendered)), f"seed {seed}: creates not exactly once"
        assert net.dropped["gateway"] > 0
        status = await live.status()
    with capsys.disabled():
        print(
            f"\ngateway fault run (seed {seed}): {_faults_live(live, net)} faults, "
            f"{status.reconnects} gateway reconnects {dict(sorted(net.dropped.items()))}"
        )


def _faults_live(live: Live, net: FlakyNetwork) -> int:
    stats = live.server.stats
    return stats.responses_429 + stats.errors_5xx + sum(net.dropped.values())
