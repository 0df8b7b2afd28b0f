"""Discord's JSON error bodies, raised by the server's rules and rendered by the REST layer.

Codes and messages come from the docs' JSON error code table
(developers/topics/opcodes-and-status-codes.mdx "JSON Error Codes").
"""

from __future__ import annotations

from typing import Any

import attrs

UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
UNKNOWN_ROLE = 10011
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
UNKNOWN_APPLICATION_COMMAND = 10063
INTERACTION_ALREADY_ACKNOWLEDGED = 40060
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035
THREAD_ARCHIVED = 50083
MAX_PINS = 30003
THREAD_ALREADY_EXISTS = 160004
CANNOT_EDIT_OTHERS_MESSAGE = 50005


@attrs.frozen
class FieldError:
    """One violated rule at one place in a request body (a leaf of Discord's ``errors`` tree)."""

    path: tuple[str | int, ...]
    """Where in the body, e.g. ``("embeds", 0, "title")``."""
    code: str
    """Discord's machine code, e.g. ``BASE_TYPE_MAX_LENGTH``."""
    message: str
    """Discord's sentence, e.g. ``Must be 2000 or fewer in length.``."""


class DiscordHTTPError(Exception):
    """A request the server refuses, with the status and body Discord would send.

    The REST layer turns it into the response; the control API reuses it for its own errors.
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{code, message}`` plus ``errors`` when fields were at fault."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            out["errors"] = errors_tree(self.errors)
        return out


def errors_tree(errors: list[FieldError]) -> dict[str, Any]:
    """Nest field errors as Discord does: ``{"embeds": {"0": {"title": {"_errors": [...]}}}}``."""
    tree: dict[str, Any] = {}
    for err in errors:
        node = tree
        for part in err.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": err.code, "message": err.message})
    return tree


def invalid_form_body(errors: list[FieldError]) -> DiscordHTTPError:
    """The 400 ``50035 Invalid Form Body`` error for these field errors."""
    return DiscordHTTPError(400, INVALID_FORM_BODY, "Invalid Form Body", errors)


def not_found(code: int, what: str) -> DiscordHTTPError:
    """A 404 with Discord's ``Unknown <what>`` message."""
    return DiscordHTTPError(404, code, f"Unknown {what}")
