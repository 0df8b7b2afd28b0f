"""The ``claude`` child process, owned by one actor.

Theory of operation
-------------------
:func:`open_claude` starts the CLI through the actors runtime's process helper
(``actors.open_process``: exec only, its own process group, the whole group SIGTERMed then
SIGKILLed when the block exits, however it exits) and runs four helper tasks in a nursery
of its own::

    stdout ─► pump ──(parse; update TurnState; wake waiters)──► offer()
                   └──(refused, or others wait)──► buffer ─► forwarder ─► deliver()
    stderr ─► drain (bounded tail, never stalls the child)
    watchdog: sleeps until TurnState's next deadline; on expiry reports and interrupts
    exit: after stdout EOF, waits for the exit status and reports ClaudeExited

Everything the CLI says reaches the owner as messages, in order. With an ``offer`` (a
synchronous deliver that never blocks, typically ``ctx.self.try_send``) the pump hands each
message over itself, with no task switch; only when ``offer`` refuses it (the mailbox is
full) does the message go to a buffer that a forwarder task empties through ``deliver``
(typically ``ctx.self.send`` of an actor with an ``Overflow.BLOCK_SENDER`` mailbox), and
later messages queue behind it there until the buffer is empty again. So a slow owner
still slows the CLI down (the buffer fills, then the pump stops reading) instead of losing
events. Without an ``offer`` every message takes the forwarder. The messages are:
:class:`ClaudeEvent` for each stdout line, :class:`ClaudeTimedOut` when a timeout fires,
:class:`ClaudeInterruptEscalated` when the CLI ignored an interrupt and was signalled, and
finally :class:`ClaudeExited`. The pump updates the state *before* the hand-over, so the
handle's own waits (a control response, a result after an interrupt) never depend on the
owner reading its mailbox.

The owner talks back through the :class:`ClaudeProcess` handle: user messages, answers to
``can_use_tool`` / elicitation requests, and our control requests (interrupt, model, mode).
Every write goes through one lock, because trio forbids two concurrent ``send_all`` calls
on a stream and the watchdog writes too.

Interrupts go through the control protocol first: it keeps the process and the session
alive and always ends the turn with a ``result``. Only if no result arrives within
``interrupt_grace`` does the handle signal the process group, SIGINT first (the CLI
exits 0 and keeps its session file resumable), then SIGTERM/SIGKILL.
"""

from __future__ import annotations

import collections
import logging
import math
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, Final

import attrs
import trio

import actors
from protocol.claude import control
from protocol.claude import events as ev
from protocol.claude.argv import ClaudeCommand, build_argv
from protocol.claude.framing import DEFAULT_MAX_LINE_BYTES, Sentinel, StreamJsonReader
from protocol.claude.turn import TaskItem, TimeoutKind, TurnState, next_deadline, timeout_due

log = logging.getLogger(__name__)

#: Events parsed but not yet taken by the owner. Past this the pump stops reading stdout
#: (backpressure onto the CLI); below it the handle keeps seeing results and responses
#: even while the owner is busy.
EVENT_BUFFER: Final = 1024

#: stderr kept for the exit report and the logs (the tail; older bytes are dropped).
STDERR_TAIL_BYTES: Final = 64 * 1024

#: Seconds between the control interrupt and SIGINT, and between SIGINT and SIGTERM.
#: The CLI answers an interrupt within ~0.03 s (research §c), so 5 s means it is stuck.
DEFAULT_INTERRUPT_GRACE: Final = 5.0

#: Seconds the CLI gets to exit after stdin EOF in :meth:`ClaudeProcess.close` before it
#: is signalled; it first finishes the turn in progress (research §c "stdin EOF").
DEFAULT_CLOSE_GRACE: Final = 10.0


# ---------------------------------------------------------------------------------------
# Messages delivered to the owner
# ---------------------------------------------------------------------------------------


@attrs.frozen
class ClaudeEvent:
    """One line the CLI wrote, parsed."""

    event: ev.Event
    at: float
    """``trio.current_time()`` when it was read."""


