"""Rate limits, documented body limits and injected REST faults."""

from __future__ import annotations

import attrs
import pytest
import trio

from bridge.discord_local import Realism
from tests.bridge.discord_local.conftest import Rig, open_rig


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"content": "x" * 2001}, ["content"], "BASE_TYPE_MAX_LENGTH"),
        ({"content": 5}, ["content"], "STRING_TYPE_CONVERT"),
        ({"content": "n", "nonce": "n" * 26}, ["nonce"], "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"title": "t"}] * 11}, ["embeds"], "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"title": "t" * 257}]}, ["embeds", "0", "title"], "BASE_TYPE_MAX_LENGTH"),
        (
            {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]},
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
        ),
        (
            {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]},
            ["embeds", "0", "fields"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {
                "components": [
                    {
                        "type": 1,
                        "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "c"}],
                    }
                ]
                * 6
            },
            ["components"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "label": "b", "custom_id": "c" * 101}
                        ],
                    }
                ]
            },
            ["components", "0", "components", "0", "custom_id"],
            "BASE_TYPE_MAX_LENGTH",
        ),
    ],
)
async def test_bad_message_bodies_get_discords_400(
    rig: Rig, body: dict[str, object], path: list[str], code: str
) -> None:
    r = await rig.rest.post(f"/channels/{rig.channel_id}/messages", json=body)
    assert r.status_code == 400
    out = r.json()
    assert (out["code"], out["message"]) == (50035, "Invalid Form Body")
    node = out["errors"]
    for part in path:
        node = node[part]
    assert node["_errors"][0]["code"] == code
    assert rig.server.world.default_channel.message_ids == []


async def test_documented_limits_can_be_switched_off() -> None:
    async with open_rig(attrs.evolve(Realism.off(), enforce_documented_limits=False)) as rig:
        assert len((await rig.say("x" * 2001))["content"]) == 2001


