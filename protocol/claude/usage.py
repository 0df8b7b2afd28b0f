"""The account's usage limit, as the CLI's output tells it (issue 13), sans-IO.

Two shapes carry it:

* **Observed** with the pinned CLI (2.1.330) under API-key auth
  (``tests/e2e/test_claude_cli_usage_limit.py``): when the API answers 429 and the CLI's
  own retries (``CLAUDE_CODE_MAX_RETRIES``) are spent, the turn ends with an error
  ``result`` carrying ``api_error_status: 429`` (``api_error_type: "rate_limit_error"``,
  ``terminal_reason: "api_error"``). It says nothing about when the limit resets.
* **Seen in the binary only** (its schema: ``status`` one of ``allowed``,
  ``allowed_warning``, ``rejected``; ``resetsAt`` an integer of epoch seconds): a
  ``{"type": "rate_limit_event", "rate_limit_info": {...}}`` line, built from the
  ``anthropic-ratelimit-unified-*`` headers, reportedly for claude.ai logins. The scripted
  server could not make the pinned CLI emit it, so it is decoded from fixtures.

The error text (``API Error: Request rejected (429) · …``) holds no reset time in the
observed shape, and the binary builds its subscription wording at run time, so no text is
parsed for one: guessing a format would park sessions for a wrong time.
"""

from __future__ import annotations

import math

import attrs

from protocol.claude import events as ev

__all__ = ["UsageLimit", "usage_limit"]

# Later than this is not an epoch in seconds (milliseconds, or junk): ignore it.
_LATEST_EPOCH = 4_102_444_800.0  # 2100-01-01


@attrs.frozen
class UsageLimit:
    """The account is refused for now."""

    resets_at: float | None
    """When the limit resets (epoch seconds), if the CLI said."""
    ends_turn: bool
    """This event is the turn's end (the error ``result``); ``False``: an announcement
    (``rate_limit_event``) that the result follows."""


def usage_limit(event: ev.Event) -> UsageLimit | None:
    """The usage limit ``event`` reports, or ``None`` (it reports none, or is junk)."""
    if isinstance(event, ev.Result):
        if event.is_error and event.api_error_status == 429:
            return UsageLimit(resets_at=None, ends_turn=True)
        return None
    if isinstance(event, ev.Unknown) and event.raw.get("type") == "rate_limit_event":
        info = event.raw.get("rate_limit_info")
        if not isinstance(info, dict) or info.get("status") != "rejected":
            return None
        return UsageLimit(resets_at=_epoch(info.get("resetsAt")), ends_turn=False)
    return None


def _epoch(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 < value < _LATEST_EPOCH:
        return None
    return float(value)
