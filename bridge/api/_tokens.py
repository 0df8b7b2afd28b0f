"""Per-session API tokens: what a ``claude`` child uses instead of the admin secret (X4).

A token is ``<thread id>.<HMAC-SHA256 of the thread id>`` under a key drawn at start-up,
so the API can check a token and learn whose it is without storing anything, and a
token cannot be forged for another thread. Tokens die with the process (a new key each
start); each turn builds a fresh environment and prompt, so a resumed session gets a
fresh token. What a token may do is listed in docs/api.md (its own lounge lines,
notifications and marks, and spawning children).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

import attrs

__all__ = ["SessionTokens", "parse_snowflake"]

_DIGEST_CHARS = 32
"""128 bits of the HMAC, in hex: unguessable, and short enough for a URL path."""
_SNOWFLAKE_DIGITS: Final = 20
"""A Discord id is a 64-bit integer: at most 20 decimal digits."""
_SNOWFLAKE_MAX: Final = 2**63 - 1
"""SQLite integers are signed 64-bit; ids beyond never name a real thread."""


def parse_snowflake(text: str) -> int | None:
    """``text`` as a Discord id (ASCII digits, 1..2**63-1), else ``None``.

    ``str.isdigit`` alone would accept ``"²"`` or Arabic-Indic digits, which ``int`` then
    refuses or reads, and a 5000-digit number, which ``int`` refuses: all junk here.
    """
    if not text or len(text) > _SNOWFLAKE_DIGITS or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value <= _SNOWFLAKE_MAX else None


@attrs.frozen
class SessionTokens:
    key: bytes = attrs.field(repr=False)

    @classmethod
    def generate(cls) -> SessionTokens:
        return cls(secrets.token_bytes(32))

    def token_for(self, thread_id: int) -> str:
        return f"{thread_id}.{self._digest(thread_id)}"

    def thread_of(self, token: str) -> int | None:
        """The thread a valid token belongs to, else ``None`` (never raises)."""
        head, _, digest = token.partition(".")
        thread_id = parse_snowflake(head)
        if thread_id is None or not digest.isascii():
            return None
        if not hmac.compare_digest(digest.encode(), self._digest(thread_id).encode()):
            return None
        return thread_id

    def _digest(self, thread_id: int) -> str:
        mac = hmac.new(self.key, str(thread_id).encode(), hashlib.sha256)
        return mac.hexdigest()[:_DIGEST_CHARS]
