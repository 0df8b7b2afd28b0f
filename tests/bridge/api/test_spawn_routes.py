"""POST /api/spawn (R5, A5) and POST /api/mark-resume (R6) through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.store.actor import store_call
from tests.bridge.api._parts import TIMEOUT, Parts, open_api


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Parts]:
    async with open_api(tmp_path, spawn_max_depth=2, spawn_per_hour=3) as parts:
        yield parts


async def test_the_admin_spawns_a_session_through_the_routers_start_path(api: Parts) -> None:
    response = await api.client.post(
        "/api/spawn", headers=api.admin(), json={"prompt": "refactor db.py\nthen test"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {"thread_id": "9000", "parent_thread_id": None, "depth": 0}
    [start] = api.started
    assert start.prompt == "refactor db.py\nthen test"
    assert start.title == "refactor db.py"
    assert start.working_dir == str(api.workdir)
    assert start.origin == "api"
    assert start.thread_id is None  # a new thread


async def test_a_session_spawns_children_up_to_the_depth_limit(api: Parts) -> None:
    await api.add_session(42)  # a person's session: depth 0
    child = await api.client.post("/api/spawn", headers=api.session(42), json={"prompt": "a"})
    assert child.json() == {"thread_id": "9000", "parent_thread_id": "42", "depth": 1}
    grandchild = await api.client.post(
        "/api/spawn", headers=api.session(9000), json={"prompt": "b"}
    )
    assert grandchild.json()["depth"] == 2
    too_deep = await api.client.post("/api/spawn", headers=api.session(9001), json={"prompt": "c"})
    assert too_deep.status_code == 403
    assert "depth" in too_deep.json()["error"]
    # The registry shows parent and children.
    sessions = (await api.client.get("/api/sessions", headers=api.admin())).json()["sessions"]
    by_id = {s["thread_id"]: s for s in sessions}
    assert by_id["42"]["children"] == ["9000"]
    assert by_id["9000"]["parent_thread_id"] == "42"
    assert by_id["9000"]["children"] == ["9001"]
    assert by_id["9001"]["depth"] == 2


async def test_a_runaway_session_meets_the_rate_limit(api: Parts) -> None:
    await api.add_session(42)
    for _ in range(3):
        ok = await api.client.post("/api/spawn", headers=api.session(42), json={"prompt": "x"})
        assert ok.status_code == 201
    over = await api.client.post("/api/spawn", headers=api.session(42), json={"prompt": "x"})
    assert over.status_code == 429
    assert len(api.started) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": " "}, "prompt"),
        ({"prompt": "x", "working_dir": "/no/such/dir"}, "working_dir"),
        ({"prompt": "x", "model": "-p"}, "model"),
        ({"prompt": "x" * 16_001}, "prompt"),
        ({"prompt": "x\u0000"}, "prompt"),
    ],
)
async def test_bad_spawns_get_a_422(api: Parts, body: dict[str, str], field: str) -> None:
    response = await api.client.post("/api/spawn", headers=api.admin(), json=body)
    assert response.status_code == 422
    assert field in str(response.json())
    assert api.started == []


async def test_mark_resume_marks_the_callers_own_session(api: Parts) -> None:
    await api.add_session(42)
    response = await api.client.post("/api/mark-resume", headers=api.session(42), json={})
    assert response.json() == {"thread_id": "42", "resume_reason": "api"}
    record = await store_call(api.store, lambda db: db.get_session(42), timeout=TIMEOUT)
    assert record is not None
    assert record.resume_reason == "api"
    other = await api.client.post(
        "/api/mark-resume", headers=api.session(42), json={"thread_id": "43"}
    )
    assert other.status_code == 403
    assert (
        await api.client.post("/api/mark-resume", headers=api.admin(), json={})
    ).status_code == 422
    assert (
        await api.client.post("/api/mark-resume", headers=api.admin(), json={"thread_id": "77"})
    ).status_code == 404
