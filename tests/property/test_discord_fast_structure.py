"""The converter's fast structuring functions agree with cattrs' own (the detailed twin).

``protocol.discord._fast_structure`` takes exact-type shortcuts and calls cattrs' hooks for
everything else, so on any input it must return what the detailed converter returns (the
same values *and* types: ``repr`` tells ``MessageType.DEFAULT`` from ``0``), and fail where
it fails. Payloads are a real message with fields dropped and values swapped for odd JSON.
"""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.discord import models as m
from protocol.discord.converter import make_converter
from tests.protocol.discord.test_converter import USER, message_payload

conv = make_converter()
assert conv.explain is not None
explain = conv.explain

_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "0", "12", "x", "2026-11-23T04:00:00+00:00"]),
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=4,
)


_ODD_VALUES: list[Any] = [None, True, False, 0, 1, 19, 2.5, "", "7", "x", [], ["1"], {}, {"a": 1}]
"""Values of every JSON type, and the ones where cattrs' coercions matter (bool vs int,
"7" vs 7, null)."""


def _member() -> dict[str, Any]:
    return {
        "roles": ["5"],
        "nick": None,
        "joined_at": "2026-11-23T04:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
    }


def _mutated(data: st.DataObject, base: dict[str, Any], cls: type) -> dict[str, Any]:
    payload = dict(base)
    for a in attrs.fields(cls):
        action = data.draw(st.sampled_from(["keep", "keep", "drop", "odd"]), label=a.name)
        if action == "drop":
            payload.pop(a.name, None)
        elif action == "odd":
            odd = st.sampled_from(_ODD_VALUES) | _JSON
            payload[a.name] = data.draw(odd, label=f"{a.name} value")
    return payload


def _outcome(fn: Any, payload: Any, cls: type) -> tuple[str, str]:
    try:
        return "ok", repr(fn(payload, cls))
    except Exception as exc:  # which inputs fail matters here, not how
        return "error", type(exc).__name__


def _assert_agree(hook: Any, payload: dict[str, Any], cls: type) -> None:
    """The fast hook never accepts what cattrs rejects, and what it accepts comes out the
    same. It may reject what cattrs accepts (cattrs structures a model from a string: no
    key is ``in`` it); then ``conv.structure`` falls back to cattrs' result."""
    fast = _outcome(hook, payload, cls)
    detailed = _outcome(explain.structure, payload, cls)
    if detailed[0] == "error":
        assert fast[0] == "error", (fast, detailed)
    elif fast[0] == "ok":
        assert fast == detailed
    else:
        assert _outcome(conv.structure, payload, cls) == detailed


@pytest.mark.parametrize(
    ("cls", "payload"),
    [
        (m.Message, message_payload(member=_member())),
        (m.Message, message_payload(referenced_message=message_payload(), type=19)),
        (m.Message, message_payload(type=12345, nonce=7, webhook_id="9")),
        (m.User, USER),
        (m.Member, _member()),
    ],
)
def test_fast_hook_equals_detailed_on_real_payloads(cls: type, payload: dict[str, Any]) -> None:
    fast = conv.get_structure_hook(cls)(payload, cls)
    assert repr(fast) == repr(explain.structure(payload, cls))
    assert fast == conv.structure(payload, cls)


def _bases() -> dict[type, dict[str, Any]]:
    return {m.Message: message_payload(member=_member()), m.User: USER, m.Member: _member()}


@pytest.mark.parametrize("cls", [m.Message, m.User, m.Member])
def test_fast_hook_agrees_with_cattrs_for_every_field_and_odd_value(cls: type) -> None:
    base = _bases()[cls]
    hook = conv.get_structure_hook(cls)
    for a in attrs.fields(cls):
        for value in [*_ODD_VALUES, "missing"]:
            payload = dict(base)
            if value == "missing":
                payload.pop(a.name, None)
            else:
                payload[a.name] = value
            _assert_agree(hook, payload, cls)  # (a.name, value) are in the traceback


@given(data=st.data(), cls=st.sampled_from([m.Message, m.User, m.Member]))
def test_fast_hook_agrees_with_cattrs_on_odd_payloads(data: st.DataObject, cls: type) -> None:
    payload = _mutated(data, _bases()[cls], cls)
    _assert_agree(conv.get_structure_hook(cls), payload, cls)


def test_a_bad_payload_still_raises_the_detailed_error() -> None:
    # The fast path fails with a bare KeyError; the converter re-runs the detailed twin.
    with pytest.raises(cattrs.errors.ClassValidationError) as info:
        conv.structure({"id": "1", "channel_id": "2"}, m.Message)
    assert "author" in repr(cattrs.transform_error(info.value))
