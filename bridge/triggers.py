"""Webhook triggers (A2, X6): which server-side trigger, if any, a webhook message fires.

Triggers live in a TOML file named by ``TRIGGERS_FILE`` (README, "Webhook triggers"). A
webhook message only *selects* a trigger: the prompt, working directory, model and timeout
all come from the file, never from the message, so whoever holds a webhook's URL can run
only what the owner wrote down. A trigger fires only for the webhooks and channels it lists.

Pure: :func:`parse_triggers` turns the file's text into :class:`Trigger` values (or a
:class:`TriggerFileError` naming the entry and field), and :func:`select` decides.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from protocol.claude.control import ControlError, validate_model

__all__ = [
    "ACTIONS",
    "Fire",
    "NoMatch",
    "Trigger",
    "TriggerFileError",
    "Unlisted",
    "parse_triggers",
    "select",
]

SNOWFLAKE_MAX: Final = 2**63 - 1
TIMEOUT_DEFAULT: Final = 1800.0
TIMEOUT_MAX: Final = 7 * 86400.0
NAME_MAX: Final = 100
_KEYS: Final = frozenset(
    {"name", "exact", "prefix", "prompt", "working_dir", "model", "timeout_seconds"}
    | {"channels", "webhooks", "action"}
)
ACTIONS: Final = ("session", "upgrade")
"""``session`` (the default) starts a session with the prompt; ``upgrade`` starts the
auto-upgrade (A3, docs/upgrade.md) and takes no session keys."""
_SESSION_ONLY: Final = ("prompt", "working_dir", "model", "timeout_seconds")


class TriggerFileError(ValueError):
    """The triggers file is unreadable or malformed; the message says where and how."""


@attrs.frozen(kw_only=True)
class Trigger:
    name: str
    exact: str | None
    """The message's text (stripped) must equal this; or else ``prefix``."""
    prefix: str | None
    """The message's text (stripped) must start with this."""
    prompt: str
    working_dir: str | None
    """``None``: the bridge's ``CLAUDE_WORKING_DIR``."""
    model: str | None
    timeout_seconds: float
    channel_ids: frozenset[int]
    webhook_ids: frozenset[int]
    action: str = "session"
    """One of :data:`ACTIONS`; an ``upgrade`` trigger has an empty ``prompt``."""

    def matches(self, text: str) -> bool:
        text = text.strip()
        if self.exact is not None:
            return text == self.exact
        return self.prefix is not None and text.startswith(self.prefix)

    def listens_to(self, webhook_id: int, channel_id: int) -> bool:
        return webhook_id in self.webhook_ids and channel_id in self.channel_ids


@attrs.frozen
class Fire:
    trigger: Trigger


@attrs.frozen
class NoMatch:
    """The webhook and channel are listed by some trigger, but no listed trigger's match
    fits the text."""


@attrs.frozen
class Unlisted:
    """No trigger lists this webhook in this channel: nothing happens."""


Decision = Fire | NoMatch | Unlisted


def select(triggers: Iterable[Trigger], webhook_id: int, channel_id: int, text: str) -> Decision:
    """The first trigger (in file order) that lists the webhook and channel and matches."""
    listed = [t for t in triggers if t.listens_to(webhook_id, channel_id)]
    if not listed:
        return Unlisted()
    for trigger in listed:
        if trigger.matches(text):
            return Fire(trigger)
    return NoMatch()


def load_triggers(path: Path) -> tuple[Trigger, ...]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TriggerFileError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TriggerFileError(f"{str(path)!r} is not UTF-8 text") from None
    return parse_triggers(text)


def parse_triggers(text: str) -> tuple[Trigger, ...]:
    """Parse the file's text; the error names the ``[[trigger]]`` entry and the field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TriggerFileError(f"not valid TOML ({exc})") from None
    extra = sorted(set(doc) - {"trigger"})
    if extra:
        raise TriggerFileError(f"unknown top-level key {extra[0]!r}; write [[trigger]] tables")
    entries = doc.get("trigger", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise TriggerFileError("'trigger' must be an array of tables: write [[trigger]]")
    triggers = tuple(_trigger(i, entry) for i, entry in enumerate(entries, 1))
    names = [t.name for t in triggers]
    for name in names:
        if names.count(name) > 1:
            raise TriggerFileError(f"two triggers are named {name!r}; names must be unique")
    return triggers


def _trigger(index: int, entry: Mapping[str, Any]) -> Trigger:
    where = f"trigger #{index}"

    def fail(message: str) -> TriggerFileError:
        return TriggerFileError(f"{where}: {message}")

    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_KEYS))}")
    name = _text(entry, "name", fail, required=True)
    assert name is not None
    if len(name) > NAME_MAX:
        raise fail(f"'name' is longer than {NAME_MAX} characters")
    where = f"trigger {name!r}"
    exact = _text(entry, "exact", fail)
    prefix = _text(entry, "prefix", fail)
    if (exact is None) == (prefix is None):
        raise fail("give exactly one of 'exact' or 'prefix' (the webhook message to match)")
    action = entry.get("action", "session")
    if action not in ACTIONS:
        raise fail(f"'action' must be one of {', '.join(repr(a) for a in ACTIONS)}")
    if action == "upgrade":
        extra = [key for key in _SESSION_ONLY if key in entry]
        if extra:
            raise fail(f"{extra[0]!r} is for session triggers; an upgrade trigger runs no prompt")
        return Trigger(
            name=name,
            exact=exact,
            prefix=prefix,
            prompt="",
            working_dir=None,
            model=None,
            timeout_seconds=TIMEOUT_DEFAULT,
            channel_ids=_ids(entry, "channels", fail),
            webhook_ids=_ids(entry, "webhooks", fail),
            action="upgrade",
        )
    prompt = _text(entry, "prompt", fail, required=True)
    assert prompt is not None
    working_dir = _text(entry, "working_dir", fail)
    if working_dir is not None and not _is_dir(Path(working_dir)):
        raise fail(f"'working_dir' {working_dir!r} is not an existing directory")
    model = _text(entry, "model", fail)
    if model is not None and not _is_model(model):
        raise fail(f"'model' {model!r} is not a model name such as sonnet or claude-sonnet-4-5")
    timeout = entry.get("timeout_seconds", TIMEOUT_DEFAULT)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or not 0 < timeout <= TIMEOUT_MAX
    ):
        raise fail(f"'timeout_seconds' must be a number of seconds in (0, {TIMEOUT_MAX:g}]")
    return Trigger(
        name=name,
        exact=exact,
        prefix=prefix,
        prompt=prompt,
        working_dir=working_dir,
        model=model,
        timeout_seconds=float(timeout),
        channel_ids=_ids(entry, "channels", fail),
        webhook_ids=_ids(entry, "webhooks", fail),
    )


def _text(entry: Mapping[str, Any], key: str, fail: Any, *, required: bool = False) -> str | None:
    value = entry.get(key)
    if value is None:
        if required:
            raise fail(f"'{key}' is required")
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise fail(f"'{key}' must be non-empty text")
    return value.strip()


def _ids(entry: Mapping[str, Any], key: str, fail: Any) -> frozenset[int]:
    value = entry.get(key)
    if (
        not isinstance(value, list)
        or not value
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= SNOWFLAKE_MAX for v in value
        )
    ):
        raise fail(f"'{key}' must be a non-empty list of numeric Discord ids")
    return frozenset(value)


def _is_model(name: str) -> bool:
    try:
        validate_model(name)
    except ControlError:
        return False
    return True


def _is_dir(path: Path) -> bool:
    try:
        return path.expanduser().is_dir()
    except (OSError, ValueError, RuntimeError):
        return False
