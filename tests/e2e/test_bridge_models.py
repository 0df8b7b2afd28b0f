"""Issue 12, end to end with the real ``claude``: the model a spawn, a webhook trigger or a
scheduled task names is the model of every turn of its session (``--model`` reaches the
CLI, which sends it to the API), while a person's session keeps ``CLAUDE_MODEL``. The
scripted model server records the ``model`` field of each request it receives."""

from __future__ import annotations

from pathlib import Path

import httpx

from bridge.store import RunOutcome
from bridge.store.actor import store_call
from tests.e2e.bridge_harness import TIMEOUT, Scene, open_scene
from tests.e2e.test_bridge_triggers import _execute
from tests.support.model_server import ModelServer, RecordedRequest, Reply

SECRET = "e2e-models-secret-0123456789"
DEFAULT_MODEL = "claude-sonnet-4-5"
SPAWN_MODEL = "claude-opus-4-5-20251101"
"""Dated: the CLI sends some retired names as a newer model (``claude-opus-4-1`` went out as
another id), so these are names it passes through unchanged."""
TRIGGER_MODEL = "claude-haiku-4-5"
TASK_MODEL = "claude-opus-4-5"


def _turns_saying(scene: Scene, text: str) -> list[RecordedRequest]:
    return [t for t in scene.model.turns if t.last_user_text.endswith(text)]


async def _done(scene: Scene, thread: int, count: int = 1) -> None:
    def finished() -> bool:
        return (
            sum(str(e.get("title", "")).startswith("✅ Done") for e in scene.embeds(thread))
            >= count
        )

    await scene.until(finished, timeout=90)


async def test_spawn_trigger_and_task_models_reach_the_api_on_every_turn(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(lambda request: Reply.text("ok"))
    async with open_scene(
        tmp_path,
        model_server,
        claude_bin,
        claude_env,
        bridge=False,
        CCBRIDGE_API_SECRET=SECRET,
        CLAUDE_MODEL=DEFAULT_MODEL,
    ) as scene:
        channel = scene.channel_id
        hook = scene.server.control.create_webhook(channel, "ci")
        triggers = tmp_path / "triggers.toml"
        triggers.write_text(
            f"""
[[trigger]]
name = "nightly"
exact = "nightly"
prompt = "Trigger prompt."
model = "{TRIGGER_MODEL}"
channels = [{channel}]
webhooks = [{hook["id"]}]
"""
        )
        async with scene.run_bridge(TRIGGERS_FILE=str(triggers)) as bridge:
            headers = {"Authorization": f"Bearer {SECRET}"}
            async with httpx.AsyncClient(base_url=bridge.api_url, timeout=TIMEOUT) as client:
                spawned = await client.post(
                    "/api/spawn",
                    headers=headers,
                    json={"prompt": "Spawn prompt.", "model": SPAWN_MODEL},
                )
                assert spawned.status_code == 201, spawned.text
                spawn_thread = int(spawned.json()["thread_id"])
                await _done(scene, spawn_thread)
                # A later turn in the same thread keeps the session's model.
                scene.post(spawn_thread, "Second spawn message.")
                await _done(scene, spawn_thread, 2)

                await _execute(scene.server.rest_url, hook, "nightly")
                await scene.until(lambda: _turns_saying(scene, "Trigger prompt."))

                task = await client.post(
                    "/api/tasks",
                    headers=headers,
                    json={
                        "name": "modelled",
                        "prompt": "Task prompt.",
                        "interval_seconds": 3600,
                        "model": TASK_MODEL,
                    },
                )
                assert task.status_code == 201, task.text
                task_id = task.json()["id"]
                ran = await client.post(f"/api/tasks/{task_id}/run", headers=headers)
                assert ran.status_code == 202
                await scene.until(lambda: _turns_saying(scene, "Task prompt."))

                person = scene.post(channel, "Person prompt.")
                await _done(scene, person)

            runs = await store_call(bridge.store, lambda db: db.runs(task_id), timeout=TIMEOUT)
            assert runs
            assert runs[0].thread_id is not None
            assert runs[0].outcome in (RunOutcome.RUNNING, RunOutcome.DONE)

    def models(text: str) -> list[str]:
        return [t.body["model"] for t in _turns_saying(scene, text)]

    assert models("Spawn prompt.") == [SPAWN_MODEL]
    assert models("Second spawn message.") == [SPAWN_MODEL]
    assert models("Trigger prompt.") == [TRIGGER_MODEL]
    assert models("Task prompt.") == [TASK_MODEL]
    assert models("Person prompt.") == [DEFAULT_MODEL]
