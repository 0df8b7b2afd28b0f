"""Issue 6, scenarios 1 and 2, with the real ``claude``: a message in the channel becomes a
thread whose reactions progress, whose text streams by edits and is chunked, and whose
completion embed shows tokens, cost and context use (1); a follow-up continues the same
session (2)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.bridge_harness import open_scene
from tests.support.model_server import ModelServer, Reply, TextBlock, ThinkingBlock

FENCE = "```"


def _long_answer() -> str:
    """About 4,300 characters: prose, a python block long enough to be split, prose."""
    intro = "\n\n".join(
        f"Paragraph {i}: the repository keeps its runtime in actors/, the sans-IO rules in "
        f"protocol/ and the application in bridge/ (note {i})."
        for i in range(12)
    )
    code = "\n".join(f"value_{i:02d} = compute({i}, scale=2)  # step {i}" for i in range(50))
    outro = "\n\n".join(f"Closing remark {i}: tests live under tests/." for i in range(20))
    return f"{intro}\n\n{FENCE}python\n{code}\n{FENCE}\n\n{outro}"


def _lines_without_fences(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith(FENCE)
    ]


async def test_a_message_becomes_a_thread_with_streamed_chunked_text_and_usage(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    answer = _long_answer()
    model_server.set_script(
        [
            Reply(
                blocks=(
                    ThinkingBlock("The user wants the layout; list the packages."),
                    TextBlock(answer, chunks=12),
                ),
                delay=0.12,
                input_tokens=1234,
                output_tokens=567,
            )
        ]
    )
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        question = "Explain the repo layout please\nwith details"
        thread = scene.post(scene.channel_id, question)
        await scene.until(lambda: scene.embed_titled(thread, "✅ Done"), timeout=90)
        world = scene.server.world

        # C1: the thread is the message's, named from its first line.
        assert world.channels[thread].name == "Explain the repo layout please"
        assert world.channels[thread].parent_id == scene.channel_id
        # The model got exactly what the person typed.
        first = model_server.turns[0]
        assert first.last_user_text == question

        # C5: thinking as a spoiler embed.
        thinking = scene.embed_titled(thread, "💭 Thinking")
        assert thinking is not None
        description = thinking["embeds"][0]["description"]
        assert description == "||The user wants the layout; list the packages.||"

        # C3 / C23: the text streamed into messages by edits, then was chunked correctly.
        def text_messages() -> list[dict[str, Any]]:
            return [m for m in scene.bot_messages(thread) if m["content"] and not m["embeds"]]

        def final_text_shown() -> bool:
            joined = "\n".join(m["content"] for m in text_messages())
            return _lines_without_fences(joined) == _lines_without_fences(answer)

        # Edits are coalesced and rate limited, yet the completion embed waits for the
        # text's last edits: once "Done" shows, the answer is whole (issue 15).
        assert final_text_shown()
        texts = text_messages()
        assert len(texts) >= 3, [m["content"][:40] for m in texts]
        for message in texts:
            assert len(message["content"]) <= 2000
            fences = [ln for ln in message["content"].splitlines() if ln.startswith(FENCE)]
            assert len(fences) % 2 == 0, f"a chunk leaves a code fence open: {message['content']}"
        first_text = scene.server.control.message(texts[0]["id"])
        contents = [v["content"] for v in first_text["versions"]]
        assert len(contents) >= 2, "the first text message was never edited: nothing streamed"
        assert len(contents[0]) < len(contents[-1])
        assert answer.startswith(contents[0])
        # The code block was split across messages and each part renders on its own.
        code_chunks = [m["content"] for m in texts if "value_" in m["content"]]
        assert len(code_chunks) >= 2
        assert all(f"{FENCE}python" in chunk for chunk in code_chunks)

        # C18 / C19: the completion embed, after the text.
        done = scene.embed_titled(thread, "✅ Done")
        assert done is not None
        assert int(done["id"]) > int(texts[-1]["id"])
        # Every text message's last version was visible before the embed was created.
        done_at = scene.server.control.message(done["id"])["versions"][0]["visible_at"]
        for message in texts:
            last = scene.server.control.message(message["id"])["versions"][-1]
            assert last["visible_at"] <= done_at, message["content"][:40]
        summary = done["embeds"][0]["description"]
        assert re.search(r"💰 \$\d+\.\d{4}", summary), summary
        assert re.search(r"📊 1\.2k in / 567 out", summary), summary
        assert re.search(r"🧠 Context \d+\.\d% used \(\d+\.\d% until auto-compaction\)", summary)


async def test_a_follow_up_in_the_thread_continues_the_same_session(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(
        [Reply.text("I will remember PINEAPPLE."), Reply.text("The word was PINEAPPLE.")]
    )
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        thread = scene.post(scene.channel_id, "Remember the word PINEAPPLE")
        await scene.until_shown(thread, "✅ Done")
        # The text's last edit is coalesced and may land just after the completion embed.
        await scene.until_shown(thread, "I will remember PINEAPPLE.")
        first_session = (await scene.status(thread)).session_id
        assert first_session is not None

        follow_up = scene.post(thread, "Which word was it?")
        await scene.until(lambda: scene.shown(thread).count("✅ Done") == 2)
        second = model_server.turns[1]
        # The model sees the earlier turn: the same conversation, continued.
        seen = second.all_text()
        assert "Remember the word PINEAPPLE" in seen
        assert "I will remember PINEAPPLE." in seen
        assert second.last_user_text == "Which word was it?"
        roles = [m["role"] for m in second.messages if m["role"] in ("user", "assistant")]
        assert roles[-3:] == ["user", "assistant", "user"]
        # No second thread: the follow-up was answered in place, on the same session.
        await scene.until_shown(thread, "The word was PINEAPPLE.")
        assert (await scene.status(thread)).session_id == first_session
        # C2 on a message in the thread: it ends on done (reactions are rate limited, so
        # the last change may land after the embed).
        await scene.until(lambda: scene.bot_reactions(follow_up) == ["✅"])
        added = [emoji for op, emoji in scene.reaction_history(follow_up) if op == "add"]
        assert added[0] == "🤔", added
        assert added[-1] == "✅", added
        assert [c.id for c in scene.server.world.channels.values() if c.parent_id] == [thread]


async def test_the_first_messages_status_reaction_progresses_to_done(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script(
        [Reply.text("Here is a slowly written answer. " * 8, chunks=8, delay=0.15)]
    )
    async with open_scene(tmp_path, model_server, claude_bin, claude_env) as scene:
        thread = scene.post(scene.channel_id, "Write slowly please")
        await scene.until_shown(thread, "✅ Done")
        # Wait until the bot has asked for its final reaction, whatever Discord answered.
        await scene.until_exchange(
            lambda: ("add", "✅") in [(op, e) for op, e, _ in scene.reaction_requests(thread)]
        )
        refused = [r for r in scene.reaction_requests(thread) if r[2] >= 300]
        assert refused == []
        added = [emoji for op, emoji in scene.reaction_history(thread) if op == "add"]
        assert added[0] == "🤔", added
        assert "✍️" in added, added
        assert added[-1] == "✅", added
        await scene.until(lambda: scene.bot_reactions(thread) == ["✅"], timeout=10)
