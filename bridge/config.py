"""Configuration (E3): read once from the environment and ``.env`` into a frozen object.

The environment wins over ``.env`` so a deployment can override a checked-in file. Every
variable is parsed here and nowhere else; a bad value raises :class:`ConfigError` naming
the variable, the value and what to do, so ``ccbridge run`` fails at start with one clear
message instead of misbehaving later. The variable names of the original bot are kept so
an existing ``.env`` works unchanged.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import shlex
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import attrs
from dotenv import dotenv_values
from dotenv.parser import parse_stream

from bridge.budget import Limits
from bridge.triggers import Trigger, TriggerFileError, load_triggers
from protocol.claude.control import ControlError, validate_model

# The permission modes the CLI accepts for --permission-mode (claude --help, 2.1.x).
PERMISSION_MODES = frozenset({"default", "acceptEdits", "plan", "bypassPermissions", "dontAsk"})
DEFAULT_DISCORD_API = "https://discord.com/api/v10"

T = TypeVar("T")


@attrs.frozen
class ConfigError(Exception):
    """A configuration variable is missing or malformed; the message says how to fix it."""

    variable: str
    message: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.message}"


@attrs.frozen(kw_only=True)
class Config:
    """Everything ``ccbridge run`` reads from its environment, validated."""

    discord_bot_token: str | None
    """Bot token; ``None`` means local mode (the bundled local Discord server)."""
    discord_channel_id: int | None
    """The channel where a new message starts a thread and a session (required with a token)."""
    discord_api_base_url: str
    """REST base URL, e.g. ``https://discord.com/api/v10``; the gateway URL is asked from it."""
    claude_command: str
    """The ``claude`` executable: a name looked up on PATH or a path."""
    claude_model: str | None
    """Model alias or name passed as ``--model``; ``None`` leaves the CLI's default."""
    claude_permission_mode: str
    """``--permission-mode``: one of :data:`PERMISSION_MODES`."""
    claude_working_dir: Path
    """Directory sessions run in (the repository they work on)."""
    max_concurrent_sessions: int
    """At most this many ``claude`` processes run at once (C8); others queue visibly."""
    session_timeout_seconds: float
    """A turn running longer than this is stopped with a notice (C11)."""
    stall_notice_seconds: float
    """Silence from Claude for this long shows a stall notice (C22)."""
    permission_timeout_seconds: float
    """A permission prompt nobody answers is denied after this long (C14)."""
    question_timeout_seconds: float = math.inf
    """An AskUserQuestion nobody answers expires after this long; ``inf``: never (C12)."""
    plan_timeout_seconds: float = 300.0
    """A plan nobody approves is cancelled after this long (C13)."""
    elicitation_timeout_seconds: float = 300.0
    """An MCP elicitation nobody answers is cancelled after this long (C15)."""
    """An AskUserQuestion nobody answers expires after this long; ``inf``: never (C12)."""
    tool_timer_interval_seconds: float
    """How often a running tool's embed updates its elapsed time (C4)."""
    discord_owner_id: int | None
    """The owner, mentioned when a session needs input; always allowed to drive Claude."""
    allowed_user_ids: frozenset[int]
    """Users allowed to start or steer sessions (X5); the owner is added automatically."""
    coordination_channel_id: int | None
    """Optional channel for session start/end broadcasts (K5)."""
    lounge_channel_id: int | None
    """Optional AI Lounge channel (K4)."""
    worktree_base_dir: Path | None
    """Where session worktrees live (K1/K2); ``None`` disables worktree cleanup."""
    database_path: Path
    """The SQLite file holding sessions, prompts and resume marks."""
    catch_up_max_age_seconds: float = 86400.0
    """Messages sent while the bridge was away are run at start only if at most this old;
    older ones are listed in the catch-up notice."""
    catch_up_max_messages: int = 20
    session_end_quiet_seconds: float = 600.0
    """A session's end line (lounge, coordination channel) comes once its thread has had no
    turn for this long; a turn within that time continues the same session."""
    """At most this many messages per channel or thread are run at catch-up (the newest);
    the rest are listed in the notice."""
    api_port: int = 0
    """Port of the bridge's local HTTP API (0: any free port)."""
    api_host: str = "127.0.0.1"
    """Address the API listens on; anything but loopback needs ``api_secret``."""
    api_secret: str | None = attrs.field(default=None, repr=False)
    """Bearer secret for the API's admin routes; ``None`` disables them (sessions still
    reach the lounge with their own per-session tokens)."""
    triggers: tuple[Trigger, ...] = ()
    """Webhook triggers read from ``TRIGGERS_FILE`` (A2); empty: webhooks start nothing."""
    approver_user_ids: frozenset[int] = frozenset()
    """Users who may answer permission, plan and elicitation prompts (with
    ``approver_role_ids``); both empty: the allowed users do."""
    approver_role_ids: frozenset[int] = frozenset()
    """Guild roles whose members may answer those prompts."""
    upgrade_command: tuple[str, ...] | None = None
    """``UPGRADE_COMMAND`` as an argument list (A3); ``None``: upgrades are off."""
    upgrade_timeout_seconds: float = 600.0
    """The upgrade command is stopped (and the upgrade fails) after this long."""
    upgrade_drain_seconds: float = 300.0
    """After a successful upgrade command, running turns get this long to finish."""
    upgrade_require_approval: bool = False
    """Every upgrade waits for an approver's click on a button before its command runs."""
    restart_command: tuple[str, ...] | None = None
    """``RESTART_COMMAND``: exec'd after an upgrade's shutdown; ``None``: exit with status 75."""
    budget: Limits = attrs.Factory(Limits)
    """Spending limits in USD (BUDGET_THREAD_USD, BUDGET_USER_DAILY_USD, BUDGET_DAILY_USD);
    each ``None`` when unset."""
    usage_limit_retry_seconds: float = 300.0
    """Parked at the account's usage limit with no reset time known: try again after this
    long (doubling on each hit in a row, at most 8 times as long)."""
    usage_limit_stagger_seconds: float = 2.0
    """Sessions parked at the usage limit resume at least this far apart, in the order
    they were parked."""

    @property
    def local_mode(self) -> bool:
        """True when no bot token is set: run against the bundled local Discord server."""
        return self.discord_bot_token is None

    def is_allowed(self, user_id: int) -> bool:
        """Whether this user may start or steer sessions (X5)."""
        return user_id in self.allowed_user_ids


