"""The REST request scheduler: priorities, lanes, retries, shedding.

Theory of operation
-------------------
Every request is a :class:`Job` in one of four priority queues (interaction responses,
messages, edits, reactions: lower goes first). One scheduler task picks the next job to
send: the first job, in priority order and then in the order it was queued, that

* is not waiting out a retry backoff,
* has no other request in flight on its *lane* (its bucket: route + major parameter). One
  request per lane keeps the messages of a channel in order, never lets an older edit
  overtake a newer one, and makes every response describe all our requests on the bucket;
* is allowed now by :class:`~bridge.discord._limits.RestLimits` (bucket, global budget,
  reaction pacing).

If none is, the scheduler sleeps until the earliest time one will be (or until a job is
queued or a lane frees). So a burst of edits can never delay an interaction response, and
a saturated global budget is spent on the most important work first; within a priority the
oldest job goes first, which is fair between sessions.

A job is built into an HTTP request only when it is sent, so a queued edit that absorbs a
newer edit (coalescing, done by the client) sends the newest content. Retries put the job
back at its old place in its queue: a 429 waits out ``retry_after`` (through the limits),
5xx and connection errors back off exponentially with jitter; creates carry a nonce, so a
retry after a lost response never duplicates a message.

Shedding: while the invalid requests of the last 10 minutes are over a threshold, jobs
marked ``sheddable`` (streaming edits, status reactions) are dropped when they come up,
reported as :class:`~bridge.discord.errors.RequestShed`; essential traffic goes on.
"""

from __future__ import annotations

import enum
import logging
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Final

import attrs
import httpx
import trio

from bridge.discord._limits import RestLimits
from bridge.discord._routes import CompiledRoute
from bridge.discord.errors import (
    DiscordError,
    Forbidden,
    HTTPError,
    NotFound,
    RateLimitedTooLong,
    RequestShed,
)

__all__ = ["Job", "Priority", "RestStats", "Scheduler"]

logger = logging.getLogger("bridge.discord.rest")

RETRY_STATUSES: Final = frozenset({500, 502, 503, 504, 524})
"""Server errors worth retrying (discord.py and hikari retry these)."""
MAX_RETRIES: Final = 4
"""5xx / connection-error retries per request before giving up."""
MAX_RATE_LIMIT_RETRIES: Final = 16
"""429s per request before giving up. Each is waited out (we are told how long), so this
only stops a request that a broken limit keeps refusing."""
BACKOFF_BASE: Final = 0.5
BACKOFF_CAP: Final = 8.0
MAX_IN_FLIGHT: Final = 128


class Priority(enum.IntEnum):
    """Lower goes sooner."""

    INTERACTION = 0
    """Interaction responses: Discord invalidates the token after 3 seconds."""
    MESSAGE = 1
    """Messages people wait for, and everything else that is not streaming output."""
    EDIT = 2
    """Streaming edits of a message."""
    REACTION = 3
    """Status reactions."""


@attrs.define
class RestStats:
    """Counters of one REST client (only ever incremented)."""

    requests: Counter[str] = attrs.Factory(Counter)
    """HTTP requests sent, per route key (retries included)."""
    responses_429: int = 0
    global_429: int = 0
    retries: int = 0
    """Requests sent again after a 429, a 5xx or a connection error."""
    invalid_requests: int = 0
    """401, 403 and non-shared 429 responses received (all time)."""
    shed: int = 0
    """Sheddable requests dropped to protect the invalid-request budget."""
    coalesced_edits: int = 0
    """Edits merged into an edit already queued for the same message."""
    cancelled_reactions: int = 0
    """Queued reaction changes cancelled by the opposite change before being sent."""
    background_failures: int = 0
    """``submit_*`` requests that failed (see ``RestClient.recent_failures``)."""


@attrs.frozen
class HTTPRequest:
    method: str
    path: str
    json: Any = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    query: dict[str, str] | None = None


