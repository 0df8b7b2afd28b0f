"""Interaction callbacks (types 1, 4-9), deadlines, followups and the 15-minute token."""

from __future__ import annotations

from typing import Any

import attrs
import trio

from bridge.discord_local import Realism
from tests.bridge.discord_local.conftest import Rig, open_rig

COMMAND = {
    "name": "ask",
    "description": "ask",
    "options": [{"type": 3, "name": "q", "description": "question", "autocomplete": True}],
}


async def _command(rig: Rig, value: str = "why") -> dict[str, Any]:
    if not rig.server.world.commands:
        r = await rig.rest.put(
            f"/applications/{rig.server.world.application_id}/commands", json=[COMMAND]
        )
        assert r.status_code == 200
    alice = await rig.human()
    r = await rig.control.post(
        "/interactions/command",
        json={
            "user_id": alice["id"],
            "channel_id": rig.channel_id,
            "name": "ask",
            "options": [{"name": "q", "type": 3, "value": value}],
        },
    )
    assert r.status_code == 200, r.text
    return r.json()


def _cb(inter: dict[str, Any]) -> str:
    return f"/interactions/{inter['id']}/{inter['token']}/callback"


async def test_reply_with_response_body_and_double_ack(rig: Rig) -> None:
    inter = await _command(rig)
    r = await rig.rest.post(
        _cb(inter),
        params={"with_response": "true"},
        json={"type": 4, "data": {"content": "because"}},
    )
    assert r.status_code == 200
    out = r.json()
    assert out["interaction"]["id"] == inter["id"]
    assert out["resource"]["message"]["content"] == "because"
    assert out["resource"]["message"]["interaction_metadata"]["id"] == inter["id"]
    again = await rig.rest.post(_cb(inter), json={"type": 4, "data": {"content": "twice"}})
    assert (again.status_code, again.json()["code"]) == (400, 40060)
    original = (
        await rig.rest.get(
            f"/webhooks/{rig.server.world.application_id}/{inter['token']}/messages/@original"
        )
    ).json()
    assert original["id"] == out["resource"]["message"]["id"]


