"""``/model [name]`` (C24): show or change a session's model.

In a session thread, ``/model name:<model>`` tells the session :class:`SetModel`: stored on
the session (later turns start with ``--model``), and a running turn switches at once with
the control request ``set_model`` (shape pinned with the real CLI in
``tests/e2e/test_claude_cli_tools.py``). ``default`` returns the session to the bridge's
default (``CLAUDE_MODEL``, else the CLI's own). The CLI accepts any name, so the name is
checked here (:func:`protocol.claude.control.validate_model`). Without a name it shows the
model. The autocomplete offers the CLI's aliases, the configured default, models sessions
use, and what is typed if it is a well-formed model id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Final

from bridge.sessions.commands._registry import (
    Answer,
    CommandError,
    CommandHost,
    Invocation,
    SlashCommand,
    choice,
)
from bridge.sessions.commands._texts import NO_SESSION
from bridge.sessions.messages import SetModel
from bridge.sessions.presentation.render import quiet
from protocol.claude.control import MODEL_ALIASES, ControlError, validate_model
from protocol.discord import models as m

__all__ = ["ALIAS_HINTS", "MODEL"]

DEFAULT: Final = "default"

ALIAS_HINTS: Final = {
    "default": "the bridge's default (CLAUDE_MODEL, else the CLI's)",
    "sonnet": "the latest Sonnet",
    "opus": "the latest Opus",
    "haiku": "the latest Haiku (fast)",
    "fable": "Fable, for the hardest and longest tasks",
    "best": "the most capable model available",
    "opusplan": "Opus while planning, Sonnet otherwise",
    "sonnet[1m]": "Sonnet with the 1M-token context",
    "opus[1m]": "Opus with the 1M-token context",
}
"""What each alias means, shown beside it (the aliases are the CLI's, in ``MODEL_ALIASES``)."""


def _describe(model: str | None, default: str | None) -> str:
    if model is not None:
        return f"`{model}`"
    return f"`{default}` (the default)" if default else "the CLI's default"


async def _model(host: CommandHost, call: Invocation) -> Answer:
    wanted = call.option("name")
    record = await host.session(call.channel_id)
    if record is None:
        if wanted is None:
            return Answer(
                content=f"New sessions use {_describe(None, host.default_model)} "
                "(CLAUDE_MODEL). Use /model in a session's thread to change its model."
            )
        raise CommandError(NO_SESSION.format(name="model"))
    if wanted is None:
        return Answer(content=f"This session uses {_describe(record.model, host.default_model)}.")
    try:
        model = validate_model(wanted)
    except ControlError as exc:
        raise CommandError(f"Not a model the CLI knows: {quiet(exc.message[:300])}.") from None
    stored = None if model == DEFAULT else model
    await host.tell_session(record.thread_id, SetModel(model=stored, requested_by=call.user_id))
    return Answer(
        content=f"🧠 <@{call.user_id}> set this session's model to "
        f"{_describe(stored, host.default_model)}: a running turn switches now, later turns "
        "start with it.",
        ephemeral=False,
    )


async def _complete(host: CommandHost, call: Invocation) -> Sequence[m.CommandChoice]:
    focused = call.focused()
    if focused is None or focused[0] != "name":
        return []
    typed = focused[1].strip()
    used = await host.db(lambda db: sorted({r.model for r in db.sessions() if r.model}))
    names: dict[str, str] = {alias: ALIAS_HINTS.get(alias, "") for alias in sorted(MODEL_ALIASES)}
    if host.default_model:
        names.setdefault(host.default_model, "the configured default")
    for model in used:
        names.setdefault(model, "used by a session")
    found = [(n, hint) for n, hint in names.items() if typed.lower() in n.lower()]
    found.sort(key=lambda item: (not item[0].startswith(typed), item[0]))
    if typed and typed not in names:
        with contextlib.suppress(ControlError):
            found.insert(0, (validate_model(typed), "as typed"))
    return [choice(f"{n}: {hint}" if hint else n, n) for n, hint in found]


MODEL: Final = SlashCommand(
    definition=m.ApplicationCommand(
        name="model",
        description="Show or change this session's Claude model (aliases or full model ids)",
        type=m.ApplicationCommandType.CHAT_INPUT,
        options=[
            m.CommandOption(
                type=m.CommandOptionType.STRING,
                name="name",
                description="An alias (sonnet, opus, haiku, default …) or a full model id",
                required=False,
                autocomplete=True,
                max_length=100,
            )
        ],
    ),
    handle=_model,
    complete=_complete,
)