def load_config(
    environ: Mapping[str, str] | None = None, *, dotenv_path: Path | None = None
) -> Config:
    """Build a :class:`Config` from ``environ`` (default ``os.environ``) over a ``.env`` file.

    Args:
        environ: the process environment; its values override the file's.
        dotenv_path: the ``.env`` file; defaults to ``.env`` in the current directory. A
            missing file is fine; an unreadable one is a :class:`ConfigError`.

    Raises:
        ConfigError: the first bad variable, with what to do about it.
    """
    env = _merged_environment(os.environ if environ is None else environ, dotenv_path)
    reader = _Reader(env)

    token = _bot_token(reader)
    channel_id = reader.snowflake("DISCORD_CHANNEL_ID")
    if token is not None and channel_id is None:
        raise ConfigError(
            "DISCORD_CHANNEL_ID",
            "is required when DISCORD_BOT_TOKEN is set; turn on Developer Mode in Discord, "
            "right-click the channel where sessions should start and copy its id",
        )
    owner_id = reader.snowflake("DISCORD_OWNER_ID")
    allowed = reader.snowflake_set("ALLOWED_USER_IDS")
    if owner_id is not None:
        allowed |= {owner_id}
    if token is not None and not allowed:
        raise ConfigError(
            "ALLOWED_USER_IDS",
            "no one is allowed to drive Claude: set ALLOWED_USER_IDS (comma-separated user "
            "ids) or DISCORD_OWNER_ID, since an open bot would run code for anyone",
        )

    permission_mode = reader.text("CLAUDE_PERMISSION_MODE") or "default"
    if permission_mode not in PERMISSION_MODES:
        raise ConfigError(
            "CLAUDE_PERMISSION_MODE",
            f"got {permission_mode!r}; use one of {', '.join(sorted(PERMISSION_MODES))}",
        )

    working_dir = reader.path("CLAUDE_WORKING_DIR") or Path.cwd()
    if not _is_dir(working_dir):
        raise ConfigError(
            "CLAUDE_WORKING_DIR",
            f"{str(working_dir)!r} is not an existing directory; create it or point "
            "CLAUDE_WORKING_DIR at the repository sessions should work in",
        )

    api_base = _api_base_url(reader)

    secret = _api_secret(reader)
    return Config(
        discord_bot_token=token,
        discord_channel_id=channel_id,
        discord_api_base_url=api_base,
        claude_command=reader.text("CLAUDE_COMMAND") or "claude",
        claude_model=_model(reader),
        claude_permission_mode=permission_mode,
        claude_working_dir=working_dir,
        max_concurrent_sessions=reader.integer("MAX_CONCURRENT_SESSIONS", default=3, low=1),
        session_timeout_seconds=reader.seconds("SESSION_TIMEOUT_SECONDS", default=1800.0),
        stall_notice_seconds=reader.seconds("STALL_NOTICE_SECONDS", default=30.0),
        permission_timeout_seconds=reader.seconds("PERMISSION_TIMEOUT_SECONDS", default=120.0),
        question_timeout_seconds=reader.seconds("QUESTION_TIMEOUT_SECONDS", default=math.inf),
        plan_timeout_seconds=reader.seconds("PLAN_TIMEOUT_SECONDS", default=300.0),
        elicitation_timeout_seconds=reader.seconds("ELICITATION_TIMEOUT_SECONDS", default=300.0),
        tool_timer_interval_seconds=reader.seconds("TOOL_TIMER_INTERVAL_SECONDS", default=10.0),
        discord_owner_id=owner_id,
        allowed_user_ids=frozenset(allowed),
        coordination_channel_id=reader.snowflake("COORDINATION_CHANNEL_ID"),
        lounge_channel_id=reader.snowflake("LOUNGE_CHANNEL_ID"),
        worktree_base_dir=_worktree_base_dir(reader),
        database_path=reader.path("CCBRIDGE_DB_PATH") or Path("ccbridge.db"),
        catch_up_max_age_seconds=reader.seconds("CATCHUP_MAX_AGE_SECONDS", default=86400.0),
        catch_up_max_messages=reader.integer("CATCHUP_MAX_MESSAGES", default=20, low=0),
        session_end_quiet_seconds=reader.seconds("SESSION_END_QUIET_SECONDS", default=600.0),
        api_port=_port(reader),
        api_secret=secret,
        api_host=_api_host(reader, secret),
        triggers=_triggers(reader),
        approver_user_ids=frozenset(reader.snowflake_set("APPROVER_USER_IDS")),
        approver_role_ids=frozenset(reader.snowflake_set("APPROVER_ROLE_IDS", what="role")),
        upgrade_command=reader.argv("UPGRADE_COMMAND"),
        upgrade_timeout_seconds=reader.seconds(
            "UPGRADE_TIMEOUT_SECONDS", default=600.0, high=86400.0
        ),
        upgrade_drain_seconds=reader.seconds("UPGRADE_DRAIN_SECONDS", default=300.0, high=86400.0),
        upgrade_require_approval=reader.boolean("UPGRADE_REQUIRE_APPROVAL", default=False),
        restart_command=reader.argv("RESTART_COMMAND"),
        budget=Limits(
            thread_usd=reader.usd("BUDGET_THREAD_USD"),
            user_daily_usd=reader.usd("BUDGET_USER_DAILY_USD"),
            daily_usd=reader.usd("BUDGET_DAILY_USD"),
        ),
        usage_limit_retry_seconds=reader.seconds(
            "USAGE_LIMIT_RETRY_SECONDS", default=300.0, high=86400.0
        ),
        usage_limit_stagger_seconds=reader.seconds(
            "USAGE_LIMIT_STAGGER_SECONDS", default=2.0, high=3600.0
        ),
    )


