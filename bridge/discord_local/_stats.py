"""Counters the control API reports (``GET /_control/stats``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs


@attrs.define
class Stats:
    """What the server served; only ever incremented."""

    requests: Counter[str] = attrs.Factory(Counter)
    """Requests per route, keyed ``"POST /channels/{channel_id}/messages"``."""
    responses_429: int = 0
    global_429: int = 0
    invalid_requests: int = 0
    """401, 403 and non-shared 429 responses: what Discord's 10,000 per 10 minutes counts."""
    errors_5xx: int = 0
    identifies: int = 0
    resumes: int = 0
    failed_resumes: int = 0
    replayed_events: int = 0
    gateway_connections: int = 0
    resume_url_connections: int = 0
    """Connections opened on READY's ``resume_gateway_url`` rather than the main URL."""
    heartbeats: int = 0
    zombie_closes: int = 0
    dispatches_sent: int = 0
    close_codes_sent: Counter[int] = attrs.Factory(Counter)
    close_codes_received: Counter[int] = attrs.Factory(Counter)

    def as_json(self) -> dict[str, Any]:
        out = attrs.asdict(self)
        out["requests"] = dict(self.requests)
        out["close_codes_sent"] = {str(k): v for k, v in self.close_codes_sent.items()}
        out["close_codes_received"] = {str(k): v for k, v in self.close_codes_received.items()}
        return out
