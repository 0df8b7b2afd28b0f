"""Usage, cost and context lines for the completion embed (C18, C19), and thread names (C1)."""

from __future__ import annotations

from bridge.sessions.presentation.usage import (
    TurnUsage,
    cache_hit_percent,
    context_fill,
    context_line,
    thread_name,
    usage_line,
)


def test_usage_line_shows_time_cost_tokens_and_cache() -> None:
    usage = TurnUsage(
        input_tokens=200,
        output_tokens=340,
        cache_read_tokens=1800,
        cost_usd=0.0123,
        duration_ms=3200,
    )
    assert cache_hit_percent(usage) == 90.0
    assert usage_line(usage) == "⏱️ 3.2s | 💰 $0.0123 | 📊 2.0k in / 340 out (90% cache)"


def test_usage_line_without_cost_or_duration() -> None:
    assert usage_line(TurnUsage(input_tokens=5, output_tokens=7)) == "📊 5 in / 7 out (0% cache)"


def test_context_counts_input_and_cache_not_output() -> None:
    fill = context_fill(
        TurnUsage(
            input_tokens=10_000,
            cache_read_tokens=40_000,
            cache_creation_tokens=50_000,
            output_tokens=99_999,
        ),
        200_000,
    )
    assert fill.used_tokens == 100_000
    assert fill.percent == 50.0
    assert context_line(fill) == "🧠 Context 50.0% used (33.5% until auto-compaction)"


def test_context_warning_at_threshold() -> None:
    fill = context_fill(TurnUsage(input_tokens=167_000), 200_000)
    assert fill.near_compaction
    assert context_line(fill).startswith("⚠️ Context 83.5% full")


def test_thread_name_from_first_line() -> None:
    assert thread_name("\n\n## **Fix** the `login` bug\nmore") == "Fix the login bug"
    assert thread_name("   ") == "Claude session"
    long = thread_name("x" * 150)
    assert len(long) == 100
    assert long.endswith("…")
