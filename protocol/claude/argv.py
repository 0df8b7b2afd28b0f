"""The ``claude`` command line and child environment (FEATURES X1–X4).

* X1: the command is an argv list for exec; nothing here ever builds a shell string.
* X2: a session id is checked against the UUID pattern before it reaches ``--resume``.
* X3: user text never goes in argv: it is sent over stdin as a stream-json user message.
  :func:`build_argv` still accepts a one-shot ``prompt`` for tools that need it, and then
  puts ``--`` before it so a prompt starting with ``-`` can never become a flag.
* X4: :func:`child_env` removes the bot token and the API secret: by name, and every
  variable whose name or value contains either (as is or percent-encoded, so a URL or a
  header carrying one goes too); it adds ``DISCORD_THREAD_ID`` and the bridge API URL.

The flags always passed (``-p --output-format stream-json --verbose --input-format
stream-json --permission-prompt-tool stdio``) are what make the control protocol work:
without ``--permission-prompt-tool stdio`` the CLI never asks permission and silently
turns every "ask" into a denial (``shared/research/claude-cli.md`` §a, §c).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final
from urllib.parse import quote, quote_plus

import attrs

from protocol.claude.control import ControlError, validate_model, validate_permission_mode

#: Lower-case canonical UUIDs, as the CLI writes session ids.
_SESSION_ID: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

#: Tool rule syntax: a name, optionally with a parenthesised pattern (``Bash(git:*)``).
_TOOL_RULE: Final = re.compile(r"^[A-Za-z0-9_]+(?:\([^()\n]*\))?$")

#: Variables never passed to the child: secrets of the bridge (X4), and ``CLAUDECODE``,
#: which makes a CLI believe it runs inside another Claude Code session.
SECRET_VARIABLES: Final = frozenset(
    {
        "DISCORD_BOT_TOKEN",
        "DISCORD_TOKEN",
        "API_SECRET_KEY",
        "CCDB_API_SECRET",
        "CCBRIDGE_API_SECRET",
        "CCBRIDGE_API_TOKEN",
        "CLAUDECODE",
    }
)

BASE_FLAGS: Final = (
    "-p",
    "--output-format",
    "stream-json",
    "--verbose",
    "--input-format",
    "stream-json",
    "--permission-prompt-tool",
    "stdio",
)


def validate_session_id(session_id: str) -> str:
    """Return ``session_id`` if it is a canonical lower-case UUID.

    Raises:
        ControlError: anything else (it would otherwise reach the CLI's argv).
    """
    if not _SESSION_ID.fullmatch(session_id):
        raise ControlError("session_id", f"{session_id!r} is not a session id (a lower-case UUID)")
    return session_id


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    """A typed converter (``converter=tuple`` leaves mypy an unbound type variable)."""
    return tuple(values)


def _validate_tool_rules(name: str, rules: Sequence[str]) -> list[str]:
    bad = [rule for rule in rules if not _TOOL_RULE.fullmatch(rule)]
    if bad:
        raise ControlError(name, f"malformed tool rule(s) {bad}; expected e.g. 'Bash(git:*)'")
    return list(rules)


@attrs.frozen(kw_only=True)
class ClaudeCommand:
    """How to start one ``claude`` process. Validated when built."""

    executable: str = "claude"
    """A name looked up on PATH, or a path."""
    model: str | None = attrs.field(default=None)
    permission_mode: str | None = attrs.field(default=None)
    resume: str | None = attrs.field(default=None)
    """A session id to resume (``--resume``)."""
    fork_session: bool = False
    """With ``resume``: continue under a new session id."""
    append_system_prompt: str | None = None
    system_prompt_snapshot: bool | None = None
    """``--system-prompt-snapshot on|off``; ``None`` leaves the CLI's default (on).

    With the default, CLI 2.1.330 records the first request's system prompt in the session
    file (a ``prompt_snapshot`` attachment) and sends that record on every later request
    and ``--resume``, ignoring a new ``--append-system-prompt``. ``False`` renders the
    prompt fresh on every request, which a per-turn appended prompt needs; a session
    recorded with the snapshot on is rendered fresh too once resumed with it off
    (``tests/e2e/test_claude_cli_system_prompt.py``)."""
    allowed_tools: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    disallowed_tools: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    add_dirs: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    include_partial_messages: bool = True
    include_hook_events: bool = False
    max_turns: int | None = None
    settings: str | None = None
    """``--settings``: a JSON string or a file path."""
    mcp_config: str | None = None
    """``--mcp-config``: a JSON string or a file path (``{"mcpServers": {...}}``)."""
    strict_mcp_config: bool = False
    """Use only ``mcp_config``, ignoring the user's and project's MCP servers."""

    @model.validator
    def _check_model(self, _: object, value: str | None) -> None:
        if value is not None:
            validate_model(value)

    @permission_mode.validator
    def _check_mode(self, _: object, value: str | None) -> None:
        if value is not None:
            validate_permission_mode(value)

    @resume.validator
    def _check_resume(self, _: object, value: str | None) -> None:
        if value is not None:
            validate_session_id(value)

    def __attrs_post_init__(self) -> None:
        _validate_tool_rules("allowed_tools", self.allowed_tools)
        _validate_tool_rules("disallowed_tools", self.disallowed_tools)
        if self.fork_session and self.resume is None:
            raise ControlError("fork_session", "forking needs a session to resume")
        if self.max_turns is not None and self.max_turns < 1:
            raise ControlError("max_turns", f"must be at least 1, got {self.max_turns}")


def build_argv(command: ClaudeCommand, *, prompt: str | None = None) -> list[str]:
    """The argv list for exec (never a shell).

    Args:
        command: What to start.
        prompt: Only for one-shot uses; normally ``None`` and the prompt goes over stdin.
            When given it comes last, after ``--`` (X3).
    """
    argv = [command.executable, *BASE_FLAGS]
    if command.include_partial_messages:
        argv.append("--include-partial-messages")
    if command.include_hook_events:
        argv.append("--include-hook-events")
    if command.model is not None:
        argv += ["--model", command.model]
    if command.permission_mode is not None:
        argv += ["--permission-mode", command.permission_mode]
    if command.resume is not None:
        argv += ["--resume", command.resume]
        if command.fork_session:
            argv.append("--fork-session")
    if command.append_system_prompt:
        argv += ["--append-system-prompt", command.append_system_prompt]
    if command.system_prompt_snapshot is not None:
        argv += ["--system-prompt-snapshot", "on" if command.system_prompt_snapshot else "off"]
    if command.allowed_tools:
        argv += ["--allowedTools", ",".join(command.allowed_tools)]
    if command.disallowed_tools:
        argv += ["--disallowedTools", ",".join(command.disallowed_tools)]
    for directory in command.add_dirs:
        argv += ["--add-dir", directory]
    if command.max_turns is not None:
        argv += ["--max-turns", str(command.max_turns)]
    if command.settings is not None:
        argv += ["--settings", command.settings]
    if command.mcp_config is not None:
        argv += ["--mcp-config", command.mcp_config]
    if command.strict_mcp_config:
        argv.append("--strict-mcp-config")
    if prompt is not None:
        argv += ["--", prompt]
    return argv


def child_env(
    base: Mapping[str, str],
    *,
    thread_id: int | None = None,
    api_url: str | None = None,
    secrets: Sequence[str] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for a ``claude`` child (X4).

    Args:
        base: The bridge's environment (``os.environ``).
        thread_id: The Discord thread this session serves, as ``DISCORD_THREAD_ID``.
        api_url: The bridge's local API, as ``CCDB_API_URL`` (the name scripts use).
        secrets: Secret values (bot token, API secret); any variable whose name or value
            contains one of them, or its percent-encoding, is removed too, whatever its
            name (``AUTH_HEADER=Bot <token>``, ``HOOK_URL=https://...?key=<secret>``).
        extra: Variables to add last (filtered like the rest).

    Returns:
        A new dict; ``base`` is not modified.
    """
    env = {key: value for key, value in base.items() if key not in SECRET_VARIABLES}
    # TaskCreate/TaskUpdate/TaskList are off by default in CLI 2.1.330; the bridge renders
    # a task list from them.
    env.setdefault("CLAUDE_CODE_ENABLE_TODO_TOOLS", "1")
    if thread_id is not None:
        env["DISCORD_THREAD_ID"] = str(thread_id)
    if api_url is not None:
        env["CCDB_API_URL"] = api_url
    if extra:
        env.update(extra)
    forms = secret_forms(secrets)
    return {
        key: value
        for key, value in env.items()
        if not any(form in value or form in key for form in forms)
    }


def secret_forms(secrets: Sequence[str]) -> frozenset[str]:
    """Each non-empty secret as written and percent-encoded (as in a URL or a form body)."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            # surrogatepass: os.environ holds undecodable bytes as lone surrogates.
            encoded = quote(secret, safe="", errors="surrogatepass")
            plus = quote_plus(secret, safe="", errors="surrogatepass")
            forms |= {secret, encoded, plus}
    return frozenset(forms)
