"""The ``ccbridge`` command line: the one place that calls ``trio.run``.

Each subcommand is a small function taking the parsed arguments and returning an exit
status, so tests can call :func:`main` with an argv list and read what it printed.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable, Sequence

import bridge

Command = Callable[[argparse.Namespace], int]


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"ccbridge {bridge.__version__} (Python {platform.python_version()})")
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
