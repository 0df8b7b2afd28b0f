"""The ``claude`` CLI as a child of an actor: process plumbing and session files (IO).

* :mod:`~bridge.claude.process`: :func:`open_claude` and the :class:`ClaudeProcess`
  handle; the messages it delivers (:class:`ClaudeEvent`, :class:`ClaudeTimedOut`,
  :class:`ClaudeInterruptEscalated`, :class:`ClaudeExited`).
* :mod:`~bridge.claude.sessions`: find and read session files on disk.

The protocol decisions live in :mod:`protocol.claude`; this package only does the IO.
"""

from bridge.claude.process import (
    ClaudeEvent,
    ClaudeExited,
    ClaudeGone,
    ClaudeInterruptEscalated,
    ClaudeMessage,
    ClaudeProcess,
    ClaudeTimedOut,
    ControlRequestFailed,
    open_claude,
)
from bridge.claude.sessions import (
    config_dir,
    find_session_file,
    list_sessions,
    read_session_messages,
)

__all__ = [
    "ClaudeEvent",
    "ClaudeExited",
    "ClaudeGone",
    "ClaudeInterruptEscalated",
    "ClaudeMessage",
    "ClaudeProcess",
    "ClaudeTimedOut",
    "ControlRequestFailed",
    "config_dir",
    "find_session_file",
    "list_sessions",
    "open_claude",
    "read_session_messages",
]
