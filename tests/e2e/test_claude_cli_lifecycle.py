"""With the real CLI: resume, interrupt, timeouts, and no process left behind."""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import psutil
import trio

import actors
from bridge.claude.process import ClaudeExited, ClaudeInterruptEscalated, ClaudeTimedOut
from bridge.claude.sessions import find_session_file, list_sessions, read_session_messages
from protocol.claude import events as ev
from protocol.claude.argv import ClaudeCommand
from protocol.claude.turn import TimeoutKind
from tests.support.claude_cli import ClaudeHarness, open_claude_actor
from tests.support.model_server import ModelServer, Reply, Stall


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # exited (or a zombie) between listing and reading
        return ""


def _no_escalation(h: ClaudeHarness) -> bool:
    return not any(isinstance(m, ClaudeInterruptEscalated) for m in h.messages)


async def test_a_session_resumes_in_a_second_process_with_its_history(
    claude_bin: Path,
    model_server: ModelServer,
    claude_env: dict[str, str],
    claude_home: Path,
    claude_workdir: Path,
) -> None:
    model_server.set_script(
        [Reply.text("I will remember PINEAPPLE."), Reply.text("The word was PINEAPPLE.")]
    )
    command = ClaudeCommand(executable=str(claude_bin))
    async with actors.open_system() as system:
        async with open_claude_actor(system, command, cwd=claude_workdir, env=claude_env) as h:
            await h.claude.send_user("Remember the word PINEAPPLE")
            first = await h.until_result()
            assert await h.claude.close() == 0
        session_id = first.session_id
        path = await find_session_file(claude_home / ".claude", claude_workdir, session_id)
        assert path is not None
        assert [m.text for m in await read_session_messages(path)] == [
            "Remember the word PINEAPPLE",
            "I will remember PINEAPPLE.",
        ]
        (listed,) = await list_sessions(claude_home / ".claude", claude_workdir)
        assert listed.session_id == session_id
        assert listed.title == "Remember the word PINEAPPLE"
        resumed = ClaudeCommand(executable=str(claude_bin), resume=session_id)
        async with open_claude_actor(system, resumed, cwd=claude_workdir, env=claude_env) as h2:
            await h2.claude.send_user("Which word?")
            second = await h2.until_result()
            assert h2.claude.session_id == session_id
    assert second.result == "The word was PINEAPPLE."
    seen = model_server.turns[1]
    roles = [m["role"] for m in seen.messages if m["role"] in ("user", "assistant")]
    assert roles[-3:] == ["user", "assistant", "user"]
    assert "Remember the word PINEAPPLE" in seen.all_text()
    assert "I will remember PINEAPPLE." in seen.all_text()
    assert seen.last_user_text == "Which word?"


async def test_interrupt_ends_the_turn_and_the_process_stays_usable(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script(
        [
            Reply.text("one two three four five six seven eight nine ten", chunks=10, delay=0.5),
            Reply.text("Still here."),
        ]
    )
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, ClaudeCommand(executable=str(claude_bin)), cwd=claude_workdir, env=claude_env
        ) as h,
    ):
        await h.claude.send_user("SLOWTEXT please")
        await h.until(
            lambda m: (
                getattr(m, "event", None) is not None
                and isinstance(m.event, ev.StreamEvent)
                and m.event.text_delta is not None
            )
        )
        pid = h.pid
        await h.claude.interrupt()
        stopped = await h.until_result()
        assert stopped.subtype == "error_during_execution"
        assert h.claude.turn.interrupted
        await h.claude.send_user("are you still there?")
        again = await h.until_result()
        assert again.result == "Still here."
        assert h.pid == pid
        assert _alive(pid)
        assert _no_escalation(h)


IDLE_TIMEOUT = 5.0
"""The idle limit of the stalled-model test. It stays armed for the recovery turn, whose
gaps between real CLI events must all stay under it: 1.5 s was exceeded under CI load (the
recovery turn was interrupted too, ``terminal_reason='aborted_streaming'``)."""


async def test_idle_timeout_fires_on_a_stalled_model_and_interrupts(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script([Stall(), Reply.text("Recovered.")])
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system,
            ClaudeCommand(executable=str(claude_bin)),
            cwd=claude_workdir,
            env=claude_env,
            idle_timeout=IDLE_TIMEOUT,
        ) as h,
    ):
        start = trio.current_time()
        await h.claude.send_user("STALL please")
        timed_out = await h.until_message(ClaudeTimedOut)
        assert timed_out.kind is TimeoutKind.IDLE
        assert trio.current_time() - start >= IDLE_TIMEOUT
        result = await h.until_result()
        assert result.is_error
        assert _no_escalation(h)
        # Usable afterwards.
        await h.claude.send_user("hello again")
        assert (await h.until_result()).result == "Recovered."


