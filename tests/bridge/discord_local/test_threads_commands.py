"""Threads and application commands."""

from __future__ import annotations

from tests.bridge.discord_local.conftest import Rig


async def test_thread_from_message_is_unique_and_named_by_message(rig: Rig) -> None:
    m = await rig.say("start here")
    r = await rig.rest.post(
        f"/channels/{rig.channel_id}/messages/{m['id']}/threads",
        json={"name": "work", "auto_archive_duration": 60},
    )
    assert r.status_code == 201
    thread = r.json()
    assert thread["id"] == m["id"]
    assert (
        thread["type"],
        thread["parent_id"],
        thread["thread_metadata"]["auto_archive_duration"],
    ) == (11, str(rig.channel_id), 60)
    again = await rig.rest.post(
        f"/channels/{rig.channel_id}/messages/{m['id']}/threads", json={"name": "again"}
    )
    assert (again.status_code, again.json()["code"]) == (400, 160004)
    assert (await rig.rest.get(f"/channels/{rig.channel_id}/messages/{m['id']}")).json()["thread"][
        "id"
    ] == m["id"]


async def test_thread_without_message_defaults_to_private(rig: Rig) -> None:
    private = (
        await rig.rest.post(f"/channels/{rig.channel_id}/threads", json={"name": "secret"})
    ).json()
    public = (
        await rig.rest.post(
            f"/channels/{rig.channel_id}/threads", json={"name": "open", "type": 11}
        )
    ).json()
    assert (private["type"], public["type"]) == (12, 11)
    bad = await rig.rest.post(
        f"/channels/{rig.channel_id}/threads", json={"name": "n" * 101, "auto_archive_duration": 5}
    )
    errors = bad.json()["errors"]
    assert set(errors) == {"name", "auto_archive_duration"}
    active = (await rig.rest.get(f"/guilds/{rig.server.world.guild_id}/threads/active")).json()
    assert {t["id"] for t in active["threads"]} == {private["id"], public["id"]}


async def test_archive_unarchive_and_locked_threads(rig: Rig) -> None:
    thread = (
        await rig.rest.post(f"/channels/{rig.channel_id}/threads", json={"name": "t", "type": 11})
    ).json()
    tid = int(thread["id"])
    in_thread = await rig.say("inside", channel_id=tid)
    r = await rig.rest.patch(f"/channels/{tid}", json={"archived": True})
    assert r.json()["thread_metadata"]["archived"] is True
    edit = await rig.rest.patch(
        f"/channels/{tid}/messages/{in_thread['id']}", json={"content": "x"}
    )
    assert (edit.status_code, edit.json()["code"]) == (400, 50083)
    await rig.say("wakes it", channel_id=tid)  # sending unarchives (threads.mdx)
    assert (await rig.rest.get(f"/channels/{tid}")).json()["thread_metadata"]["archived"] is False
    await rig.rest.patch(f"/channels/{tid}", json={"archived": True, "locked": True})
    blocked = await rig.rest.post(f"/channels/{tid}/messages", json={"content": "no"})
    assert (blocked.status_code, blocked.json()["code"]) == (400, 50083)
    thread_view = (await rig.control.get(f"/channels/{tid}")).json()
    assert (thread_view["archived"], thread_view["locked"], len(thread_view["message_ids"])) == (
        True,
        True,
        2,
    )
    assert str(tid) in (await rig.control.get(f"/channels/{rig.channel_id}")).json()["threads"]


async def test_bulk_overwrite_global_and_guild_commands(rig: Rig) -> None:
    app = rig.server.world.application_id
    guild = rig.server.world.guild_id
    first = (
        await rig.rest.put(
            f"/applications/{app}/commands",
            json=[{"name": "a", "description": "A"}, {"name": "b", "description": "B"}],
        )
    ).json()
    again = (
        await rig.rest.put(
            f"/applications/{app}/commands", json=[{"name": "a", "description": "A2"}]
        )
    ).json()
    assert again[0]["id"] == first[0]["id"]  # same name keeps its id
    assert [c["name"] for c in (await rig.rest.get(f"/applications/{app}/commands")).json()] == [
        "a"
    ]
    g = (
        await rig.rest.put(
            f"/applications/{app}/guilds/{guild}/commands",
            json=[{"name": "a", "description": "guild a"}],
        )
    ).json()
    assert g[0]["guild_id"] == str(guild)
    assert [
        c["description"]
        for c in (await rig.rest.get(f"/applications/{app}/guilds/{guild}/commands")).json()
    ] == ["guild a"]
    # A guild command shadows the global one when a user runs it.
    alice = await rig.human()
    inter = (
        await rig.control.post(
            "/interactions/command",
            json={"user_id": alice["id"], "channel_id": rig.channel_id, "name": "a"},
        )
    ).json()
    assert inter["data"]["id"] == g[0]["id"]
    bad = await rig.rest.put(
        f"/applications/{app}/commands",
        json=[
            {
                "name": "x" * 33,
                "description": "d",
                "options": [
                    {
                        "type": 3,
                        "name": "o",
                        "description": "d",
                        "autocomplete": True,
                        "choices": [{"name": "c", "value": "c"}],
                    }
                ],
            }
        ],
    )
    assert set(bad.json()["errors"]["0"]) == {"name", "options"}
    assert (await rig.rest.put("/applications/1/commands", json=[])).status_code == 403
    unknown = await rig.control.post(
        "/interactions/command",
        json={"user_id": alice["id"], "channel_id": rig.channel_id, "name": "nope"},
    )
    assert unknown.json()["code"] == 10063
