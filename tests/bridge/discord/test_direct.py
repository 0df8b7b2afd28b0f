"""The scheduler's direct path sends what ``httpx.AsyncClient.request`` would send."""

from __future__ import annotations

import httpx

from bridge.discord._direct import DirectSender


def _capture() -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {}
        if request.url.path.endswith("/seed"):  # only there, so pairs of requests match
            headers["Set-Cookie"] = f"__cf_bm={request.url.params['v']}; Path=/; Secure"
        return httpx.Response(200, json={"id": "1"}, headers=headers)

    return seen, httpx.MockTransport(handler)


def _wire(request: httpx.Request) -> tuple[str, str, list[tuple[str, str]], bytes]:
    return request.method, str(request.url), sorted(request.headers.multi_items()), request.content


async def test_same_request_headers_body_and_cookies_as_the_client() -> None:
    seen, transport = _capture()
    async with httpx.AsyncClient(
        base_url="https://discord.test/api/v10",
        headers={"Authorization": "Bot t", "User-Agent": "ccbridge"},
        transport=transport,
        timeout=httpx.Timeout(7.0),
    ) as client:
        direct = DirectSender(client, transport)
        body = {"content": "héllo ✍️", "embeds": [], "n": 1.5}
        for seed in ("", "abc"):  # the second time with a cookie Discord set
            if seed:
                await direct.send("GET", "/seed", params={"v": seed})  # kept in the jar
            via_client = await client.request(
                "PATCH", "/channels/1/messages/2", json=body, params={"a": "b"}
            )
            via_direct = await direct.send(
                "PATCH", "/channels/1/messages/2", json=body, params={"a": "b"}
            )
            assert _wire(seen[-1]) == _wire(seen[-2])
            assert seen[-1].extensions["timeout"] == seen[-2].extensions["timeout"]
            assert via_direct.status_code == via_client.status_code == 200
            assert via_direct.json() == via_client.json() == {"id": "1"}
        assert "__cf_bm=abc" in seen[-1].headers["cookie"]
        # No body at all for a bodiless request, as through the client.
        await client.request("DELETE", "/channels/1/messages/2")
        await direct.send("DELETE", "/channels/1/messages/2")
        assert _wire(seen[-1]) == _wire(seen[-2])
