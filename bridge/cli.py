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

import bridge

Command = Callable[[argparse.Namespace], int]


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"ccbridge {bridge.__version__} (Python {platform.python_version()})")
    return 0


def _cmd_discord_local(args: argparse.Namespace) -> int:
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
                rng=random.Random(args.seed),
            ) as server:
                print(json.dumps(server.urls()), flush=True)
                async for _ in signals:
                    break

    trio.run(serve)
    return 0


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
    local_parser.set_defaults(func=_cmd_discord_local)
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
