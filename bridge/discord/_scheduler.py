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
* is allowed now by :class:`protocol.discord.ratelimit.RateLimiter` (bucket, global
  budget, reaction pacing, the invalid-request guard), which makes every rate-limit
  decision; asking it grants the slot, so the first job it allows is the one sent.

If none is, the scheduler sleeps until the earliest time one will be (or until a job is
queued or a lane frees). So a burst of edits can never delay an interaction response, and
a saturated global budget is spent on the most important work first; within a priority the
oldest job goes first, which is fair between sessions. One exception keeps status
reactions alive under a steady stream of edits: a reaction queued for more than
:data:`PROMOTE_AFTER` seconds joins the edits, where its age puts it first.

A job is built into an HTTP request only when it is sent, so a queued edit that absorbs a
newer edit (coalescing, done by the client) sends the newest content. Retries put the job
back at its old place in its queue: a 429 waits out ``retry_after`` (through the limits),
5xx and connection errors back off exponentially with jitter; creates carry a nonce, so a
retry after a lost response never duplicates a message.

The machine also decides the retry delays (5xx and connection errors, with jitter from our
rng), holds each global slot until a period after the response (Discord counts requests
when it processes them), and pads Discord's millisecond-rounded reset times; this module
only sleeps until the times it names.

Shedding: while the invalid requests of the last 10 minutes are over a threshold, jobs
marked ``sheddable`` (status reactions) are dropped when they come up, reported as
:class:`~bridge.discord.errors.RequestShed`, and jobs marked ``holdable`` (message edits,
whose last content must not be lost) wait until the window has room; essential traffic
goes on.

