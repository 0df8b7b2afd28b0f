"""render.py: every builder within Discord's limits, and what each shows."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given

from bridge.sessions.presentation import render as r
from protocol.claude import events as ev
from protocol.claude.turn import Activity, ToolRun
from protocol.discord import limits
from protocol.discord.chunking import chunk_message


def _run(**kw: object) -> ToolRun:
    base = {
        "tool_use_id": "t1",
        "name": "Bash",
        "input": {"command": "pytest -q"},
        "started_at": 100.0,
    }
    return ToolRun(**{**base, **kw})  # type: ignore[arg-type]


def test_status_emoji_follows_activity_and_tool_kind() -> None:
    assert r.status_emoji(Activity.THINKING) == r.EMOJI_THINKING
    assert r.status_emoji(Activity.TOOL, _run(name="Bash")) == r.EMOJI_TOOL_EDIT
    assert r.status_emoji(Activity.TOOL, _run(name="WebFetch")) == r.EMOJI_TOOL_WEB
    assert r.status_emoji(Activity.TOOL, _run(name="Read")) == r.EMOJI_TOOL_READ
    assert r.status_emoji(Activity.COMPACTING) == r.EMOJI_COMPACTING
    assert r.status_emoji(Activity.AWAITING_PERMISSION) == r.EMOJI_WAITING
    assert r.status_emoji(Activity.DONE) == r.EMOJI_DONE
    assert r.status_emoji(Activity.DONE, error=True) == r.EMOJI_ERROR
    # Every activity has an emoji of its own kind, none is left to a blank reaction.
    assert all(r.status_emoji(a) for a in Activity)


def test_running_tool_embed_shows_input_and_elapsed_time() -> None:
    embed = r.tool_embed(_run(), now=107.9)
    assert embed.color == r.YELLOW
    assert "pytest -q" in embed.description
    assert "7s elapsed" in embed.description
    later = r.tool_embed(_run(), now=100.0 + 125)
    assert "2m 05s elapsed" in later.description


def test_finished_tool_embed_shows_result_and_colour() -> None:
    ok = r.tool_embed(_run(finished_at=103.0, is_error=False, result_text="3 passed"), now=500)
    assert ok.color == r.GREEN
    assert "3 passed" in ok.description
    assert "3s" in ok.description
    bad = r.tool_embed(_run(finished_at=101.0, is_error=True, result_text="boom"), now=500)
    assert bad.color == r.RED
    assert "failed" in bad.description


def test_huge_tool_input_and_result_stay_within_limits() -> None:
    run = _run(
        input={"command": "x" * 10_000},
        finished_at=101.0,
        is_error=False,
        result_text="```\n" + "line\n" * 5000,
    )
    embed = r.tool_embed(run, now=200)
    limits.check_embeds([embed])
    assert "(truncated)" in embed.description


def test_thinking_is_a_spoiler_that_cannot_be_broken_out_of() -> None:
    embed = r.thinking_embed("I think || therefore I am")
    assert embed.description.startswith("||")
    assert embed.description.endswith("||")
    assert embed.description.count("||") == 2
    limits.check_embeds([r.thinking_embed("z" * 10_000)])


def _result(**kw: object) -> ev.Result:
    base = dict(
        subtype="success",
        duration_ms=3200,
        total_cost_usd=0.0123,
        usage=ev.Usage(input_tokens=1000, output_tokens=340, cache_read_input_tokens=9000),
        model_usage={"claude-x": ev.ModelUsage(context_window=200_000)},
    )
    return ev.Result(**{**base, **kw})  # type: ignore[arg-type]


def test_completion_embed_has_usage_and_context_from_the_last_call() -> None:
    last = ev.Usage(input_tokens=2000, cache_read_input_tokens=18_000)
    embed = r.completion_embed(_result(), last)
    assert embed.title.startswith("✅")
    assert "$0.0123" in embed.description
    assert "3.2s" in embed.description
    assert "10.0k in / 340 out" in embed.description
    # 20,000 of 200,000 = 10 %, from the last call, not the summed result usage.
    assert "Context 10.0% used" in embed.description


def test_completion_embed_warns_near_compaction_and_shows_errors() -> None:
    near = ev.Usage(input_tokens=170_000)
    assert "⚠️" in r.completion_embed(_result(), near).description
    err = r.completion_embed(
        _result(subtype="error_during_execution", is_error=True, errors=("No conversation",)),
        None,
    )
    assert err.color == r.RED
    assert "No conversation" in err.description
    stopped = r.completion_embed(
        _result(subtype="error_during_execution", is_error=True), None, interrupted=True
    )
    assert stopped.title.startswith("⏹️")


def test_notices() -> None:
    boundary = ev.CompactBoundary(metadata=ev.CompactMetadata(trigger="auto", pre_tokens=151234))
    assert r.compaction_notice(boundary) == "-# 🗜️ Context compacted (auto): was 151,234 tokens"
    assert "position 2" in r.queue_notice(2, 3)
    assert "3 sessions are running" in r.queue_notice(2, 3)
    assert "30s" in r.stall_notice(30.4)
    assert "30m 00s" in r.timeout_embed(1800, 1800.2).description
    assert "Interrupted" in r.interrupt_notice()
    assert "2 queued messages were not sent" in r.stopped_notice(2)
    crash = r.crashed_notice(143, "line1\nTraceback: boom\n")
    assert "143" in crash.embeds[0].description
    assert "boom" in crash.embeds[0].description
    for text in (r.stall_notice(5), r.queue_notice(1, 1), r.resumed_notice("crash")):
        limits.check_content(text)


# Fences on lines of their own, as Markdown writes them (an info string is part of the
# fence line, and a reopened fence repeats it).
_PIECES = st.sampled_from(
    ["a", "bb ", " ", "\n", "\n\n", "\n```\n", "\n```py\n", "|x|\n", "word " * 30]
)


@given(st.lists(_PIECES, max_size=400).map("".join))
def test_split_text_is_the_shared_chunkers_bounded_lossless_split(text: str) -> None:
    chunks = r.split_text(text, limit=300)
    for chunk in chunks:
        assert len(chunk) <= 300
        assert chunk.strip()
    # Fence balance per chunk is the chunker's contract, tested with CommonMark's fence
    # rules (backtick counts, info strings, tildes) in tests/property/test_chunking.py.

    # No text is lost or reordered: the chunks are the shared chunker's, whose bodies
    # (each chunk minus the fence or table-header lines it repeats) join back to the
    # input exactly; only whitespace-only chunks are left out.
    pieces = chunk_message(text, 300)
    assert "".join(p.body for p in pieces) == text
    assert chunks == [p.text for p in pieces if p.text.strip()]
    assert all(not p.text.strip() for p in pieces if p.text not in chunks)


def test_split_text_keeps_short_text_whole_and_splits_at_paragraphs() -> None:
    assert r.split_text("hello") == ["hello"]
    assert r.split_text("") == []
    text = ("para one " * 100).strip() + "\n\n" + ("para two " * 100).strip()
    chunks = r.split_text(text, limit=1000)
    assert len(chunks) == 2
    assert chunks[0].startswith("para one")
    assert chunks[1].startswith("para two")
    fenced = "```python\n" + "print(1)\n" * 400 + "```"
    parts = r.split_text(fenced)
    assert len(parts) > 1
    assert all(p.startswith("```python") and p.rstrip().endswith("```") for p in parts)


def test_completion_embed_names_the_models_the_turn_used() -> None:
    """C24: the model is shown, the one that wrote most first."""
    result = _result(
        model_usage={
            "claude-haiku-4-5": ev.ModelUsage(output_tokens=5),
            "claude-sonnet-5": ev.ModelUsage(output_tokens=300, context_window=200_000),
        }
    )
    embed = r.completion_embed(result, None)
    assert "🤖 `claude-sonnet-5`, `claude-haiku-4-5`" in embed.description
    assert r.model_line(_result(model_usage={})) is None
    many = {f"claude-m{i}": ev.ModelUsage(output_tokens=i) for i in range(5)}
    assert r.model_line(_result(model_usage=many)) == (
        "🤖 `claude-m4`, `claude-m3`, `claude-m2` (+2)"
    )
    assert r.model_line(_result(model_usage={"a`b": ev.ModelUsage()})) == "🤖 `ab`"
