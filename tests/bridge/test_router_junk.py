"""No dispatch can crash the router (issue 9): malformed ``MESSAGE_CREATE`` and
``INTERACTION_CREATE`` payloads, sent as raw dispatches through the local server's gateway
(``POST /faults/dispatch``), are dropped and counted, and the bridge keeps answering: a
normal message afterwards gets its thread and reaches its session.

The junk is hand-picked shapes plus hypothesis mutations of valid payloads (keys removed,
values replaced by any JSON, whole payloads replaced).
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.discord._dedup import DispatchDeduplicator
from bridge.discord_local import Realism, open_discord_local
from bridge.sessions.messages import UserMessage
from bridge.sessions.router import GetRouterStats
from protocol.discord import models as m
from protocol.discord.converter import make_converter
from tests.bridge.test_app import TIMEOUT, Sessions, _bridge, _config

Payload = tuple[str, Any]

_converter = make_converter()


def _malformed(event: str, data: Any) -> bool:
    """Whether the router must drop this dispatch: it does not structure, or an id is not
    a Discord id (what the docs promise; the gateway turns a non-object ``d`` into ``{}``)."""
    data = data if isinstance(data, dict) else {}
    try:
        if event == "MESSAGE_CREATE":
            message = _converter.structure(data, m.Message)
            ids = [message.id, message.channel_id, message.author.id, message.guild_id]
        else:
            interaction = _converter.structure(data, m.Interaction)  # type: ignore[arg-type]
            ids = [getattr(interaction, "id", None)]
    except Exception:
        return True
    return any(isinstance(i, int) and not 0 < i < 2**63 for i in ids)


def _templates(world: Any, thread_id: int) -> list[Payload]:
    """Valid dispatches: the owner and a stranger in the channel and in a session thread, a
    /stop and a prompt button (their interactions are unknown to the server: answered with
    404, which the router logs)."""
    guild = str(world.guild_id)
    owner = {"id": str(world.owner_id), "username": "owner", "discriminator": "0"}
    stranger = {"id": "424242", "username": "mallory", "discriminator": "0"}

    def message(mid: int, channel: int, author: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(mid),
            "channel_id": str(channel),
            "guild_id": guild,
            "author": author,
            "content": "hello",
            "timestamp": "2026-01-01T00:00:00+00:00",
            "type": 0,
            "attachments": [],
            "embeds": [],
            "mentions": [],
        }

    def interaction(iid: int, kind: int, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(iid),
            "application_id": str(world.application_id),
            "type": kind,
            "token": "junk-token",
            "version": 1,
            "guild_id": guild,
            "channel_id": str(thread_id),
            "member": {"user": owner, "roles": [], "joined_at": "2026-01-01T00:00:00+00:00"},
            "data": data,
        }

    channel = world.default_channel.id
    return [
        ("MESSAGE_CREATE", message(900001, channel, owner)),
        ("MESSAGE_CREATE", message(900002, thread_id, owner)),
        ("MESSAGE_CREATE", message(900003, channel, stranger)),
        ("INTERACTION_CREATE", interaction(900004, 2, {"id": "1", "name": "stop", "type": 1})),
        (
            "INTERACTION_CREATE",
            {
                **interaction(
                    900005, 3, {"custom_id": "ccb:prompt:nope:allow", "component_type": 2}
                ),
                "message": message(900006, thread_id, owner),
            },
        ),
    ]


def _unique_ids(shapes: list[Payload]) -> list[Payload]:
    """Each shape with an id of its own: the gateway drops a second dispatch with an id it
    has seen (Discord may deliver twice), and these must all reach the router."""
    return [
        (
            event,
            {**data, "id": str(800_000 + i)}
            if isinstance(data, dict) and data.get("id") == "1"
            else data,
        )
        for i, (event, data) in enumerate(shapes)
    ]


HAND_PICKED: list[Payload] = _unique_ids(
    [
        (event, data)
        for event in ("MESSAGE_CREATE", "INTERACTION_CREATE")
        for data in (
            None,
            [],
            "text",
            7,
            True,
            {},
            {"id": "1"},
            {"id": "not a number", "channel_id": "1", "author": {"id": "1", "username": "a"}},
            {"id": str(2**70), "channel_id": "1", "author": {"id": "1", "username": "a"}},
            {"id": "-5", "channel_id": "1", "author": {"id": "1", "username": "a"}},
            {"id": "1", "channel_id": "1", "author": None},
            {"id": "1", "channel_id": "1", "author": "someone"},
            {"id": "1", "type": "two", "token": 5},
            {"id": "1", "type": 3, "token": "t", "data": None},
            {"id": "1", "type": 3, "token": "t", "data": {"custom_id": 5, "component_type": 2}},
            {"id": "1", "type": 99, "token": "t"},
            {"id": {"nested": [1, 2]}, "channel_id": [], "author": {"id": [], "username": 1}},
        )
    ]
)

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return out
    for key, inner in items:
        out.append((*prefix, key))
        out += _paths(inner, (*prefix, key))
    return out


@st.composite
def _mutation(draw: st.DrawFn) -> Any:
    """A function that turns a valid payload into junk (drawn before the templates exist:
    they depend on ids of the run)."""
    steps = draw(
        st.lists(st.tuples(st.integers(0, 10_000), st.booleans(), _json), min_size=1, max_size=3)
    )
    whole = draw(st.none() | _json)

    def mutate(payload: Any) -> Any:
        if whole is not None and not steps[0][1]:
            return whole
        payload = copy.deepcopy(payload)
        for pick, delete, value in steps:
            paths = _paths(payload)
            if not paths:
                break
            *parents, key = paths[pick % len(paths)]
            target = payload
            for parent in parents:
                target = target[parent]
            if delete and isinstance(target, dict):
                del target[key]
            else:
                target[key] = value
        return payload

    return mutate


_junk = st.lists(st.tuples(st.integers(0, 4), _mutation()), min_size=1, max_size=12)


async def _send_junk_then_talk(tmp_path: Path, junk: Any) -> dict[str, int]:
    sessions = Sessions()
    async with open_discord_local(realism=Realism.off(), rng=random.Random(3)) as server:
        world = server.world
        channel = world.default_channel.id
        async with await _bridge(server, _config(tmp_path), sessions) as bridge:
            with trio.fail_after(TIMEOUT):
                await bridge.wait_ready()
            thread = int(server.control.post_message(channel, world.owner_id, "first")["id"])
            await sessions.wait_for(lambda item: item[0] == thread)
            payloads = junk(_templates(world, thread)) if callable(junk) else junk
            dedup = DispatchDeduplicator()
            expected: dict[str, int] = {}
            for event, data in payloads:
                server.control.dispatch(event, data)
                admitted = dedup.admit(event, data if isinstance(data, dict) else {})
                if admitted and _malformed(event, data):
                    expected[event] = expected.get(event, 0) + 1
            # Routing goes on: a normal message gets its thread and reaches its session.
            after = int(server.control.post_message(channel, world.owner_id, "still there?")["id"])
            await sessions.wait_for(
                lambda item: isinstance(item[1], UserMessage) and item[1].message_id == after
            )
            assert server.control.channel(after)["name"] == "still there?"
            # Every junk dispatch was parsed before it (one loop, in order): all counted,
            # and the router never crashed (a restart would have reset its counters).
            stats = await bridge.router.ask(GetRouterStats(), timeout=TIMEOUT)
            assert dict(stats.malformed) == expected
            assert bridge.router.incarnation == 1
    return expected


async def test_hand_picked_junk_is_dropped_and_counted(tmp_path: Path) -> None:
    dropped = await _send_junk_then_talk(tmp_path, HAND_PICKED)
    # Every message shape is malformed. An interaction without a known ``type`` reads as
    # an unknown kind (Discord adds kinds), which the router ignores: only the three with
    # a known type and bad fields are malformed.
    assert dropped == {"MESSAGE_CREATE": 17, "INTERACTION_CREATE": 3}


@settings(max_examples=20)
@given(junk=_junk)
def test_mutated_dispatches_never_stop_the_router(tmp_path_factory: Any, junk: Any) -> None:
    def build(templates: list[Payload]) -> list[Payload]:
        return [(templates[i][0], mutate(templates[i][1])) for i, mutate in junk]

    tmp_path = tmp_path_factory.mktemp("junk")
    trio.run(_send_junk_then_talk, tmp_path, build)


def test_the_templates_are_valid() -> None:
    """The mutations start from payloads the router accepts (else they test nothing)."""

    class World:
        guild_id = 1
        owner_id = 2
        application_id = 3

        class default_channel:
            id = 4

    for event, data in _templates(World(), 5):
        assert not _malformed(event, data), (event, data)
