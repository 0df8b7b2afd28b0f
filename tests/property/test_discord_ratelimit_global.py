"""The global budget holds on Discord's clock, whatever the network delays.

Discord counts a globally limited request when it processes it, at an unknown moment
between our send and its response. With random latencies and processing moments, no 51
requests may ever be processed within one second (the machine holds each global slot from
the send until a period after the response; a send-time window fails this test).
"""

from __future__ import annotations

import heapq
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.discord import routes
from protocol.discord.ratelimit import GLOBAL_LIMIT, RateLimiter, ResponseInfo, SendNow

_REQUEST = st.tuples(
    st.floats(0.0, 0.9),  # latency: send to response
    st.floats(0.0, 1.0),  # where in that span Discord processes it
    st.booleans(),  # answered (else the connection failed: abandon)
)


@settings(deadline=None)
@given(requests=st.lists(_REQUEST, min_size=GLOBAL_LIMIT + 1, max_size=160))
def test_no_51_requests_processed_within_one_second(
    requests: list[tuple[float, float, bool]],
) -> None:
    limiter = RateLimiter()
    now = 0.0
    pending = list(requests)
    responses: list[tuple[float, int, object, bool]] = []  # (at, n, ticket, answered)
    processed: list[float] = []
    wake = 0.0
    n = 0
    while pending or responses:
        while pending:
            # One channel per request: only the global budget limits them.
            route = routes.CREATE_MESSAGE.compile(channel_id=1000 + n)
            decision = limiter.acquire(route, now)
            if not isinstance(decision, SendNow):
                assert decision.deadline > now
                wake = decision.deadline
                break
            latency, where, answered = pending.pop(0)
            processed.append(now + latency * where)
            heapq.heappush(responses, (now + latency, n, decision.ticket, answered))
            n += 1
        next_response = responses[0][0] if responses else math.inf
        if pending and wake < next_response:
            now = wake
            continue
        at, _, ticket, answered = heapq.heappop(responses)
        now = max(now, at)
        if answered:
            limiter.release(ticket, ResponseInfo(status=200), now)  # type: ignore[arg-type]
        else:
            limiter.abandon(ticket, now)  # type: ignore[arg-type]
    assert n == len(requests)
    processed.sort()
    for first, last in zip(processed, processed[GLOBAL_LIMIT:], strict=False):
        assert last - first >= 1.0, (first, last)
