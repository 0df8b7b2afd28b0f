"""The session actor with the fake ``claude`` (replaying recorded real CLI output), the
local Discord server and a real SQLite store. Real subprocesses run, so these tests use
trio's real clock with short, configurable timers and generous ``fail_after`` bounds."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import psutil
import pytest

from bridge.sessions.messages import UserMessage
from bridge.sessions.presentation import render
from bridge.store import InboxState, SessionStatus
from tests.bridge.sessions.harness import (
    open_bridge,
    session_record,
    wait_until,
    wrap_recording_argv,
)
from tests.support.fake_claude import stdout_lines, write_fake_claude


def _recorded_session_id(scenario: str) -> str:
    """The session id the recording reports (the corpus is re-recorded from time to time)."""
    for line in stdout_lines(scenario):
        event = json.loads(line)
        if event.get("type") == "system" and event.get("subtype") == "init":
            return str(event["session_id"])
    raise AssertionError(f"{scenario} has no init event")


THINKING_SESSION = _recorded_session_id("text_thinking")


async def _idle(bridge, thread_id: int) -> bool:
    report = await bridge.status(thread_id)
    return report.status in ("idle", "stopped") and report.claude_pid is None


async def test_a_turn_streams_text_thinking_and_a_completion_embed(tmp_path: Path) -> None:
    async with open_bridge(tmp_path, "text_thinking") as bridge:
        thread = bridge.thread()
        mid = await bridge.say(thread, "What is the answer?")
        await wait_until(lambda: "✅ Done" in bridge.texts(thread), what="completion embed")
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.rest.wait_idle()
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
    wrapper, starts_log = wrap_recording_argv(tmp_path, fake)
    secret = "bot-token-that-must-not-leak"
    env = {"PATH": "/usr/bin:/bin", "DISCORD_BOT_TOKEN": secret, "COPIED_TOKEN": secret}
    async with open_bridge(
        tmp_path,
        "text_thinking",
        claude_executable=wrapper,
        deps_overrides={"claude_env": env},
        discord_bot_token=secret,
    ) as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "first")
        await wait_until(lambda: bridge.texts(thread).count("✅ Done") == 1)
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.say(thread, "second")
        await wait_until(lambda: bridge.texts(thread).count("✅ Done") == 2)
        await wait_until(lambda: _idle(bridge, thread))
    starts = [json.loads(line) for line in starts_log.read_text().splitlines()]
    assert len(starts) == 2
    first, second = (s["argv"] for s in starts)
    for start in starts:
        argv = start["argv"]
        for flag in ("--input-format", "--permission-prompt-tool", "--include-partial-messages"):
            assert flag in argv
        assert "--append-system-prompt" in argv
        prompt = argv[argv.index("--append-system-prompt") + 1]
        assert "CONCURRENCY NOTICE" in prompt  # K1, fresh each turn
        assert "first" not in argv  # X3: user text never in argv
        assert "second" not in argv
        assert secret not in start["env"].values()  # X4, by name and by value
        assert start["env"]["DISCORD_THREAD_ID"] == str(thread)
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


def _prompt_message(bridge, thread_id: int) -> dict | None:
    for msg in bridge.bot_messages(thread_id):
        for row in msg["components"]:
            for button in row.get("components", []):
                if button.get("custom_id", "").startswith("ccb:prompt:"):
                    return msg
    return None


def _custom_ids(msg: dict) -> list[str]:
    return [b["custom_id"] for row in msg["components"] for b in row["components"]]


async def _running(bridge) -> frozenset[int]:
    from bridge.sessions.messages import GetSlots

    return (await bridge.limiter.ask(GetSlots(), timeout=5)).running


async def test_permission_prompt_allow_by_an_allowed_user_only(tmp_path: Path) -> None:
    from bridge.sessions.messages import AnswerPrompt
    from bridge.store import PromptState

    async with open_bridge(tmp_path, "bash_allow") as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "RUNTOUCH please")
        await wait_until(lambda: _prompt_message(bridge, thread) is not None)
        prompt_msg = _prompt_message(bridge, thread)
        allow_id, deny_id = _custom_ids(prompt_msg)
        assert allow_id.endswith(":allow")
        assert deny_id.endswith(":deny")
        assert "touch touched.txt" in prompt_msg["embeds"][0]["description"]
        prompt_id = allow_id.split(":")[2]
        # C8: while a human is awaited the slot is free; the process waits.
        await wait_until(lambda: _waiting(bridge, thread))
        assert thread not in await _running(bridge)
        # A click by someone not allowed changes nothing.
        ref = await bridge.session(thread)
        ref.tell(AnswerPrompt(prompt_id=prompt_id, choice="allow", user_id=bridge.stranger_id))
        report = await bridge.status(thread)
        assert report.status == "waiting"
        stored = await bridge.db(lambda db: db.prompt_get(prompt_id))
        assert stored.state is PromptState.PENDING
        # The allowed user allows: the tool runs, the turn completes.
        ref.tell(AnswerPrompt(prompt_id=prompt_id, choice="allow", user_id=bridge.human_id))
        await wait_until(lambda: "✅ Done" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.rest.wait_idle()
        stored = await bridge.db(lambda db: db.prompt_get(prompt_id))
        assert stored.state is PromptState.ANSWERED
        assert stored.answered_by == bridge.human_id
        edited = bridge.server.control.message(prompt_msg["id"])
        assert f"✅ Allowed by <@{bridge.human_id}>" in edited["embeds"][0]["description"]
        assert all(b.get("disabled") for row in edited["components"] for b in row["components"])
        texts = bridge.texts(thread)
        assert "Touched the file." in texts
        assert "(Bash completed with no output)" in texts  # C4: the tool embed's result


async def _waiting(bridge, thread_id: int) -> bool:
    return (await bridge.status(thread_id)).status == "waiting"


async def test_a_prompt_nobody_answers_is_denied_automatically(tmp_path: Path) -> None:
    from bridge.store import PromptState

    async with open_bridge(tmp_path, "bash_deny", permission_timeout_seconds=0.5) as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "RUNTOUCH please")
        await wait_until(
            lambda: "✅ Done" in bridge.texts(thread) or "Finished" in bridge.texts(thread)
        )
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.rest.wait_idle()
        prompt_msg = _prompt_message(bridge, thread)
        assert prompt_msg is not None
        assert "denied automatically" in prompt_msg["embeds"][0]["description"]
        prompt_id = _custom_ids(prompt_msg)[0].split(":")[2]
        stored = await bridge.db(lambda db: db.prompt_get(prompt_id))
        assert stored.state is PromptState.EXPIRED


async def test_a_new_message_interrupts_the_turn_and_runs_next(tmp_path: Path) -> None:
    """C21 then C9: the ``interrupt`` recording blocks until it is interrupted."""
    async with open_bridge(tmp_path, "interrupt") as bridge:
        thread = bridge.thread()
        first = await bridge.say(thread, "SLOWTEXT please")
        await wait_until(lambda: "one t" in bridge.texts(thread))  # C3: streamed partial text
        pid = (await bridge.status(thread)).claude_pid
        assert pid is not None
        second = await bridge.say(thread, "are you still there?")
        await wait_until(lambda: "Interrupted: continuing" in bridge.texts(thread))
        # The interrupted turn ends; the next one starts with the new message.
        await wait_until(
            lambda: bridge.db(
                lambda db: (
                    [i.message_id for i in db.inbox(thread, InboxState.DELIVERED)] == [second]
                )
            )
        )
        new_pid = (await bridge.status(thread)).claude_pid
        assert new_pid is not None
        assert new_pid != pid
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        done = await bridge.db(lambda db: db.inbox(thread, InboxState.DONE))
        assert [i.message_id for i in done] == [first]
        texts = bridge.texts(thread)
        assert "⏹️ Interrupted" in texts  # the interrupted turn is not shown as an error
        assert "Finished with an error" not in texts
        await bridge.rest.wait_idle()
        assert bridge.reactions(first) == [render.EMOJI_STOPPED]
        # /stop (C9): the turn ends, the session stays resumable, no process survives.
        from bridge.sessions.messages import StopTurn

        (await bridge.session(thread)).tell(StopTurn(requested_by=bridge.human_id))
        await wait_until(lambda: "Stopped. The session is kept" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        report = await bridge.status(thread)
        assert report.status == "stopped"
        record = await bridge.db(lambda db: db.get_session(thread))
        assert record.status is SessionStatus.STOPPED
        assert record.session_id == _recorded_session_id("interrupt")
        assert not psutil.pid_exists(new_pid)
        done = await bridge.db(lambda db: db.inbox(thread, InboxState.DONE))
        assert [i.message_id for i in done] == [first, second]


async def test_stall_notice_appears_and_clears(tmp_path: Path) -> None:
    """C22: the ``interrupt`` recording goes silent until it is interrupted."""
    async with open_bridge(tmp_path, "interrupt", stall_notice_seconds=0.3) as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "SLOWTEXT please")
        await wait_until(lambda: "No activity from Claude" in bridge.texts(thread))
        await bridge.say(thread, "are you still there?")
        await wait_until(lambda: "No activity from Claude" not in bridge.texts(thread))
        deleted = [m for m in bridge.bot_messages(thread, include_deleted=True) if m["deleted"]]
        assert any("No activity from Claude" in m["content"] for m in deleted)


async def test_total_timeout_stops_the_turn_with_a_notice(tmp_path: Path) -> None:
    """C11: a CLI that hangs and ignores the interrupt is signalled; the session stays."""
    async with open_bridge(
        tmp_path, "text_thinking", fake={"hang_after": 3}, session_timeout_seconds=0.5
    ) as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "What is the answer?")
        await wait_until(lambda: "Session timed out" in bridge.texts(thread))
        pid = (await bridge.status(thread)).claude_pid
        await wait_until(lambda: _idle(bridge, thread))
        report = await bridge.status(thread)
        assert report.status == "stopped"
        assert pid is None or not psutil.pid_exists(pid)
        record = await bridge.db(lambda db: db.get_session(thread))
        assert record.status is SessionStatus.STOPPED
        assert "Claude stopped unexpectedly" not in bridge.texts(thread)


async def test_queue_position_then_the_slot_when_it_frees(tmp_path: Path) -> None:
    """C8 with MAX_CONCURRENT_SESSIONS=1: the second thread waits visibly."""
    from bridge.sessions.messages import StopTurn

    async with open_bridge(tmp_path, "interrupt", max_concurrent_sessions=1) as bridge:
        a, b = bridge.thread("a"), bridge.thread("b")
        await bridge.say(a, "SLOWTEXT please")
        await wait_until(lambda: "one t" in bridge.texts(a))
        await bridge.say(b, "SLOWTEXT too")
        await wait_until(lambda: "Queued: position 1" in bridge.texts(b))
        assert (await bridge.status(b)).status == "queued"
        assert (await bridge.status(b)).queue_position == 1
        assert await _running(bridge) == frozenset({a})
        (await bridge.session(a)).tell(StopTurn(requested_by=bridge.human_id))
        await wait_until(lambda: "one t" in bridge.texts(b))
        assert "Queued" not in bridge.texts(b)  # the notice went away
        assert await _running(bridge) == frozenset({b})
        assert (await bridge.status(a)).claude_pid is None


async def test_prepare_shutdown_marks_for_resume_and_resume_continues(tmp_path: Path) -> None:
    """A4: interrupt, mark, end the process, answer; then the restarted session resumes."""
    from bridge.sessions.messages import PrepareShutdown, ResumeSession

    async with open_bridge(tmp_path, "interrupt") as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "SLOWTEXT please")
        await wait_until(lambda: "one t" in bridge.texts(thread))
        pid = (await bridge.status(thread)).claude_pid
        ref = await bridge.session(thread)
        await ref.ask(PrepareShutdown(), timeout=20)
        assert not psutil.pid_exists(pid)
        record = await bridge.db(lambda db: db.get_session(thread))
        assert record.resume_reason == "shutdown"
        assert record.status is SessionStatus.IDLE
        # A message typed now is kept for after the restart.
        late = await bridge.say(thread, "hello?")
        await wait_until(lambda: "bridge is restarting" in bridge.texts(thread))
        # "Restart": a new session actor, told to resume.
        await bridge.sessions.terminate_child(thread)
        resumed = await bridge.session(thread)
        resumed.tell(ResumeSession(reason="shutdown"))
        await wait_until(
            lambda: "was shut down while this session was working" in bridge.texts(thread)
        )
        await wait_until(
            lambda: bridge.db(
                lambda db: [i.message_id for i in db.inbox(thread, InboxState.DELIVERED)] == [late]
            )
        )
        record = await bridge.db(lambda db: db.get_session(thread))
        assert record.resume_reason is None
        assert record.status is SessionStatus.RUNNING


async def test_claude_that_cannot_start_is_explained(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-claude")
    async with open_bridge(tmp_path, "text_thinking", claude_executable=missing) as bridge:
        thread = bridge.thread()
        mid = await bridge.say(thread, "hello")
        await wait_until(lambda: "Could not start Claude" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        rejected = await bridge.db(lambda db: db.inbox(thread, InboxState.REJECTED))
        assert [i.message_id for i in rejected] == [mid]
        assert await _running(bridge) == frozenset()


async def test_a_failed_resume_shows_the_error(tmp_path: Path) -> None:
    async with open_bridge(tmp_path, "resume_missing") as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "hello")
        await wait_until(lambda: "Finished with an error" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        assert "No conversation found" in bridge.texts(thread)


async def test_a_prompt_answered_after_a_restart_answers_the_resumed_turn(tmp_path: Path) -> None:
    """Prompts survive restarts: the click is kept, and the resumed turn's identical
    request is answered with it instead of asking again."""
    from bridge.sessions.messages import AnswerPrompt, PrepareShutdown, ResumeSession
    from bridge.store import PromptState

    async with open_bridge(tmp_path, "bash_allow") as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "RUNTOUCH please")
        await wait_until(lambda: _prompt_message(bridge, thread) is not None)
        prompt_msg = _prompt_message(bridge, thread)
        prompt_id = _custom_ids(prompt_msg)[0].split(":")[2]
        await (await bridge.session(thread)).ask(PrepareShutdown(), timeout=20)
        stored = await bridge.db(lambda db: db.prompt_get(prompt_id))
        assert stored.state is PromptState.PENDING  # still answerable after the restart
        await bridge.sessions.terminate_child(thread)
        # The bridge is back; the user clicks Allow on the old prompt.
        ref = await bridge.session(thread)
        ref.tell(AnswerPrompt(prompt_id=prompt_id, choice="allow", user_id=bridge.human_id))
        await wait_until(
            lambda: (
                "asks again"
                in bridge.server.control.message(prompt_msg["id"])["embeds"][0]["description"]
            )
        )
        ref.tell(ResumeSession(reason="shutdown"))
        await wait_until(lambda: "(answer given earlier)" in bridge.texts(thread))
        await wait_until(lambda: bridge.texts(thread).count("Touched the file.") == 2)
        await wait_until(lambda: _idle(bridge, thread))
        prompts_shown = [
            m for m in bridge.bot_messages(thread) if any(r["components"] for r in m["components"])
        ]
        assert len(prompts_shown) == 1  # nobody was asked twice
        stored = await bridge.db(lambda db: db.prompt_get(prompt_id))
        assert stored.state is PromptState.ANSWERED
        assert stored.answer["applied"] is True


async def test_a_crashed_session_is_restarted_and_continues_without_orphans(tmp_path: Path) -> None:
    async with open_bridge(tmp_path, "text_thinking", fake={"line_delay": 0.02}) as bridge:
        thread = bridge.thread()
        bridge.rest.crash_on = "Thinking"
        mid = await bridge.say(thread, "What is the answer?")
        await wait_until(
            lambda: "stopped unexpectedly while this session was working" in bridge.texts(thread)
        )
        await wait_until(lambda: "✅ Done" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        ref = await bridge.session(thread)
        assert ref.incarnation == 2
        done = await bridge.db(lambda db: db.inbox(thread, InboxState.DONE))
        assert [i.message_id for i in done] == [mid]
        # The first incarnation's claude died with it: no fake claude is left running.
        leftovers = [
            p
            for p in psutil.process_iter(["cmdline"])
            if any(str(tmp_path) in part for part in (p.info["cmdline"] or []))
        ]
        assert leftovers == []


async def test_a_conversation_that_cannot_be_resumed_starts_afresh(tmp_path: Path) -> None:
    """A stored session id the CLI cannot find would fail every turn: the session drops it
    and runs the same message in a new conversation."""
    from tests.bridge.sessions.harness import choose_scenario, write_dispatcher

    dispatcher = write_dispatcher(tmp_path)
    async with open_bridge(tmp_path, "text_thinking", claude_executable=str(dispatcher)) as bridge:
        thread = bridge.thread()
        choose_scenario(tmp_path, thread, "", sequence=["resume_missing", "text_thinking"])
        stale = "11111111-2222-3333-4444-555555555555"
        record = session_record(thread, tmp_path, session_id=stale)
        await bridge.db(lambda db: db.put_session(record))
        mid = await bridge.say(thread, "hello again")
        await wait_until(lambda: "✅ Done" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        assert "could not be resumed" in bridge.texts(thread)
        record = await bridge.db(lambda db: db.get_session(thread))
        assert record.session_id == THINKING_SESSION
        done = await bridge.db(lambda db: db.inbox(thread, InboxState.DONE))
        assert [i.message_id for i in done] == [mid]


def _user_lines(log: Path) -> list[list[dict]]:
    """The content blocks of every user message the session wrote to Claude."""
    found = []
    for line in log.read_text().splitlines():
        message = json.loads(line)
        if message.get("type") == "user":
            content = message["message"]["content"]
            found.append(
                content if isinstance(content, list) else [{"type": "text", "text": content}]
            )
    return found


async def test_attachments_reach_claude_over_stdin_and_refusals_are_explained(
    tmp_path: Path,
) -> None:
    """C10 and X3: the text, a text file and an image go over stdin as one user message;
    a file that is neither is refused with a message naming it."""
    import base64

    from tests.bridge.sessions.harness import wrap_recording_stdin

    fake = str(write_fake_claude(tmp_path, "text_thinking"))
    wrapper, stdin_log = wrap_recording_stdin(tmp_path, fake)
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    async with open_bridge(tmp_path, "text_thinking", claude_executable=wrapper) as bridge:
        thread = bridge.thread()
        await bridge.say(
            thread,
            "look at these",
            files=[
                {"filename": "notes.md", "content_type": "text/markdown", "text": "# Notes\nhi"},
                {
                    "filename": "dot.png",
                    "content_type": "image/png",
                    "base64": base64.b64encode(png).decode(),
                },
                {"filename": "tool.exe", "content_type": "application/octet-stream", "text": "MZ"},
            ],
        )
        await wait_until(lambda: "✅ Done" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        assert "`tool.exe`" in bridge.texts(thread)  # refused, with the reason shown
    (blocks,) = _user_lines(stdin_log)
    texts = [b["text"] for b in blocks if b["type"] == "text"]
    assert texts[0] == "look at these"
    assert any("notes.md" in t and "# Notes\nhi" in t for t in texts)
    images = [b for b in blocks if b["type"] == "image"]
    assert len(images) == 1
    assert base64.b64decode(images[0]["source"]["data"]) == png
    assert not any("MZ" in t for t in texts)


async def test_messages_typed_during_a_turn_go_to_claude_together(tmp_path: Path) -> None:
    """C21: messages that arrive while a turn runs are all sent, in order, in the next
    turn's one user message."""
    from tests.bridge.sessions.harness import wrap_recording_stdin

    fake = str(write_fake_claude(tmp_path, "interrupt"))
    wrapper, stdin_log = wrap_recording_stdin(tmp_path, fake)
    async with open_bridge(tmp_path, "interrupt", claude_executable=wrapper) as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "SLOWTEXT please")
        await wait_until(lambda: "one t" in bridge.texts(thread))
        await bridge.say(thread, "second")
        await bridge.say(thread, "third")
        await wait_until(lambda: len(_user_lines(stdin_log)) == 2)
        report = await bridge.status(thread)
        assert report.status == "running"
    first, second = _user_lines(stdin_log)
    assert [b["text"] for b in first] == ["SLOWTEXT please"]
    assert [b["text"] for b in second] == ["second\n\nthird"]
    interrupts = [
        json.loads(line) for line in stdin_log.read_text().splitlines() if '"interrupt"' in line
    ]
    assert len(interrupts) == 1  # one interrupt, however many messages arrived


