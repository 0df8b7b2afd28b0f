"""Telling the dashboard message (C17) apart from the bridge's other messages."""

from __future__ import annotations

from typing import Any

from bridge.dashboard.board import DASHBOARD_TITLE


def is_dashboard(message: dict[str, Any]) -> bool:
    """Whether a message (as the local server's control API shows it) is the dashboard."""
    embeds = message.get("embeds") or []
    return bool(embeds) and embeds[0].get("title") == DASHBOARD_TITLE
