"""The ``ccbridge`` command line: the one place that calls ``trio.run``.

Each subcommand is a small function taking the parsed arguments and returning an exit
status, so tests can call :func:`main` with an argv list and read what it printed.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

import attrs

import bridge

Command = Callable[[argparse.Namespace], int]


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"ccbridge {bridge.__version__} (Python {platform.python_version()})")
    return 0


def _cmd_discord_local(args: argparse.Namespace) -> int:
    from pathlib import Path

    import trio

    from bridge.discord_local import Realism, open_discord_local

    realism = {"faithful": Realism.faithful, "off": Realism.off, "strict": Realism.strict}[
        args.realism
    ]()

    async def serve() -> None:
        # Ctrl-C (or SIGTERM) ends the block normally, so the server shuts down cleanly.
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with open_discord_local(
                host="127.0.0.1",
                port=args.port,
                gateway_port=args.gateway_port,
                realism=realism,
                rng=None if args.state else random.Random(args.seed),
                state_path=Path(args.state) if args.state else None,
            ) as server:
                print(json.dumps(server.urls()), flush=True)
                async for _ in signals:
                    break

    trio.run(serve)
    return 0


# --- ccbridge run ----------------------------------------------------------------------

EXIT_BAD_CONFIG = 3
"""``ccbridge run`` with a bad configuration: distinct from 1 (a crash), 2 (bad command-line
usage, argparse's) and 78 (Discord refused the token or intents: EXIT_GATEWAY_FATAL)."""


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bridge.config import ConfigError

    try:
        config, options = _checked_configuration(args)
    except ConfigError as exc:
        _print_line(f"ccbridge: bad configuration: {exc}")
        return EXIT_BAD_CONFIG
    from bridge.preflight import dotenv_secret_warning

    env_file = Path(args.env_file) if args.env_file else Path(".env")
    warning = dotenv_secret_warning(env_file, config.claude_working_dir)
    if warning is not None:
        _print_line(f"ccbridge: {warning}")
    return _run_configured(config, options)


@attrs.frozen
class _RunOptions:
    """``ccbridge run``'s options, validated like the variables (a bad one exits 3)."""

    log_level: str
    local_port: int
    local_gateway_port: int


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _checked_configuration(args: argparse.Namespace) -> tuple[Any, _RunOptions]:
    """The configuration and options, after every check made at start.

    Raises:
        ConfigError: the first bad variable or option, with what to do.
    """
    from pathlib import Path

    from bridge.config import ConfigError, check_claude_command, load_config
    from bridge.preflight import check_database, check_ports

    env_file = Path(args.env_file) if args.env_file else None
    if env_file is not None and not _is_file(env_file):
        raise ConfigError(
            "--env-file",
            f"{args.env_file!r} is not a file; give the path of your .env file, or leave "
            "--env-file out to read ./.env",
        )
    log_level = args.log_level.upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError("--log-level", f"got {args.log_level!r}; use one of {_LOG_LEVELS}")
    options = _RunOptions(
        log_level=log_level,
        local_port=_port_option("--local-port", args.local_port),
        local_gateway_port=_port_option("--local-gateway-port", args.local_gateway_port),
    )
    config = load_config(dotenv_path=env_file)
    check_claude_command(config)
    check_database(config.database_path)
    ports = [("CCBRIDGE_API_PORT", config.api_port)]
    if config.local_mode:
        ports += [
            ("--local-port", options.local_port),
            ("--local-gateway-port", options.local_gateway_port),
        ]
    check_ports(ports)
    return config, options


def _is_file(path: Any) -> bool:
    try:
        return bool(path.is_file())
    except OSError:  # a name too long for the filesystem, say
        return False


def _port_option(name: str, raw: str) -> int:
    from bridge.config import ConfigError

    if not (raw.isascii() and raw.isdigit()) or int(raw) > 65535:
        raise ConfigError(name, f"must be a TCP port (0-65535; 0: any free port), got {raw!r}")
    return int(raw)


def _print_line(text: str) -> None:
    """One line on stderr, whatever the value it quotes holds (a stray surrogate from a
    badly encoded environment must not turn a clear message into an encoding traceback)."""
    encoding = sys.stderr.encoding or "utf-8"
    safe = text.encode(encoding, "backslashreplace").decode(encoding)
    print(safe, file=sys.stderr, flush=True)


def _run_configured(config: Any, options: _RunOptions) -> int:
    import logging

    import trio

    from bridge.app import BridgeStopped
    from bridge.discord.errors import EXIT_GATEWAY_FATAL, GatewayFatalError
    from bridge.discord_local import WorldFileError

    logging.basicConfig(
        level=getattr(logging, options.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_ReportedBelow(GatewayFatalError))
    if options.log_level != "DEBUG":
        # One line per Discord request drowns the bridge's own lines; DEBUG shows them.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    status = 0
    plan = None
    try:
        plan = trio.run(_run_bridge_until_signalled, config, options)
    except* GatewayFatalError as group:
        _print_line(f"ccbridge: {_first(group)}")
        status = EXIT_GATEWAY_FATAL
    except* BridgeStopped as group:
        _print_line(f"ccbridge: {_first(group)}")
        status = status or 1
    except* WorldFileError as group:
        print(f"ccbridge: cannot load the local Discord state: {_first(group)}", file=sys.stderr)
        status = EXIT_BAD_CONFIG
    if plan is not None and status == 0:
        return _restart(plan)
    return status


def _restart(plan: Any) -> int:
    """After an upgrade's shutdown (A3): exec ``RESTART_COMMAND`` in this process's place
    (same pid, so a service manager keeps tracking it), or exit with EXIT_RESTART for the
    service manager to start the new version. An exec that fails exits EXIT_RESTART too."""
    import logging
    import os

    from bridge.upgrade import EXIT_RESTART

    logging.shutdown()
    if plan.command is None:
        print(
            f"ccbridge: upgraded; exiting with status {EXIT_RESTART} for the service manager "
            "to restart it (RESTART_COMMAND is unset)",
            flush=True,
        )
        return EXIT_RESTART
    print(f"ccbridge: upgraded; restarting with {plan.command[0]}", flush=True)
    sys.stderr.flush()
    try:
        os.execvp(plan.command[0], list(plan.command))
    except OSError as exc:
        _print_line(
            f"ccbridge: RESTART_COMMAND could not be run ({exc.strerror or exc}); exiting "
            f"with status {EXIT_RESTART}"
        )
    return EXIT_RESTART


class _ReportedBelow:
    """Drops log records carrying an error the CLI itself reports as its last line (a
    refused token): the line says what to do, and a traceback before it only hides it."""

    def __init__(self, kind: type[BaseException]) -> None:
        self._kind = kind

    def filter(self, record: Any) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:
            if isinstance(error, self._kind):
                return False
            error = error.__cause__ or error.__context__
        return True


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def _run_bridge_until_signalled(config: Any, options: _RunOptions) -> Any:
    """Run the bridge (and, with no bot token, the local Discord server first) until
    SIGTERM or SIGINT, or until an upgrade asks for a restart, then shut down gracefully.
    The only signal handling in ccbridge. Returns the upgrade's ``RestartPlan`` if one
    ended it, else ``None``."""
    import contextlib

    import trio

    from bridge.app import local_config, open_bridge
    from bridge.discord_local import Realism, open_discord_local

    # Opened first, so a signal during start-up is kept and still ends the run cleanly.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with contextlib.AsyncExitStack() as stack:
            local = config.local_mode
            if local:
                server = await stack.enter_async_context(
                    open_discord_local(
                        port=options.local_port,
                        gateway_port=options.local_gateway_port,
                        realism=Realism.faithful(),
                        state_path=local_state_path(config),
                    )
                )
                config = local_config(config, server)
            bridge = await stack.enter_async_context(open_bridge(config))
            # Until READY the bot sees nothing: only then is it worth talking to.
            signum = await _ready_or_signal(bridge, signals)
            if signum is None:
                if local:
                    _print_local_help(server, config)
                print(
                    f"ccbridge is running: sessions start from messages in channel "
                    f"{config.discord_channel_id}; local API {bridge.api_url}. "
                    "Ctrl-C or SIGTERM stops it gracefully.",
                    flush=True,
                )
                signum = await _signal_or_restart(bridge, signals)
            if signum is None:
                print(
                    "ccbridge: restarting for an upgrade; shutting down (running turns are "
                    "interrupted and resume at the next start)",
                    flush=True,
                )
            else:
                print(
                    f"ccbridge: {signal.Signals(signum).name} received; shutting down "
                    "(running turns are interrupted and resume at the next start)",
                    flush=True,
                )
        return bridge.restart_plan if signum is None else None


async def _signal_or_restart(bridge: Any, signals: Any) -> int | None:
    """Wait for SIGTERM/SIGINT (its number) or an upgrade's restart request (``None``)."""
    import trio

    received: int | None = None
    async with trio.open_nursery() as nursery:

        async def on_signal() -> None:
            nonlocal received
            async for signum in signals:
                received = signum
                break
            nursery.cancel_scope.cancel()

        nursery.start_soon(on_signal)
        await bridge.restart_requested.wait()
        nursery.cancel_scope.cancel()
    return received


async def _ready_or_signal(bridge: Any, signals: Any) -> int | None:
    """Wait for the bridge's first READY; the signal number if a signal came first."""
    import trio

    received: int | None = None
    async with trio.open_nursery() as nursery:

        async def on_signal() -> None:
            nonlocal received
            async for signum in signals:
                received = signum
                break
            nursery.cancel_scope.cancel()

        nursery.start_soon(on_signal)
        await bridge.wait_ready()
        nursery.cancel_scope.cancel()
    return received


def local_state_path(config: Any) -> Any:
    """Where local mode keeps the local Discord's world: beside the bridge's database."""
    return config.database_path.parent / "discord-local.json"


def _print_local_help(server: Any, config: Any) -> None:
    urls = server.urls()
    channel = config.discord_channel_id
    owner = server.world.owner_id
    body = json.dumps({"author_id": str(owner), "content": "Hello Claude, what is in this repo?"})
    print(
        f"open {server.web_url} in your browser",
        "No DISCORD_BOT_TOKEN is set: running against the local Discord server, in-process "
        f"(its world is kept in {local_state_path(config)}).",
        json.dumps(urls),
        f"Talk to Claude as the local owner (user {owner}) in #general (channel {channel}):",
        f"  curl -s -X POST {urls['control_url']}/channels/{channel}/messages "
        f"-H 'Content-Type: application/json' -d '{body}'",
        f"Read the channel: curl -s {urls['control_url']}/channels/{channel}/messages "
        f"(threads: {urls['control_url']}/channels; docs/discord-local.md has the rest).",
        sep="\n",
        flush=True,
    )


# --- ccbridge mcp / ccbridge lounge ---------------------------------------------------------

EXIT_API_ERROR = 1
"""``ccbridge lounge`` when the API refuses the call or cannot be reached (one line on stderr)."""


def _cmd_mcp(args: argparse.Namespace) -> int:
    import os

    from bridge.mcp import ApiError, client_from_env
    from bridge.mcp import server as mcp_server
    from bridge.mcp.client import SECRET_VARIABLE

    # Claude's tools act as the session, never as the admin: a secret left in the
    # environment is not picked up (only an explicit --secret, for testing by hand).
    env = {key: value for key, value in os.environ.items() if key != SECRET_VARIABLE}
    try:
        client = client_from_env(env, url=args.url, secret=args.secret)
    except ApiError as exc:
        _print_line(f"ccbridge mcp: {exc}")
        return EXIT_API_ERROR
    mcp_server.run_stdio(client)
    return 0


def _cmd_lounge(args: argparse.Namespace) -> int:
    import trio

    from bridge.mcp import ApiError, client_from_env

    try:
        client = client_from_env(url=args.url, secret=args.secret)
        if args.lounge_command == "post":
            body = {"message": args.text}
            if args.label is not None:
                body["label"] = args.label
            trio.run(lambda: client.call("POST", "/api/lounge", body=body))
            return 0
        answer = trio.run(lambda: client.call("GET", "/api/lounge", params={"limit": args.limit}))
    except ApiError as exc:
        _print_line(f"ccbridge lounge: {exc}")
        return EXIT_API_ERROR
    if args.json:
        print(json.dumps(answer, ensure_ascii=False))
        return 0
    for line in answer.get("messages", []):
        print(_lounge_line(line))
    return 0


def _lounge_line(message: Any) -> str:
    import time

    if not isinstance(message, dict):
        return str(message)
    created = message.get("created_at")
    stamp = (
        time.strftime("%Y-%m-%d %H:%M", time.gmtime(created))
        if isinstance(created, int | float)
        else "?"
    )
    return f"[{stamp} UTC] {message.get('author', '?')}: {message.get('message', '')}"


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=None,
        help="the bridge API (default: $CCDB_API_URL, set in every session)",
    )
    parser.add_argument(
        "--secret",
        default=None,
        help="the admin secret (default: $CCBRIDGE_API_SECRET; not needed inside a session)",
    )


def _add_api_commands(sub: Any) -> None:
    mcp_parser = sub.add_parser(
        "mcp", help="serve the bridge's tools for Claude over MCP (stdio); sessions start it"
    )
    _add_api_options(mcp_parser)
    mcp_parser.set_defaults(func=_cmd_mcp)
    lounge_parser = sub.add_parser("lounge", help="post in or read the AI lounge")
    lounge_sub = lounge_parser.add_subparsers(
        dest="lounge_command", metavar="ACTION", required=True
    )
    post = lounge_sub.add_parser("post", help="post one line (at most 1000 characters)")
    post.add_argument("text")
    post.add_argument("--label", default=None, help="a label (at most 50 characters)")
    _add_api_options(post)
    read = lounge_sub.add_parser("read", help="print the most recent lines, oldest first")
    read.add_argument("--limit", type=int, default=10, help="how many (1-200, default 10)")
    read.add_argument("--json", action="store_true", help="print the API's JSON answer")
    _add_api_options(read)
    lounge_parser.set_defaults(func=_cmd_lounge)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser; subcommands register their handler as ``func``."""
    parser = argparse.ArgumentParser(
        prog="ccbridge",
        description=(
            "Run many Claude Code sessions in parallel from Discord: "
            "each Discord thread is one Claude Code session."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    version_parser = sub.add_parser("version", help="print the ccbridge version and exit")
    version_parser.set_defaults(func=_cmd_version)
    local_parser = sub.add_parser(
        "discord-local",
        help="run the local Discord-compatible server; prints its URLs and token as one JSON line",
    )
    local_parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)"
    )
    local_parser.add_argument(
        "--gateway-port", type=int, default=0, help="gateway port on 127.0.0.1 (0: any free port)"
    )
    local_parser.add_argument(
        "--realism",
        choices=["faithful", "off", "strict"],
        default="faithful",
        help="which of Discord's limits to enforce (default: faithful)",
    )
    local_parser.add_argument("--seed", type=int, default=0, help="seed for ids, tokens and jitter")
    local_parser.add_argument(
        "--state",
        default=None,
        help="keep the world in this JSON file across restarts (default: in memory only)",
    )
    local_parser.set_defaults(func=_cmd_discord_local)
    run_parser = sub.add_parser(
        "run",
        help="run the bridge (configured by the environment and .env; see README); "
        "with no DISCORD_BOT_TOKEN it runs against an in-process local Discord server",
    )
    # Values are checked by _cmd_run, not argparse, so a bad one is one line and exit 3
    # like a bad variable (argparse would print its usage and exit 2).
    run_parser.add_argument("--env-file", default=None, help="the .env file (default: ./.env)")
    run_parser.add_argument(
        "--log-level",
        default="INFO",
        metavar="{DEBUG,INFO,WARNING,ERROR}",
        help="logging level (default: INFO)",
    )
    run_parser.add_argument(
        "--local-port", default="0", help="local mode: HTTP port of the local server"
    )
    run_parser.add_argument(
        "--local-gateway-port", default="0", help="local mode: its gateway port"
    )
    run_parser.set_defaults(func=_cmd_run)
    _add_api_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ccbridge`` console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Command | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