@attrs.frozen
class ClaudeTimedOut:
    """A turn exceeded a limit; the handle has already started interrupting it."""

    kind: TimeoutKind
    limit: float
    """The configured number of seconds."""


@attrs.frozen
class ClaudeInterruptEscalated:
    """The CLI did not end the turn after a control interrupt; it was sent ``signal``."""

    signal: int


@attrs.frozen
class ClaudeExited:
    """The process ended (always the last message)."""

    returncode: int
    """As in ``subprocess``: negative when killed by a signal. SIGINT gives 0."""
    stderr_tail: str
    """The end of what it wrote to stderr (for the log and error messages)."""
    results_seen: int
    """How many ``result`` lines it wrote: an exit without one lost a turn."""


ClaudeMessage = ClaudeEvent | ClaudeTimedOut | ClaudeInterruptEscalated | ClaudeExited
Deliver = Callable[[ClaudeMessage], Awaitable[Any]]
Offer = Callable[[ClaudeMessage], bool]
"""Takes a message now and says True, or leaves it and says False; never blocks."""


@attrs.frozen
class ControlRequestFailed(Exception):
    """The CLI answered one of our control requests with an error (its fault or ours; the
    message says which)."""

    subtype: str
    error: str
    error_code: str | None = None

    def __str__(self) -> str:
        return f"the claude CLI refused {self.subtype}: {self.error}"


@attrs.frozen
class ClaudeGone(Exception):
    """The process has exited; nothing more can be written to it."""

    returncode: int | None

    def __str__(self) -> str:
        return f"the claude process has exited (status {self.returncode})"


# ---------------------------------------------------------------------------------------
# Handing messages over
# ---------------------------------------------------------------------------------------


class _Handover:
    """Messages to the owner, in order: straight through ``offer`` while nothing waits in
    the buffer, otherwise into the buffer behind what waits there (the forwarder task
    delivers it). ``waiting`` counts what is in the buffer or being delivered, so a direct
    hand-over never overtakes a buffered message."""

    __slots__ = ("_buffer", "_offer", "waiting")

    def __init__(self, offer: Offer | None, buffer: trio.MemorySendChannel[ClaudeMessage]) -> None:
        self._offer = offer
        self._buffer = buffer
        self.waiting = 0

    def put_nowait(self, message: ClaudeMessage) -> bool:
        """Hand over or buffer ``message`` without waiting; False: the buffer is full."""
        if not self.waiting and self._offer is not None and self._offer(message):
            return True
        try:
            self._buffer.send_nowait(message)
        except trio.WouldBlock:
            return False
        self.waiting += 1
        return True

    async def put(self, message: ClaudeMessage) -> None:
        """Hand over or buffer ``message``, waiting for room in the buffer if it is full
        (the backpressure that stops the pump)."""
        if self.put_nowait(message):
            return
        self.waiting += 1
        try:
            await self._buffer.send(message)
        except BaseException:
            self.waiting -= 1
            raise

    async def forward(
        self, events: trio.MemoryReceiveChannel[ClaudeMessage], deliver: Deliver
    ) -> None:
        """The forwarder task: deliver what was buffered, in order."""
        async with events:
            async for message in events:
                try:
                    await deliver(message)
                finally:
                    self.waiting -= 1


# ---------------------------------------------------------------------------------------
# The handle
# ---------------------------------------------------------------------------------------


class _StderrTail:
    """The last ``limit`` bytes of stderr."""

    def __init__(self, limit: int) -> None:
        self._chunks: collections.deque[bytes | bytearray] = collections.deque()
        self._size = 0
        self._limit = limit
        self.total = 0

    def add(self, data: bytes | bytearray) -> None:
        self.total += len(data)
        self._chunks.append(data)
        self._size += len(data)
        while self._size - len(self._chunks[0]) >= self._limit:
            self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        return b"".join(self._chunks)[-self._limit :].decode("utf-8", "replace")


