"""Issue 6, scenario 10, with the real ``claude``: in the middle of a turn the gateway
connection drops and a burst of 429s hits every REST route; the turn completes, a message
typed during the drop starts its session once, and every message arrives exactly once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.bridge_harness import Scene, open_scene
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

LONG = " ".join(f"token{i}" for i in range(80))


def _script(request: RecordedRequest) -> ScriptStep:
    if request.last_user_text == "Stream a long answer":
        return Reply.text(LONG, chunks=40, delay=0.15)
    return Reply.text(f"Answer to: {request.last_user_text}")


def _fingerprint(message: dict[str, Any]) -> str:
    return json.dumps([message["content"], message["embeds"]], sort_keys=True)


def _assert_no_duplicates(scene: Scene, channel_id: int) -> None:
    shown = [_fingerprint(m) for m in scene.bot_messages(channel_id)]
    assert len(shown) == len(set(shown)), f"a message arrived twice in {channel_id}: {shown}"


async def test_a_gateway_drop_and_a_429_burst_mid_turn_lose_and_double_nothing(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        control = scene.server.control
        first = scene.post(scene.channel_id, "Stream a long answer")
        await scene.until_shown(first, "token1 ")

        assert control.gateway_fault("drop")["affected"] == 1
        control.rest_fault(route="*", kind="429", count=8, retry_after=0.3)
        # Typed while the bridge has no gateway connection: replayed on resume.
        second = scene.post(scene.channel_id, "A second question during the outage")

        await scene.until(lambda: "✅ Done" in scene.shown(first), timeout=90)
        await scene.until(lambda: "✅ Done" in scene.shown(second), timeout=90)
        await scene.until(lambda: "token79" in scene.shown(first))
        stats = control.stats_json()
        assert stats["resumes"] >= 1, stats
        assert stats["responses_429"] >= 8, stats

        # The first turn completed with its whole text, shown once.
        texts = [m["content"] for m in scene.bot_messages(first) if m["content"]]
        assert " ".join(" ".join(texts).split()) == LONG
        assert scene.shown(first).count("✅ Done") == 1
        _assert_no_duplicates(scene, first)

        # The message typed during the drop started exactly one session and one turn.
        assert second in scene.server.world.channels
        threads = [c.id for c in scene.server.world.channels.values() if c.parent_id]
        assert sorted(threads) == sorted([first, second])
        await scene.until_shown(second, "Answer to: A second question during the outage")
        asked = [t.last_user_text for t in model_server.turns]
        assert asked.count("A second question during the outage") == 1
        assert asked.count("Stream a long answer") == 1
        assert scene.shown(second).count("✅ Done") == 1
        _assert_no_duplicates(scene, second)
        # Nothing was posted in the channel itself (no error, no double reply).
        assert scene.bot_messages(scene.channel_id) == []
