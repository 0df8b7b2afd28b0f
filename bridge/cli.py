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
    import logging
    from pathlib import Path

    import trio

    from bridge.app import BridgeStopped
    from bridge.config import ConfigError, check_claude_command, load_config
    from bridge.discord.errors import EXIT_GATEWAY_FATAL, GatewayFatalError
    from bridge.discord_local import WorldFileError

    try:
        config = load_config(dotenv_path=Path(args.env_file) if args.env_file else None)
        check_claude_command(config)
    except ConfigError as exc:
        print(f"ccbridge: bad configuration: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    status = 0
    try:
        trio.run(_run_bridge_until_signalled, config, args)
    except* GatewayFatalError as group:
        print(f"ccbridge: {_first(group)}", file=sys.stderr)
        status = EXIT_GATEWAY_FATAL
    except* BridgeStopped as group:
        print(f"ccbridge: {_first(group)}", file=sys.stderr)
        status = status or 1
    except* WorldFileError as group:
        print(f"ccbridge: cannot load the local Discord state: {_first(group)}", file=sys.stderr)
        status = EXIT_BAD_CONFIG
    return status


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def _run_bridge_until_signalled(config: Any, args: argparse.Namespace) -> None:
    """Run the bridge (and, with no bot token, the local Discord server first) until
    SIGTERM or SIGINT, then shut down gracefully. The only signal handling in ccbridge."""
    import contextlib

    import trio

    from bridge.app import local_config, open_bridge
    from bridge.discord_local import Realism, open_discord_local

    # Opened first, so a signal during start-up is kept and still ends the run cleanly.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with contextlib.AsyncExitStack() as stack:
            if config.local_mode:
                server = await stack.enter_async_context(
                    open_discord_local(
                        port=args.local_port,
                        gateway_port=args.local_gateway_port,
                        realism=Realism.faithful(),
                        state_path=local_state_path(config),
                    )
                )
                config = local_config(config, server)
                _print_local_help(server, config)
            bridge = await stack.enter_async_context(open_bridge(config))
            print(
                f"ccbridge is running: sessions start from messages in channel "
                f"{config.discord_channel_id}; local API {bridge.api_url}. "
                "Ctrl-C or SIGTERM stops it gracefully.",
                flush=True,
            )
            async for signum in signals:
                print(
                    f"ccbridge: {signal.Signals(signum).name} received; shutting down "
                    "(running turns are interrupted and resume at the next start)",
                    flush=True,
                )
                break


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
    run_parser.add_argument("--env-file", default=None, help="the .env file (default: ./.env)")
    run_parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default="INFO",
        help="logging level (default: INFO)",
    )
    run_parser.add_argument(
        "--local-port", type=int, default=0, help="local mode: HTTP port of the local server"
    )
    run_parser.add_argument(
        "--local-gateway-port", type=int, default=0, help="local mode: its gateway port"
    )
    run_parser.set_defaults(func=_cmd_run)
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