Persistent jobs (message creates and edits, completion embeds: everything a user would
miss) are never given up on a 429, a 5xx or a connection error: the machine keeps
answering ``RetryAt`` (``persistent`` on its tickets) for as long as the client runs. The
waiting is visible: every :data:`WAIT_REPORT_INTERVAL` seconds one log line names the
requests that have waited that long, and ``RestStats`` counts retries, the seconds they
were told to wait and the reports.
"""

from __future__ import annotations

import enum
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Final

import attrs
import httpx
import trio

from bridge.discord._direct import DirectSender
from bridge.discord.errors import (
    Forbidden,
    HTTPError,
    NotFound,
    RateLimitedTooLong,
    RequestShed,
)
from protocol.discord.mentions import apply_allowed_mentions
from protocol.discord.ratelimit import (
    CloudflareBlockedError,
    ConnectionRetriesExhausted,
    Done,
    GiveUp,
    RateLimitedError,
    RateLimiter,
    ResponseInfo,
    RetryAt,
    SendNow,
)
from protocol.discord.routes import CompiledRoute

__all__ = ["Job", "Priority", "RestStats", "Scheduler"]

logger = logging.getLogger("bridge.discord.rest")

MAX_IN_FLIGHT: Final = 128
WAIT_REPORT_INTERVAL: Final = 60.0
"""Seconds between the log lines about requests still waiting for Discord."""
PROMOTE_AFTER: Final = 5.0
"""Seconds a reaction may wait before it competes with edits as an equal (by age): under a
steady stream of edits the global budget is never free for priority 3, and a status
reaction that waits for the end of the stream is no status at all."""


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
    retry_wait_seconds: float = 0.0
    """Seconds of waiting that 429s (``retry_after``) and backoffs asked for, summed."""
    wait_reports: int = 0
    """Log lines about requests waiting a minute or more (one per minute of waiting)."""


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
    holdable: bool = False
    """Under invalid-request pressure, wait instead of being shed."""
    persistent: bool = False
    """Never given up on a 429, a 5xx or a connection error."""
    last_wait: str = ""
    """Why it last had to wait (the machine's reason), for the wait reports."""
    recover: Callable[[HTTPError, int], Awaitable[Any]] | None = None
    """Called with an HTTP error on a *retried* request; returns the result if the error
    just says the first attempt worked (e.g. 40060 already acknowledged)."""
    background: bool = False
    """Nobody awaits it: failures go to the failure listeners."""
    seq: int = 0
    queued_at: float = 0.0
    attempts: int = 0
    """HTTP attempts made (for stats and ``recover``)."""
    retries: int = 0
    """Attempts that the machine asked to retry (its ``attempt`` counter)."""
    connection_errors: int = 0
    not_before: float = -math.inf
    started: bool = False
    done: trio.Event = attrs.Factory(trio.Event)
    result: Any = None
    error: BaseException | None = None
    on_done: list[Callable[[Job], None]] = attrs.Factory(list)
    ticket: Any = None
    """The machine's grant for the attempt in flight."""
    ping_users: tuple[int, ...] = ()
    """Users a message body may ping (``allowed_mentions``); nobody else, ever."""
    lane: str = ""
    """Its lane (:func:`_lane`), named once when it is queued."""
    refused: tuple[int, float] | None = None
    """The limiter's last refusal: its ``generation`` then, and the deadline it named.
    Until that deadline, and while no slot was released since, asking again would get the
    same answer, so the scheduler does not ask (it walks every queued job on each wake)."""

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
        limits: RateLimiter,
        stats: RestStats,
        *,
        shed_threshold: int,
        on_background_failure: Callable[[Job, BaseException], None],
        direct: DirectSender | None = None,
    ) -> None:
        self.http = http
        self.direct = direct
        """Sends JSON requests past the client's layers (``_direct``); None: the client."""
        self.limits = limits
        self.stats = stats
        self.shed_threshold = shed_threshold
        self.on_background_failure = on_background_failure
        self.queues: dict[Priority, dict[int, Job]] = {p: {} for p in Priority}
        self.in_flight: set[str] = set()
        self.running: set[Job] = set()
        """Jobs with an attempt in flight."""
        self._seq = 0
        self._wakeup = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._idle = trio.lowlevel.ParkingLot()
        self.closed = False

    # -- queueing ----------------------------------------------------------------------------

    def submit(self, job: Job) -> Job:
        self._seq += 1
        job.seq = self._seq
        job.queued_at = trio.current_time()
        job.lane = _lane(job.route)
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
            nursery.start_soon(self._report_waits)
            task_status.started()
            while True:
                now = trio.current_time()
                job, wake = self._pick(now)
                if job is not None:
                    self._start(job, now)
                    continue
                self._wakeup = trio.Event()
                # The machine's deadlines are always after ``now`` (or inf: "after the next
                # response", which sets _wakeup).
                with trio.move_on_at(wake):
                    await self._wakeup.wait()

    async def _report_waits(self) -> None:
        """One log line per minute while requests wait for Discord (429s, 5xx, drops)."""
        while True:
            await trio.sleep(WAIT_REPORT_INTERVAL)
            now = trio.current_time()
            jobs = [j for q in self.queues.values() for j in q.values()] + list(self.running)
            waiting = [j for j in jobs if now - j.queued_at >= WAIT_REPORT_INTERVAL]
            if not waiting:
                continue
            oldest = min(waiting, key=lambda j: j.queued_at)
            self.stats.wait_reports += 1
            logger.warning(
                "REST: %d request(s) waiting for Discord for up to %.0f min; oldest: %s "
                "(%d attempt(s), last: %s); kept and retried as long as the bridge runs",
                len(waiting),
                (now - oldest.queued_at) / 60,
                oldest.route.route_key,
                oldest.attempts,
                oldest.last_wait or "queued behind the rate limits",
            )

    def _pick(self, now: float) -> tuple[Job | None, float]:
        wake = math.inf
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            return None, wake
        shedding = self.limits.invalid_request_count(now) >= self.shed_threshold
        self._promote_old_reactions(now)
        generation = self.limits.generation
        for priority in Priority:
            queue = self.queues[priority]
            blocked: set[str] = set()
            for job in list(queue.values()):
                if shedding and job.sheddable:
                    del queue[job.seq]
                    self._shed(job, now)
                    self._maybe_idle()
                    continue
                lane = job.lane
                if lane in self.in_flight or lane in blocked:
                    continue
                refused = job.refused
                if shedding and job.holdable:
                    at = self.limits.invalid_below_at(self.shed_threshold, now)
                    job.last_wait = "held: too many invalid requests in 10 minutes"
                elif job.not_before > now:
                    at = job.not_before
                elif refused is not None and refused[0] == generation and now < refused[1]:
                    at = refused[1]
                else:
                    decision = self.limits.acquire(
                        job.route, now, attempt=job.retries, persistent=job.persistent
                    )
                    if isinstance(decision, SendNow):
                        del queue[job.seq]
                        job.ticket = decision.ticket
                        job.refused = None
                        return job, wake
                    at = decision.deadline
                    job.refused = (generation, at)
                # Later jobs on this lane wait behind this one (order within a channel).
                blocked.add(lane)
                wake = min(wake, at)
        return None, wake

    def _promote_old_reactions(self, now: float) -> None:
        reactions = self.queues[Priority.REACTION]
        old = [j for j in reactions.values() if now - j.queued_at > PROMOTE_AFTER]
        if not old:
            return
        edits = self.queues[Priority.EDIT]
        for job in old:
            del reactions[job.seq]
            job.priority = Priority.EDIT
            edits[job.seq] = job
        # Oldest first among edits, so a promoted reaction goes before newer edits.
        self.queues[Priority.EDIT] = dict(sorted(edits.items()))

    def _shed(self, job: Job, now: float) -> None:
        self.stats.shed += 1
        error = RequestShed(
            route=job.route.route_key,
            invalid_requests=self.limits.invalid_request_count(now),
            threshold=self.shed_threshold,
        )
        self._fail(job, error)

    def _start(self, job: Job, now: float) -> None:
        assert self._nursery is not None
        job.started = True
        lane = job.lane
        self.in_flight.add(lane)
        self.running.add(job)
        self._nursery.start_soon(self._execute, job, lane)

    # -- one attempt -------------------------------------------------------------------------

    async def _execute(self, job: Job, lane: str) -> None:
        try:
            await self._attempt(job)
        except Exception as exc:
            logger.exception("REST %s failed unexpectedly", job.route.route_key)
            self._fail(job, exc)
        finally:
            self.running.discard(job)
            self.in_flight.discard(lane)
            self._wakeup.set()
            self._maybe_idle()

    async def _attempt(self, job: Job) -> None:
        try:
            request = job.build()
        except BaseException:
            # Nothing was sent (e.g. a rendered edit broke a limit): free the slot.
            self.limits.abandon(job.ticket, trio.current_time())
            raise
        # The one place every request passes: a message body allows exactly the pings its
        # caller asked for, whoever built it (protocol.discord.mentions).
        body = apply_allowed_mentions(job.route.route, request.json, job.ping_users)
        self.stats.requests[job.route.route_key] += 1
        job.attempts += 1
        ticket = job.ticket
        try:
            if self.direct is not None and request.files is None:
                response = await self.direct.send(
                    request.method, request.path, json=body, params=request.query
                )
            else:
                response = await self.http.request(
                    request.method,
                    request.path,
                    json=body if request.files is None else None,
                    data=({"payload_json": _dumps(body)} if request.files is not None else None),
                    files=request.files,
                    params=request.query,
                )
        except httpx.TransportError as exc:
            failed = self.limits.connection_failed(ticket, trio.current_time(), repr(exc))
            self._retry_connection(job, exc, failed)
            return
        except BaseException:
            self.limits.abandon(ticket, trio.current_time())
            raise
        now = trio.current_time()
        status = response.status_code
        outcome = self.limits.release(
            ticket,
            ResponseInfo(status=status, headers=response.headers, body=response.content),
            now,
        )
        scope = response.headers.get("x-ratelimit-scope")
        if status in (401, 403) or (status == 429 and scope != "shared"):
            self.stats.invalid_requests += 1
        if status == 429:
            self.stats.responses_429 += 1
            if response.headers.get("x-ratelimit-global", "").lower() == "true":
                self.stats.global_429 += 1
            logger.warning("429 on %s (scope %s): %s", job.route.route_key, scope, outcome)
        if isinstance(outcome, RetryAt):
            self._retry(job, outcome, now)
            return
        if isinstance(outcome, GiveUp):
            self._fail(job, _give_up_error(outcome.error, self.limits.max_wait))
            return
        assert isinstance(outcome, Done)
        body = _json_or_none(response)
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

    def _retry_connection(self, job: Job, error: BaseException, outcome: RetryAt | GiveUp) -> None:
        job.connection_errors += 1
        if isinstance(outcome, GiveUp):
            # The transport's own error says best what went wrong; the machine's says why
            # we stopped trying.
            assert isinstance(outcome.error, ConnectionRetriesExhausted)
            logger.warning("REST %s: %s", job.route.route_key, outcome.error)
            self._fail(job, error)
            return
        logger.warning(
            "REST %s failed (%r); retry %d at %.2f",
            job.route.route_key,
            error,
            job.connection_errors,
            outcome.deadline,
        )
        self._retry(job, outcome, trio.current_time())

    def _retry(self, job: Job, outcome: RetryAt, now: float) -> None:
        job.retries += 1
        job.last_wait = outcome.reason
        self.stats.retries += 1
        self.stats.retry_wait_seconds += max(0.0, outcome.deadline - now)
        job.not_before = outcome.deadline
        self._requeue(job)

    def _fail(self, job: Job, error: BaseException) -> None:
        if job.background:
            self.on_background_failure(job, error)
        job.finish(error=error)


def _lane(route: CompiledRoute) -> str:
    """One request in flight per lane: per route and major parameter, and one lane for all
    reaction routes of a channel (they share a bucket)."""
    if route.route.reaction:
        return f"reactions|{route.channel_id}"
    return f"{route.route_key}|{route.major}"


def _give_up_error(
    error: RateLimitedError | CloudflareBlockedError | ConnectionRetriesExhausted, max_wait: float
) -> BaseException:
    if isinstance(error, RateLimitedError):
        return RateLimitedTooLong(
            route=error.route,
            retry_after=error.retry_after,
            limit=max_wait,
            is_global=error.is_global,
            attempts=error.attempts,
        )
    return error


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


def _http_error(job: Job, response: httpx.Response, body: Any) -> HTTPError:
    code, message, errors = 0, response.reason_phrase, None
    if isinstance(body, dict):
        code = int(body.get("code") or 0)
        message = str(body.get("message") or message)
        errors = errors if isinstance(errors := body.get("errors"), dict) else None
    cls = {403: Forbidden, 404: NotFound}.get(response.status_code, HTTPError)
    return cls(
        status=response.status_code,
        code=code,
        message=message,
        route=job.route.route_key,
        errors=errors,
    )
