"""With the real CLI: which appended system prompt the model receives on ``--resume``.

The bridge starts one ``claude`` per turn and appends a fresh system prompt each time (the
worktree rule, the other active sessions, the recent AI Lounge lines: K1, K3, K4). By
default CLI 2.1.330 records the first request's system prompt in the session file (a
``prompt_snapshot`` attachment) and sends that record on every later request and resume,
so a new ``--append-system-prompt`` is ignored from the second turn on. (So are
``--append-system-prompt-file``, ``--system-prompt``, ``initialize``'s ``appendSystemPrompt``
or ``systemPrompt``, and ``CLAUDE_CODE_HOST_PROMPT_SUPERSEDES_RECORD=1``: all tried.)
``--system-prompt-snapshot off`` renders the prompt fresh on every request.

These tests pin both behaviours, so a CLI upgrade that changes either fails here first.
"""

from __future__ import annotations

from pathlib import Path

import actors
from bridge.claude.sessions import find_session_file
from protocol.claude.argv import ClaudeCommand
from tests.support.claude_cli import open_claude_actor
from tests.support.model_server import ModelServer, RecordedRequest, Reply

MARKERS = tuple(f"PER-TURN-CONTEXT-{n}" for n in (1, 2, 3))


async def _run_turns(
    claude_bin: Path,
    claude_env: dict[str, str],
    claude_workdir: Path,
    snapshots: tuple[bool | None, ...],
) -> str:
    """One process per turn, as the bridge runs them: turn ``n`` (from 1) asks
    "question n", appends ``MARKERS[n - 1]`` to the system prompt and resumes the session
    of the turn before. Returns the session id."""
    session_id: str | None = None
    async with actors.open_system() as system:
        for number, (marker, snapshot) in enumerate(zip(MARKERS, snapshots, strict=False), 1):
            command = ClaudeCommand(
                executable=str(claude_bin),
                resume=session_id,
                append_system_prompt=f"Context for this turn: {marker}",
                system_prompt_snapshot=snapshot,
            )
            async with open_claude_actor(system, command, cwd=claude_workdir, env=claude_env) as h:
                await h.claude.send_user(f"question {number}")
                result = await h.until_result(timeout=60.0)
                assert not result.is_error, result
                session_id = result.session_id
    assert session_id is not None
    return session_id


def _markers_in(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


async def _snapshot_records(claude_home: Path, claude_workdir: Path, session_id: str) -> int:
    path = await find_session_file(claude_home / ".claude", claude_workdir, session_id)
    assert path is not None
    return path.read_text().count('"prompt_snapshot"')


def _turns(model_server: ModelServer, count: int) -> list[RecordedRequest]:
    assert len(model_server.turns) == count, [t.last_user_text for t in model_server.turns]
    return model_server.turns


async def test_by_default_a_resumed_turn_gets_the_first_turns_appended_prompt(
    claude_bin: Path,
    model_server: ModelServer,
    claude_env: dict[str, str],
    claude_home: Path,
    claude_workdir: Path,
) -> None:
    """Why the bridge passes ``--system-prompt-snapshot off``. If this starts failing, the
    CLI stopped freezing the prompt: re-check the flag is still needed (and still exists)."""
    model_server.set_script([Reply.text("one"), Reply.text("two")])
    session_id = await _run_turns(claude_bin, claude_env, claude_workdir, (None, None))
    first, second = _turns(model_server, 2)
    assert _markers_in(first.system_text) == [MARKERS[0]]
    assert _markers_in(second.system_text) == [MARKERS[0]]
    assert second.last_user_text == "question 2"
    assert await _snapshot_records(claude_home, claude_workdir, session_id) >= 1


async def test_with_the_snapshot_off_each_turn_gets_its_own_appended_prompt_only(
    claude_bin: Path,
    model_server: ModelServer,
    claude_env: dict[str, str],
    claude_home: Path,
    claude_workdir: Path,
) -> None:
    model_server.set_script([Reply.text("one"), Reply.text("two"), Reply.text("three")])
    session_id = await _run_turns(claude_bin, claude_env, claude_workdir, (False, False, False))
    turns = _turns(model_server, 3)
    for marker, turn in zip(MARKERS, turns, strict=True):
        # The current turn's text, and not an earlier turn's: nothing accumulates.
        assert _markers_in(turn.system_text) == [marker]
        # Never in the conversation history either.
        assert _markers_in(turn.all_text()) == []
    # The conversation itself carries on across the three processes.
    assert "question 1" in turns[2].all_text()
    assert await _snapshot_records(claude_home, claude_workdir, session_id) == 0


async def test_a_session_recorded_with_the_snapshot_is_fresh_once_resumed_with_it_off(
    claude_bin: Path,
    model_server: ModelServer,
    claude_env: dict[str, str],
    claude_home: Path,
    claude_workdir: Path,
) -> None:
    """Sessions stored before the bridge passed the flag carry a snapshot record; resuming
    them with the flag off ignores that record."""
    model_server.set_script([Reply.text("one"), Reply.text("two"), Reply.text("three")])
    session_id = await _run_turns(claude_bin, claude_env, claude_workdir, (None, False, False))
    turns = _turns(model_server, 3)
    assert [_markers_in(t.system_text) for t in turns] == [[m] for m in MARKERS]
    assert await _snapshot_records(claude_home, claude_workdir, session_id) >= 1