async def test_the_first_message_of_a_thread_gets_its_reactions_in_the_parent_channel(
    tmp_path: Path,
) -> None:
    """A thread started from a message has that message's id and leaves the message in
    the parent channel: the status reaction must go there (C2)."""
    async with open_bridge(tmp_path, "text_thinking") as bridge:
        world = bridge.server.world
        parent = world.default_channel.id
        posted = bridge.server.control.post_message(parent, bridge.human_id, "What is it?")
        message = world.find_message(int(posted["id"]))
        thread = world.start_thread_from_message(
            message, name="What is it?", owner_id=world.bot.id
        ).id
        assert thread == message.id
        record = session_record(thread, tmp_path, channel_id=parent)
        await bridge.db(lambda db: db.put_session(record))
        from bridge.sessions.messages import UserMessage
        from bridge.store import InboxItem

        item = InboxItem(
            message_id=message.id,
            thread_id=thread,
            author_id=bridge.human_id,
            content="What is it?",
        )
        await bridge.db(lambda db: db.inbox_add(item))
        (await bridge.session(thread)).tell(
            UserMessage(
                message_id=message.id,
                thread_id=thread,
                author_id=bridge.human_id,
                content="What is it?",
            )
        )
        await wait_until(lambda: "✅ Done" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.rest.wait_idle()
        assert bridge.reactions(message.id) == [render.EMOJI_DONE]


async def test_a_restarted_session_agrees_with_the_store(tmp_path: Path) -> None:
    """Found by the lifecycle test: a stopped session started again (a bridge restart)
    must report ``stopped``, as the store says, not ``idle``."""
    from bridge.sessions.messages import StopTurn

    async with open_bridge(tmp_path, "interrupt") as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "SLOWTEXT please")
        await wait_until(lambda: "one t" in bridge.texts(thread))
        (await bridge.session(thread)).tell(StopTurn(requested_by=bridge.human_id))
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.sessions.terminate_child(thread)
        report = await bridge.status(thread)  # starts a new actor
        record = await bridge.db(lambda db: db.get_session(thread))
        assert record.status is SessionStatus.STOPPED
        assert report.status == "stopped"


