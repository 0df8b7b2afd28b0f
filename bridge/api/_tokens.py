"""Per-session API tokens: what a ``claude`` child uses instead of the admin secret (X4).

A token is ``<thread id>.<HMAC-SHA256 of the thread id>`` under a key drawn at start-up,
so the API can check a token and learn whose it is without storing anything, and a
token cannot be forged for another thread. Tokens die with the process (a new key each
start); each turn builds a fresh environment and prompt, so a resumed session gets a
fresh token. A token only lets its session read and post lounge lines, as itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import attrs

__all__ = ["SessionTokens"]

_DIGEST_CHARS = 32
"""128 bits of the HMAC, in hex: unguessable, and short enough for a URL path."""


@attrs.frozen
class SessionTokens:
    key: bytes = attrs.field(repr=False)

    @classmethod
    def generate(cls) -> SessionTokens:
        return cls(secrets.token_bytes(32))

    def token_for(self, thread_id: int) -> str:
        return f"{thread_id}.{self._digest(thread_id)}"

    def thread_of(self, token: str) -> int | None:
        """The thread a valid token belongs to, else ``None``."""
        head, _, digest = token.partition(".")
        if not head.isdigit():
            return None
        thread_id = int(head)
        if not hmac.compare_digest(digest, self._digest(thread_id)):
            return None
        return thread_id

    def _digest(self, thread_id: int) -> str:
        mac = hmac.new(self.key, str(thread_id).encode(), hashlib.sha256)
        return mac.hexdigest()[:_DIGEST_CHARS]