# A shorter secret is guessable by anything on this machine that can reach the port.
API_SECRET_MIN_LENGTH = 16


def _port(reader: _Reader) -> int:
    port = reader.integer("CCBRIDGE_API_PORT", default=0, low=0)
    if port > 65535:
        raise ConfigError("CCBRIDGE_API_PORT", f"must be a TCP port (0-65535), got {port}")
    return port


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _api_host(reader: _Reader, secret: str | None) -> str:
    host = reader.text("CCBRIDGE_API_HOST") or "127.0.0.1"
    try:
        loopback = host in _LOOPBACK_HOSTS or ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise ConfigError(
            "CCBRIDGE_API_HOST",
            f"must be an IP address to listen on (e.g. 127.0.0.1 or 0.0.0.0), got {host!r}",
        ) from None
    if not loopback and secret is None:
        raise ConfigError(
            "CCBRIDGE_API_HOST",
            f"{host!r} is reachable from other machines; set CCBRIDGE_API_SECRET too, or "
            "leave CCBRIDGE_API_HOST unset to listen on 127.0.0.1 only",
        )
    return host


def _api_secret(reader: _Reader) -> str | None:
    secret = reader.text("CCBRIDGE_API_SECRET")
    advice = "e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
    if secret is not None and len(secret) < API_SECRET_MIN_LENGTH:
        raise ConfigError(
            "CCBRIDGE_API_SECRET",
            f"is {len(secret)} characters; use at least {API_SECRET_MIN_LENGTH}, {advice}",
        )
    if secret is not None and not _HEADER_SAFE.fullmatch(secret):
        # It travels in an Authorization header, which carries printable ASCII only.
        raise ConfigError(
            "CCBRIDGE_API_SECRET",
            f"may hold only printable ASCII without spaces (it is sent in an HTTP header); "
            f"{advice}",
        )
    return secret


