"""The slash-command registry: one :class:`SlashCommand` per command, assembled from the
per-group modules (``stop``, ``task``, ``model``, ``skill``) in :mod:`.__init__`.

A command is its Discord definition (name, description, options; registered at READY with
a bulk overwrite), an optional autocomplete handler, and a handler. The router calls
:meth:`Registry.run` and :meth:`Registry.complete`; the registry does what every command
shares, so no command can forget it:

* **authorization** (X5): only allowed users run a command, and only they get choices
  (anyone else is told so ephemerally, and sees an empty list);
* **errors are ephemeral**: a handler raises :class:`CommandError` with the sentence to
  show, and the reply is visible to the caller only;
* **autocomplete within Discord's limits**: at most 25 choices, names and string values
  1-100 characters (Discord's "Autocomplete" callback, type 8:
  https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-autocomplete
  ; the same limits are in ``ApplicationCommandAutocompleteCallbackRequest`` of
  Discord's OpenAPI description).

The handlers reach the rest of the bridge through :class:`CommandHost` (the router
implements it), never through the router itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs

from bridge.sessions.commands._texts import NOT_ALLOWED
from bridge.sessions.messages import SessionMessage
from bridge.sessions.task_commands import TaskControl
from bridge.store import Database, SessionRecord
from protocol.discord import models as m

__all__ = [
    "CHOICES_MAX",
    "CHOICE_TEXT_MAX",
    "Answer",
    "CommandError",
    "CommandHost",
    "Invocation",
    "Registry",
    "SlashCommand",
    "choice",
]

CHOICES_MAX: Final = 25
"""Discord: an autocomplete result holds at most 25 choices."""
CHOICE_TEXT_MAX: Final = 100
"""Discord: a choice's name and string value are 1-100 characters."""


class CommandError(Exception):
    """What a handler raises to refuse: ``str(exc)`` is shown to the caller alone."""


@attrs.frozen(kw_only=True)
class Answer:
    """A handler's reply. Ephemeral unless the command's effect concerns everyone in the
    channel (``/stop`` says who stopped the turn)."""

    content: str
    ephemeral: bool = True


@attrs.frozen(kw_only=True)
class Invocation:
    """One use of a command (or one keystroke in an autocomplete option)."""

    user_id: int
    channel_id: int | None
    data: m.ApplicationCommandData
    role_ids: tuple[int, ...] = ()
    """The member's roles (for commands that approvers by role may use)."""

    def leaves(self) -> list[m.CommandInteractionOption]:
        """The value options, under a subcommand if there is one."""
        options = self.data.options if isinstance(self.data.options, list) else []
        if len(options) == 1 and options[0].type == m.CommandOptionType.SUB_COMMAND:
            inner = options[0].options
            return list(inner) if isinstance(inner, list) else []
        return list(options)

    def option(self, name: str) -> str | None:
        """An option's value as stripped text (``None`` if absent or blank)."""
        for option in self.leaves():
            if option.name == name and option.value is not m.UNDEFINED:
                text = str(option.value).strip()
                return text or None
        return None

    def focused(self) -> tuple[str, str] | None:
        """The option being typed into (autocomplete) and what is typed so far."""
        for option in self.leaves():
            if option.focused is True:
                value = option.value if option.value is not m.UNDEFINED else ""
                return option.name, str(value)
        return None