async def test_an_api_error_ends_the_turn_with_the_error_shown(tmp_path: Path) -> None:
    async with open_bridge(tmp_path, "api_error") as bridge:
        thread = bridge.thread()
        mid = await bridge.say(thread, "hello")
        await wait_until(lambda: "Finished with an error" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.rest.wait_idle()
        assert "API Error" in bridge.texts(thread)
        assert bridge.reactions(mid) == [render.EMOJI_ERROR]
        done = await bridge.db(lambda db: db.inbox(thread, InboxState.DONE))
        assert [i.message_id for i in done] == [mid]  # it reached Claude; the error is shown


async def test_ask_user_question_is_shown_and_answered_with_the_pick(tmp_path: Path) -> None:
    """C12 (fake replay of the real CLI's recording): the question is shown with its
    options as buttons; the click goes back as the pinned allow with ``answers``."""
    from bridge.sessions.messages import AnswerPrompt
    from tests.bridge.sessions.harness import wrap_recording_stdin

    fake = str(write_fake_claude(tmp_path, "ask_user_question"))
    wrapper, stdin_log = wrap_recording_stdin(tmp_path, fake)
    async with open_bridge(tmp_path, "ask_user_question", claude_executable=wrapper) as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "ASKQ please")
        await wait_until(lambda: _prompt_message(bridge, thread) is not None)
        prompt_msg = _prompt_message(bridge, thread)
        assert prompt_msg["embeds"][0]["title"] == "❓ Claude has a question"
        ids = _custom_ids(prompt_msg)
        prompt_id = ids[0].split(":")[2]
        assert [i.split(":")[3] for i in ids] == ["o0.0", "o0.1", "x0"]
        (await bridge.session(thread)).tell(
            AnswerPrompt(prompt_id=prompt_id, choice="o0.1", user_id=bridge.human_id)
        )
        await wait_until(lambda: _idle(bridge, thread))
        assert "✅ Done" in bridge.texts(thread)
    responses = [
        json.loads(line)["response"]
        for line in stdin_log.read_text().splitlines()
        if '"control_response"' in line
    ]
    assert len(responses) == 1
    assert responses[0]["response"]["behavior"] == "allow"
    assert responses[0]["response"]["updatedInput"]["answers"] == {"Which color?": "Blue"}