# Printable ASCII without spaces: what an HTTP header value can carry as one token.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")

# Bot tokens are dot-separated base64url parts; anything else was pasted with something
# around it (quotes, a space, a line of the Developer Portal page).
_BOT_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")

# Discord ids are unsigned 64-bit integers ("snowflakes"):
# https://discord.com/developers/docs/reference#snowflakes
SNOWFLAKE_MAX = 2**64 - 1

# A turn, a stall notice or a permission prompt longer than a week is a typo, and a huge or
# infinite number of seconds overflows the clocks and timers it is added to.
MAX_SECONDS = 7 * 24 * 3600.0
MAX_USD = 1_000_000.0
"""A budget above this is a typo (a missing decimal point), not a limit."""


def _bot_token(reader: _Reader) -> str | None:
    token = reader.text("DISCORD_BOT_TOKEN")
    if token is None:
        return None
    if token.lower().startswith("bot "):
        raise ConfigError(
            "DISCORD_BOT_TOKEN",
            "starts with 'Bot '; set the token alone, without the 'Bot ' prefix",
        )
    if not _BOT_TOKEN.fullmatch(token):
        raise ConfigError(
            "DISCORD_BOT_TOKEN",
            "is not a bot token (it holds spaces, quotes or other characters a token never "
            "has); copy it "
            "again from the Developer Portal (Bot -> Reset Token)",
        )
    return token


def _model(reader: _Reader) -> str | None:
    model = reader.text("CLAUDE_MODEL")
    if model is None:
        return None
    try:
        return validate_model(model)
    except ControlError:
        raise ConfigError(
            "CLAUDE_MODEL",
            f"got {model!r}; use an alias (e.g. sonnet, opus, haiku) or a full model id such "
            "as claude-sonnet-4-5, or unset it for the CLI's default",
        ) from None


