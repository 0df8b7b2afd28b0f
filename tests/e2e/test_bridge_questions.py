"""C12 with the real ``claude``: AskUserQuestion answered by a person through the local
Discord server: by a button, by a select menu (multi-select), by "Other…" (a modal), by
a message typed in the thread, and across a bridge restart while the question waits."""

from __future__ import annotations

import json
from typing import Any

from bridge.sessions.session import RESUME_PROMPT
from bridge.store import Database, PromptState
from tests.e2e.bridge_harness import Scene, open_scene
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep

COLOR = {
    "question": "Which color?",
    "header": "Color",
    "options": [
        {"label": "Red", "description": "warm"},
        {"label": "Blue", "description": "cool"},
    ],
    "multiSelect": False,
}
TOPPINGS = {
    "question": "Which toppings?",
    "header": "Toppings",
    "options": [
        {"label": "Cheese", "description": "melted"},
        {"label": "Olives", "description": "black"},
        {"label": "Basil", "description": "fresh"},
    ],
    "multiSelect": True,
}
CRUST = {
    "question": "Which crust?",
    "header": "Crust",
    "options": [
        {"label": "Thin", "description": "crisp"},
        {"label": "Thick", "description": "soft"},
    ],
    "multiSelect": False,
}
ASKS = {"ASK color": [COLOR], "ASK pizza": [TOPPINGS, CRUST], "ASK again": [COLOR]}


def _script(request: RecordedRequest) -> ScriptStep:
    """Ask the questions a prompt names; after an answer, repeat what the tool said."""
    results = request.tool_results()
    if results:
        return Reply.text("Heard: " + json.dumps(results[0]["content"]))
    said = request.last_user_text
    for prefix, questions in ASKS.items():
        if said.startswith(prefix):
            return Reply.tool("AskUserQuestion", {"questions": questions})
    if RESUME_PROMPT in said:
        return Reply.tool("AskUserQuestion", {"questions": [COLOR]})
    return Reply.text(f"plain reply to {said!r}")


def _question(scene: Scene, thread: int, nth: int) -> dict[str, Any] | None:
    found = [
        m
        for m in scene.bot_messages(thread)
        if m["embeds"] and m["embeds"][0].get("title", "").startswith("❓ Claude has")
    ]
    return found[nth - 1] if len(found) >= nth else None


def _components(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message["components"] for c in row["components"]]


def _button(message: dict[str, Any], label: str) -> str:
    (found,) = [c for c in _components(message) if c["type"] == 2 and c.get("label") == label]
    return str(found["custom_id"])


def _current(scene: Scene, message_id: str) -> dict[str, Any]:
    return dict(scene.server.control.message(message_id))


def _description(scene: Scene, message_id: str) -> str:
    return str(_current(scene, message_id)["embeds"][0].get("description", ""))


