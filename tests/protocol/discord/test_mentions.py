"""apply_allowed_mentions: exactly the intended pings on every message route, nothing
changed elsewhere, the caller's body never mutated."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.discord import routes
from protocol.discord.mentions import (
    INTERACTION_MESSAGE_TYPES,
    MESSAGE_ROUTES,
    allowed_mentions_json,
    apply_allowed_mentions,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
bodies = (
    st.none()
    | json_values
    | st.dictionaries(
        st.sampled_from(["content", "allowed_mentions", "embeds", "type", "data"]), json_values
    )
)
users = st.lists(st.integers(1, 2**63), max_size=3, unique=True)


@given(route=st.sampled_from(list(routes.ROUTES.values())), body=bodies, pinged=users)
def test_message_routes_always_carry_exactly_the_intended_pings(
    route: routes.Route, body: Any, pinged: list[int]
) -> None:
    before = copy.deepcopy(body)
    out = apply_allowed_mentions(route, body, pinged)
    assert body == before  # never mutated
    expected = {"parse": [], "users": [str(u) for u in pinged], "replied_user": False}
    if route.name in MESSAGE_ROUTES:
        assert out["allowed_mentions"] == expected
        if isinstance(body, dict):
            assert {k: v for k, v in out.items() if k != "allowed_mentions"} == {
                k: v for k, v in body.items() if k != "allowed_mentions"
            }
    elif (
        route is routes.CREATE_INTERACTION_RESPONSE
        and isinstance(body, dict)
        and isinstance(body.get("type"), int)  # a junk list or dict is no message type
        and body["type"] in INTERACTION_MESSAGE_TYPES
    ):
        assert out["data"]["allowed_mentions"] == expected
        assert out["type"] == body["type"]
    else:
        assert out is body


def test_a_caller_cannot_widen_the_pings() -> None:
    body = {"content": "@everyone", "allowed_mentions": {"parse": ["everyone", "roles"]}}
    out = apply_allowed_mentions(routes.CREATE_MESSAGE, body)
    assert out["allowed_mentions"] == {"parse": [], "users": [], "replied_user": False}


@pytest.mark.parametrize("kind", [1, 5, 6, 8, 9])
def test_interaction_responses_without_a_message_are_left_alone(kind: int) -> None:
    body = {"type": kind, "data": {"flags": 64}}
    assert apply_allowed_mentions(routes.CREATE_INTERACTION_RESPONSE, body) is body


def test_the_ping_list_is_bounded_and_unique() -> None:
    with pytest.raises(ValueError, match="at most 100"):
        allowed_mentions_json(list(range(1, 102)))
    with pytest.raises(ValueError, match="twice"):
        allowed_mentions_json([5, 5])
