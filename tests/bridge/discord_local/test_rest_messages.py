"""REST messages, reactions, pins, typing, webhooks and the CDN, through httpx + ASGI."""

from __future__ import annotations

import json

import trio

from tests.bridge.discord_local.conftest import Rig


async def test_create_get_list_edit_delete_with_history(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    first = await rig.say("one")
    await trio.sleep(1.5)
    second = await rig.say("two")
    r = await rig.rest.patch(
        f"/channels/{rig.channel_id}/messages/{first['id']}", json={"content": "one, edited"}
    )
    assert r.status_code == 200
    assert r.json()["edited_timestamp"] is not None

    got = (await rig.rest.get(f"/channels/{rig.channel_id}/messages/{first['id']}")).json()
    assert got["content"] == "one, edited"
    listed = (
        await rig.rest.get(f"/channels/{rig.channel_id}/messages", params={"limit": 10})
    ).json()
    assert [m["id"] for m in listed] == [second["id"], first["id"]]  # newest first
    before = (
        await rig.rest.get(f"/channels/{rig.channel_id}/messages", params={"before": second["id"]})
    ).json()
    assert [m["id"] for m in before] == [first["id"]]

    history = (await rig.control.get(f"/messages/{first['id']}")).json()["versions"]
    assert [v["content"] for v in history] == ["one", "one, edited"]
    assert history[1]["visible_at"] - history[0]["visible_at"] >= 1.5

    assert (
        await rig.rest.delete(f"/channels/{rig.channel_id}/messages/{second['id']}")
    ).status_code == 204
    r = await rig.rest.get(f"/channels/{rig.channel_id}/messages/{second['id']}")
    assert r.status_code == 404
    assert r.json() == {"code": 10008, "message": "Unknown Message"}


async def test_bot_cannot_edit_a_humans_message(rig: Rig) -> None:
    alice = await rig.human()
    posted = (
        await rig.control.post(
            f"/channels/{rig.channel_id}/messages",
            json={"author_id": alice["id"], "content": "mine"},
        )
    ).json()
    r = await rig.rest.patch(
        f"/channels/{rig.channel_id}/messages/{posted['id']}", json={"content": "hijack"}
    )
    assert r.status_code == 403
    assert r.json()["code"] == 50005


async def test_enforce_nonce_returns_the_first_message(rig: Rig) -> None:
    a = await rig.say("once", nonce="abc", enforce_nonce=True)
    b = await rig.say("once", nonce="abc", enforce_nonce=True)
    assert a["id"] == b["id"]
    c = await rig.say("once", nonce="abc")  # without enforce_nonce Discord does not dedupe
    assert c["id"] != a["id"]
    assert len(rig.server.world.default_channel.message_ids) == 2


async def test_multipart_files_and_cdn_download(rig: Rig) -> None:
    data = bytes(range(256)) + b"\r\n\r\n--boundary-lookalike\n"
    r = await rig.rest.post(
        f"/channels/{rig.channel_id}/messages",
        data={
            "payload_json": json.dumps(
                {"content": "files", "attachments": [{"id": 0, "description": "raw"}]}
            )
        },
        files={
            "files[0]": ("blob.bin", data, "application/octet-stream"),
            "files[1]": ("a.txt", b"hello", "text/plain"),
        },
    )
    assert r.status_code == 200, r.text
    atts = r.json()["attachments"]
    assert [(a["filename"], a["size"]) for a in atts] == [("blob.bin", len(data)), ("a.txt", 5)]
    assert atts[0]["description"] == "raw"
    cdn = await rig.rest.get(atts[0]["url"])
    assert cdn.status_code == 200
    assert cdn.content == data
    # Editing with an attachments list keeps only those listed (message.mdx, Edit Message).
    r = await rig.rest.patch(
        f"/channels/{rig.channel_id}/messages/{r.json()['id']}",
        json={"attachments": [{"id": atts[1]["id"]}]},
    )
    assert [a["filename"] for a in r.json()["attachments"]] == ["a.txt"]
    assert (await rig.rest.get(rig.server.cdn_url + "/attachments/1/2/x")).status_code == 404


async def test_reactions_pins_typing(rig: Rig) -> None:
    m = await rig.say("react to me")
    base = f"/channels/{rig.channel_id}/messages/{m['id']}"
    assert (await rig.rest.put(f"{base}/reactions/%E2%9C%85/@me")).status_code == 204
    got = (await rig.rest.get(base)).json()
    assert got["reactions"][0]["emoji"] == {"id": None, "name": "\u2705"}
    assert got["reactions"][0]["me"] is True
    assert (await rig.rest.delete(f"{base}/reactions/%E2%9C%85/@me")).status_code == 204
    assert "reactions" not in (await rig.rest.get(base)).json()

    alice = await rig.human()
    await rig.control.post(
        f"/messages/{m['id']}/reactions", json={"user_id": alice["id"], "emoji": "x:123"}
    )
    assert (await rig.rest.delete(f"{base}/reactions/x:123/{alice['id']}")).status_code == 204
    assert rig.server.world.messages[int(m["id"])].reactions == {}

    assert (
        await rig.rest.put(f"/channels/{rig.channel_id}/messages/pins/{m['id']}")
    ).status_code == 204
    pins = (await rig.rest.get(f"/channels/{rig.channel_id}/messages/pins")).json()
    assert [p["message"]["id"] for p in pins["items"]] == [m["id"]]
    assert pins["has_more"] is False
    legacy = (await rig.rest.get(f"/channels/{rig.channel_id}/pins")).json()
    assert [p["id"] for p in legacy] == [m["id"]]
    assert (await rig.rest.delete(f"/channels/{rig.channel_id}/pins/{m['id']}")).status_code == 204
    assert (await rig.control.get(f"/channels/{rig.channel_id}")).json()["pins"] == []
    assert (await rig.rest.post(f"/channels/{rig.channel_id}/typing")).status_code == 204


async def test_webhook_execution_sets_webhook_id(rig: Rig) -> None:
    hook = (await rig.rest.post(f"/channels/{rig.channel_id}/webhooks", json={"name": "ci"})).json()
    r = await rig.rest.post(
        f"/webhooks/{hook['id']}/{hook['token']}",
        params={"wait": "true"},
        json={"content": "from ci"},
    )
    assert r.status_code == 200
    assert r.json()["webhook_id"] == hook["id"]
    assert r.json()["author"]["id"] == hook["id"]
    assert r.json()["author"]["username"] == "ci"
    assert (
        await rig.rest.post(f"/webhooks/{hook['id']}/{hook['token']}", json={"content": "no wait"})
    ).status_code == 204
    bad = await rig.rest.post(f"/webhooks/{hook['id']}/wrong", json={"content": "x"})
    assert bad.status_code == 401
    assert bad.json()["code"] == 50027
    edited = await rig.rest.patch(
        f"/webhooks/{hook['id']}/{hook['token']}/messages/{r.json()['id']}",
        json={"content": "fixed"},
    )
    assert edited.json()["content"] == "fixed"


async def test_channel_get_and_modify(rig: Rig) -> None:
    got = (await rig.rest.get(f"/channels/{rig.channel_id}")).json()
    assert got["name"] == "general"
    r = await rig.rest.patch(f"/channels/{rig.channel_id}", json={"name": "renamed", "topic": "t"})
    assert (r.json()["name"], r.json()["topic"]) == ("renamed", "t")
    assert (await rig.rest.get("/channels/42")).json() == {
        "code": 10003,
        "message": "Unknown Channel",
    }


async def test_account_routes(rig: Rig) -> None:
    me = (await rig.rest.get("/users/@me")).json()
    assert me["id"] == str(rig.server.world.bot.id)
    assert me["bot"] is True
    app = (await rig.rest.get("/oauth2/applications/@me")).json()
    assert app["id"] == me["id"]
    gw = (await rig.rest.get("/gateway/bot")).json()
    assert gw["url"] == rig.server.gateway_url
    assert gw["session_start_limit"]["remaining"] == 1000
    assert (
        await rig.rest.get("/users/@me", headers={"Authorization": "Bot nope"})
    ).status_code == 401
    assert rig.server.stats.invalid_requests == 1


async def test_history_after_a_message_pages_forward_newest_first(rig: Rig) -> None:
    """``after`` returns the ``limit`` messages just after the id, newest first (as Discord
    does); paging on with the newest id read walks to the end without gaps or repeats."""
    posted = [int((await rig.say(f"m{i}"))["id"]) for i in range(7)]
    path = f"/channels/{rig.channel_id}/messages"
    page = (await rig.rest.get(path, params={"after": posted[1], "limit": 3})).json()
    assert [int(m["id"]) for m in page] == [posted[4], posted[3], posted[2]]
    seen: list[int] = []
    after = posted[0]
    while True:
        page = (await rig.rest.get(path, params={"after": after, "limit": 2})).json()
        ids = [int(m["id"]) for m in page]
        assert ids == sorted(ids, reverse=True)
        seen += reversed(ids)
        if len(ids) < 2:
            break
        after = max(ids)
    assert seen == posted[1:]
    assert (await rig.rest.get(path, params={"after": posted[-1]})).json() == []
    for bad in (0, 101):
        r = await rig.rest.get(path, params={"after": posted[0], "limit": bad})
        assert r.status_code == 400
        assert r.json()["code"] == 50035