async def test_exit_plan_mode_is_approved_through_a_prompt(tmp_path: Path) -> None:
    """C13: ExitPlanMode shows the plan with Approve / Approve + auto-accept edits /
    Revise… / Cancel; Approve lets the turn go on."""
    from bridge.sessions.messages import AnswerPrompt

    async with open_bridge(tmp_path, "exit_plan_mode") as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "RUNPLAN please")
        await wait_until(lambda: _prompt_message(bridge, thread) is not None)
        prompt_msg = _prompt_message(bridge, thread)
        assert prompt_msg["embeds"][0]["title"] == "📋 Claude's plan: approve it?"
        ids = _custom_ids(prompt_msg)
        assert [i.split(":")[3] for i in ids] == ["approve", "approve_edits", "revise", "cancel"]
        prompt_id = ids[0].split(":")[2]
        (await bridge.session(thread)).tell(
            AnswerPrompt(prompt_id=prompt_id, choice="approve", user_id=bridge.human_id)
        )
        await wait_until(lambda: _idle(bridge, thread))
        assert "✅ Done" in bridge.texts(thread)


async def test_a_message_typed_while_a_prompt_waits_never_hangs_the_thread(
    tmp_path: Path,
) -> None:
    """The original hung for 24 h here. The message interrupts the turn, the CLI withdraws
    its request, the prompt shows it was withdrawn, and the new message runs."""
    from bridge.store import PromptState

    async with open_bridge(tmp_path, "permission_cancelled_by_interrupt") as bridge:
        thread = bridge.thread()
        await bridge.say(thread, "RUNTOUCH please")
        await wait_until(lambda: _prompt_message(bridge, thread) is not None)
        prompt_msg = _prompt_message(bridge, thread)
        prompt_id = _custom_ids(prompt_msg)[0].split(":")[2]
        second = await bridge.say(thread, "never mind, do something else")
        await wait_until(
            lambda: bridge.db(
                lambda db: (
                    [i.message_id for i in db.inbox(thread, InboxState.DELIVERED)] == [second]
                )
            )
        )
        await bridge.rest.wait_idle()
        stored = await bridge.db(lambda db: db.prompt_get(prompt_id))
        assert stored.state is PromptState.CANCELLED
        edited = bridge.server.control.message(prompt_msg["id"])
        assert "Withdrawn" in edited["embeds"][0]["description"]
        assert all(b.get("disabled") for row in edited["components"] for b in row["components"])


