"""open_claude's plumbing, with the fake CLI replaying recorded real output.

These prove the process handling (delivery order, stderr draining, request/response
matching, timeouts, escalation, no orphans). That the features work with Claude Code
itself is proven in tests/e2e/test_claude_*.py with the real binary.
"""

from __future__ import annotations

import signal
from pathlib import Path

import psutil
import pytest
import trio

import actors
from bridge.claude.process import (
    ClaudeEvent,
    ClaudeExited,
    ClaudeInterruptEscalated,
    ClaudeTimedOut,
    ControlRequestFailed,
)
from protocol.claude import events as ev
from protocol.claude.argv import ClaudeCommand
from protocol.claude.control import allow
from protocol.claude.turn import Activity, TimeoutKind
from tests.support.claude_cli import open_claude_actor
from tests.support.fake_claude import write_fake_claude

TIMEOUT = 30.0


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _command(tmp_path: Path, scenario: str, **knobs: object) -> ClaudeCommand:
    return ClaudeCommand(executable=str(write_fake_claude(tmp_path, scenario, **knobs)))  # type: ignore[arg-type]


async def test_a_permission_turn_end_to_end(tmp_path: Path) -> None:
    async with (
        actors.open_system() as system,
        open_claude_actor(system, _command(tmp_path, "bash_allow"), cwd=tmp_path, env={}) as h,
    ):
        await h.claude.send_user("RUNTOUCH please")
        request = await h.until_event(ev.ControlRequest)
        assert h.claude.turn.activity is Activity.AWAITING_PERMISSION
        await h.claude.answer(allow(request.request_id, request.request.input))
        result = await h.until_result()
        assert result.result == "Touched the file."
        assert h.claude.session_id == result.session_id
        assert await h.claude.close() == 0
        exited = await h.until_message(ClaudeExited)
        assert exited.returncode == 0
        assert exited.results_seen == 1
        # Every stdout line arrived, in order, before the exit report.
        kinds = [type(m) for m in h.messages]
        assert kinds.index(ClaudeExited) == len(kinds) - 1
        assert len(h.events()) == 10
    assert _gone(h.pid)


async def test_control_requests_are_matched_to_their_responses(tmp_path: Path) -> None:
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, _command(tmp_path, "control_requests"), cwd=tmp_path, env={}
        ) as h,
    ):
        with trio.fail_after(TIMEOUT):
            init = await h.claude.request({"subtype": "initialize", "hooks": None})
            assert "commands" in init
            assert await h.claude.set_permission_mode("acceptEdits") == {"mode": "acceptEdits"}
            with pytest.raises(ControlRequestFailed, match="bypassPermissions"):
                await h.claude.set_permission_mode("bypassPermissions")
            assert (await h.claude.set_model("sonnet"))["model"].startswith("claude-sonnet")


async def test_a_chatty_stderr_never_stalls_the_child(tmp_path: Path) -> None:
    noise = 4 * 1024 * 1024  # far beyond a pipe buffer
    command = _command(tmp_path, "text_thinking", stderr_bytes=noise)
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=tmp_path, env={}) as h,
    ):
        await h.claude.send_user("What is the answer?")
        await h.until_result()
        await h.claude.close()
        exited = await h.until_message(ClaudeExited)
        assert h.claude._stderr.total == noise
        assert 0 < len(exited.stderr_tail) <= 64 * 1024
        assert "fake claude stderr noise" in exited.stderr_tail


async def test_actor_stop_leaves_no_process(tmp_path: Path) -> None:
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, _command(tmp_path, "text_thinking", hang_after=2), cwd=tmp_path, env={}
        ) as h,
    ):
        await h.claude.send_user("What is the answer?")
        await h.until_event(ev.SystemStatus)
        assert not _gone(h.pid)
        await h.ref.stop()
        assert _gone(h.pid)


async def test_cancellation_leaves_no_process(tmp_path: Path) -> None:
    pids: list[int] = []
    async with actors.open_system() as system:
        with trio.move_on_after(TIMEOUT) as scope:
            async with open_claude_actor(
                system, _command(tmp_path, "text_thinking", hang_after=2), cwd=tmp_path, env={}
            ) as h:
                pids.append(h.pid)
                await h.claude.send_user("What is the answer?")
                await h.until_event(ev.SystemStatus)
                scope.cancel()
        assert scope.cancelled_caught
    assert pids
    assert _gone(pids[0])


