"""The local API through a real httpx client: auth, strict bodies, lounge, sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.testing import open_test_system
from bridge.api import ApiDeps, SessionTokens, make_api_app, serve_api
from bridge.sessions.coordinator import CoordinatorConfig, coordinator_actor
from bridge.sessions.messages import GetTurnContext, SessionStarted
from bridge.store import SessionRecord
from bridge.store.actor import STORE_MAILBOX, store_actor, store_call

SECRET = "admin-secret-0123456789"
TIMEOUT = 30.0  # the store runs in worker threads: real clock


@pytest.fixture
async def bridge_parts(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with open_test_system() as system:
        store = await system.spawn(store_actor, tmp_path / "db", mailbox=STORE_MAILBOX)
        coordinator = await system.spawn(
            coordinator_actor, store, None, CoordinatorConfig(clock=lambda: 1000.0)
        )
        tokens = SessionTokens.generate()
        app = make_api_app(
            ApiDeps(store=store, coordinator=coordinator, tokens=tokens, admin_secret=SECRET)
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
            yield {"client": client, "store": store, "coordinator": coordinator, "tokens": tokens}


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRET}"}


async def test_health_needs_no_auth(bridge_parts: dict[str, Any]) -> None:
    response = await bridge_parts["client"].get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {SECRET}"}],
)
async def test_admin_routes_refuse_without_the_secret(
    bridge_parts: dict[str, Any], headers: dict[str, str]
) -> None:
    client = bridge_parts["client"]
    assert (await client.get("/api/sessions", headers=headers)).status_code == 401
    assert (
        await client.post("/api/lounge", headers=headers, json={"message": "hi"})
    ).status_code == 401


async def test_a_session_token_cannot_list_sessions(bridge_parts: dict[str, Any]) -> None:
    token = bridge_parts["tokens"].token_for(42)
    response = await bridge_parts["client"].get(
        "/api/sessions", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403


async def test_sessions_lists_stored_sessions_with_live_status(
    bridge_parts: dict[str, Any],
) -> None:
    record = SessionRecord(thread_id=7, channel_id=1, working_dir="/repo", title="fix it")
    await store_call(bridge_parts["store"], lambda db: db.put_session(record), timeout=TIMEOUT)
    bridge_parts["coordinator"].tell(
        SessionStarted(thread_id=7, title="fix it", working_dir="/repo")
    )
    response = await bridge_parts["client"].get("/api/sessions", headers=_admin())
    assert response.status_code == 200
    [session] = response.json()["sessions"]
    assert session["thread_id"] == "7"
    assert session["title"] == "fix it"
    assert session["status"] == "running"


async def test_a_session_posts_to_its_lounge_url_without_a_header(
    bridge_parts: dict[str, Any],
) -> None:
    # The exact request the appended system prompt tells Claude to make.
    token = bridge_parts["tokens"].token_for(42)
    client = bridge_parts["client"]
    response = await client.post(
        f"/s/{token}/api/lounge", json={"message": "editing db.py", "label": "thread 42"}
    )
    assert response.status_code == 201
    assert response.json()["author"] == "thread 42"
    context = await bridge_parts["coordinator"].ask(GetTurnContext(thread_id=1), timeout=TIMEOUT)
    assert [(e.author, e.text, e.thread_id) for e in context.lounge] == [
        ("thread 42", "editing db.py", 42)
    ]
    # A session cannot pass itself off as someone else.
    response = await client.post(
        "/api/lounge",
        headers={"Authorization": f"Bearer {token}"},
        json={"message": "x", "label": "admin"},
    )
    assert response.json()["author"] == "admin (thread 42)"


async def test_a_forged_token_is_refused(bridge_parts: dict[str, Any]) -> None:
    good = bridge_parts["tokens"].token_for(42)
    forged = "43." + good.split(".")[1]
    other_key = SessionTokens.generate().token_for(42)
    for token in (forged, other_key, "nonsense"):
        response = await bridge_parts["client"].post(
            f"/s/{token}/api/lounge", json={"message": "hi"}
        )
        assert response.status_code == 401, token


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"message": "hi", "extra": 1}, "extra"),
        ({"label": "x"}, "message"),
        ({"message": 5}, "message"),
        ({"message": "   "}, "empty"),
    ],
)
async def test_bad_bodies_get_a_422_naming_the_problem(
    bridge_parts: dict[str, Any], body: dict[str, Any], fragment: str
) -> None:
    response = await bridge_parts["client"].post("/api/lounge", headers=_admin(), json=body)
    assert response.status_code == 422
    assert fragment in str(response.json()["problems"])


async def test_lounge_get_returns_stored_lines(bridge_parts: dict[str, Any]) -> None:
    client = bridge_parts["client"]
    for i in range(3):
        await client.post(
            "/api/lounge", headers=_admin(), json={"message": f"m{i}", "label": "ops"}
        )
    await bridge_parts["coordinator"].stop()  # drains the coordinator's outbox to the store
    response = await client.get("/api/lounge?limit=2", headers=_admin())
    assert response.status_code == 200
    assert [(m["author"], m["message"]) for m in response.json()["messages"]] == [
        ("ops", "m1"),
        ("ops", "m2"),
    ]
    assert (await client.get("/api/lounge?limit=0", headers=_admin())).status_code == 422


async def test_serve_api_listens_on_loopback(bridge_parts: dict[str, Any]) -> None:
    app = make_api_app(
        ApiDeps(
            store=bridge_parts["store"],
            coordinator=bridge_parts["coordinator"],
            tokens=SessionTokens.generate(),
        )
    )
    async with trio.open_nursery() as nursery:
        url = await nursery.start(serve_api, app, 0)
        assert url.startswith("http://127.0.0.1:")
        with trio.fail_after(TIMEOUT):
            async with httpx.AsyncClient(base_url=url) as client:
                response = await client.get("/api/health")
                assert response.json() == {"status": "ok"}
                # No secret configured: admin routes are closed to everyone.
                assert (
                    await client.get("/api/sessions", headers={"Authorization": "Bearer x" * 3})
                ).status_code == 401
        nursery.cancel_scope.cancel()
