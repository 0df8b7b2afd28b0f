"""C17 with the real ``claude``: the pinned dashboard in the main channel moves through
queued, working, waiting (a permission prompt, linked) and finished; the owner is pinged
once, alone, when the session starts waiting; the lounge and coordination channels get one
start and one end line per session however many turns it has; after a bridge restart the
same pinned message is edited, not a new one posted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.bridge_harness import Scene, open_scene
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

SLOW = "slowly " * 30


def _description(scene: Scene) -> str:
    dashboards = scene.dashboards()
    assert len(dashboards) == 1, dashboards
    return str(dashboards[0]["embeds"][0]["description"])


def _prompt(scene: Scene, thread: int) -> dict[str, Any] | None:
    for message in scene.bot_messages(thread):
        if message["embeds"] and message["embeds"][0].get("title", "").startswith("🔐"):
            return message
    return None


def _pings(scene: Scene, thread: int) -> list[Any]:
    """The allowed_mentions of every message the bridge created in ``thread`` that may
    ping someone."""
    return [
        e.request_json["allowed_mentions"]
        for e in scene.exchanges
        if e.method == "POST"
        and e.path == f"/channels/{thread}/messages"
        and e.request_json.get("allowed_mentions", {}).get("users")
    ]


async def test_the_dashboard_follows_sessions_and_survives_a_restart(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    work = tmp_path / "repo"

    def script(request: RecordedRequest) -> ScriptStep:
        if request.tool_results():
            return Reply.text("Touched it.")
        said = request.last_user_text
        if said == "First: write slowly":
            return Reply.text(SLOW, chunks=30, delay=0.2)
        if said == "Second: touch the file":
            return Reply.bash(f"touch {work / 'b.txt'}", "touch a file")
        return Reply.text(f"Answer to: {said}")

    model_server.set_script(script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        control = scene.server.control
        lounge = int(control.create_channel("ai-lounge")["id"])
        coordination = int(control.create_channel("coordination")["id"])
        env = {
            "MAX_CONCURRENT_SESSIONS": "1",
            "LOUNGE_CHANNEL_ID": str(lounge),
            "COORDINATION_CHANNEL_ID": str(coordination),
            "SESSION_END_QUIET_SECONDS": "600",
        }
        async with scene.run_bridge(**env):
            (dashboard,) = await scene.until(lambda: scene.dashboards() or None)
            await scene.until(lambda: control.message(dashboard["id"])["pinned"])
            assert control.channel(scene.channel_id)["pins"] == [dashboard["id"]]

            # Working.
            a = scene.post(scene.channel_id, "First: write slowly")
            await scene.until_shown(a, "slowly")
            await scene.until(lambda: f"<#{a}>" in _description(scene))
            assert "⚙️ Working (1)" in _description(scene)

            # Queued behind it (one slot).
            b = scene.post(scene.channel_id, "Second: touch the file")
            await scene.until(lambda: f"#1 <#{b}>" in _description(scene))
            assert "⏸️ Queued (1)" in _description(scene)

            # Waiting for a human, linked to the prompt; the other one finished.
            prompt = await scene.until(lambda: _prompt(scene, b))
            await scene.until(lambda: f"/{b}/{prompt['id']})" in _description(scene))
            shown = _description(scene)
            assert "🔐 Waiting for you (1)" in shown
            assert "✅ Recently finished (1)" in shown
            assert f"<#{a}> First: write slowly · done" in shown
            # The owner was pinged once, in the thread, and nobody else could be.
            assert _pings(scene, b) == [
                {"parse": [], "users": [str(scene.owner_id)], "replied_user": False}
            ]
            assert f"<@{scene.owner_id}>" in prompt["content"]

            allow = next(
                c["custom_id"]
                for row in prompt["components"]
                for c in row["components"]
                if c["label"] == "Allow"
            )
            scene.click(prompt["id"], allow)
            await scene.until_shown(b, "Touched it.")
            await scene.until(lambda: "✅ Recently finished (2)" in _description(scene))
            assert "Waiting for you" not in _description(scene)
            assert (work / "b.txt").exists()
            assert len(_pings(scene, b)) == 1  # answering it pings nobody again

            # A second turn of the first session: no new start line.
            scene.post(a, "And once more")
            await scene.until_shown(a, "Answer to: And once more")
            await scene.until(lambda: scene.shown(a).count("✅ Done") == 2)
        # The bridge stopped: each session's end line came once.
        for channel in (lounge, coordination):
            lines = scene.shown(channel)
            assert lines.count(f"<#{a}>") + lines.count(f"thread {a}]") == 2, lines
            assert lines.count(f"<#{b}>") + lines.count(f"thread {b}]") == 2, lines
        assert scene.shown(lounge).count("session started") == 2
        assert scene.shown(lounge).count("session ended") == 2

        # After a restart the same pinned message is found and edited.
        before = len(control.message(dashboard["id"])["versions"])
        async with scene.run_bridge(**env):
            await scene.until(lambda: len(control.message(dashboard["id"])["versions"]) > before)
            await scene.until(lambda: "No sessions right now" in _description(scene))
            (again,) = scene.dashboards()
            assert again["id"] == dashboard["id"]
            assert control.channel(scene.channel_id)["pins"] == [dashboard["id"]]