async def test_a_resumed_turn_gets_a_fresh_system_prompt_naming_new_sessions(
    tmp_path: Path,
) -> None:
    """K3 on resumed turns: the CLI would replay the first turn's system prompt on
    ``--resume``; with the snapshot off, each turn's appended prompt is current."""
    from tests.bridge.sessions.harness import choose_scenario, write_dispatcher

    dispatcher = write_dispatcher(tmp_path)
    wrapper, starts_log = wrap_recording_argv(tmp_path, str(dispatcher))
    async with open_bridge(tmp_path, "text_thinking", claude_executable=wrapper) as bridge:
        a, b = bridge.thread("a"), bridge.thread("b")
        choose_scenario(tmp_path, b, "interrupt")  # b keeps running until interrupted
        await bridge.say(a, "first in a")
        await wait_until(lambda: _idle(bridge, a))
        await bridge.say(b, "SLOWTEXT in b")
        await wait_until(lambda: "one t" in bridge.texts(b))
        await bridge.say(a, "second in a")
        await wait_until(lambda: bridge.texts(a).count("✅ Done") == 2)
    starts = [json.loads(line) for line in starts_log.read_text().splitlines()]
    of_a = [s["argv"] for s in starts if s["env"]["DISCORD_THREAD_ID"] == str(a)]
    assert len(of_a) == 2
    for argv in of_a:
        assert argv[argv.index("--system-prompt-snapshot") + 1] == "off"
    first, second = (argv[argv.index("--append-system-prompt") + 1] for argv in of_a)
    assert "none besides you" in first
    assert f"thread {b}" in second


