"""The upgrade's input surfaces (A3): its configuration variables, ``action = "upgrade"``
triggers and approval buttons' ``custom_id``, with good values and generated junk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.config import Config, ConfigError, load_config
from bridge.triggers import TriggerFileError, parse_triggers
from bridge.upgrade import parse_approval_custom_id
from bridge.upgrade._render import approval_buttons

JUNK = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load(tmp_path: Path, **env: str) -> Config:
    return load_config(
        {"CLAUDE_WORKING_DIR": str(tmp_path), **env}, dotenv_path=tmp_path / "none.env"
    )


def test_defaults_leave_upgrades_off(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert config.upgrade_command is None
    assert config.restart_command is None
    assert config.upgrade_timeout_seconds == 600.0
    assert config.upgrade_drain_seconds == 300.0
    assert config.upgrade_require_approval is False


def test_commands_are_split_like_a_shell_and_kept_as_argument_lists(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        UPGRADE_COMMAND=f"{sys.executable} -c 'print(\"a; b\")' $HOME",
        RESTART_COMMAND=f"'{sys.executable}' -m bridge run",
        UPGRADE_TIMEOUT_SECONDS="90",
        UPGRADE_DRAIN_SECONDS="12.5",
        UPGRADE_REQUIRE_APPROVAL="yes",
    )
    assert config.upgrade_command == (sys.executable, "-c", 'print("a; b")', "$HOME")
    assert config.restart_command == (sys.executable, "-m", "bridge", "run")
    assert config.upgrade_timeout_seconds == 90.0
    assert config.upgrade_drain_seconds == 12.5
    assert config.upgrade_require_approval is True


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("ON", True), ("1", True), ("No", False), ("0", False)]
)
def test_approval_booleans(tmp_path: Path, raw: str, value: bool) -> None:
    assert _load(tmp_path, UPGRADE_REQUIRE_APPROVAL=raw).upgrade_require_approval is value


@JUNK
@given(raw=st.text(max_size=80))
def test_junk_commands_load_or_name_the_variable(tmp_path: Path, raw: str) -> None:
    for name in ("UPGRADE_COMMAND", "RESTART_COMMAND"):
        try:
            config = _load(tmp_path, **{name: raw})
        except ConfigError as exc:
            refused = exc.variable
        else:
            refused = None
            argv = config.upgrade_command if name == "UPGRADE_COMMAND" else config.restart_command
            assert argv is None or (argv and argv[0])
        assert refused in (None, name)


@JUNK
@given(raw=st.text(max_size=20))
def test_junk_approval_flags_load_or_name_the_variable(tmp_path: Path, raw: str) -> None:
    try:
        config = _load(tmp_path, UPGRADE_REQUIRE_APPROVAL=raw)
    except ConfigError as exc:
        refused = exc.variable
    else:
        refused = None
        assert isinstance(config.upgrade_require_approval, bool)
    assert refused in (None, "UPGRADE_REQUIRE_APPROVAL")


_IDS = 'exact = "release"\nchannels = [1]\nwebhooks = [2]\n'


def test_an_upgrade_trigger_needs_no_prompt() -> None:
    (trigger,) = parse_triggers(f'[[trigger]]\nname = "r"\naction = "upgrade"\n{_IDS}')
    assert trigger.action == "upgrade"
    assert trigger.listens_to(2, 1)
    assert trigger.matches("release")
    (session,) = parse_triggers(f'[[trigger]]\nname = "s"\nprompt = "p"\n{_IDS}')
    assert session.action == "session"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ('action = "deploy"\n', "'action' must be one of"),
        ("action = 1\n", "'action' must be one of"),
        ('action = "upgrade"\nprompt = "p"\n', "'prompt' is for session triggers"),
        ('action = "upgrade"\nmodel = "sonnet"\n', "'model' is for session triggers"),
        ('action = "upgrade"\ntimeout_seconds = 5\n', "'timeout_seconds' is for session"),
    ],
)
def test_bad_upgrade_triggers_name_the_field(extra: str, says: str) -> None:
    with pytest.raises(TriggerFileError, match=says):
        parse_triggers(f'[[trigger]]\nname = "r"\n{extra}{_IDS}')


@given(value=st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.floats()))
def test_junk_actions_are_refused_or_known(value: object) -> None:
    text = f'[[trigger]]\nname = "r"\naction = {_toml(value)}\n{_IDS}'
    try:
        (trigger,) = parse_triggers(text)
    except TriggerFileError:
        return
    assert trigger.action in ("session", "upgrade")


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else repr(value)
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).encode("unicode_escape").decode().replace('"', '\\"') + '"'


@given(custom_id=st.text(max_size=120))
def test_junk_custom_ids_never_raise(custom_id: str) -> None:
    parsed = parse_approval_custom_id(custom_id)
    if parsed is not None:
        token, approve = parsed
        assert token
        assert custom_id == f"ccb:upgrade:{token}:{'yes' if approve else 'no'}"


def test_the_buttons_parse_back() -> None:
    (row,) = approval_buttons("0123abcd")
    ids = [getattr(button, "custom_id", None) for button in row.components]
    assert [parse_approval_custom_id(str(i)) for i in ids] == [
        ("0123abcd", True),
        ("0123abcd", False),
    ]
