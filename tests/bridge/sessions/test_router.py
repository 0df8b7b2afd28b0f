"""Prompt component ids: built within Discord's limit and parsed back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.sessions.router import CUSTOM_ID_MAX, parse_prompt_custom_id, prompt_custom_id

ids = st.text(
    alphabet=st.characters(blacklist_characters=":", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
)
choices = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(ids, choices)
def test_round_trip(prompt_id: str, choice: str) -> None:
    custom_id = prompt_custom_id(prompt_id, choice)
    assert len(custom_id) <= CUSTOM_ID_MAX
    assert parse_prompt_custom_id(custom_id) == (prompt_id, choice)


def test_the_documented_shape() -> None:
    assert prompt_custom_id("p1", "allow") == "ccb:prompt:p1:allow"
    assert parse_prompt_custom_id("ccb:prompt:p1:deny") == ("p1", "deny")


@pytest.mark.parametrize(
    "custom_id", ["", "ccb:prompt:", "ccb:prompt:p1", "ccb:prompt::allow", "other:p1:allow"]
)
def test_foreign_or_malformed_ids_are_not_prompts(custom_id: str) -> None:
    assert parse_prompt_custom_id(custom_id) is None


def test_ids_that_cannot_round_trip_or_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="must not contain ':'"):
        prompt_custom_id("a:b", "allow")
    with pytest.raises(ValueError, match="Discord allows 100"):
        prompt_custom_id("p" * 90, "allow")