def _exits_after_result(tmp_path: Path, scenario: str, code: int) -> str:
    """A stand-in ``claude`` that reads the user message, prints the recorded turn (its
    ``result`` included), says why on stderr and exits with ``code`` on its own."""
    lines = tmp_path / f"{scenario}.replay.jsonl"
    lines.write_bytes(b"".join(line + b"\n" for line in stdout_lines(scenario)))
    path = tmp_path / f"claude-exits-{code}"
    path.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "sys.stdin.buffer.readline()\n"
        f"sys.stdout.buffer.write(open({str(lines)!r}, 'rb').read())\n"
        "sys.stdout.buffer.flush()\n"
        "sys.stderr.write('fatal: the tool runner died\\n')\n"
        "sys.stderr.flush()\n"
        f"os._exit({code})\n"
    )
    path.chmod(0o755)
    return str(path)


async def test_a_result_followed_by_a_non_zero_exit_is_never_shown_as_done(
    tmp_path: Path,
) -> None:
    """Issue 10, point 7: whatever it printed, a turn whose ``claude`` exits 2 is an error."""
    executable = _exits_after_result(tmp_path, "text_thinking", 2)
    async with open_bridge(tmp_path, "text_thinking", claude_executable=executable) as bridge:
        thread = bridge.thread()
        mid = await bridge.say(thread, "What is the answer?")
        await wait_until(
            lambda: "exited with status 2" in bridge.texts(thread), what="crash notice"
        )
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.rest.wait_idle()
        texts = bridge.texts(thread)
        assert "The answer is 42." in texts  # what it streamed stays visible
        assert "✅ Done" not in texts
        assert "the tool runner died" in texts  # the stderr tail says why
        assert bridge.reactions(mid) == [render.EMOJI_ERROR]
        record = await bridge.db(lambda db: db.get_session(thread))
        assert record.status is SessionStatus.IDLE  # kept: the next message tries again