def _api_base_url(reader: _Reader) -> str:
    api_base = (reader.text("DISCORD_API_BASE_URL") or DEFAULT_DISCORD_API).rstrip("/")
    advice = f"it must be an http(s) URL such as {DEFAULT_DISCORD_API}"
    if not _HEADER_SAFE.fullmatch(api_base):
        raise ConfigError("DISCORD_API_BASE_URL", f"got {api_base!r}; {advice}")
    try:
        parts = urlsplit(api_base)
        parts.port  # noqa: B018 - parsing the port raises ValueError for a bad one
    except ValueError:
        raise ConfigError("DISCORD_API_BASE_URL", f"got {api_base!r}; {advice}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("DISCORD_API_BASE_URL", f"got {api_base!r}; {advice}")
    if parts.query or parts.fragment:
        raise ConfigError(
            "DISCORD_API_BASE_URL", f"got {api_base!r}; {advice}, without ?query or #fragment"
        )
    return api_base


def _triggers(reader: _Reader) -> tuple[Trigger, ...]:
    path = reader.path("TRIGGERS_FILE")
    if path is None:
        return ()
    try:
        return load_triggers(path)
    except TriggerFileError as exc:
        raise ConfigError(
            "TRIGGERS_FILE", f"{exc}; fix the file (README, Webhook triggers) or unset it"
        ) from None


def _worktree_base_dir(reader: _Reader) -> Path | None:
    base = reader.path("WORKTREE_BASE_DIR")
    if base is not None and not _is_dir(base):
        raise ConfigError(
            "WORKTREE_BASE_DIR",
            f"{str(base)!r} is not an existing directory; create it (mkdir -p) or unset "
            "WORKTREE_BASE_DIR to turn worktree cleanup off",
        )
    return base


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long for the filesystem, say
        return False


def _merged_environment(environ: Mapping[str, str], dotenv_path: Path | None) -> dict[str, str]:
    path = dotenv_path if dotenv_path is not None else Path(".env")
    merged: dict[str, str] = {}
    if _exists(path):
        _check_dotenv_syntax(path)
        try:
            file_values = dotenv_values(path)
        except OSError as exc:
            raise ConfigError(".env", f"cannot read {str(path)!r}: {exc.strerror}") from exc
        merged.update({k: v for k, v in file_values.items() if v is not None})
    merged.update(environ)
    return merged


def _check_dotenv_syntax(path: Path) -> None:
    """A line python-dotenv cannot parse is only logged and skipped by it; here it stops
    the start, since the setting it held would be silently lost."""
    try:
        with path.open(encoding="utf-8") as stream:
            bindings = list(parse_stream(stream))
    except OSError as exc:
        raise ConfigError(".env", f"cannot read {str(path)!r}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigError(
            ".env", f"{str(path)!r} is not UTF-8 text; save it as UTF-8 (NAME=value lines)"
        ) from None
    for binding in bindings:
        if binding.error:
            line = binding.original.string.strip()
            raise ConfigError(
                ".env",
                f"{str(path)!r} line {binding.original.line} cannot be parsed ({line[:40]!r}); "
                "write NAME=value, quoting values that hold spaces or #",
            )


@attrs.define
class _Reader:
    """Typed access to the merged environment; an empty value counts as unset."""

    env: Mapping[str, str]

    def text(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        if "\x00" in value:  # only a .env can hold one; no file name or id can
            raise ConfigError(name, "holds a NUL character; remove it")
        return value or None

    def _parsed(self, name: str, parse: Callable[[str], T], expected: str) -> T | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return parse(raw)
        except ValueError:
            raise ConfigError(name, f"must be {expected}, got {raw!r}") from None

    def snowflake(self, name: str) -> int | None:
        return self._parsed(
            name,
            _parse_snowflake,
            "a numeric Discord id (up to 20 digits; turn on Developer Mode in Discord and use "
            "Copy ID)",
        )

    def snowflake_set(self, name: str, *, what: str = "user") -> set[int]:
        raw = self.text(name)
        if raw is None:
            return set()
        ids: set[int] = set()
        for part in raw.split(","):
            if not part.strip():
                continue
            try:
                ids.add(_parse_snowflake(part.strip()))
            except ValueError:
                raise ConfigError(
                    name,
                    f"must be comma-separated numeric Discord {what} ids (up to 20 digits "
                    f"each), got {part.strip()!r}; turn on Developer Mode in Discord and use "
                    f"Copy {what.title()} ID",
                ) from None
        return ids

    def integer(self, name: str, *, default: int, low: int) -> int:
        value = self._parsed(name, _parse_integer, "a whole number")
        if value is None:
            return default
        if value < low:
            raise ConfigError(name, f"must be at least {low}, got {value}")
        return value

    def seconds(self, name: str, *, default: float, high: float = MAX_SECONDS) -> float:
        value = self._parsed(name, float, "a number of seconds")
        if value is None:
            return default
        if not value > 0 or not math.isfinite(value):
            raise ConfigError(name, f"must be a positive number of seconds, got {value}")
        if value > high:
            raise ConfigError(name, f"must be at most {high:g} seconds, got {value:g}")
        return value

    def argv(self, name: str) -> tuple[str, ...] | None:
        """A command line split like a POSIX shell would (``shlex``), then exec'd directly:
        no shell ever runs it, so ``;``, ``|`` or ``$VAR`` are plain arguments."""
        raw = self.text(name)
        if raw is None:
            return None
        advice = "write the program and its arguments, e.g. /usr/bin/git -C /srv/ccbridge pull"
        try:
            argv = tuple(shlex.split(raw))
        except ValueError as exc:
            raise ConfigError(name, f"cannot be split into arguments ({exc}); {advice}") from None
        if not argv or not argv[0]:
            raise ConfigError(name, f"is empty; {advice}")
        try:
            found = shutil.which(argv[0])
        except (OSError, ValueError):
            found = None
        if found is None:
            raise ConfigError(
                name,
                f"{argv[0][:200]!r} is not an executable (a name on PATH or a path); {advice}",
            )
        return argv

    def boolean(self, name: str, *, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        value = _BOOLEANS.get(raw.lower())
        if value is None:
            raise ConfigError(name, f"must be true or false (or 1/0, yes/no), got {raw!r}")
        return value

    def usd(self, name: str) -> float | None:
        """An optional amount of US dollars: positive, finite, at most :data:`MAX_USD`."""
        value = self._parsed(name, _parse_usd, "an amount in US dollars, like 5 or 2.50")
        if value is None:
            return None
        if not value > 0 or not math.isfinite(value) or value > MAX_USD:
            raise ConfigError(
                name, f"must be more than 0 and at most {MAX_USD:,.0f} US dollars, got {value:,.2f}"
            )
        return value

    def path(self, name: str) -> Path | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return Path(raw).expanduser()
        except RuntimeError:  # ~user/... for a user this machine does not know
            raise ConfigError(
                name, f"{raw!r} names an unknown home directory; write the full path"
            ) from None


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True}
_BOOLEANS |= {"false": False, "0": False, "no": False, "off": False}


def _parse_usd(raw: str) -> float:
    # A plain decimal, optionally with a leading $: float() would also take "inf", "1e3"
    # or "1_000", which nobody writes for money.
    if not re.fullmatch(r"\$?[0-9]+(\.[0-9]+)?", raw):
        raise ValueError(raw)
    return float(raw.removeprefix("$"))


def _parse_integer(raw: str) -> int:
    # ASCII digits only: int() would also take "1_000" or "٣".
    if not re.fullmatch(r"[+-]?[0-9]+", raw):
        raise ValueError(raw)
    return int(raw)


def _parse_snowflake(raw: str) -> int:
    if not re.fullmatch(r"[0-9]{1,20}", raw):
        raise ValueError(raw)
    value = int(raw)
    if not 0 < value <= SNOWFLAKE_MAX:
        raise ValueError(raw)
    return value


def check_claude_command(config: Config, *, path: str | None = None) -> str:
    """The absolute path of ``CLAUDE_COMMAND``, or a :class:`ConfigError` saying how to fix it.

    Checked by ``ccbridge run`` at start, so a missing CLI is one clear line before the bot
    connects, not an error in the first thread someone opens.

    Args:
        config: the loaded configuration.
        path: the search path (default: the ``PATH`` environment variable).
    """
    try:
        found = shutil.which(config.claude_command, path=path)
    except (OSError, ValueError):  # a name too long for the filesystem, say
        found = None
    if found is None:
        raise ConfigError(
            "CLAUDE_COMMAND",
            f"{config.claude_command!r} is not an executable on PATH; install Claude Code "
            "(npm install -g @anthropic-ai/claude-code) or set CLAUDE_COMMAND to the path "
            "of the claude executable",
        )
    return found