async def test_idle_timeout_interrupts_then_escalates_to_sigint(tmp_path: Path) -> None:
    # The fake hangs after two lines and ignores the control interrupt (it is stuck), so
    # the handle must fall back to SIGINT, on which the CLI exits 0.
    command = _command(tmp_path, "text_thinking", hang_after=2)
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, command, cwd=tmp_path, env={}, idle_timeout=0.5, interrupt_grace=0.5
        ) as h,
    ):
        await h.claude.send_user("What is the answer?")
        timed_out = await h.until_message(ClaudeTimedOut)
        assert timed_out == ClaudeTimedOut(TimeoutKind.IDLE, 0.5)
        escalated = await h.until_message(ClaudeInterruptEscalated)
        assert escalated.signal == signal.SIGINT
        exited = await h.until_message(ClaudeExited)
        assert exited.returncode == 0
        assert exited.results_seen == 0


async def test_total_timeout_fires_even_while_events_flow(tmp_path: Path) -> None:
    command = _command(tmp_path, "text_thinking", line_delay=0.2)
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, command, cwd=tmp_path, env={}, total_timeout=1.0, idle_timeout=5.0
        ) as h,
    ):
        start = trio.current_time()
        await h.claude.send_user("What is the answer?")
        timed_out = await h.until_message(ClaudeTimedOut)
        assert timed_out.kind is TimeoutKind.TOTAL
        assert trio.current_time() - start >= 1.0
        # Events kept arriving the whole time: the idle clock never ran out.
        assert any(isinstance(m, ClaudeEvent) for m in h.messages[: h.messages.index(timed_out)])


async def test_a_process_ignoring_signals_is_killed(tmp_path: Path) -> None:
    command = _command(tmp_path, "text_thinking", hang_after=2, ignore_signals=True)
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, command, cwd=tmp_path, env={}, interrupt_grace=0.3, term_grace=0.3
        ) as h,
    ):
        await h.claude.send_user("What is the answer?")
        await h.until_event(ev.SystemStatus)
        await h.claude.interrupt()
        first = await h.until_message(ClaudeInterruptEscalated)
        second = await h.until_message(ClaudeInterruptEscalated)
        assert (first.signal, second.signal) == (signal.SIGINT, signal.SIGTERM)
        exited = await h.until_message(ClaudeExited)
        assert exited.returncode == -signal.SIGKILL
    assert _gone(h.pid)


async def test_writing_after_exit_says_the_process_is_gone(tmp_path: Path) -> None:
    from bridge.claude.process import ClaudeGone

    async with (
        actors.open_system() as system,
        open_claude_actor(system, _command(tmp_path, "image"), cwd=tmp_path, env={}) as h,
    ):
        await h.claude.send_user("What is in this image?")
        await h.until_result()
        await h.claude.close()
        with pytest.raises(ClaudeGone, match="exited"):
            await h.claude.send_user("more")


async def test_a_cancelled_write_closes_stdin_rather_than_risk_a_torn_line(
    tmp_path: Path,
) -> None:
    from bridge.claude.process import ClaudeGone
    from protocol.claude.control import ImageAttachment

    # The fake never reads stdin: a message bigger than the pipe buffer blocks mid-line.
    big = ImageAttachment(media_type="image/png", data=b"\x89PNG" * 250_000)
    command = _command(tmp_path, "text_thinking", read_stdin=False)
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=tmp_path, env={}) as h,
    ):
        with trio.move_on_after(0.5) as scope:
            await h.claude.send_user("What is the answer?", images=(big,))
        assert scope.cancelled_caught
        with pytest.raises(ClaudeGone):
            await h.claude.send_user("What is the answer?")
        await h.ref.stop()
    assert _gone(h.pid)


async def test_a_write_cancelled_before_it_starts_changes_nothing(tmp_path: Path) -> None:
    async with (
        actors.open_system() as system,
        open_claude_actor(system, _command(tmp_path, "text_thinking"), cwd=tmp_path, env={}) as h,
    ):
        with trio.CancelScope() as scope:
            scope.cancel()
            await h.claude.send_user("ignored")
        assert not h.claude.turn.busy
        await h.claude.send_user("What is the answer?")
        assert (await h.until_result()).result == "The answer is 42."


async def test_the_fake_can_repeat_a_turn_for_load_tests(tmp_path: Path) -> None:
    command = _command(tmp_path, "text_thinking", repeat=True)
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=tmp_path, env={}) as h,
    ):
        for _ in range(3):
            await h.claude.send_user("What is the answer?")
            assert (await h.until_result()).result == "The answer is 42."
        assert h.claude.turn.turns_completed == 3
        assert await h.claude.close() == 0