async def test_questions_answered_by_button_select_other_and_a_typed_reply(
    tmp_path: Any, model_server: ModelServer, claude_bin: Any, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script)
    async with open_scene(
        tmp_path, model_server, claude_bin, claude_env, MAX_CONCURRENT_SESSIONS="1"
    ) as scene:
        control = scene.server.control

        # 1. A button.
        thread = scene.post(scene.channel_id, "ASK color please")
        asked = await scene.until(lambda: _question(scene, thread, 1))
        description = asked["embeds"][0]["description"]
        assert "**Color** · Which color?" in description
        assert "**Red**: warm" in description
        assert "**Blue**: cool" in description
        assert [c.get("label") for c in _components(asked)] == ["Red", "Blue", "Other…"]
        # Waiting holds no slot: another thread runs meanwhile with one slot in all.
        other = scene.post(scene.channel_id, "hello while a question waits")
        await scene.until_shown(other, "plain reply to")
        await scene.until_shown(other, "✅ Done")
        scene.click(asked["id"], _button(asked, "Blue"))
        await scene.until_shown(thread, "Heard:")
        await scene.until(lambda: "✅ Answered by" in _description(scene, asked["id"]))
        assert "→ **Blue**" in _description(scene, asked["id"])
        assert _current(scene, asked["id"])["components"] == []
        (result,) = _last_results(scene)
        assert '"Which color?"="Blue"' in json.dumps(result["content"]).replace('\\"', '"')
        await scene.until_shown(thread, "✅ Done")

        # 2. Two questions: a multi-select menu, then "Other…" with a modal.
        scene.post(thread, "ASK pizza please")
        asked = await scene.until(lambda: _question(scene, thread, 2))
        (menu,) = [c for c in _components(asked) if c["type"] == 3]
        assert menu["max_values"] == 3
        assert [o["label"] for o in menu["options"]] == ["Cheese", "Olives", "Basil"]
        control.select(scene.owner_id, asked["id"], menu["custom_id"], ["0", "2"])
        # The first answer is kept; the second question's buttons replace the menu.
        await scene.until(
            lambda: "Thin" in [c.get("label") for c in _components(_current(scene, asked["id"]))]
        )
        assert "→ **Cheese, Basil**" in _description(scene, asked["id"])
        turns_before = len(model_server.turns)
        now = _current(scene, asked["id"])
        click = scene.click(asked["id"], _button(now, "Other…"))
        await scene.until(lambda: control.interaction(click["id"])["modal"] is not None)
        modal = control.interaction(click["id"])["modal"]
        assert control.interaction(click["id"])["response_type"] == 9
        assert modal["title"] == "Crust"
        assert len(model_server.turns) == turns_before  # nothing went back yet
        control.submit_modal(click["id"], {"text": "gluten-free, please"})
        await scene.until(lambda: scene.shown(thread).count("Heard:") == 2)
        text = json.dumps(_last_results(scene)[0]["content"]).replace('\\"', '"')
        assert '"Which toppings?"="Cheese, Basil"' in text
        assert '"Which crust?"="gluten-free, please"' in text
        await scene.until(lambda: "→ **gluten-free, please**" in _description(scene, asked["id"]))
        await scene.until(lambda: scene.shown(thread).count("✅ Done") == 2)

        # 3. A message typed in the thread answers the waiting question, and says so.
        scene.post(thread, "ASK color once more")
        asked = await scene.until(lambda: _question(scene, thread, 3))
        turns_before = len(model_server.turns)
        scene.post(thread, "green, actually")
        await scene.until_shown(thread, "Your message answered Claude's question.")
        await scene.until(lambda: scene.shown(thread).count("Heard:") == 3)
        text = json.dumps(_last_results(scene)[0]["content"]).replace('\\"', '"')
        assert '"Which color?"="green, actually"' in text
        await scene.until(lambda: scene.shown(thread).count("✅ Done") == 3)
        # It was the answer, not a prompt of its own: one request followed, with the answer.
        assert len(model_server.turns) == turns_before + 1
        await scene.until(lambda: "by a message in the thread" in _description(scene, asked["id"]))
        assert (await scene.status(thread)).status == "idle"


def _last_results(scene: Scene) -> list[dict[str, Any]]:
    """The tool results of the newest model request that carried any."""
    for turn in reversed(scene.model.turns):
        if turn.tool_results():
            return turn.tool_results()
    raise AssertionError("no request carried a tool result")


async def test_a_question_waiting_across_a_bridge_restart_is_answered_after_it(
    tmp_path: Any, model_server: ModelServer, claude_bin: Any, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        async with scene.run_bridge(seed=1):
            thread = scene.post(scene.channel_id, "ASK color please")
            asked = await scene.until(lambda: _question(scene, thread, 1))
        # The bridge is gone; the question is still pending in the store.
        db = Database.open(tmp_path / "ccbridge.db")
        try:
            (pending,) = db.prompts_pending(thread)
        finally:
            db.close()
        async with scene.run_bridge(seed=2):
            # The resumed turn asks the same question: the same message answers it.
            await scene.until(lambda: any(RESUME_PROMPT in t.all_text() for t in scene.model.turns))
            scene.click(asked["id"], _button(asked, "Red"))
            await scene.until_shown(thread, "Heard:")
            await scene.until_shown(thread, "✅ Done")
            text = json.dumps(_last_results(scene)[0]["content"]).replace('\\"', '"')
            assert '"Which color?"="Red"' in text
            assert _question(scene, thread, 2) is None  # nobody was asked twice
            await scene.until(lambda: "✅ Answered by" in _description(scene, asked["id"]))
        db = Database.open(tmp_path / "ccbridge.db")
        try:
            stored = db.prompt_get(pending.prompt_id)
        finally:
            db.close()
        assert stored is not None
        assert stored.state is PromptState.ANSWERED
        assert stored.answer is not None
        assert stored.answer["applied"] is True


async def test_a_question_expires_only_when_configured(
    tmp_path: Any, model_server: ModelServer, claude_bin: Any, claude_env: dict[str, str]
) -> None:
    model_server.set_script(_script)
    async with open_scene(
        tmp_path, model_server, claude_bin, claude_env, QUESTION_TIMEOUT_SECONDS="3"
    ) as scene:
        thread = scene.post(scene.channel_id, "ASK color please")
        asked = await scene.until(lambda: _question(scene, thread, 1))
        assert "Expires <t:" in asked["embeds"][0]["description"]
        await scene.until(lambda: "⌛ No answer in time" in _description(scene, asked["id"]))
        await scene.until_shown(thread, "Heard:")
        (result,) = _last_results(scene)
        assert result["is_error"] is True
        assert "No one answered the question within 3 s" in json.dumps(result["content"])
        assert _current(scene, asked["id"])["components"] == []
        await scene.until_shown(thread, "✅ Done")