async def test_initial_response_after_three_seconds_is_unknown_interaction(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_rig(attrs.evolve(Realism.off(), interaction_deadline=3.0)) as rig:
        inter = await _command(rig)
        await trio.sleep(3.01)
        r = await rig.rest.post(_cb(inter), json={"type": 5})
        assert r.status_code == 404
        assert r.json() == {"code": 10062, "message": "Unknown interaction"}
        assert (await rig.control.get(f"/interactions/{inter['id']}")).json()["late_attempts"] == 1
        on_time = await _command(rig)
        await trio.sleep(2.9)
        assert (await rig.rest.post(_cb(on_time), json={"type": 5})).status_code == 204


async def test_defer_then_followups_and_token_expiry(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_rig(attrs.evolve(Realism.off(), interaction_token_ttl=900.0)) as rig:
        inter = await _command(rig)
        app = rig.server.world.application_id
        assert (await rig.rest.post(_cb(inter), json={"type": 5})).status_code == 204
        loading = (await rig.control.get(f"/interactions/{inter['id']}")).json()[
            "original_message_id"
        ]
        assert (await rig.control.get(f"/messages/{loading}")).json()["flags"] & 128  # LOADING
        # The first followup after a defer fills the loading message (receiving-and-responding.mdx).
        first = (
            await rig.rest.post(
                f"/webhooks/{app}/{inter['token']}", json={"content": "done thinking"}
            )
        ).json()
        assert first["id"] == loading
        assert first["flags"] & 128 == 0
        second = (
            await rig.rest.post(f"/webhooks/{app}/{inter['token']}", json={"content": "more"})
        ).json()
        assert second["id"] != loading
        edited = await rig.rest.patch(
            f"/webhooks/{app}/{inter['token']}/messages/{second['id']}", json={"content": "more!"}
        )
        assert edited.json()["content"] == "more!"
        r = await rig.rest.patch(
            f"/webhooks/{app}/{inter['token']}/messages/@original", json={"content": "final"}
        )
        assert r.json()["content"] == "final"
        versions = (await rig.control.get(f"/messages/{loading}")).json()["versions"]
        assert [v["content"] for v in versions] == ["", "done thinking", "final"]
        await trio.sleep(900.5)
        late = await rig.rest.patch(
            f"/webhooks/{app}/{inter['token']}/messages/@original", json={"content": "too late"}
        )
        assert (late.status_code, late.json()["code"]) == (401, 50027)
        assert (
            await rig.rest.delete(f"/webhooks/{app}/{inter['token']}/messages/{second['id']}")
        ).status_code == 401


async def test_buttons_selects_updates_and_deferred_updates(rig: Rig) -> None:
    alice = await rig.human()
    row = {
        "type": 1,
        "components": [
            {"type": 2, "style": 1, "label": "Go", "custom_id": "go"},
            {"type": 2, "style": 2, "label": "Off", "custom_id": "off", "disabled": True},
        ],
    }
    select_row = {
        "type": 1,
        "components": [
            {
                "type": 3,
                "custom_id": "pick",
                "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}],
                "max_values": 2,
            }
        ],
    }
    m = await rig.say("choose", components=[row, select_row])
    assert [c["id"] for c in m["components"][0]["components"]] == [
        2,
        3,
    ]  # Discord numbers components
    click = (
        await rig.control.post(
            "/interactions/button",
            json={"user_id": alice["id"], "message_id": m["id"], "custom_id": "go"},
        )
    ).json()
    assert click["data"] == {"custom_id": "go", "component_type": 2}
    r = await rig.rest.post(
        _cb(click),
        params={"with_response": "1"},
        json={"type": 7, "data": {"content": "went", "components": []}},
    )
    assert r.json()["resource"]["message"]["content"] == "went"
    assert (await rig.control.get(f"/messages/{m['id']}")).json()["components"] == []

    disabled = await rig.control.post(
        "/interactions/button",
        json={"user_id": alice["id"], "message_id": m["id"], "custom_id": "off"},
    )
    assert disabled.status_code == 400

    m2 = await rig.say("choose again", components=[select_row])
    bad = await rig.control.post(
        "/interactions/select",
        json={"user_id": alice["id"], "message_id": m2["id"], "custom_id": "pick", "values": ["z"]},
    )
    assert bad.status_code == 400
    pick = (
        await rig.control.post(
            "/interactions/select",
            json={
                "user_id": alice["id"],
                "message_id": m2["id"],
                "custom_id": "pick",
                "values": ["a", "b"],
            },
        )
    ).json()
    assert pick["data"]["values"] == ["a", "b"]
    assert (await rig.rest.post(_cb(pick), json={"type": 6})).status_code == 204
    original = await rig.rest.get(
        f"/webhooks/{rig.server.world.application_id}/{pick['token']}/messages/@original"
    )
    assert original.json()["id"] == m2["id"]
    # Autocomplete results are not valid for component interactions.
    wrong = await rig.rest.post(_cb(await _command(rig)), json={"type": 8, "data": {"choices": []}})
    assert (wrong.status_code, wrong.json()["code"]) == (400, 50035)


async def test_modal_round_trip(rig: Rig) -> None:
    inter = await _command(rig)
    modal = {
        "custom_id": "feedback",
        "title": "Tell me",
        "components": [
            {"type": 18, "label": "Text", "component": {"type": 4, "custom_id": "text", "style": 2}}
        ],
    }
    assert (await rig.rest.post(_cb(inter), json={"type": 9, "data": modal})).status_code == 204
    submitted = (
        await rig.control.post(
            "/interactions/modal", json={"interaction_id": inter["id"], "values": {"text": "great"}}
        )
    ).json()
    assert submitted["type"] == 5
    assert submitted["data"]["custom_id"] == "feedback"
    assert submitted["data"]["components"][0]["component"]["value"] == "great"
    # A modal may not answer a modal submit.
    r = await rig.rest.post(_cb(submitted), json={"type": 9, "data": modal})
    assert r.status_code == 400
    assert (
        await rig.rest.post(_cb(submitted), json={"type": 4, "data": {"content": "thanks"}})
    ).status_code == 204
    long_title = await rig.rest.post(
        _cb(await _command(rig)), json={"type": 9, "data": {**modal, "title": "t" * 46}}
    )
    assert (
        long_title.json()["errors"]["data"]["title"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    )


async def test_autocomplete_waits_for_choices(rig: Rig) -> None:
    await rig.rest.put(f"/applications/{rig.server.world.application_id}/commands", json=[COMMAND])
    alice = await rig.human()

    async def answer() -> None:
        inter = await rig.server.wait_until(
            lambda: next((i for i in rig.server.world.interactions.values() if i.type == 4), None)
        )
        r = await rig.rest.post(
            f"/interactions/{inter.id}/{inter.token}/callback",
            json={"type": 8, "data": {"choices": [{"name": "Why?", "value": "why"}]}},
        )
        assert r.status_code == 204

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer)
        r = await rig.control.post(
            "/interactions/autocomplete",
            json={
                "user_id": alice["id"],
                "channel_id": rig.channel_id,
                "name": "ask",
                "options": [{"name": "q", "type": 3, "value": "wh", "focused": True}],
            },
        )
    assert r.json()["choices"] == [{"name": "Why?", "value": "why"}]
    assert r.json()["data"]["options"][0]["focused"] is True


async def test_ping_pong(rig: Rig) -> None:
    ping = (await rig.control.post("/interactions/ping")).json()
    assert ping["type"] == 1
    assert (await rig.rest.post(_cb(ping), json={"type": 1})).status_code == 204
    assert (await rig.control.get(f"/interactions/{ping['id']}")).json()["response_type"] == 1
    inter = await _command(rig)
    assert (await rig.rest.post(_cb(inter), json={"type": 1})).status_code == 400
