"""With the real CLI: every event type we model parses from live output.

One CLI process runs several turns (text with thinking, a permitted Bash call with a
hook, a retried API error, /compact) so the whole vocabulary appears while paying for
one node start.
"""

from __future__ import annotations

import json
from pathlib import Path

import actors
from protocol.claude import events as ev
from protocol.claude.argv import ClaudeCommand
from protocol.claude.control import allow
from tests.support.claude_cli import cli_env, open_claude_actor
from tests.support.model_server import HttpError, ModelServer, Reply, TextBlock, ThinkingBlock

HOOKS = {
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "echo hook-ran"}]}
        ]
    }
}


async def test_every_modelled_event_type_parses_from_live_output(
    claude_bin: Path, model_server: ModelServer, claude_home: Path, claude_workdir: Path
) -> None:
    model_server.set_script(
        [
            Reply(blocks=(ThinkingBlock("Let me think."), TextBlock("The answer is 42."))),
            Reply.bash("touch made-by-claude.txt", "touch a file"),
            Reply.text("Touched."),
            HttpError(429, "slow down", retry_after=0),
            Reply.text("Answer after a retry."),
        ]
    )
    env = cli_env(
        base_url=model_server.url,
        home=claude_home,
        extra={"CLAUDE_CODE_MAX_RETRIES": "2", "CLAUDE_CODE_EMIT_SESSION_STATE_EVENTS": "1"},
    )
    command = ClaudeCommand(
        executable=str(claude_bin), include_hook_events=True, settings=json.dumps(HOOKS)
    )
    async with (
        actors.open_system() as system,
        open_claude_actor(system, command, cwd=claude_workdir, env=env) as h,
    ):
        await h.claude.send_user("What is the answer?")
        first = await h.until_result()
        assert first.result == "The answer is 42."

        await h.claude.send_user("RUNTOUCH please")
        request = await h.until_event(ev.ControlRequest)
        await h.claude.answer(allow(request.request_id, request.request.input))
        await h.until_result()

        await h.claude.send_user("E429 once")
        retried = await h.until_result()
        assert retried.result == "Answer after a retry."

        await h.claude.send_user("/compact")
        await h.until_event(ev.CompactBoundary)
        await h.until_result()

        events = h.events()
    bad = [e for e in events if isinstance(e, ev.Unknown | ev.Malformed)]
    assert bad == []
    seen = {type(e) for e in events}
    assert {
        ev.SystemInit,
        ev.SystemStatus,
        ev.ThinkingTokens,
        ev.StreamEvent,
        ev.AssistantMessage,
        ev.UserMessage,
        ev.ControlRequest,
        ev.HookStarted,
        ev.HookResponse,
        ev.ApiRetry,
        ev.SessionStateChanged,
        ev.CompactBoundary,
        ev.Result,
    } <= seen
    assert (claude_workdir / "made-by-claude.txt").exists()
    # The session id was tracked from init and result events throughout.
    assert h.claude.session_id == first.session_id
