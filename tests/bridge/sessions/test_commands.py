"""The slash-command registry: X5 and ephemeral errors for every command, autocomplete
within Discord's limits whatever a completer returns, and option parsing that survives
junk; ``/model``'s choices and checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.sessions.commands import (
    CHOICE_TEXT_MAX,
    CHOICES_MAX,
    NOT_ALLOWED,
    Answer,
    CommandError,
    CommandHost,
    Invocation,
    Registry,
    SlashCommand,
    registry,
)
from bridge.sessions.commands.model import MODEL
from bridge.sessions.messages import SessionMessage, SetModel
from bridge.sessions.skills import SkillCatalog
from bridge.store import Database, SessionRecord
from protocol.discord import models as m
from protocol.discord.converter import make_converter

OWNER = 1
STRANGER = 2
MAIN = 100
THREAD = 200


@attrs.define
class Host:
    """A host over an in-memory record set (no router, no Discord)."""

    records: dict[int, SessionRecord] = attrs.Factory(dict)
    told: list[tuple[int, SessionMessage]] = attrs.Factory(list)
    prompts: list[dict[str, Any]] = attrs.Factory(list)
    default: str | None = "opus"
    tmp: Path = Path("/nonexistent")

    @property
    def main_channel_id(self) -> int:
        return MAIN

    @property
    def working_dir(self) -> str:
        return str(self.tmp)

    @property
    def default_model(self) -> str | None:
        return self.default

    def now(self) -> float:
        return 1000.0

    async def db(self, fn: Callable[[Database], Any]) -> Any:
        class _Db:
            def sessions(_self) -> list[SessionRecord]:
                return list(self.records.values())

            def tasks(_self) -> list[Any]:
                return []

        return fn(_Db())  # type: ignore[arg-type]  # the two reads these commands make

    async def session(self, channel_id: int | None) -> SessionRecord | None:
        return self.records.get(channel_id) if channel_id is not None else None

    async def tell_session(self, thread_id: int, msg: SessionMessage) -> None:
        self.told.append((thread_id, msg))

    async def run_prompt(self, **kw: Any) -> None:
        self.prompts.append(kw)

    task_control: Any = None


def _record(model: str | None = None) -> SessionRecord:
    return SessionRecord(
        thread_id=THREAD,
        channel_id=MAIN,
        guild_id=None,
        working_dir="/w",
        model=model,
        created_at=0.0,
        updated_at=0.0,
    )


def call(
    name: str,
    options: list[dict[str, Any]] | None = None,
    *,
    user: int = OWNER,
    channel: int = THREAD,
) -> Invocation:
    data = make_converter().structure(
        {"id": "9", "name": name, "type": 1, "options": options or []}, m.ApplicationCommandData
    )
    return Invocation(user_id=user, channel_id=channel, data=data)


def _host(tmp_path: Path) -> tuple[Host, Registry]:
    host = Host(records={THREAD: _record()}, tmp=tmp_path)
    return host, registry(SkillCatalog(tmp_path / "user-skills"))


async def test_definitions_are_registered_in_order_with_descriptions(tmp_path: Path) -> None:
    _, reg = _host(tmp_path)
    defs = reg.definitions()
    assert [d.name for d in defs] == ["stop", "task", "model", "skill", "upgrade"]
    assert all(d.description for d in defs)
    skill = next(d for d in defs if d.name == "skill")
    assert isinstance(skill.options, list)
    assert [(o.name, o.required, o.autocomplete) for o in skill.options] == [
        ("name", True, True),
        ("args", False, m.UNDEFINED),
    ]
    with pytest.raises(ValueError, match="two commands are named /stop"):
        Registry.of(*reg.commands.values(), reg.commands["stop"])


@pytest.mark.parametrize("name", ["stop", "task", "model", "skill", "upgrade", "nope"])
async def test_every_command_refuses_strangers_ephemerally(tmp_path: Path, name: str) -> None:
    host, reg = _host(tmp_path)
    answer = await reg.run(host, call(name, user=STRANGER), {OWNER})
    assert answer == Answer(content=NOT_ALLOWED, ephemeral=True)
    assert host.told == []
    assert host.prompts == []
    focused = [{"name": "name", "type": 3, "value": "", "focused": True}]
    assert await reg.complete(host, call(name, focused, user=STRANGER), {OWNER}) == []


async def test_errors_are_ephemeral_and_unknown_commands_named(tmp_path: Path) -> None:
    host, reg = _host(tmp_path)
    assert await reg.run(host, call("nope"), {OWNER}) == Answer(content="Unknown command /nope.")
    no_session = await reg.run(host, call("stop", channel=MAIN), {OWNER})
    assert no_session.ephemeral
    assert "no Claude session in this channel" in no_session.content
    stopped = await reg.run(host, call("stop"), {OWNER})
    assert not stopped.ephemeral
    assert stopped.content == f"⏹️ Stop requested by <@{OWNER}>."


async def test_model_validates_stores_through_the_session_and_shows(tmp_path: Path) -> None:
    host, reg = _host(tmp_path)
    bad = await reg.run(
        host, call("model", [{"name": "name", "type": 3, "value": "gpt-4"}]), {OWNER}
    )
    assert bad.ephemeral
    assert "Not a model the CLI knows" in bad.content
    assert host.told == []
    ok = await reg.run(
        host, call("model", [{"name": "name", "type": 3, "value": "haiku"}]), {OWNER}
    )
    assert not ok.ephemeral
    assert host.told == [(THREAD, SetModel(model="haiku", requested_by=OWNER))]
    back = await reg.run(
        host, call("model", [{"name": "name", "type": 3, "value": "default"}]), {OWNER}
    )
    assert host.told[-1] == (THREAD, SetModel(model=None, requested_by=OWNER))
    assert "`opus` (the default)" in back.content
    shown = await reg.run(host, call("model"), {OWNER})
    assert shown.content == "This session uses `opus` (the default)."
    host.records[THREAD] = _record("claude-sonnet-4-5")
    assert (await reg.run(host, call("model"), {OWNER})).content == (
        "This session uses `claude-sonnet-4-5`."
    )
    main = await reg.run(
        host, call("model", [{"name": "name", "type": 3, "value": "opus"}], channel=MAIN), {OWNER}
    )
    assert main.ephemeral
    assert "no Claude session in this channel" in main.content


async def test_model_choices(tmp_path: Path) -> None:
    host, reg = _host(tmp_path)
    host.records[THREAD] = _record("claude-haiku-4-5")

    async def offered(typed: str) -> list[str | int | float]:
        focused = [{"name": "name", "type": 3, "value": typed, "focused": True}]
        return [c.value for c in await reg.complete(host, call("model", focused), {OWNER})]

    everything = await offered("")
    assert {"default", "sonnet", "opus", "haiku", "opusplan", "sonnet[1m]"} <= set(everything)
    assert "claude-haiku-4-5" in everything  # a model a session uses
    assert await offered("op") == ["opus", "opus[1m]", "opusplan"]
    assert await offered("claude-opus-4-1") == ["claude-opus-4-1"]  # well-formed, as typed
    assert await offered("gpt") == []


def _junk_choice() -> st.SearchStrategy[m.CommandChoice]:
    text = st.text(max_size=150)
    return st.builds(m.CommandChoice, name=text, value=st.one_of(text, st.integers()))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(found=st.lists(_junk_choice(), max_size=60))
async def test_autocomplete_never_exceeds_discords_limits(
    found: list[m.CommandChoice], tmp_path: Path
) -> None:
    async def complete(host: CommandHost, call: Invocation) -> Sequence[m.CommandChoice]:
        return found

    async def handle(host: CommandHost, call: Invocation) -> Answer:
        raise CommandError("never run")

    reg = Registry.of(
        SlashCommand(definition=m.ApplicationCommand(name="x"), handle=handle, complete=complete)
    )
    got = await reg.complete(Host(), call("x"), {OWNER})
    assert len(got) <= CHOICES_MAX
    for c in got:
        assert 1 <= len(c.name) <= CHOICE_TEXT_MAX
        assert not isinstance(c.value, str) or 1 <= len(c.value) <= CHOICE_TEXT_MAX
    fitting = [
        c
        for c in found
        if 1 <= len(c.name) <= CHOICE_TEXT_MAX
        and (not isinstance(c.value, str) or 1 <= len(c.value) <= CHOICE_TEXT_MAX)
    ]
    assert got == fitting[:CHOICES_MAX]


_option_values = st.one_of(st.text(max_size=30), st.integers(), st.booleans(), st.none())
_options = st.recursive(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["name", "args", "task", "x"]), "type": st.integers(0, 12)},
        optional={"value": _option_values, "focused": st.booleans()},
    ),
    lambda inner: st.fixed_dictionaries(
        {
            "name": st.text(max_size=8),
            "type": st.integers(0, 12),
            "options": st.lists(inner, max_size=3),
        }
    ),
    max_leaves=6,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(
    name=st.sampled_from(["stop", "task", "model", "skill", "zzz"]),
    options=st.lists(_options, max_size=4),
    user=st.sampled_from([OWNER, STRANGER]),
    channel=st.sampled_from([MAIN, THREAD, 5]),
)
async def test_junk_options_get_an_answer_never_a_crash(
    name: str, options: list[dict[str, Any]], user: int, channel: int, tmp_path: Path
) -> None:
    """Whatever options Discord (or a forger) sends, each command answers with a sentence
    and each autocomplete with valid choices."""
    host, reg = _host(tmp_path)
    try:
        invocation = call(name, options, user=user, channel=channel)
    except (cattrs.BaseValidationError, ValueError, TypeError):
        return  # the router drops what does not structure
    answer = await reg.run(host, invocation, {OWNER})
    assert answer.content
    choices = await reg.complete(host, invocation, {OWNER})
    assert len(choices) <= CHOICES_MAX
    if user == STRANGER:
        assert answer.content == NOT_ALLOWED
        assert choices == []


def test_model_command_definition_fits_discord() -> None:
    from protocol.discord import limits

    assert len(MODEL.definition.description) <= limits.COMMAND_DESCRIPTION
