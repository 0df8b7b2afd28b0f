"""Local mode's state file: a world saved and loaded is the same world, on a new clock."""

from __future__ import annotations

import functools
import json
import random
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.discord_local import (
    NewFile,
    Realism,
    World,
    WorldFileError,
    dump_world,
    load_world,
    open_discord_local,
)
from bridge.discord_local._control import Control
from bridge.discord_local._faults import FaultBook
from bridge.discord_local._gateway import GatewayHub
from bridge.discord_local._persist import autosave
from bridge.discord_local._stats import Stats


def make_world(wall_offset: float, seed: int = 0, clock: Any = None) -> World:
    return World(
        realism=Realism.off(),
        rng=random.Random(seed),
        wall_offset=wall_offset,
        clock=clock or trio.current_time,
    )


def control(world: World) -> Control:
    hub = GatewayHub(world, world.realism, Stats(), lambda: "ws://x/gateway-resume")
    return Control(world, hub, Stats(), FaultBook())


def view(world: World) -> dict[str, Any]:
    """Everything the control API shows, minus trio-clock instants (each run has its own)."""
    c = control(world)
    messages = {
        cid: [
            {**m, "versions": [{**v, "visible_at": None} for v in m["versions"]]}
            for m in c.messages(cid, include_deleted=True)
        ]
        for cid in world.channels
    }
    interactions = [
        {**c.interaction(i), "responded_after": None} for i in sorted(world.interactions)
    ]
    return {"state": c.state(), "messages": messages, "interactions": interactions}


