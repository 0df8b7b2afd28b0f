"""Token usage, cost and context fill for the completion embed (C18, C19).

The ``result`` event's usage is summed over every API call of the turn, so it overstates
how full the context is; context fill must come from the *last* API call's usage (the
last assistant message's ``usage``). Context used is input + cache read + cache creation
tokens, as the CLI itself counts it; output tokens are excluded.
"""

from __future__ import annotations

import attrs

AUTOCOMPACT_THRESHOLD_PERCENT = 83.5
"""Above this share of the window the CLI may compact on the next turn (the original's
constant, matching the CLI's auto-compact trigger)."""


@attrs.frozen(kw_only=True)
class TurnUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cost_usd: float | None = None
    duration_ms: int | None = None


@attrs.frozen(kw_only=True)
class ContextFill:
    used_tokens: int
    window_tokens: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used_tokens / self.window_tokens if self.window_tokens else 0.0

    @property
    def near_compaction(self) -> bool:
        return self.percent >= AUTOCOMPACT_THRESHOLD_PERCENT


def context_fill(last_call: TurnUsage, window_tokens: int) -> ContextFill:
    used = last_call.input_tokens + last_call.cache_read_tokens + last_call.cache_creation_tokens
    return ContextFill(used_tokens=used, window_tokens=window_tokens)


def cache_hit_percent(usage: TurnUsage) -> float:
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_creation_tokens
    return 100.0 * usage.cache_read_tokens / prompt if prompt else 0.0


def format_tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def usage_line(usage: TurnUsage) -> str:
    """``⏱️ 3.2s | 💰 $0.0123 | 📊 1.2k in / 340 out (87% cache)``; absent parts are left out."""
    parts = []
    if usage.duration_ms is not None:
        parts.append(f"⏱️ {usage.duration_ms / 1000:.1f}s")
    if usage.cost_usd is not None:
        parts.append(f"💰 ${usage.cost_usd:.4f}")
    parts.append(
        f"📊 {format_tokens(usage.input_tokens + usage.cache_read_tokens)} in / "
        f"{format_tokens(usage.output_tokens)} out ({cache_hit_percent(usage):.0f}% cache)"
    )
    return " | ".join(parts)


def context_line(fill: ContextFill) -> str:
    """The context share used and the room left, or a warning near auto-compaction."""
    if fill.near_compaction:
        return f"⚠️ Context {fill.percent:.1f}% full: auto-compaction may run on the next turn"
    room = AUTOCOMPACT_THRESHOLD_PERCENT - fill.percent
    return f"🧠 Context {fill.percent:.1f}% used ({room:.1f}% until auto-compaction)"


def thread_name(content: str, fallback: str = "Claude session") -> str:
    """A thread name from the first message (C1): its first non-empty line, under 100 chars."""
    for line in content.splitlines():
        cleaned = " ".join(line.replace("`", "").replace("*", "").split()).strip("#>- ")
        if cleaned:
            return cleaned if len(cleaned) <= 100 else cleaned[:99] + "…"
    return fallback
