"""Checks ``ccbridge run`` makes at start, after :func:`~bridge.config.load_config`, on what
the configuration points at: the database file, the ports to listen on, and a ``.env``
that Claude could read.

Each check raises :class:`~bridge.config.ConfigError` naming the variable and what to do,
so a database that is not one or a port already taken is one clear line and exit status
3, not a traceback from deep inside the start.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from dotenv import dotenv_values

from bridge.config import ConfigError

__all__ = ["check_database", "check_ports", "dotenv_secret_warning"]

# The first 16 bytes of every SQLite 3 database file (https://www.sqlite.org/fileformat.html).
_SQLITE_HEADER = b"SQLite format 3\x00"

# Variables whose values must never be readable by a session.
_SECRET_NAMES = ("DISCORD_BOT_TOKEN", "CCBRIDGE_API_SECRET")


def check_database(path: Path, variable: str = "CCBRIDGE_DB_PATH") -> None:
    """``path`` is an SQLite database this user can open, or a file that can be created.

    An empty file counts as a new database (SQLite treats it as one). Only the header and
    the schema are read, so the check is quick whatever the database's size.
    """
    try:
        _check_database(path, variable)
    except OSError as exc:
        raise ConfigError(variable, f"cannot use {str(path)!r}: {exc.strerror}") from None


def _check_database(path: Path, variable: str) -> None:
    shown = repr(str(path))
    if path.is_dir():
        raise ConfigError(
            variable,
            f"{shown} is a directory; give a file path, e.g. {str(path / 'ccbridge.db')!r}",
        )
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(
            variable,
            f"the directory {str(parent)!r} does not exist; create it (mkdir -p) or choose "
            "a path in an existing directory",
        )
    if not path.exists():
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(
                variable, f"cannot create {shown}: the directory is not writable by this user"
            )
        return
    if not path.is_file():
        raise ConfigError(variable, f"{shown} is not a regular file; give a database file path")
    if not os.access(path, os.R_OK | os.W_OK):
        raise ConfigError(variable, f"{shown} is not readable and writable by this user")
    with path.open("rb") as stream:
        header = stream.read(len(_SQLITE_HEADER))
    not_sqlite = (
        f"{shown} is not an SQLite database; point {variable} at the bridge's database or "
        "at a path where it may create a new one"
    )
    if header and header != _SQLITE_HEADER:
        raise ConfigError(variable, not_sqlite)
    if not header:
        return
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(variable, f"{not_sqlite} (SQLite: {exc})") from None


def check_ports(ports: Iterable[tuple[str, int]], *, host: str = "127.0.0.1") -> None:
    """Each ``(variable, port)`` can be listened on, and no two ask for the same port.

    Port 0 (any free port) always can. The probe binds with ``SO_REUSEADDR`` as the
    servers do, so a port only held by connections in TIME_WAIT counts as free; it is
    released at once, and a port taken in the instant before the real bind still fails
    there.
    """
    claimed: dict[int, str] = {}
    for variable, port in ports:
        if port == 0:
            continue
        if port in claimed:
            raise ConfigError(
                variable, f"port {port} is also given to {claimed[port]}; use another port"
            )
        claimed[port] = variable
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise ConfigError(
                    variable,
                    f"cannot listen on {host}:{port} ({exc.strerror}); stop what uses it, "
                    "or choose another port (0: any free port)",
                ) from None


def dotenv_secret_warning(dotenv_path: Path, working_dir: Path) -> str | None:
    """A one-line warning if ``dotenv_path`` holds the bot token or the API secret and lies
    inside ``working_dir``, where every ``claude`` session can read it; else ``None``."""
    try:
        if not dotenv_path.is_file():
            return None
        env_file = dotenv_path.resolve()
        if not env_file.is_relative_to(working_dir.resolve()):
            return None
        values = dotenv_values(env_file)
    except (OSError, ValueError):
        return None  # load_config read it already; nothing more to say here
    held = [name for name in _SECRET_NAMES if (values.get(name) or "").strip()]
    if not held:
        return None
    return (
        f"warning: {str(env_file)!r} holds {' and '.join(held)} and is inside "
        f"CLAUDE_WORKING_DIR ({str(working_dir)!r}), where Claude can read it; move it "
        "out (e.g. to ~/.config/ccbridge/env) and start with --env-file PATH, or set "
        "these variables in the environment instead"
    )
