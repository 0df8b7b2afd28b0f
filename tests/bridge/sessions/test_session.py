"""The session actor with the fake ``claude`` (replaying recorded real CLI output), the
local Discord server and a real SQLite store. Real subprocesses run, so these tests use
trio's real clock with short, configurable timers and generous ``fail_after`` bounds."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.sessions import render
from bridge.store import InboxState, SessionStatus
from tests.bridge.sessions.harness import open_bridge, wait_until, wrap_recording_argv
from tests.support.fake_claude import write_fake_claude

THINKING_SESSION = "5f2b780e-40db-430b-889a-66bccb0ceced"


async def _idle(bridge, thread_id: int) -> bool:
    report = await bridge.status(thread_id)
    return report.status in ("idle", "stopped") and report.claude_pid is None


async def test_a_turn_streams_text_thinking_and_a_completion_embed(tmp_path: Path) -> None:
    async with open_bridge(tmp_path, "text_thinking") as bridge:
        thread = bridge.thread()
        mid = await bridge.say(thread, "What is the answer?")
        await wait_until(lambda: "✅ Done" in bridge.texts(thread), what="completion embed")
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.rest.settle()
        texts = bridge.texts(thread)
        assert "||Let me think about it.||" in texts  # C5: a spoiler
        assert "The answer is 42." in texts  # C3
        assert "$0.0003" in texts  # C18
        assert bridge.reactions(mid) == [render.EMOJI_DONE]  # C2: one emoji, the last
        record = await bridge.db(lambda db: db.get_session(thread))
        assert record.session_id == THINKING_SESSION
        assert record.status is SessionStatus.IDLE
        inbox = await bridge.db(lambda db: db.inbox(thread, InboxState.DONE))
        assert [i.message_id for i in inbox] == [mid]


async def test_a_follow_up_resumes_the_same_session_with_a_fresh_system_prompt(
    tmp_path: Path,
) -> None:
    fake = str(write_fake_claude(tmp_path, "text_thinking"))
    wrapper, argv_log = wrap_recording_argv(tmp_path, fake)
    async with open_bridge(tmp_path, "text_thinking", claude_executable=wrapper) as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "first")
        await wait_until(lambda: bridge.texts(thread).count("✅ Done") == 1)
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.say(thread, "second")
        await wait_until(lambda: bridge.texts(thread).count("✅ Done") == 2)
        await wait_until(lambda: _idle(bridge, thread))
    starts = [json.loads(line) for line in argv_log.read_text().splitlines()]
    assert len(starts) == 2
    first, second = starts
    for argv in starts:
        for flag in ("--input-format", "--permission-prompt-tool", "--include-partial-messages"):
            assert flag in argv
        assert "--append-system-prompt" in argv
        prompt = argv[argv.index("--append-system-prompt") + 1]
        assert "CONCURRENCY NOTICE" in prompt  # K1, fresh each turn
        assert "first" not in argv  # X3: user text never in argv
        assert "second" not in argv
    assert "--resume" not in first
    assert second[second.index("--resume") + 1] == THINKING_SESSION  # C6


async def test_an_unauthorized_message_never_reaches_claude(tmp_path: Path) -> None:
    async with open_bridge(tmp_path, "text_thinking") as bridge:
        thread = bridge.thread()
        mid = await bridge.say(thread, "rm -rf /", author_id=bridge.stranger_id)
        await wait_until(
            lambda: bridge.db(lambda db: db.inbox(thread, InboxState.REJECTED)),
        )
        report = await bridge.status(thread)
        assert report.status == "idle"
        assert report.claude_pid is None
        assert bridge.bot_messages(thread) == []
        rejected = await bridge.db(lambda db: db.inbox(thread, InboxState.REJECTED))
        assert [i.message_id for i in rejected] == [mid]