@attrs.define(eq=False)
class Job:
    """One request and whoever waits for its result."""

    route: CompiledRoute
    priority: Priority
    build: Callable[[], HTTPRequest]
    parse: Callable[[httpx.Response], Any] = lambda r: None
    sheddable: bool = False
    recover: Callable[[HTTPError, int], Awaitable[Any]] | None = None
    """Called with an HTTP error on a *retried* request; returns the result if the error
    just says the first attempt worked (e.g. 40060 already acknowledged)."""
    background: bool = False
    """Nobody awaits it: failures go to the failure listeners."""
    seq: int = 0
    attempts: int = 0
    rate_limited: int = 0
    not_before: float = -math.inf
    started: bool = False
    done: trio.Event = attrs.Factory(trio.Event)
    result: Any = None
    error: BaseException | None = None
    on_done: list[Callable[[Job], None]] = attrs.Factory(list)

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        if self.done.is_set():
            return
        self.result, self.error = result, error
        self.done.set()
        for callback in self.on_done:
            callback(self)

    async def wait(self) -> Any:
        await self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


class Scheduler:
    def __init__(
        self,
        http: httpx.AsyncClient,
        limits: RestLimits,
        stats: RestStats,
        rng: random.Random,
        *,
        max_rate_limit_wait: float,
        shed_threshold: int,
        on_background_failure: Callable[[Job, BaseException], None],
    ) -> None:
        self.http = http
        self.limits = limits
        self.stats = stats
        self.rng = rng
        self.max_rate_limit_wait = max_rate_limit_wait
        self.shed_threshold = shed_threshold
        self.on_background_failure = on_background_failure
        self.queues: dict[Priority, dict[int, Job]] = {p: {} for p in Priority}
        self.in_flight: set[str] = set()
        self._seq = 0
        self._wakeup = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._idle = trio.lowlevel.ParkingLot()
        self.closed = False

    # -- queueing ----------------------------------------------------------------------------

    def submit(self, job: Job) -> Job:
        self._seq += 1
        job.seq = self._seq
        self.queues[job.priority][job.seq] = job
        self._wakeup.set()
        return job

    def withdraw(self, job: Job) -> bool:
        """Take a job that has not started out of its queue; False if it already started."""
        if job.started:
            return False
        removed = self.queues[job.priority].pop(job.seq, None) is not None
        self._maybe_idle()
        return removed

    def queued(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def _maybe_idle(self) -> None:
        if not self.in_flight and not self.queued():
            self._idle.unpark_all()

    async def wait_idle(self) -> None:
        """Wait until nothing is queued or in flight."""
        while self.queued() or self.in_flight:
            await self._idle.park()

    def _requeue(self, job: Job) -> None:
        # Back at its old place: the queue is ordered by seq, so re-insert in order.
        queue = self.queues[job.priority]
        queue[job.seq] = job
        if next(reversed(queue)) != job.seq:
            self.queues[job.priority] = dict(sorted(queue.items()))
        self._wakeup.set()

    # -- the scheduler task ------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            while True:
                now = trio.current_time()
                job, wake = self._pick(now)
                if job is not None:
                    self._start(job, now)
                    continue
                self._wakeup = trio.Event()
                with trio.move_on_at(wake):
                    await self._wakeup.wait()

    def _pick(self, now: float) -> tuple[Job | None, float]:
        wake = math.inf
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            return None, wake
        shedding = self.limits.invalid_requests(now) >= self.shed_threshold
        for priority in Priority:
            queue = self.queues[priority]
            blocked: set[str] = set()
            for job in list(queue.values()):
                if shedding and job.sheddable:
                    del queue[job.seq]
                    self._shed(job, now)
                    self._maybe_idle()
                    continue
                lane = self.limits.lane(job.route)
                if lane in self.in_flight or lane in blocked:
                    continue
                at = max(job.not_before, self.limits.ready_at(job.route, now))
                if at <= now:
                    del queue[job.seq]
                    return job, wake
                # Later jobs on this lane wait behind this one (order within a channel).
                blocked.add(lane)
                wake = min(wake, at)
        return None, wake

    def _shed(self, job: Job, now: float) -> None:
        self.stats.shed += 1
        error = RequestShed(
            route=job.route.key,
            invalid_requests=self.limits.invalid_requests(now),
            threshold=self.shed_threshold,
        )
        self._fail(job, error)

    def _start(self, job: Job, now: float) -> None:
        assert self._nursery is not None
        job.started = True
        lane = self.limits.lane(job.route)
        self.in_flight.add(lane)
        self.limits.on_send(job.route, now)
        self._nursery.start_soon(self._execute, job, lane)

    # -- one attempt -------------------------------------------------------------------------

    async def _execute(self, job: Job, lane: str) -> None:
        try:
            await self._attempt(job)
        except Exception as exc:
            logger.exception("REST %s failed unexpectedly", job.route.key)
            self._fail(job, exc)
        finally:
            self.in_flight.discard(lane)
            self._wakeup.set()
            self._maybe_idle()

    async def _attempt(self, job: Job) -> None:
        request = job.build()
        self.stats.requests[job.route.key] += 1
        job.attempts += 1
        try:
            response = await self.http.request(
                request.method,
                request.path,
                json=request.json if request.files is None else None,
                data=(
                    {"payload_json": _dumps(request.json)} if request.files is not None else None
                ),
                files=request.files,
                params=request.query,
            )
        except httpx.TransportError as exc:
            self._retry_or_fail(job, exc)
            return
        now = trio.current_time()
        body = _json_or_none(response)
        verdict = self.limits.on_response(
            job.route, response.status_code, response.headers, body, now
        )
        status = response.status_code
        if status in (401, 403) or (status == 429 and verdict.scope != "shared"):
            self.stats.invalid_requests += 1
        if status == 429:
            self.stats.responses_429 += 1
            if verdict.is_global:
                self.stats.global_429 += 1
            retry_after = verdict.retry_after or 0.0
            logger.warning(
                "429 on %s (retry_after %.3f s, global=%s, scope=%s)",
                job.route.key,
                retry_after,
                verdict.is_global,
                verdict.scope,
            )
            job.rate_limited += 1
            if retry_after > self.max_rate_limit_wait or job.rate_limited > MAX_RATE_LIMIT_RETRIES:
                self._fail(
                    job,
                    RateLimitedTooLong(
                        route=job.route.key,
                        retry_after=retry_after,
                        limit=self.max_rate_limit_wait,
                        is_global=verdict.is_global,
                        attempts=job.rate_limited,
                    ),
                )
                return
            self.stats.retries += 1
            self._requeue(job)
            return
        if status in RETRY_STATUSES:
            self._retry_or_fail(job, _http_error(job, response, body))
            return
        if status >= 400:
            error = _http_error(job, response, body)
            if job.recover is not None and job.attempts > 1:
                recovered = await job.recover(error, job.attempts)
                if recovered is not None:
                    job.finish(recovered)
                    return
            self._fail(job, error)
            return
        job.finish(job.parse(response))

    def _retry_or_fail(self, job: Job, error: BaseException) -> None:
        if job.attempts > MAX_RETRIES:
            self._fail(job, error)
            return
        # Exponential backoff with full-range jitter, so many clients do not retry in step.
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (job.attempts - 1))
        delay = ceiling * (0.5 + self.rng.random() / 2)
        logger.warning(
            "REST %s failed (%r); retry %d in %.2f s", job.route.key, error, job.attempts, delay
        )
        self.stats.retries += 1
        job.not_before = trio.current_time() + delay
        self._requeue(job)

    def _fail(self, job: Job, error: BaseException) -> None:
        if job.background:
            self.on_background_failure(job, error)
        job.finish(error=error)


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _http_error(job: Job, response: httpx.Response, body: Any) -> DiscordError:
    code, message, errors = 0, response.reason_phrase, None
    if isinstance(body, dict):
        code = int(body.get("code") or 0)
        message = str(body.get("message") or message)
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
    cls = {403: Forbidden, 404: NotFound}.get(response.status_code, HTTPError)
    return cls(
        status=response.status_code,
        code=code,
        message=message,
        route=job.route.key,
        errors=errors,
    )