async def test_total_timeout_fires_while_the_model_keeps_streaming(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script([Reply.text("x" * 40, chunks=40, delay=0.25)])
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system,
            ClaudeCommand(executable=str(claude_bin)),
            cwd=claude_workdir,
            env=claude_env,
            idle_timeout=5.0,
            total_timeout=2.0,
        ) as h,
    ):
        start = trio.current_time()
        await h.claude.send_user("SLOWTEXT please")
        timed_out = await h.until_message(ClaudeTimedOut)
        elapsed = trio.current_time() - start
        assert timed_out.kind is TimeoutKind.TOTAL
        assert 2.0 <= elapsed < 10.0  # the 40 deltas alone take 10 s
        result = await h.until_result()
        assert result.subtype == "error_during_execution"
        assert _no_escalation(h)


# Bash pre-allowed, so the long command starts without a permission prompt.
SLEEPER = ClaudeCommand(allowed_tools=("Bash",))

# The tool starts a process that never ends and reports its pid through a FIFO, so the
# test waits for that report (an event) instead of polling the process table.
# (2.1.330 refuses a standalone ``sleep``, hence ``tail -f``.)
LONG_BASH = Reply.bash("tail -f /dev/null & echo $! > ready.fifo; wait", "wait forever")


def _open_fifo(workdir: Path) -> tuple[trio.lowlevel.FdStream, int]:
    fifo = workdir / "ready.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    # Our own writer keeps the FIFO open, so a read waits for data instead of seeing EOF.
    writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    return trio.lowlevel.FdStream(reader), writer


async def _start_a_long_bash(h: ClaudeHarness, workdir: Path) -> list[int]:
    """Have Bash start a never-ending ``tail``; return the pids of claude and all its
    descendants once it runs."""
    stream, writer = _open_fifo(workdir)
    try:
        await h.claude.send_user("RUNTAIL please")
        data = b""
        with trio.fail_after(30):
            while b"\n" not in data:
                data += await stream.receive_some()
    finally:
        await stream.aclose()
        os.close(writer)
    tail_pid = int(data.split()[0])
    tree = [p.pid for p in psutil.Process(h.pid).children(recursive=True)]
    assert tail_pid in tree
    assert "tail" in _cmdline(psutil.Process(tail_pid))
    return [h.pid, *tree]


async def test_actor_stop_leaves_no_claude_process_or_tool_child(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script([LONG_BASH])
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system,
            attrs.evolve(SLEEPER, executable=str(claude_bin)),
            cwd=claude_workdir,
            env=claude_env,
        ) as h,
    ):
        pids = await _start_a_long_bash(h, claude_workdir)
        assert all(_alive(pid) for pid in pids)
        await h.ref.stop()
        assert [pid for pid in pids if _alive(pid)] == []


async def test_cancellation_leaves_no_claude_process_or_tool_child(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script([LONG_BASH])
    pids: list[int] = []
    async with actors.open_system() as system:
        with trio.CancelScope() as scope:
            async with open_claude_actor(
                system,
                attrs.evolve(SLEEPER, executable=str(claude_bin)),
                cwd=claude_workdir,
                env=claude_env,
            ) as h:
                pids = await _start_a_long_bash(h, claude_workdir)
                scope.cancel()
    assert pids
    assert [pid for pid in pids if _alive(pid)] == []


async def test_a_failed_resume_reports_the_error_and_the_exit(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    command = ClaudeCommand(
        executable=str(claude_bin), resume="11111111-2222-3333-4444-555555555555"
    )
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=claude_env) as h,
    ):
        result = await h.until_result()
        assert "No conversation found" in (result.error_text or "")
        exited = await h.until_message(ClaudeExited)
    assert exited.returncode == 1
    assert model_server.turns == []


async def test_clear_starts_a_new_session_id_and_it_is_tracked(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script([Reply.text("First."), Reply.text("Fresh start.")])
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, ClaudeCommand(executable=str(claude_bin)), cwd=claude_workdir, env=claude_env
        ) as h,
    ):
        await h.claude.send_user("hello")
        first = await h.until_result()
        assert h.claude.session_id == first.session_id
        await h.claude.send_user("/clear")
        await h.until_result()
        await h.claude.send_user("hello again")
        fresh = await h.until_result()
        assert fresh.result == "Fresh start."
        assert fresh.session_id != first.session_id
        assert h.claude.session_id == fresh.session_id
    # The model did not see the cleared conversation.
    seen = model_server.turns[1]
    assert "First." not in seen.all_text()
    assert [m["role"] for m in seen.messages if m["role"] == "assistant"] == []
