"""Injected REST faults: bursts of 429s or 5xx, and slow responses, per route."""

from __future__ import annotations

from typing import Literal

import attrs

FaultKind = Literal["429", "5xx", "slow"]


@attrs.define(kw_only=True)
class RestFault:
    """One armed fault; ``count`` requests are affected (None: until cleared)."""

    route: str
    """``"*"`` for every route, or a route key like ``"POST /channels/{channel_id}/messages"``."""
    kind: FaultKind
    count: int | None = 1
    status: int = 500
    """For ``5xx``: the status to answer with."""
    retry_after: float = 1.0
    """For ``429``: the body's ``retry_after``."""
    is_global: bool = False
    scope: str = "user"
    """For ``429``: ``user``, ``global`` or ``shared`` (shared 429s are not invalid requests)."""
    delay: float = 0.0
    """For ``slow``: seconds to wait before handling the request."""


class FaultBook:
    """Armed faults, consumed in the order they were armed."""

    def __init__(self) -> None:
        self.faults: list[RestFault] = []

    def arm(self, fault: RestFault) -> None:
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()

    def take(self, route: str) -> list[RestFault]:
        """The faults that apply to one request on ``route``, using up one of each count."""
        hits = [f for f in self.faults if f.route in ("*", route)]
        for f in hits:
            if f.count is not None:
                f.count -= 1
        self.faults = [f for f in self.faults if f.count is None or f.count > 0]
        return hits
