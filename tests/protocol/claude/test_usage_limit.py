"""Decoding the account's usage limit from the CLI's output (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from protocol.claude import parse_event, parse_line
from protocol.claude.usage import UsageLimit, usage_limit

FIXTURES = Path(__file__).parents[2] / "fixtures" / "claude"


def _api_error_result() -> dict[str, Any]:
    lines = (FIXTURES / "api_error.stdout.jsonl").read_text().splitlines()
    result: dict[str, Any] = json.loads(lines[-1])
    assert result["type"] == "result"
    return result


def test_the_observed_429_result_is_a_usage_limit_without_a_reset_time() -> None:
    # The shape pinned in tests/e2e/test_claude_cli_usage_limit.py.
    raw = _api_error_result()
    raw.update(
        api_error_status=429,
        api_error_type="rate_limit_error",
        result="API Error: Request rejected (429) · usage limit reached",
    )
    assert usage_limit(parse_event(raw)) == UsageLimit(resets_at=None, ends_turn=True)


def test_other_api_errors_and_successes_are_not_a_usage_limit() -> None:
    assert usage_limit(parse_event(_api_error_result())) is None  # a 500
    ok = _api_error_result()
    ok.update(is_error=False, api_error_status=None, result="hi", terminal_reason="completed")
    assert usage_limit(parse_event(ok)) is None


# The binary's schema for this line (seen in its source, never observed from the pinned CLI).
REJECTED = (
    '{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1767200400,'
    '"rateLimitType":"five_hour","utilization":1.0,"overageStatus":"rejected"},'
    '"uuid":"3d0c6b36-0000-4000-8000-000000000000","session_id":"s"}'
)


def test_a_rejected_rate_limit_event_carries_its_reset_time() -> None:
    assert usage_limit(parse_line(REJECTED)) == UsageLimit(resets_at=1767200400.0, ends_turn=False)


def test_an_allowed_rate_limit_event_or_a_bad_reset_is_no_limit_or_no_time() -> None:
    warning = REJECTED.replace('"rejected","resetsAt"', '"allowed_warning","resetsAt"')
    assert usage_limit(parse_line(warning)) is None
    in_ms = REJECTED.replace("1767200400", "1767200400000")
    assert usage_limit(parse_line(in_ms)) == UsageLimit(resets_at=None, ends_turn=False)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@given(
    info=st.one_of(
        _json,
        st.fixed_dictionaries(
            {"status": st.sampled_from(["rejected", "allowed", "", None]), "resetsAt": _json}
        ),
    ),
    extra=st.dictionaries(st.text(max_size=8), _json, max_size=3),
)
def test_junk_rate_limit_events_never_raise_and_only_rejected_ones_count(
    info: Any, extra: dict[str, Any]
) -> None:
    raw = {**extra, "type": "rate_limit_event", "rate_limit_info": info}
    found = usage_limit(parse_event(raw))
    if found is None:
        return
    assert isinstance(info, dict)
    assert info.get("status") == "rejected"
    assert not found.ends_turn
    if found.resets_at is not None:
        assert 0 < found.resets_at < 4_102_444_800


@given(status=st.none() | st.integers(), is_error=st.booleans())
def test_only_an_error_result_with_status_429_is_a_usage_limit(
    status: int | None, is_error: bool
) -> None:
    raw = _api_error_result()
    raw.update(api_error_status=status, is_error=is_error)
    found = usage_limit(parse_event(raw))
    assert (found is not None) == (is_error and status == 429)