class ClaudeProcess:
    """The owner's handle on a running ``claude`` process (made by :func:`open_claude`).

    Reading: :attr:`turn` (the :class:`~protocol.claude.turn.TurnState`),
    :attr:`session_id`, :attr:`pid`, :meth:`stderr_tail`, :attr:`returncode`.
    """

    def __init__(
        self,
        proc: actors.OwnedProcess,
        *,
        deliver: Deliver,
        interrupt_grace: float,
        idle_timeout: float | None,
        total_timeout: float | None,
        tasks: tuple[TaskItem, ...] = (),
    ) -> None:
        self._proc = proc
        self._deliver = deliver
        """Where the handle's own reports go (into the same ordered buffer as events)."""
        self._lock = trio.Lock()
        self._ids = control.RequestIds()
        self._changed = trio.Event()
        self._watch = trio.Event()
        """Wakes the watchdog: set only when its deadline may have come earlier, not on
        every event (an event mostly pushes the idle deadline later)."""
        self._watch_until = math.inf
        """The deadline the watchdog sleeps until (``inf``: until woken)."""
        self._watch_fired_for: float | None = None
        """While set, the watchdog has fired for this turn and waits for another one."""
        self._responses: dict[str, ev.ControlResponse] = {}
        self._stderr = _StderrTail(STDERR_TAIL_BYTES)
        self._exited = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._escalating = False
        self._stdin_closed = False
        self.interrupt_grace = interrupt_grace
        self.idle_timeout = idle_timeout
        self.total_timeout = total_timeout
        self.turn = TurnState(tasks=tasks)
        """Starts with the task list an earlier turn of the conversation left (C16): the
        CLI keeps it across ``--resume``, and a TaskUpdate may name an earlier task."""
        self.results_seen = 0
        self.events_seen = 0

    # -- reading -----------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The CLI's pid (also its process group id)."""
        return self._proc.pid

    @property
    def session_id(self) -> str | None:
        """The latest session id the CLI reported (init and result events; ``/clear``
        changes it)."""
        return self.turn.session_id

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    @property
    def exited(self) -> bool:
        return self._exited.is_set()

    def stderr_tail(self) -> str:
        """The last bytes the CLI wrote to stderr."""
        return self._stderr.text()

    async def wait_exited(self) -> int:
        """Wait until the process has exited and been reaped; return its status."""
        await self._exited.wait()
        return self._proc.returncode if self._proc.returncode is not None else -signal.SIGKILL

    # -- writing -----------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """Write one stream-json message to stdin.

        Raises:
            ClaudeGone: the process has exited or its stdin is closed.

        *Cancellation*: a write cancelled halfway may have sent part of a line, and the
        next message would then be read as garbage. So a cancelled write closes stdin: the
        CLI finishes its current turn and exits, and later writes raise ``ClaudeGone``.
        """
        stdin = self._proc.stdin
        if stdin is None or self.exited or self._stdin_closed:
            raise ClaudeGone(self.returncode)
        async with self._lock:
            try:
                await stdin.send_all(control.encode_line(message))
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ClaudeGone(self.returncode) from exc
            except trio.Cancelled:
                self._stdin_closed = True
                with trio.CancelScope(shield=True), suppress(OSError, trio.BrokenResourceError):
                    await self._proc.close_stdin()
                raise

    async def send_user(
        self,
        text: str,
        *,
        images: tuple[control.ImageAttachment, ...] = (),
        text_files: tuple[control.TextAttachment, ...] = (),
    ) -> None:
        """Send a user message; a turn starts (or the message joins the running one)."""
        message = control.user_message(text, images=images, text_files=text_files)
        before = self.turn
        started = before if before.busy else before.start_turn(trio.current_time())
        # The turn starts before the write, so that events answering it find it started.
        self._update(started)
        try:
            await self.send(message)
        except BaseException:
            if self.turn is started:  # nothing arrived since: the turn never began
                self._update(before)
            raise

    async def answer(self, response: dict[str, Any]) -> None:
        """Send an answer built with :mod:`protocol.claude.control` (``allow``, ``deny``,
        ``answer_questions``, ``elicitation_response``, ``error_response``) and mark the
        pending prompt answered."""
        await self.send(response)
        request_id = response.get("response", {}).get("request_id")
        if isinstance(request_id, str):
            self._update(self.turn.answered(request_id, trio.current_time()))

    async def request(self, body: dict[str, Any], *, timeout: float = 10.0) -> dict[str, Any]:
        """Send one of our control requests and wait for its answer.

        Args:
            body: The request without envelope, e.g. ``{"subtype": "initialize", ...}``;
                prefer :meth:`set_model` and :meth:`set_permission_mode`, which validate.
            timeout: Seconds to wait for the answer.

        Returns:
            The ``response`` object of a success answer.

        Raises:
            ControlRequestFailed: the CLI answered with an error.
            ClaudeGone: the process exited first.
            trio.TooSlowError: no answer within ``timeout``.
        """

        def build(request_id: str) -> dict[str, Any]:
            return {"type": "control_request", "request_id": request_id, "request": body}

        return await self._round_trip(build, timeout)

    async def set_model(self, model: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Switch model. Raises :class:`~protocol.claude.control.ControlError` for an unknown
        model before anything is sent (the CLI would accept any name)."""
        return await self._round_trip(lambda rid: control.set_model_request(rid, model), timeout)

    async def set_permission_mode(self, mode: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Switch permission mode. Raises :class:`~protocol.claude.control.ControlError` for
        an unknown mode before anything is sent (the CLI would accept any name)."""
        return await self._round_trip(
            lambda rid: control.set_permission_mode_request(rid, mode), timeout
        )

    async def _round_trip(
        self, build: Callable[[str], dict[str, Any]], timeout: float
    ) -> dict[str, Any]:
        request_id = self._ids.next()
        message = build(request_id)
        await self.send(message)
        with trio.fail_after(timeout):
            while request_id not in self._responses:
                if self.exited:
                    raise ClaudeGone(self.returncode)
                await self._changed.wait()
        response = self._responses.pop(request_id)
        if not response.success:
            subtype = str(message["request"].get("subtype", ""))
            raise ControlRequestFailed(subtype, response.error or "", response.error_code)
        return response.response

    async def interrupt(self) -> None:
        """End the running turn: a control ``interrupt`` now; if no ``result`` follows
        within ``interrupt_grace`` seconds, SIGINT to the process group, then SIGTERM and
        SIGKILL. Returns once the request is written; the escalation runs in the
        background and is reported as :class:`ClaudeInterruptEscalated`.

        Does nothing when no turn is running or the process has exited.
        """
        if self.exited or not self.turn.busy or self._nursery is None:
            return
        results_before = self.results_seen
        request_id = self._ids.next()
        try:
            await self.send(control.interrupt_request(request_id))
        except ClaudeGone:
            return
        if not self._escalating:
            self._escalating = True
            self._nursery.start_soon(self._escalate, results_before)

    async def close(self, *, grace: float = DEFAULT_CLOSE_GRACE) -> int:
        """End the process gracefully: close stdin (the CLI finishes its turn and exits),
        wait up to ``grace`` seconds, then terminate the group. Returns the exit status.

        *Cancellation*: if cancelled, leaving :func:`open_claude`'s block still kills and
        reaps the process."""
        with trio.move_on_after(grace):
            # Inside the grace period: a write stuck on a full pipe holds the lock.
            await self._close_stdin()
            return await self.wait_exited()
        return await self._proc.terminate(self.interrupt_grace)

    # -- internals ---------------------------------------------------------------------

    def _update(self, state: TurnState) -> None:
        self.turn = state
        if self._changed.statistics().tasks_waiting:
            self._changed.set()
            self._changed = trio.Event()
        if not self._watch.is_set() and self._sooner_for_watchdog(state):
            self._watch.set()

    def _sooner_for_watchdog(self, state: TurnState) -> bool:
        """Whether ``state`` may need the watchdog before the deadline it sleeps until.

        Most events push the idle deadline later, which the watchdog finds when it wakes;
        only a deadline earlier than its own (a turn starting, the CLI no longer waiting
        for the host) or, after it fired, a new turn must wake it now."""
        if self._watch_fired_for is not None:
            return state.turn_started_at != self._watch_fired_for
        deadline = next_deadline(
            state, idle_timeout=self.idle_timeout, total_timeout=self.total_timeout
        )
        return deadline is not None and deadline < self._watch_until

    async def _close_stdin(self) -> None:
        self._stdin_closed = True
        async with self._lock:
            with suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                await self._proc.close_stdin()

    async def _escalate(self, results_before: int) -> None:
        try:
            if await self._result_within(results_before, self.interrupt_grace):
                return
            for sig in (signal.SIGINT, signal.SIGTERM):
                log.warning("claude pid %d ignored an interrupt; sending %s", self.pid, sig.name)
                if not self._proc.signal_group(sig):
                    return
                await self._deliver(ClaudeInterruptEscalated(int(sig)))
                with trio.move_on_after(self.interrupt_grace):
                    await self._exited.wait()
                    return
            await self._proc.terminate(0)
        finally:
            self._escalating = False

    async def _result_within(self, results_before: int, grace: float) -> bool:
        with trio.move_on_after(grace):
            while self.results_seen == results_before and not self.exited:
                await self._changed.wait()
            return self.results_seen > results_before
        return False


# ---------------------------------------------------------------------------------------
# Helper tasks
# ---------------------------------------------------------------------------------------


async def _pump_stdout(
    claude: ClaudeProcess,
    stdout: trio.abc.ReceiveStream,
    handover: _Handover,
    max_line_bytes: int,
) -> None:
    reader = StreamJsonReader(max_line_bytes=max_line_bytes)
    while True:
        try:
            data = await stdout.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        reader.receive_data(data)
        while not isinstance(event := reader.next_event(), Sentinel):
            now = trio.current_time()
            claude.events_seen += 1
            if isinstance(event, ev.Result):
                claude.results_seen += 1
            if isinstance(event, ev.ControlResponse):
                claude._responses[event.request_id] = event
            if isinstance(event, ev.Malformed):
                log.warning("claude pid %d wrote a bad line: %s", claude.pid, event.reason)
            claude._update(claude.turn.apply(event, now))
            message = ClaudeEvent(event, now)
            # No schedule point per event (``put`` awaits only a full buffer): the read of
            # the next chunk is one, so the lines of one chunk reach the owner together
            # (and wake it once).
            await handover.put(message)
            if (reply := control.automatic_reply(event)) is not None:
                # The CLI would wait forever for an answer nobody else will give.
                with suppress(ClaudeGone):
                    await claude.send(reply)
        if not data:
            return


async def _drain_stderr(claude: ClaudeProcess, stderr: trio.abc.ReceiveStream) -> None:
    while True:
        try:
            data = await stderr.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        if not data:
            return
        claude._stderr.add(data)


async def _watchdog(claude: ClaudeProcess) -> None:
    """Fire each timeout at most once per turn, then interrupt (escalating if needed)."""
    fired_for: float | None = None
    while not claude.exited:
        state = claude.turn
        deadline = next_deadline(
            state, idle_timeout=claude.idle_timeout, total_timeout=claude.total_timeout
        )
        claude._watch = trio.Event()
        if deadline is None or state.turn_started_at == fired_for:
            claude._watch_until = math.inf
            claude._watch_fired_for = fired_for if deadline is not None else None
            await claude._watch.wait()
            continue
        claude._watch_until, claude._watch_fired_for = deadline, None
        with trio.move_on_at(deadline):
            await claude._watch.wait()
            continue
        kind = timeout_due(
            claude.turn,
            trio.current_time(),
            idle_timeout=claude.idle_timeout,
            total_timeout=claude.total_timeout,
        )
        if kind is None:
            continue
        fired_for = claude.turn.turn_started_at
        limit = claude.total_timeout if kind is TimeoutKind.TOTAL else claude.idle_timeout
        log.warning(
            "claude pid %d: %s timeout (%.1f s); interrupting", claude.pid, kind.value, limit
        )
        await claude._deliver(ClaudeTimedOut(kind, float(limit or 0.0)))
        await claude.interrupt()


# ---------------------------------------------------------------------------------------
# open_claude
# ---------------------------------------------------------------------------------------


@asynccontextmanager
async def open_claude(
    command: ClaudeCommand,
    *,
    deliver: Deliver,
    offer: Offer | None = None,
    cwd: str | Path,
    env: Mapping[str, str],
    idle_timeout: float | None = None,
    total_timeout: float | None = None,
    interrupt_grace: float = DEFAULT_INTERRUPT_GRACE,
    term_grace: float = 5.0,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    tasks: tuple[TaskItem, ...] = (),
) -> AsyncIterator[ClaudeProcess]:
    """Run the ``claude`` CLI for the duration of the block.

    Args:
        command: What to start (argv from :func:`~protocol.claude.argv.build_argv`; the
            prompt never goes in argv, send it with :meth:`ClaudeProcess.send_user`).
        deliver: Called with every :data:`ClaudeMessage`, in order, from a helper task;
            usually ``ctx.self.send`` of the owning actor. With ``offer`` it gets only
            what ``offer`` refused, and what came after that while it was delivering.
        offer: Hands a message over without blocking (True) or refuses it (False: it
            goes to ``deliver`` through the buffer); usually ``ctx.self.try_send``. It
            saves a task switch per message; the order is the same either way.
        cwd: The working directory (it decides where the session file lives).
        env: The child's whole environment (build it with
            :func:`~protocol.claude.argv.child_env`).
        idle_timeout: Seconds without any event, while a turn runs and the CLI is not
            waiting for the host, before the turn is interrupted. ``None``: no limit.
        total_timeout: Seconds a turn may run before it is interrupted. ``None``: no limit.
        interrupt_grace: Seconds between the interrupt stages (control request, SIGINT,
            SIGTERM).
        term_grace: Seconds between SIGTERM and SIGKILL when the block exits.
        max_line_bytes: Longest stdout line kept (longer ones arrive as ``Malformed``).
        tasks: The task list the conversation has so far (C16; ``TurnState.tasks``).

    *Resource handling*: however the block exits (normally, by an exception, by the owning
    actor's stop or crash, or by cancellation) the process group gets SIGTERM, then
    SIGKILL after ``term_grace``, and the child is reaped (``actors.open_process``). Helper
    tasks end with the block. :class:`ClaudeExited` is delivered only if the process ended
    while the block was still open.

    *Error handling*: an error in ``deliver`` propagates out of the block (and crashes the
    owning actor, which is what should happen when it cannot take messages).
    """
    argv = build_argv(command)
    async with (
        actors.open_process(argv, cwd=cwd, env=env, term_grace=term_grace) as proc,
        trio.open_nursery() as nursery,
    ):
        send_buffer, receive_buffer = trio.open_memory_channel[ClaudeMessage](EVENT_BUFFER)
        handover = _Handover(offer, send_buffer)
        claude = ClaudeProcess(
            proc,
            deliver=handover.put,
            interrupt_grace=interrupt_grace,
            idle_timeout=idle_timeout,
            total_timeout=total_timeout,
            tasks=tasks,
        )
        claude._nursery = nursery
        stdout, stderr = proc.stdout, proc.stderr
        assert stdout is not None
        assert stderr is not None

        async def run_until_exit() -> None:
            # The buffer stays open after the exit: the forwarder may still be delivering
            # and ends with the block.
            await _pump_stdout(claude, stdout, handover, max_line_bytes)
            returncode = await proc.wait()
            claude._exited.set()
            claude._changed.set()
            claude._watch.set()
            await handover.put(ClaudeExited(returncode, claude.stderr_tail(), claude.results_seen))

        nursery.start_soon(run_until_exit)
        nursery.start_soon(handover.forward, receive_buffer, deliver)
        nursery.start_soon(_drain_stderr, claude, stderr)
        nursery.start_soon(_watchdog, claude)
        try:
            yield claude
        finally:
            nursery.cancel_scope.cancel()