class CommandHost(Protocol):
    """What the handlers may do with the bridge (the router provides it)."""

    @property
    def main_channel_id(self) -> int: ...

    @property
    def working_dir(self) -> str:
        """CLAUDE_WORKING_DIR: where a new session runs."""

    @property
    def default_model(self) -> str | None:
        """CLAUDE_MODEL: the model of a session that never chose one."""

    def now(self) -> float: ...

    async def db(self, fn: Callable[[Database], Any]) -> Any:
        """Run ``fn`` in the store actor."""

    async def session(self, channel_id: int | None) -> SessionRecord | None:
        """The session whose thread ``channel_id`` is, if any."""

    async def tell_session(self, thread_id: int, msg: SessionMessage) -> None:
        """Tell the thread's session ``msg`` in the thread's lane (after the messages typed
        before it), starting the session actor if needed."""

    async def run_prompt(
        self, *, thread_id: int | None, author_id: int, title: str, prompt: str, intro: str
    ) -> None:
        """Queue, in the thread's lane (the main channel's for a new thread): post
        ``intro`` and run ``prompt`` as ``author_id``'s message, in the session of
        ``thread_id``, or (``None``) in a new thread of the main channel. Returns at once:
        the interaction must be answered within 3 s, the thread may take longer."""

    @property
    def task_control(self) -> TaskControl | None:
        """The scheduler, for ``/task`` (``None``: not running)."""

    async def request_upgrade(self, user_id: int, role_ids: Sequence[int] = ()) -> str:
        """Ask the upgrade actor (A3) to upgrade for ``user_id`` (a member holding
        ``role_ids``); what to tell them."""


Handler = Callable[[CommandHost, Invocation], Awaitable[Answer]]
Completer = Callable[[CommandHost, Invocation], Awaitable[Sequence[m.CommandChoice]]]


@attrs.frozen(kw_only=True)
class SlashCommand:
    definition: m.ApplicationCommand
    handle: Handler
    complete: Completer | None = None

    @property
    def name(self) -> str:
        return self.definition.name


def choice(name: str, value: str) -> m.CommandChoice:
    """A choice cut to Discord's 100 characters (a value that long is never cut: it would
    no longer mean the same thing, so callers offer only values that fit)."""
    name = name if len(name) <= CHOICE_TEXT_MAX else name[: CHOICE_TEXT_MAX - 1] + "…"
    return m.CommandChoice(name=name or value[:CHOICE_TEXT_MAX], value=value)


def _fits(c: m.CommandChoice) -> bool:
    value_ok = not isinstance(c.value, str) or 1 <= len(c.value) <= CHOICE_TEXT_MAX
    return 1 <= len(c.name) <= CHOICE_TEXT_MAX and value_ok


@attrs.frozen
class Registry:
    """The commands by name, in registration order."""

    commands: Mapping[str, SlashCommand]

    @classmethod
    def of(cls, *commands: SlashCommand) -> Registry:
        by_name: dict[str, SlashCommand] = {}
        for command in commands:
            if command.name in by_name:
                raise ValueError(f"two commands are named /{command.name}")
            by_name[command.name] = command
        return cls(by_name)

    def definitions(self) -> list[m.ApplicationCommand]:
        """What READY registers in each guild."""
        return [c.definition for c in self.commands.values()]

    async def run(
        self, host: CommandHost, invocation: Invocation, allowed: Iterable[int]
    ) -> Answer:
        """Run the command for an allowed user; anyone else, an unknown command and a
        :class:`CommandError` get an ephemeral sentence."""
        if invocation.user_id not in set(allowed):
            return Answer(content=NOT_ALLOWED)
        command = self.commands.get(invocation.data.name)
        if command is None:
            return Answer(content=f"Unknown command /{invocation.data.name[:32]}.")
        try:
            return await command.handle(host, invocation)
        except CommandError as exc:
            return Answer(content=str(exc))

    async def complete(
        self, host: CommandHost, invocation: Invocation, allowed: Iterable[int]
    ) -> list[m.CommandChoice]:
        """The choices for the focused option: none for anyone not allowed (X5: they see no
        task names, skills or models), at most 25, each within 100 characters."""
        if invocation.user_id not in set(allowed):
            return []
        command = self.commands.get(invocation.data.name)
        if command is None or command.complete is None:
            return []
        found = await command.complete(host, invocation)
        return [c for c in found if _fits(c)][:CHOICES_MAX]