def _write_session_file(config: Path, cwd: Path, session_id: str, last_user: str) -> None:
    """A CLI session file (as ``claude`` keeps it under its config directory) whose last
    user message is ``last_user``."""
    from protocol.claude.sessions import mangle_cwd

    project = config / "projects" / mangle_cwd(os.path.realpath(cwd))
    project.mkdir(parents=True)
    records = [
        {"type": "user", "uuid": "u1", "parentUuid": None, "message": {"content": "hello"}},
        {"type": "assistant", "uuid": "a1", "parentUuid": "u1", "message": {"content": "hi"}},
        {"type": "user", "uuid": "u2", "parentUuid": "a1", "message": {"content": last_user}},
    ]
    (project / f"{session_id}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "not-recorded"])
async def test_a_cut_off_message_the_cli_recorded_is_continued_not_sent_again(
    tmp_path: Path, recorded: bool
) -> None:
    """Issue 10, point 7: after a crash, a delivered message the session file already
    holds is not sent a second time; "please continue" resumes the turn instead. One the
    file does not hold is sent again (nothing is lost)."""
    from bridge.sessions.messages import ResumeSession
    from bridge.sessions.session import RESUME_PROMPT
    from bridge.store import InboxItem
    from tests.bridge.sessions.harness import wrap_recording_stdin

    session_id = "11111111-2222-3333-4444-555555555555"
    config = tmp_path / "claude-config"
    _write_session_file(
        config, tmp_path, session_id, "fix the tests" if recorded else "an older message"
    )
    fake = str(write_fake_claude(tmp_path, "text_thinking"))
    wrapper, stdin_log = wrap_recording_stdin(tmp_path, fake)
    env = {"PATH": "/usr/bin:/bin", "CLAUDE_CONFIG_DIR": str(config)}
    async with open_bridge(
        tmp_path,
        "text_thinking",
        claude_executable=wrapper,
        deps_overrides={"claude_env": env},
    ) as bridge:
        thread = bridge.thread()
        record = session_record(
            thread, tmp_path, session_id=session_id, status=SessionStatus.RUNNING
        )
        item = InboxItem(
            message_id=4242, thread_id=thread, author_id=bridge.human_id, content="fix the tests"
        )

        def cut_off_turn(db) -> None:
            db.put_session(record)
            db.inbox_add(item)
            db.inbox_set_state([item.message_id], InboxState.DELIVERED)

        await bridge.db(cut_off_turn)
        (await bridge.session(thread)).tell(ResumeSession(reason="crash"))
        await wait_until(lambda: "✅ Done" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        done = await bridge.db(lambda db: db.inbox(thread, InboxState.DONE))
        assert [i.message_id for i in done] == [4242]
    (blocks,) = _user_lines(stdin_log)
    texts = [b["text"] for b in blocks if b["type"] == "text"]
    assert texts == ([RESUME_PROMPT] if recorded else ["fix the tests"])


async def test_the_session_reports_working_waiting_and_finished(tmp_path: Path) -> None:
    """C17: what the dashboard is fed, through the coordinator, once per change."""
    from bridge.sessions.coordinator import CoordinatorConfig
    from bridge.sessions.messages import (
        AnswerPrompt,
        SessionActivity,
        SessionFinished,
        SessionStarted,
        StopTurn,
    )

    reports: list[Any] = []
    async with open_bridge(
        tmp_path,
        "bash_allow",
        max_concurrent_sessions=1,
        coordinator_config=CoordinatorConfig(forward=reports.append),
    ) as bridge:
        a, b = bridge.thread("a"), bridge.thread("b")
        await bridge.say(a, "RUNTOUCH please")
        await wait_until(lambda: _prompt_message(bridge, a) is not None)
        prompt = _prompt_message(bridge, a)
        await wait_until(
            lambda: any(
                isinstance(r, SessionActivity)
                and r.thread_id == a
                and r.status == "waiting"
                and r.prompt_message_id == int(prompt["id"])
                for r in reports
            )
        )
        # While a waits, b runs (waiting holds no slot).
        allow_id = _custom_ids(prompt)[0]
        await bridge.say(b, "RUNTOUCH too")
        await wait_until(lambda: _prompt_message(bridge, b) is not None)
        ref = await bridge.session(a)
        ref.tell(
            AnswerPrompt(prompt_id=allow_id.split(":")[2], choice="allow", user_id=bridge.human_id)
        )
        await wait_until(
            lambda: any(isinstance(r, SessionFinished) and r.thread_id == a for r in reports)
        )
        (await bridge.session(b)).tell(StopTurn(requested_by=bridge.human_id))
        await wait_until(
            lambda: any(isinstance(r, SessionFinished) and r.thread_id == b for r in reports)
        )
    of_a = [r for r in reports if r.thread_id == a]
    kinds = [type(r).__name__ if not isinstance(r, SessionActivity) else r.status for r in of_a]
    assert kinds[0] in ("queued", "running")
    assert "SessionStarted" in kinds
    assert kinds.index("waiting") > kinds.index("SessionStarted")
    assert kinds.index("SessionFinished") > kinds.index("waiting")
    assert isinstance(of_a[kinds.index("SessionStarted")], SessionStarted)
    # Never the same report twice in a row: only changes are sent.
    activities = [r for r in of_a if isinstance(r, SessionActivity)]
    assert all(x != y for x, y in itertools.pairwise(activities))


async def test_a_queued_session_reports_its_position(tmp_path: Path) -> None:
    from bridge.sessions.coordinator import CoordinatorConfig
    from bridge.sessions.messages import SessionActivity, StopTurn

    reports: list[Any] = []
    async with open_bridge(
        tmp_path,
        "interrupt",
        max_concurrent_sessions=1,
        coordinator_config=CoordinatorConfig(forward=reports.append),
    ) as bridge:
        a, b = bridge.thread("a"), bridge.thread("b")
        await bridge.say(a, "SLOWTEXT please")
        await wait_until(lambda: "one t" in bridge.texts(a))
        await bridge.say(b, "SLOWTEXT too")
        await wait_until(
            lambda: SessionActivity(thread_id=b, status="queued", queue_position=1) in reports
        )
        (await bridge.session(a)).tell(StopTurn(requested_by=bridge.human_id))
        await wait_until(
            lambda: any(
                isinstance(r, SessionActivity) and r.thread_id == b and r.status == "running"
                for r in reports
            )
        )


def _reaction_log(bridge: Any) -> list[tuple[int, str, str]]:
    """Records every reaction change Discord accepts from now on: ``(message id, op,
    emoji)``."""
    seen: list[tuple[int, str, str]] = []

    def observe(exchange: Any) -> None:
        parts = exchange.path.split("/")
        # /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me
        if len(parts) == 8 and parts[5] == "reactions" and exchange.status < 300:
            op = "add" if exchange.method == "PUT" else "remove"
            seen.append((int(parts[4]), op, unquote(parts[6])))

    bridge.server.observers.append(observe)
    return seen


async def _start_from_the_channel(bridge: Any, tmp_path: Path, content: str) -> tuple[int, int]:
    """What the router does with a message in the main channel: the session record, the
    inbox entry, the first status reaction at once (issue 15), then the thread. Returns
    the parent channel's id and the thread's (the message's)."""
    from bridge.store import InboxItem

    world = bridge.server.world
    parent = world.default_channel.id
    posted = bridge.server.control.post_message(parent, bridge.human_id, content)
    message = world.find_message(int(posted["id"]))
    record = session_record(message.id, tmp_path, channel_id=parent)
    await bridge.db(lambda db: db.put_session(record))
    item = InboxItem(
        message_id=message.id, thread_id=message.id, author_id=bridge.human_id, content=content
    )
    await bridge.db(lambda db: db.inbox_add(item))
    bridge.rest.submit_reaction(parent, message.id, add=[render.EMOJI_REQUESTING])
    world.start_thread_from_message(message, name=content, owner_id=world.bot.id)
    return parent, message.id


def _told(thread: int, message_id: int, author: int, content: str, seen: bool) -> UserMessage:
    return UserMessage(
        message_id=message_id,
        thread_id=thread,
        author_id=author,
        content=content,
        seen_reaction=render.EMOJI_REQUESTING if seen else None,
    )


async def test_the_routers_first_status_reaction_is_taken_over_not_repeated(
    tmp_path: Path,
) -> None:
    """The router puts 🤔 on a channel message as soon as it arrives; the session's status
    reaction starts from it: 🤔 is added once, every emoji is replaced by the next, ✅ at
    the end."""
    async with open_bridge(tmp_path, "text_thinking") as bridge:
        log = _reaction_log(bridge)
        _, thread = await _start_from_the_channel(bridge, tmp_path, "What is it?")
        await bridge.rest.wait_idle()
        assert bridge.reactions(thread) == [render.EMOJI_REQUESTING]  # before any session
        (await bridge.session(thread)).tell(
            _told(thread, thread, bridge.human_id, "What is it?", seen=True)
        )
        await wait_until(lambda: "✅ Done" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.rest.wait_idle()
        assert bridge.reactions(thread) == [render.EMOJI_DONE]
        changes = [(op, emoji) for message_id, op, emoji in log if message_id == thread]
        added = [emoji for op, emoji in changes if op == "add"]
        assert added[0] == render.EMOJI_REQUESTING
        assert added.count(render.EMOJI_REQUESTING) == 1, changes
        assert added[-1] == render.EMOJI_DONE
        removed = [emoji for op, emoji in changes if op == "remove"]
        assert sorted(removed) == sorted(added[:-1]), changes  # each replaced, none stacked


async def test_the_routers_reaction_goes_when_a_later_message_carries_the_status(
    tmp_path: Path,
) -> None:
    """A second message reaches the session before it showed any status: the turn's
    status goes on the newest message, and the first one's 🤔 (the router's) is taken off
    rather than left saying "asking Claude" forever."""
    async with open_bridge(tmp_path, "text_thinking") as bridge:
        _, thread = await _start_from_the_channel(bridge, tmp_path, "First")
        await bridge.rest.wait_idle()
        second = bridge.server.control.post_message(thread, bridge.human_id, "Second")
        second_id = int(second["id"])
        from bridge.store import InboxItem

        item = InboxItem(
            message_id=second_id, thread_id=thread, author_id=bridge.human_id, content="Second"
        )
        await bridge.db(lambda db: db.inbox_add(item))
        ref = await bridge.session(thread)
        # Both are in the mailbox before the session asks for a slot: the turn carries both.
        ref.tell(_told(thread, thread, bridge.human_id, "First", seen=True))
        ref.tell(_told(thread, second_id, bridge.human_id, "Second", seen=False))
        await wait_until(lambda: "✅ Done" in bridge.texts(thread))
        await wait_until(lambda: _idle(bridge, thread))
        await bridge.rest.wait_idle()
        assert bridge.reactions(second_id) == [render.EMOJI_DONE]
        assert bridge.reactions(thread) == []