async def test_invalid_json_and_empty_message(rig: Rig) -> None:
    r = await rig.rest.post(
        f"/channels/{rig.channel_id}/messages",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert (r.status_code, r.json()["code"]) == (400, 50109)
    r = await rig.rest.post(f"/channels/{rig.channel_id}/messages", json={})
    assert (r.status_code, r.json()["code"]) == (400, 50006)


async def test_route_bucket_headers_429_and_reset(autojump_clock: trio.testing.MockClock) -> None:
    async with open_rig(Realism.faithful()) as rig:
        other = (await rig.control.post("/channels", json={"name": "other"})).json()
        seen = []
        for i in range(5):
            r = await rig.rest.post(
                f"/channels/{rig.channel_id}/messages", json={"content": f"m{i}"}
            )
            assert r.status_code == 200
            seen.append(
                (
                    r.headers["x-ratelimit-limit"],
                    r.headers["x-ratelimit-remaining"],
                    r.headers["x-ratelimit-bucket"],
                )
            )
        assert [s[1] for s in seen] == ["4", "3", "2", "1", "0"]
        assert {s[0] for s in seen} == {"5"}
        bucket = seen[0][2]
        limited = await rig.rest.post(
            f"/channels/{rig.channel_id}/messages", json={"content": "too many"}
        )
        assert limited.status_code == 429
        body = limited.json()
        assert body["global"] is False
        assert body["code"] == 0
        assert 0 < body["retry_after"] <= 5.0
        assert limited.headers["x-ratelimit-scope"] == "user"
        assert limited.headers["x-ratelimit-bucket"] == bucket
        assert float(limited.headers["x-ratelimit-reset-after"]) == pytest.approx(
            body["retry_after"], abs=0.01
        )
        # Same bucket hash, other major parameter: an independent count.
        r = await rig.rest.post(f"/channels/{other['id']}/messages", json={"content": "elsewhere"})
        assert (
            r.status_code,
            r.headers["x-ratelimit-bucket"],
            r.headers["x-ratelimit-remaining"],
        ) == (200, bucket, "4")
        await trio.sleep(body["retry_after"])
        assert (
            await rig.rest.post(f"/channels/{rig.channel_id}/messages", json={"content": "again"})
        ).status_code == 200
        stats = rig.server.stats
        assert (stats.responses_429, stats.invalid_requests) == (1, 1)


async def test_global_limit_is_50_per_second_and_skips_interaction_callbacks(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_rig(Realism.faithful()) as rig:
        channels = [rig.channel_id] + [
            int((await rig.control.post("/channels", json={"name": f"c{i}"})).json()["id"])
            for i in range(2)
        ]
        statuses = [
            (await rig.rest.get(f"/channels/{channels[i % 3]}")).status_code for i in range(50)
        ]
        assert statuses == [200] * 50
        over = await rig.rest.get(f"/channels/{channels[0]}")
        assert over.status_code == 429
        assert over.json()["global"] is True
        assert over.headers["x-ratelimit-global"] == "true"
        assert over.headers["x-ratelimit-scope"] == "global"
        # Interaction callbacks are not bound by the global limit.
        alice = await rig.human()
        rig.server.world.overwrite_commands(None, [{"name": "go", "description": "d"}])
        inter = (
            await rig.control.post(
                "/interactions/command",
                json={"user_id": alice["id"], "channel_id": rig.channel_id, "name": "go"},
            )
        ).json()
        r = await rig.rest.post(
            f"/interactions/{inter['id']}/{inter['token']}/callback", json={"type": 5}
        )
        assert r.status_code == 204
        await trio.sleep(over.json()["retry_after"])
        assert (await rig.rest.get(f"/channels/{channels[0]}")).status_code == 200
        assert rig.server.stats.global_429 == 1


async def test_reactions_are_paced_per_channel(autojump_clock: trio.testing.MockClock) -> None:
    async with open_rig(Realism.faithful()) as rig:
        other = int((await rig.control.post("/channels", json={"name": "other"})).json()["id"])
        a = await rig.say("a")
        b = await rig.say("b", channel_id=other)
        first = await rig.rest.put(f"/channels/{rig.channel_id}/messages/{a['id']}/reactions/x/@me")
        assert first.status_code == 204
        assert first.headers["x-ratelimit-limit"] == "1"
        second = await rig.rest.put(
            f"/channels/{rig.channel_id}/messages/{a['id']}/reactions/y/@me"
        )
        assert second.status_code == 429
        assert second.json()["retry_after"] == pytest.approx(0.25, abs=0.01)
        assert (
            await rig.rest.put(f"/channels/{other}/messages/{b['id']}/reactions/x/@me")
        ).status_code == 204
        await trio.sleep(0.25)
        assert (
            await rig.rest.delete(f"/channels/{rig.channel_id}/messages/{a['id']}/reactions/x/@me")
        ).status_code == 204


async def test_strict_and_off_presets(autojump_clock: trio.testing.MockClock) -> None:
    async with open_rig(Realism.strict()) as rig:
        await rig.say("one")
        r = await rig.rest.post(f"/channels/{rig.channel_id}/messages", json={"content": "two"})
        assert r.status_code == 429
    async with open_rig(Realism.off()) as rig:
        for i in range(30):
            await rig.say(f"m{i}")
        assert rig.server.stats.responses_429 == 0


async def test_injected_429_5xx_and_slow_faults(autojump_clock: trio.testing.MockClock) -> None:
    async with open_rig() as rig:
        route = "POST /channels/{channel_id}/messages"
        await rig.control.post(
            "/faults/rest",
            json={"route": route, "kind": "429", "count": 2, "retry_after": 2.5, "scope": "shared"},
        )
        for _ in range(2):
            r = await rig.rest.post(f"/channels/{rig.channel_id}/messages", json={"content": "x"})
            assert r.status_code == 429
            assert r.json() == {
                "message": "You are being rate limited.",
                "retry_after": 2.5,
                "global": False,
                "code": 0,
            }
            assert r.headers["x-ratelimit-scope"] == "shared"
            assert r.headers["retry-after"] == "3"
        await rig.say("through")
        assert rig.server.stats.invalid_requests == 0  # shared-scope 429s do not count

        await rig.control.post("/faults/rest", json={"route": "*", "kind": "5xx", "status": 502})
        assert (await rig.rest.get("/users/@me")).status_code == 502
        assert (await rig.rest.get("/users/@me")).status_code == 200

        await rig.control.post(
            "/faults/rest",
            json={"route": "GET /users/@me", "kind": "slow", "delay": 7.0, "count": None},
        )
        start = trio.current_time()
        assert (await rig.rest.get("/users/@me")).status_code == 200
        assert trio.current_time() - start >= 7.0
        await rig.control.delete("/faults")
        start = trio.current_time()
        await rig.rest.get("/users/@me")
        assert trio.current_time() - start < 1.0
        stats = (await rig.control.get("/stats")).json()
        assert stats["requests"]["GET /users/@me"] == 4
        assert stats["errors_5xx"] == 1
        assert stats["responses_429"] == 2
