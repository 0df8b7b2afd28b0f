"""``/usage``: what today (a UTC day) cost, in all, by user and by thread, against the
configured budgets. Pure: the store's :class:`~bridge.store.UsageReport` in, text out."""

from __future__ import annotations

from typing import Final

from bridge.budget import Limits
from bridge.store import UsageReport

__all__ = ["USAGE_TOP", "usage_text"]

USAGE_TOP: Final = 10
"""Users and threads listed (the most expensive); the total counts everything."""


def _against(spent: float, limit: float | None) -> str:
    if limit is None:
        return f"${spent:.2f}"
    return f"${spent:.2f} of ${limit:.2f} ({100 * spent / limit:.0f} %)"


def usage_text(report: UsageReport, limits: Limits) -> str:
    lines = [f"**Usage on {report.day} (UTC):** {_against(report.total, limits.daily_usd)}"]
    if not report.by_thread:
        lines.append("Nothing has been spent today.")
        return "\n".join(lines)
    lines.append("**By user**")
    for user_id, spent in report.by_user:
        who = f"<@{user_id}>" if user_id is not None else "the bridge (no author)"
        lines.append(f"• {who}: {_against(spent, limits.user_daily_usd)}")
    lines.append("**By thread**")
    lines += [f"• <#{thread_id}>: ${spent:.2f}" for thread_id, spent in report.by_thread]
    if limits.thread_usd is not None:
        lines.append(f"-# Each thread may spend ${limits.thread_usd:.2f} in all.")
    return "\n".join(lines)