def same_dump(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal dumps; the last snowflake may differ (the loading world made ids of its own
    before loading, and keeps the larger)."""
    return {**a, "last_snowflake": 0} == {**b, "last_snowflake": 0}


def populate(world: World) -> None:
    channel = world.default_channel.id
    alice = world.add_user("alice", global_name="Alice")
    world.overwrite_commands(world.guild_id, [{"name": "stop", "description": "Stop"}])
    first = world.create_message(
        channel,
        alice.id,
        content=f"hello <@{world.bot.id}>",
        files=[NewFile("notes.txt", b"\x00\xffbytes", "text/plain")],
    )
    thread = world.start_thread_from_message(first, name="hello", owner_id=world.bot.id)
    reply = world.create_message(
        thread.id,
        world.bot.id,
        content="working",
        embeds=[{"title": "Bash", "color": 0xFEE75C}],
        components=[
            {"type": 1, "components": [{"type": 2, "style": 3, "label": "Allow", "custom_id": "a"}]}
        ],
    )
    world.edit_message(reply, editor_id=world.bot.id, body={"content": "done"})
    world.add_reaction(first, "✅", world.bot.id)
    world.pin(reply)
    gone = world.create_message(thread.id, alice.id, content="oops")
    world.delete_message(gone)
    click = world.click_button(world.owner_id, reply.id, "a")
    world.respond(click.id, click.token, 9, {"custom_id": "m", "title": "Why", "components": []})
    world.modify_channel(thread.id, {"archived": True})


async def test_a_saved_world_loads_as_the_same_world_on_another_clock() -> None:
    before = make_world(wall_offset=1_700_000_000.0)
    populate(before)
    saved = json.loads(json.dumps(dump_world(before)))
    after = make_world(wall_offset=1_700_000_500.0, seed=1)
    load_world(after, saved)
    assert view(after) == view(before)
    assert same_dump(dump_world(after), saved)
    # Instants are kept as Unix time: the thread was archived at the same wall time.
    thread = next(c for c in after.channels.values() if c.is_thread)
    old = before.channels[thread.id]
    assert after.wall(thread.archive_changed_at) == pytest.approx(
        before.wall(old.archive_changed_at)
    )
    # New ids come after every loaded one, even with an earlier wall clock.
    assert after.snowflake() > max(before.messages)
    # The loaded world works: the modal opened before the restart can still be submitted.
    opener = next(i for i in after.interactions.values() if i.modal)
    submitted = after.submit_modal(opener.id, {})
    assert submitted.data["custom_id"] == "m"


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["post", "edit", "delete", "react", "pin", "thread", "user"]),
            st.text(max_size=20),
        ),
        max_size=25,
    )
)
def test_any_sequence_of_changes_survives_a_save_and_load(steps: list[tuple[str, str]]) -> None:
    world = make_world(wall_offset=1_000.0, clock=lambda: 5.0)
    for op, text in steps:
        live = [m for m in world.messages.values() if m.deleted_at is None]
        if op == "post" or not live:
            world.create_message(world.default_channel.id, world.owner_id, content=text or "x")
        elif op == "edit":
            world.edit_message(live[-1], editor_id=None, body={"content": text})
        elif op == "delete":
            world.delete_message(live[0])
        elif op == "react":
            world.add_reaction(live[-1], text[:1] or "👍", world.owner_id)
        elif op == "pin":
            world.pin(live[-1])
        elif op == "thread" and live[-1].thread_id is None and not world.channels.get(live[-1].id):
            if world.channels[live[-1].channel_id].is_thread:
                continue
            world.start_thread_from_message(live[-1], name=text or "t", owner_id=world.owner_id)
        elif op == "user":
            world.add_user(text[:32] or "u")
    saved = json.loads(json.dumps(dump_world(world)))
    loaded = make_world(wall_offset=2_000.0, clock=lambda: 9.0)
    load_world(loaded, saved)
    assert same_dump(dump_world(loaded), saved)
    assert view(loaded) == view(world)


async def test_a_file_that_is_not_a_state_file_is_refused(tmp_path: Path) -> None:
    for bad in (b"not json", b"[]", b'{"format": 99}', b'{"format": 1, "users": []}'):
        path = tmp_path / "discord-local.json"
        path.write_bytes(bad)
        with pytest.raises(WorldFileError, match=re.escape(str(path))):
            async with open_discord_local(state_path=path):
                pass
        assert path.read_bytes() == bad  # left as it was, for the person to look at


async def test_the_server_keeps_its_world_in_the_file_across_lifetimes(tmp_path: Path) -> None:
    path = tmp_path / "state" / "discord-local.json"
    async with open_discord_local(realism=Realism.off(), state_path=path) as server:
        world = server.world
        ids = (world.guild_id, world.owner_id, world.bot.id, world.default_channel.id)
        token = server.token
        posted = server.control.post_message(
            world.default_channel.id,
            world.owner_id,
            "kept",
            attachments=[{"filename": "a.txt", "text": "file body"}],
        )
    async with open_discord_local(realism=Realism.off(), state_path=path) as server:
        world = server.world
        assert (world.guild_id, world.owner_id, world.bot.id, world.default_channel.id) == ids
        assert server.token == token
        async with httpx.AsyncClient(base_url=server.rest_url) as rest:
            r = await rest.get(
                f"/channels/{world.default_channel.id}/messages",
                headers={"Authorization": f"Bot {server.token}"},
            )
        assert [m["id"] for m in r.json()] == [posted["id"]]
        (attachment,) = r.json()[0]["attachments"]
        # Served by this run's CDN, with the bytes from the last run.
        assert attachment["url"].startswith(server.cdn_url)
        async with httpx.AsyncClient() as cdn:
            assert (await cdn.get(attachment["url"])).text == "file body"


async def test_changes_are_written_soon_not_only_at_the_end(tmp_path: Path) -> None:
    """A killed process keeps what was written before: autosave writes after changes."""
    path = tmp_path / "discord-local.json"
    world = make_world(wall_offset=1_000.0)
    writes = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            functools.partial(autosave, world, path, interval=0.01, saved=writes.set)
        )
        await trio.testing.wait_all_tasks_blocked()
        assert not path.exists()  # nothing changed yet
        world.create_message(world.default_channel.id, world.owner_id, content="early")
        with trio.fail_after(30):
            await writes.wait()
        assert "early" in path.read_text()
        assert not path.with_name(path.name + ".tmp").exists()
        nursery.cancel_scope.cancel()
