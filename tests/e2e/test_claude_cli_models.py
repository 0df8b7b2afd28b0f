"""With the real CLI: the models it offers and how ``set_model`` answers (C24).

Pinned for 2.1.330: ``initialize`` lists the models (``value``, ``resolvedModel``); each
value is an alias ``/model`` offers and ``validate_model`` accepts; ``set_model`` with it
answers ``{"model": <resolvedModel>}``, and the next API request asks for that model.
"""

from __future__ import annotations

from pathlib import Path

import actors
from bridge.sessions.commands.model import ALIAS_HINTS
from protocol.claude.argv import ClaudeCommand
from protocol.claude.control import MODEL_ALIASES, validate_model
from tests.support.claude_cli import open_claude_actor
from tests.support.model_server import ModelServer, Reply


async def test_listed_models_are_offered_and_set_model_answers_the_resolved_id(
    claude_bin: Path, model_server: ModelServer, claude_env: dict[str, str], claude_workdir: Path
) -> None:
    model_server.set_script([Reply.text("first"), Reply.text("second")])
    async with (
        actors.open_system() as system,
        open_claude_actor(
            system, ClaudeCommand(executable=str(claude_bin)), cwd=claude_workdir, env=claude_env
        ) as h,
    ):
        init = await h.claude.request({"subtype": "initialize", "hooks": None})
        listed = {m["value"]: m["resolvedModel"] for m in init["models"]}
        assert "default" in listed
        assert set(listed) <= MODEL_ALIASES
        assert set(MODEL_ALIASES) <= set(ALIAS_HINTS)  # each offered with a hint
        for alias, resolved in listed.items():
            assert validate_model(alias) == alias
            assert await h.claude.set_model(alias) == {"model": resolved}
        # The last switch decides the next request; then back to the default.
        last_alias, last_resolved = list(listed.items())[-1]
        await h.claude.send_user("hello")
        await h.until_result()
        assert await h.claude.set_model("default") == {"model": listed["default"]}
        await h.claude.send_user("again")
        await h.until_result()
    assert [t.body["model"] for t in model_server.turns] == [last_resolved, listed["default"]]
    assert last_alias != "default"
