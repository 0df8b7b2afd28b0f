"""Every route against every kind of credential: none, a wrong one, the admin secret and
a session's own token. The expected answers are the policy of docs/api.md, written out
here independently of the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.api import ROUTES
from bridge.store.actor import store_call
from tests.bridge.api._parts import NOW, SECRET, TIMEOUT, Parts, open_api

SESSION = 42

ADMIN_ONLY = {
    ("/api/sessions", "GET"),
    ("/api/tasks", "GET"),
    ("/api/tasks", "POST"),
    ("/api/tasks/{id}", "GET"),
    ("/api/tasks/{id}", "PATCH"),
    ("/api/tasks/{id}", "DELETE"),
    ("/api/tasks/{id}/run", "POST"),
}
PUBLIC = {("/api/health", "GET")}


def _body(path: str, method: str, kind: str, workdir: Path) -> dict[str, Any] | None:
    path = path.removeprefix("/s/{token}")
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("/api/lounge", "POST"): {"message": "hi"},
        ("/api/notify", "POST"): {"message": "hi"},
        ("/api/schedule", "POST"): {"message": "hi", "delay_seconds": 5},
        ("/api/tasks", "POST"): {
            "name": "t",
            "prompt": "p",
            "interval_seconds": 60,
            "working_dir": str(workdir),
        },
        ("/api/tasks/{id}", "PATCH"): {"name": "renamed"},
        ("/api/spawn", "POST"): {"prompt": "child"},
        ("/api/mark-resume", "POST"): {"thread_id": str(SESSION)} if kind == "admin" else {},
    }
    return bodies.get((path, method))


async def _prepare(api: Parts) -> tuple[int, int]:
    await api.add_session(SESSION)

    def seed(db: Any) -> tuple[int, int]:
        task = db.task_add(
            name="t",
            prompt="p",
            working_dir="/",
            timeout_seconds=60.0,
            interval_seconds=60.0,
            anchor_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
        note = db.notification_add("n", SESSION, NOW + 60, NOW, owner_thread_id=SESSION)
        return task.id, note.id

    return await store_call(api.store, seed, timeout=TIMEOUT)


def _credential(api: Parts, kind: str) -> str | None:
    return {
        "none": None,
        "wrong": "not-a-credential-at-all",
        "admin": SECRET,
        "session": api.tokens.token_for(SESSION),
    }[kind]


@pytest.mark.parametrize("kind", ["none", "wrong", "admin", "session"])
@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, _, _ in ROUTES])
async def test_route_by_credential(tmp_path: Path, path: str, method: str, kind: str) -> None:
    async with open_api(tmp_path) as api:
        task_id, notification_id = await _prepare(api)
        credential = _credential(api, kind)
        url = path.replace("{id}", str(notification_id if "scheduled" in path else task_id))
        headers = {}
        if path.startswith("/s/{token}"):
            # The path carries the credential; only a session token is one.
            url = url.replace("{token}", credential or "none")
        elif credential is not None:
            headers["Authorization"] = f"Bearer {credential}"
        response = await api.client.request(
            method, url, headers=headers, json=_body(path, method, kind, tmp_path)
        )
    status = response.status_code
    if (path, method) in PUBLIC:
        assert status == 200
    elif path.startswith("/s/{token}"):
        if kind == "session":
            assert 200 <= status < 300, (status, response.text)
        else:
            assert status == 401, response.text
    elif kind in ("none", "wrong"):
        assert status == 401, response.text
        assert "error" in response.json()
    elif kind == "session" and (path, method) in ADMIN_ONLY:
        assert status == 403, response.text
    else:
        assert 200 <= status < 300, (status, response.text)


async def test_a_token_from_another_key_or_a_forged_thread_is_refused(tmp_path: Path) -> None:
    from bridge.api import SessionTokens

    async with open_api(tmp_path) as api:
        good = api.tokens.token_for(SESSION)
        for token in (
            f"{SESSION + 1}.{good.split('.')[1]}",
            SessionTokens.generate().token_for(SESSION),
            good + "0",
            "٤٢." + good.split(".")[1],
            "9" * 5000 + "." + good.split(".")[1],
        ):
            response = await api.client.get(
                "/api/lounge", headers={"Authorization": f"Bearer {token}".encode()}
            )
            assert response.status_code == 401, token[:30]
