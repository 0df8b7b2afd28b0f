"""Notifications (R2, R3) and tasks (R4) through the API: what is stored, who may do what,
and the 4xx each bad field gets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bridge.scheduler.actor import ReloadSchedule, RunTaskNow
from bridge.store import NotificationState
from bridge.store.actor import store_call
from tests.bridge.api._parts import MAIN_CHANNEL, NOW, TIMEOUT, Parts, open_api


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Parts]:
    async with open_api(tmp_path) as parts:
        yield parts


async def test_notify_posts_now_without_pinging_anyone(api: Parts) -> None:
    response = await api.client.post(
        "/api/notify", headers=api.admin(), json={"message": "deploy done @everyone"}
    )
    assert response.status_code == 201
    assert response.json() == {"delivered": True, "channel_id": str(MAIN_CHANNEL)}
    [(channel, text)] = api.posted
    assert channel == MAIN_CHANNEL
    assert "@everyone" not in text
    assert text.startswith("deploy done @")


async def test_a_session_notifies_only_its_own_thread(api: Parts) -> None:
    await api.add_session(42)
    own = await api.client.post("/api/notify", headers=api.session(42), json={"message": "hi"})
    assert own.status_code == 201
    assert api.posted == [(42, "hi")]
    other = await api.client.post(
        "/api/notify", headers=api.session(42), json={"message": "hi", "thread_id": "43"}
    )
    assert other.status_code == 403
    unknown = await api.client.post(
        "/api/notify", headers=api.admin(), json={"message": "hi", "thread_id": "77"}
    )
    assert unknown.status_code == 404


async def test_schedule_stores_a_notification_and_tells_the_scheduler(api: Parts) -> None:
    await api.add_session(42)
    response = await api.client.post(
        "/api/schedule", headers=api.session(42), json={"message": "later", "delay_seconds": 60}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["due_at"] == NOW + 60
    assert body["channel_id"] == "42"
    assert body["owner_thread_id"] == "42"
    await api.scheduler.expect(ReloadSchedule, timeout=TIMEOUT)
    # The session sees its own; another session sees nothing; the admin sees all.
    mine = await api.client.get("/api/scheduled", headers=api.session(42))
    assert [n["id"] for n in mine.json()["scheduled"]] == [body["id"]]
    theirs = await api.client.get("/api/scheduled", headers=api.session(43))
    assert theirs.json()["scheduled"] == []
    everyone = await api.client.get("/api/scheduled", headers=api.admin())
    assert len(everyone.json()["scheduled"]) == 1
    # Only its owner (or the admin) may cancel it.
    refused = await api.client.delete(f"/api/scheduled/{body['id']}", headers=api.session(43))
    assert refused.status_code == 404
    deleted = await api.client.delete(f"/api/scheduled/{body['id']}", headers=api.session(42))
    assert deleted.json() == {"deleted": body["id"]}
    left = await store_call(api.store, lambda db: db.notifications(), timeout=TIMEOUT)
    assert left == []


async def test_a_sent_notification_cannot_be_cancelled(api: Parts) -> None:
    response = await api.client.post(
        "/api/schedule", headers=api.admin(), json={"message": "x", "at": NOW + 10}
    )
    nid = response.json()["id"]
    await store_call(
        api.store,
        lambda db: db.notification_mark(nid, NotificationState.SENT, NOW, late=False),
        timeout=TIMEOUT,
    )
    assert (
        await api.client.delete(f"/api/scheduled/{nid}", headers=api.admin())
    ).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "x"}, "at"),
        ({"message": "x", "at": NOW, "delay_seconds": 1}, "at"),
        ({"message": "x", "at": NOW - 3600}, "at"),
        ({"message": "x", "at": NOW + 400 * 86400}, "at"),
        ({"message": "x", "delay_seconds": -5}, "delay_seconds"),
        ({"message": "x", "delay_seconds": "5"}, "delay_seconds"),
        ({"message": "", "delay_seconds": 5}, "message"),
        ({"message": "x" * 2001, "delay_seconds": 5}, "message"),
        ({"message": "x", "delay_seconds": 5, "thread_id": "abc"}, "thread_id"),
    ],
)
async def test_bad_schedules_get_a_422_naming_the_field(
    api: Parts, body: dict[str, Any], field: str
) -> None:
    response = await api.client.post("/api/schedule", headers=api.admin(), json=body)
    assert response.status_code == 422
    assert field in str(response.json()["problems"])


async def test_a_session_meets_its_pending_notification_cap(api: Parts) -> None:
    from bridge.api._routes_automation import MAX_PENDING_PER_SESSION

    await api.add_session(42)
    for _ in range(MAX_PENDING_PER_SESSION):
        ok = await api.client.post(
            "/api/schedule", headers=api.session(42), json={"message": "m", "delay_seconds": 9}
        )
        assert ok.status_code == 201
    over = await api.client.post(
        "/api/schedule", headers=api.session(42), json={"message": "m", "delay_seconds": 9}
    )
    assert over.status_code == 429


def _task(workdir: Path, **fields: Any) -> dict[str, Any]:
    return {
        "name": "nightly",
        "prompt": "run the tests",
        "interval_seconds": 3600,
        "working_dir": str(workdir),
        **fields,
    }


async def test_tasks_are_created_listed_changed_run_and_deleted(api: Parts) -> None:
    created = await api.client.post("/api/tasks", headers=api.admin(), json=_task(api.workdir))
    assert created.status_code == 201
    task = created.json()
    assert task["enabled"] is True
    assert task["timeout_seconds"] == 1800.0
    assert task["next_run_at"] is None  # the scheduler computes and saves it
    await api.scheduler.expect(ReloadSchedule, timeout=TIMEOUT)

    listed = await api.client.get("/api/tasks", headers=api.admin())
    assert [t["id"] for t in listed.json()["tasks"]] == [task["id"]]

    patched = await api.client.patch(
        f"/api/tasks/{task['id']}",
        headers=api.admin(),
        json={"cron": "0 9 * * 1-5", "timezone": "Europe/Paris", "enabled": False},
    )
    assert patched.status_code == 200
    changed = patched.json()
    assert (changed["cron"], changed["interval_seconds"], changed["enabled"]) == (
        "0 9 * * 1-5",
        None,
        False,
    )
    await api.scheduler.expect(ReloadSchedule, timeout=TIMEOUT)

    run = await api.client.post(f"/api/tasks/{task['id']}/run", headers=api.admin())
    assert run.status_code == 202
    assert await api.scheduler.expect(RunTaskNow, timeout=TIMEOUT) == RunTaskNow(task_id=task["id"])

    deleted = await api.client.delete(f"/api/tasks/{task['id']}", headers=api.admin())
    assert deleted.json() == {"deleted": task["id"]}
    gone = await api.client.get(f"/api/tasks/{task['id']}", headers=api.admin())
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"interval_seconds": None}, "interval_seconds"),
        ({"cron": "* * * * *"}, "interval_seconds"),
        ({"interval_seconds": 0.5}, "interval_seconds"),
        ({"interval_seconds": None, "cron": "61 * * * *"}, "cron"),
        ({"interval_seconds": None, "cron": "* * * * * *"}, "cron"),
        ({"interval_seconds": None, "cron": "0 9 * * *", "timezone": "Mars/Base"}, "timezone"),
        ({"working_dir": "relative/dir"}, "working_dir"),
        ({"working_dir": "/does/not/exist"}, "working_dir"),
        ({"model": "--dangerously-skip-permissions"}, "model"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"thread_mode": "both"}, "thread_mode"),
        ({"enabled": "yes"}, "enabled"),
        ({"prompt": "  "}, "prompt"),
        ({"name": "n" * 101}, "name"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_tasks_get_a_422_naming_the_field(
    api: Parts, fields: dict[str, Any], field: str
) -> None:
    response = await api.client.post(
        "/api/tasks", headers=api.admin(), json=_task(api.workdir, **fields)
    )
    assert response.status_code == 422, response.text
    assert field in str(response.json()["problems"])


async def test_tasks_are_the_admins_alone(api: Parts) -> None:
    response = await api.client.post("/api/tasks", headers=api.session(42), json=_task(api.workdir))
    assert response.status_code == 403
    assert (await api.client.get("/api/tasks", headers=api.session(42))).status_code == 403
