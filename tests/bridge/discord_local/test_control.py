"""The control API over HTTP: acting as humans, observing, faults, and its own errors."""

from __future__ import annotations

import base64

import trio

from tests.bridge.discord_local.conftest import Rig


async def test_users_channels_messages_and_observation(rig: Rig) -> None:
    state = (await rig.control.get("/state")).json()
    assert [c["name"] for c in state["channels"]] == ["general"]
    assert {u["username"] for u in state["users"]} == {"ccbridge-local", "owner"}
    bob = (await rig.control.post("/users", json={"username": "bob", "global_name": "Bob"})).json()
    assert bob["global_name"] == "Bob"
    chan = (await rig.control.post("/channels", json={"name": "dev", "topic": "work"})).json()
    assert (chan["name"], chan["topic"], chan["message_ids"]) == ("dev", "work", [])

    payload = bytes([0, 255, 10, 13])
    posted = (
        await rig.control.post(
            f"/channels/{chan['id']}/messages",
            json={
                "author_id": bob["id"],
                "content": "look",
                "attachments": [
                    {"filename": "b.bin", "base64": base64.b64encode(payload).decode()}
                ],
                "embeds": [{"title": "t"}],
            },
        )
    ).json()
    assert posted["author"]["id"] == bob["id"]
    assert posted["embeds"] == [{"title": "t", "type": "rich"}]
    assert (await rig.rest.get(posted["attachments"][0]["url"])).content == payload
    reply = (
        await rig.control.post(
            f"/channels/{chan['id']}/messages",
            json={"author_id": bob["id"], "content": "re", "reply_to": posted["id"]},
        )
    ).json()
    assert (reply["type"], reply["message_reference"]["message_id"]) == (19, posted["id"])

    listed = (await rig.control.get(f"/channels/{chan['id']}/messages")).json()
    assert [m["content"] for m in listed] == ["look", "re"]  # oldest first
    assert len((await rig.control.get("/channels")).json()) == 2
    hook = (await rig.control.post(f"/channels/{chan['id']}/webhooks", json={"name": "ci"})).json()
    assert hook["token"]
    reacted = (
        await rig.control.post(
            f"/messages/{posted['id']}/reactions", json={"user_id": bob["id"], "emoji": "🔥"}
        )
    ).json()
    assert reacted["reaction_users"] == {"🔥": [bob["id"]]}
    unreacted = (
        await rig.control.post(
            f"/messages/{posted['id']}/reactions",
            json={"user_id": bob["id"], "emoji": "🔥", "remove": True},
        )
    ).json()
    assert unreacted["reaction_users"] == {}


async def test_deleted_messages_stay_observable(rig: Rig) -> None:
    m = await rig.say("bye")
    await rig.rest.delete(f"/channels/{rig.channel_id}/messages/{m['id']}")
    seen = (await rig.control.get(f"/messages/{m['id']}")).json()
    assert seen["deleted"] is True
    assert (await rig.control.get(f"/channels/{rig.channel_id}/messages")).json() == []


async def test_control_errors_say_what_is_wrong(rig: Rig) -> None:
    r = await rig.control.post("/users", json={"username": "x", "nickname": "y"})
    assert r.status_code == 400
    assert "nickname" in r.json()["message"]
    r = await rig.control.post(
        f"/channels/{rig.channel_id}/messages", json={"author_id": "123", "content": "x"}
    )
    assert (r.status_code, r.json()["code"]) == (404, 10013)
    r = await rig.control.post(
        f"/channels/{rig.channel_id}/messages", json={"author_id": "abc", "content": "x"}
    )
    assert r.status_code == 400
    assert (await rig.control.get("/messages/1")).status_code == 404
    assert (await rig.control.get("/interactions/1")).status_code == 404
    r = await rig.control.post("/faults/rest", json={"route": "*", "kind": "boom"})
    assert r.status_code == 400
    r = await rig.control.post("/faults/gateway", json={"action": "explode"})
    assert r.status_code == 400
    r = await rig.control.post("/interactions/modal", json={"interaction_id": "1", "values": {}})
    assert r.status_code == 400
    r = await rig.control.post("/users", content=b"[1]")
    assert r.status_code == 400


async def test_autocomplete_without_an_answer_times_out(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    rig.server.world.overwrite_commands(
        None,
        [
            {
                "name": "ask",
                "description": "d",
                "options": [{"type": 3, "name": "q", "description": "d", "autocomplete": True}],
            }
        ],
    )
    alice = await rig.human()
    r = await rig.control.post(
        "/interactions/autocomplete",
        json={
            "user_id": alice["id"],
            "channel_id": rig.channel_id,
            "name": "ask",
            "options": [{"name": "q", "type": 3, "value": "", "focused": True}],
            "timeout": 2.0,
        },
    )
    assert r.status_code == 504
    assert "2.0 s" in r.json()["message"]


async def test_gateway_snapshot_and_faults_without_connections(rig: Rig) -> None:
    assert (await rig.control.get("/gateway")).json() == {
        "sessions": [],
        "connections": 0,
        "ack_heartbeats": True,
    }
    assert (await rig.control.post("/faults/gateway", json={"action": "reconnect"})).json() == {
        "affected": 0
    }
    await rig.control.post("/faults/gateway", json={"action": "stop_acks"})
    assert (await rig.control.get("/gateway")).json()["ack_heartbeats"] is False
    await rig.control.delete("/faults")
    assert (await rig.control.get("/gateway")).json()["ack_heartbeats"] is True
    await rig.say("counted")
    stats = (await rig.control.get("/stats")).json()
    assert stats["requests"] == {"POST /channels/{channel_id}/messages": 1}
    assert stats["identifies"] == 0


async def test_a_moderator_pins_unpins_and_deletes_messages(rig: Rig) -> None:
    state = (await rig.control.get("/state")).json()
    channel = state["default_channel_id"]
    owner = next(u["id"] for u in state["users"] if u["username"] == "owner")
    posted = (
        await rig.control.post(
            f"/channels/{channel}/messages", json={"author_id": owner, "content": "keep me"}
        )
    ).json()
    pinned = (await rig.control.post(f"/messages/{posted['id']}/pin", json={})).json()
    assert pinned["pinned"] is True
    assert (await rig.control.get(f"/channels/{channel}")).json()["pins"] == [posted["id"]]
    # Discord's own pins route agrees.
    listed = (await rig.rest.get(f"/channels/{channel}/messages/pins")).json()
    assert [item["message"]["id"] for item in listed["items"]] == [posted["id"]]
    bad = await rig.control.post(f"/messages/{posted['id']}/pin", json={"pinned": "yes"})
    assert bad.status_code == 400
    unpinned = (
        await rig.control.post(f"/messages/{posted['id']}/pin", json={"pinned": False})
    ).json()
    assert unpinned["pinned"] is False
    assert (await rig.control.get(f"/channels/{channel}")).json()["pins"] == []

    await rig.control.post(f"/messages/{posted['id']}/pin", json={})
    deleted = (await rig.control.delete(f"/messages/{posted['id']}")).json()
    assert deleted == {"id": posted["id"], "deleted": True}
    assert (await rig.control.get(f"/messages/{posted['id']}")).json()["deleted"] is True
    assert (await rig.control.get(f"/channels/{channel}")).json()["pins"] == []
    gone = await rig.control.delete(f"/messages/{posted['id']}")
    assert gone.status_code == 404
