"""Small pure pieces: deduplication, error messages, finding a fatal error in a group, and
the package's public names."""

from __future__ import annotations

import pytest

import bridge.discord as discord
from bridge.discord import (
    AttachmentTooLarge,
    GatewayFatalError,
    HTTPError,
    RateLimitedTooLong,
    find_gateway_fatal,
)
from bridge.discord._dedup import DispatchDeduplicator


def test_creation_events_are_deduplicated_by_id_updates_are_not() -> None:
    dedup = DispatchDeduplicator(capacity=3)
    assert dedup.admit("MESSAGE_CREATE", {"id": "1"})
    assert not dedup.admit("MESSAGE_CREATE", {"id": "1"})
    assert dedup.admit("INTERACTION_CREATE", {"id": "1"})  # another kind, same id
    assert dedup.admit("MESSAGE_UPDATE", {"id": "1"})
    assert dedup.admit("MESSAGE_UPDATE", {"id": "1"})
    assert dedup.admit("READY", {})
    assert dedup.dropped == 1


def test_deduplication_memory_is_bounded() -> None:
    dedup = DispatchDeduplicator(capacity=2)
    for i in range(3):
        assert dedup.admit("MESSAGE_CREATE", {"id": str(i)})
    assert dedup.admit("MESSAGE_CREATE", {"id": "0"})  # forgotten: the oldest went first
    assert not dedup.admit("MESSAGE_CREATE", {"id": "2"})


def test_errors_are_sentences_with_the_values() -> None:
    http = HTTPError(status=400, code=50035, message="Invalid Form Body", route="POST /x")
    assert str(http) == "Discord answered 400 (code 50035: Invalid Form Body) to POST /x"
    long_wait = RateLimitedTooLong(route="PUT /a", retry_after=7200.0, limit=300.0)
    assert "7200.0 s, longer than the 300.0 s we wait" in str(long_wait)
    repeated = RateLimitedTooLong(route="PUT /a", retry_after=0.5, limit=300.0, attempts=6)
    assert "429 6 times in a row" in str(repeated)
    big = AttachmentTooLarge(url="http://cdn/x", size=None, limit=10)
    assert (
        str(big) == "the attachment at http://cdn/x is more than 10 bytes, over the 10-byte limit"
    )


def test_find_gateway_fatal_looks_inside_groups_and_causes() -> None:
    fatal = GatewayFatalError(code=4014, reason="", advice="enable the intent")
    assert find_gateway_fatal(fatal) is fatal
    nested = ExceptionGroup("outer", [ValueError("x"), ExceptionGroup("inner", [fatal])])
    assert find_gateway_fatal(nested) is fatal
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = fatal
    assert find_gateway_fatal(wrapped) is fatal
    assert find_gateway_fatal(ExceptionGroup("g", [ValueError()])) is None
    assert fatal.exit_status == 78


def test_there_is_one_gateway_fatal_error_whichever_module_it_is_imported_from() -> None:
    # The machine emits it and the client raises it: one class, so one except catches both.
    from protocol.discord import gateway as machine

    assert GatewayFatalError is machine.GatewayFatalError
    assert discord.EXIT_GATEWAY_FATAL == machine.EXIT_GATEWAY_FATAL == 78
    emitted = machine.Fatal(error=machine.GatewayFatalError(code=4004, advice="fix the token"))
    with pytest.raises(GatewayFatalError, match=r"^fix the token$") as caught:
        raise emitted.error
    assert caught.value is emitted.error


def test_all_is_honest() -> None:
    assert len(discord.__all__) == len(set(discord.__all__))
    assert sorted(discord.__all__) == sorted(discord.__all__)
    for name in discord.__all__:
        assert hasattr(discord, name), name
    public = {
        n
        for n, v in vars(discord).items()
        if not n.startswith("_") and not isinstance(v, type(discord))
    }
    assert public == set(discord.__all__)
