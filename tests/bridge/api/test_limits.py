"""The request-size limit over a real socket (Hypercorn): a 20 MB lounge post, declared
or chunked, gets a JSON 413 and the API keeps serving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import trio

from actors.testing import open_test_system
from bridge.api import MAX_BODY_BYTES, ApiDeps, SessionTokens, make_api_app, serve_api
from bridge.sessions.coordinator import CoordinatorConfig, coordinator_actor
from bridge.store.actor import STORE_MAILBOX, store_actor
from tests.bridge.api._parts import SECRET

TIMEOUT = 60.0
TWENTY_MB = 20 * 1024 * 1024


async def test_a_20_mb_post_is_refused_and_the_api_keeps_serving(tmp_path: Path) -> None:
    async with open_test_system() as system:
        store = await system.spawn(store_actor, tmp_path / "db", mailbox=STORE_MAILBOX)
        coordinator = await system.spawn(coordinator_actor, store, None, CoordinatorConfig())
        tokens = SessionTokens.generate()
        app = make_api_app(
            ApiDeps(store=store, coordinator=coordinator, tokens=tokens, admin_secret=SECRET)
        )
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve_api, app, 0)
            session_url = f"{url}/s/{tokens.token_for(42)}/api/lounge"
            with trio.fail_after(TIMEOUT):
                async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                    declared = await client.post(
                        session_url, content=b'{"message": "' + b"x" * TWENTY_MB + b'"}'
                    )
                    assert declared.status_code == 413
                    assert str(MAX_BODY_BYTES) in declared.json()["error"]

                    async def chunks() -> AsyncIterator[bytes]:
                        yield b'{"message": "'
                        for _ in range(TWENTY_MB // 65536):
                            yield b"x" * 65536

                    chunked = await client.post(session_url, content=chunks())
                    assert chunked.status_code == 413

                    over_line = await client.post(session_url, json={"message": "y" * 1001})
                    assert over_line.status_code == 422
                    assert "message" in str(over_line.json()["problems"])

                    assert (await client.get(f"{url}/api/health")).json() == {"status": "ok"}
                    ok = await client.post(session_url, json={"message": "still here"})
                    assert ok.status_code == 201
            nursery.cancel_scope.cancel()
