"""The session actor: one per Discord thread; owns its ``claude`` process and its view.

Theory of operation
-------------------
A session is a small state machine driven only by its mailbox (docs/architecture.md)::

                UserMessage / ResumeSession                 SlotGranted
      IDLE ─────────────────────────────────► QUEUED ───────────────────────► TURN
        ▲   (AcquireSlot to the limiter)        │  QueuePosition: notice       │
        │                                       │  StopTurn: leave the queue   │
        └───────────────────────────────────────┴──────── turn over ◄──────────┘
                                         (result or exit; slot released,
                                          next turn at once if messages wait)

* **A turn is one ``claude`` process** (``bridge.claude.process.open_claude``), started
  with ``--resume <session id>`` and a freshly built ``--append-system-prompt`` (K1, K3,
  K4), given every pending message over stdin in one user message (X3, C10), and closed
  (stdin EOF) once its ``result`` arrived. The process is held by a helper task in this
  actor's nursery (``turn.TurnProcess``), so however the actor ends, the process group
  ends with it.
* **Events** arrive as messages from the process helper, tagged with the turn's
  generation so a late event from an earlier process is ignored. The process keeps the
  :class:`~protocol.claude.turn.TurnState`; the session renders it
  (``presentation/view.py``) and saves the session id from every ``init`` and ``result``
  (``/clear`` changes it).
* **A new message during a turn** (C21) is kept and the turn is interrupted through the
  control protocol (the process helper escalates to signals if the CLI ignores it); the
  interrupted turn's ``result`` ends it and the next turn starts at once with every
  pending message. **/stop** (C9) interrupts too but starts nothing; the session stays
  resumable. Nothing typed is lost: each message leaves the store's inbox as ``DONE`` (its
  turn ended) or ``REJECTED`` (answered with an explanation).
* **Prompts to humans** (C14, ``presentation/prompts.py``): a ``can_use_tool`` request
  becomes a stored prompt with buttons and an expiry timer; while it waits the slot is
  given back (C8), and an answer (or the expiry) re-acquires a slot before the control
  response is written. A prompt answered after a restart answers the resumed turn's identical
  request.
* **Timers** run on trio's clock: the total turn timeout (the process helper interrupts
  and we post the notice, C11), the stall notice (C22, one pending check at a time), the
  tool embed tick (C4) and prompt expiry.
* **Shutdown** (A4): :class:`PrepareShutdown` interrupts the turn, marks the session for
  resume in the store, waits for the turn to end and the process to exit, then answers.

Slot grants are checked against the limiter (``GetSlots``) before a turn starts, because a
grant sent just before we left the queue may still be in the mailbox; running on such a
stale grant would break the concurrency limit.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import trio

import actors
from bridge.claude.process import (
    ClaudeEvent,
    ClaudeExited,
    ClaudeGone,
    ClaudeInterruptEscalated,
    ClaudeMessage,
    ClaudeProcess,
    ClaudeTimedOut,
)
from bridge.claude.sessions import config_dir, find_session_file, read_session_messages
from bridge.config import Config
from bridge.discord.errors import DiscordError
from bridge.sessions.attachments import AttachmentInfo
from bridge.sessions.messages import (
    AcquireSlot,
    AnswerPrompt,
    CoordinatorMessage,
    GetSessionStatus,
    GetSlots,
    GetTurnContext,
    LimiterMessage,
    PrepareShutdown,
    QueuePosition,
    ReleaseSlot,
    ResumeSession,
    SessionActivity,
    SessionFinished,
    SessionMessage,
    SessionStarted,
    SessionStatusReport,
    SlotGranted,
    SlotsSnapshot,
    StopTurn,
    TurnContext,
    UserMessage,
)
from bridge.sessions.presentation import prompts, render
from bridge.sessions.presentation.system_prompt import build_appended_prompt
from bridge.sessions.presentation.usage import thread_name
from bridge.sessions.presentation.view import Reaction, SessionRest, TurnView, edit, post
from bridge.sessions.resume import recorded_messages
from bridge.sessions.spending import record_spending
from bridge.sessions.turn import PendingMessage, TurnProcess, prepare_input, resume_failed
from bridge.store import (
    Database,
    InboxState,
    PromptRecord,
    PromptState,
    SessionRecord,
    SessionStatus,
)
from bridge.store.actor import StoreMessage, store_call
from protocol.claude import control
from protocol.claude import events as ev
from protocol.claude.argv import ClaudeCommand, child_env
from protocol.claude.turn import Activity, PendingKind, TimeoutKind

log = logging.getLogger(__name__)

__all__ = [
    "RESUME_PROMPT",
    "SESSION_MAILBOX",
    "SessionDeps",
    "session_actor",
    "session_child_spec",
]

RESUME_PROMPT: Final = (
    "The bridge restarted while you were working; please continue where you left off."
)

SESSION_MAILBOX: Final = actors.Mailbox(capacity=512, overflow=actors.Overflow.BLOCK_SENDER)
"""BLOCK_SENDER so the ``claude`` process helper waits for room instead of losing events
(a slow Discord slows the CLI down); routers and the limiter ``tell`` and handle
``MailboxFull`` themselves."""


@attrs.frozen(kw_only=True)
class SessionDeps:
    """Everything a session actor needs, built once by ``bridge/app.py``."""

    config: Config
    rest: SessionRest
    store: actors.Ref[StoreMessage]
    limiter: actors.Ref[LimiterMessage]
    coordinator: actors.Ref[CoordinatorMessage] | None = None
    claude_command: ClaudeCommand
    """The template for every turn (executable, model, permission mode); the session adds
    ``resume`` and ``append_system_prompt``."""
    claude_env: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ))
    """The base environment; secrets are removed per turn (X4)."""
    api_url: str | None = None
    """The bridge API, given to Claude for the lounge (K4)."""
    store_timeout: float = 30.0
    ask_timeout: float = 5.0
    """Seconds to wait for the limiter or coordinator before going on without them."""
    interrupt_grace: float = 5.0
    """Seconds the CLI has to end a turn after an interrupt before it is signalled."""
    close_grace: float = 10.0
    """Seconds the CLI has to exit after stdin EOF."""
    wall_clock: Callable[[], float] = time.time
    """Seconds since the epoch, for the store (timers use trio's clock)."""
    new_prompt_id: Callable[[], str] = prompts.new_prompt_id


def session_child_spec(
    deps: SessionDeps,
    *,
    shutdown: float = 30.0,
    behavior: actors.Behavior | None = None,
    api_url_for: Callable[[int], str] | None = None,
    backoff: actors.Backoff | None = None,
) -> actors.ChildSpec[SessionMessage]:
    """The dynamic-child template for the sessions supervisor (production and tests).

    Start a session with ``await sessions.start_child(thread_id, id=thread_id)``. TRANSIENT:
    a crash restarts it (its mailbox and the store survive; the new incarnation picks up
    the thread's pending messages), a normal end does not.

    ``behavior`` replaces :func:`session_actor` (tests pass a stand-in). ``api_url_for``
    gives each thread its own API URL (``deps.api_url``): it carries the session's token
    (``/s/<token>``), so the lounge ``curl`` the appended system prompt shows works for
    that session alone, and no ``claude`` child ever holds the admin secret (X4).
    """
    run: actors.Behavior = behavior or session_actor
    if api_url_for is not None:
        run = _with_own_api(run, api_url_for)
    return actors.ChildSpec(
        run,
        args=(deps,),
        restart=actors.Restart.TRANSIENT,
        shutdown=shutdown,
        backoff=backoff,
        mailbox=SESSION_MAILBOX,
    )


def _with_own_api(behavior: actors.Behavior, url_for: Callable[[int], str]) -> actors.Behavior:
    async def session_with_own_api(
        ctx: actors.Context[Any], deps: SessionDeps, thread_id: int
    ) -> None:
        await behavior(ctx, attrs.evolve(deps, api_url=url_for(thread_id)), thread_id)

    return session_with_own_api


# ---------------------------------------------------------------------------------------
# Messages to itself
# ---------------------------------------------------------------------------------------


@attrs.frozen
class _FromClaude:
    generation: int
    message: ClaudeMessage


@attrs.frozen
class _StallCheck:
    generation: int


@attrs.frozen
class _ToolTick:
    generation: int


@attrs.frozen
class _PromptExpired:
    prompt_id: str


class _Phase(enum.Enum):
    IDLE = "idle"
    QUEUED = "queued"
    TURN = "turn"


class _Interrupt(enum.Enum):
    MESSAGE = "message"
    STOP = "stop"
    TIMEOUT = "timeout"
    SHUTDOWN = "shutdown"


@attrs.define
class _LivePrompt:
    """A prompt whose request the running process is waiting for."""

    record: PromptRecord
    request_id: str
    timer: actors.TimerHandle | None
    answer: PromptRecord | None = None
    """Set once resolved; the response is written when a slot is granted again."""


# ---------------------------------------------------------------------------------------
# The actor
# ---------------------------------------------------------------------------------------


async def session_actor(ctx: actors.Context[Any], deps: SessionDeps, thread_id: int) -> None:
    """Run the session of ``thread_id`` until stopped.

    Loads the session record, its pending inbox messages and pending prompts from the
    store, then serves the messages of ``bridge.sessions.messages`` addressed to sessions.

    *Resource handling*: the ``claude`` process of a running turn is ended (stdin closed,
    then the process group terminated) however the actor ends; a held concurrency slot is
    freed by the limiter, which monitors us.
    """
    session = _Session(ctx, deps, thread_id)
    await session.load()
    ctx.started()
    try:
        async for msg in ctx.mailbox:
            await session.handle(msg)
    finally:
        with ctx.cleanup_scope():
            await session.end_process()


class _Session:
    def __init__(self, ctx: actors.Context[Any], deps: SessionDeps, thread_id: int) -> None:
        self.ctx = ctx
        self.deps = deps
        self.config = deps.config
        self.rest = deps.rest
        self.thread_id = thread_id
        self.record: SessionRecord | None = None
        self.phase = _Phase.IDLE
        self.pending: dict[int | None, PendingMessage] = {}
        self.delivered: list[int] = []
        self.batch: list[PendingMessage] = []
        """What the running turn carries (given back if the turn must be retried)."""
        self.resumed_with: str | None = None
        """The session id the running turn was started with (``--resume``)."""
        self.generation = 0
        self.owner: TurnProcess | None = None
        self.proc: ClaudeProcess | None = None
        self.view: TurnView | None = None
        self.holding_slot = False
        self.anchor_id: int | None = None
        self.reaction: Reaction | None = None
        self.drop_on_stop: list[int] = []
        self.queue_message_id: int | None = None
        self.queue_position: int | None = None
        self.stall_message_id: int | None = None
        self.stall_armed = False
        self.tick_timer: actors.TimerHandle | None = None
        self.interrupt: _Interrupt | None = None
        self.result: ev.Result | None = None
        self.prompt: _LivePrompt | None = None
        self.orphan_timers: dict[str, actors.TimerHandle] = {}
        self.shutting_down = False
        self.shutdown_asks: list[PrepareShutdown] = []
        self.stopped = False
        self.last_activity: str | None = None
        self.first_turn = True

    # -- store -------------------------------------------------------------------------

    async def _db(self, fn: Callable[[Database], Any]) -> Any:
        return await store_call(self.deps.store, fn, timeout=self.deps.store_timeout)

    async def _set_status(self, status: SessionStatus, **fields: Any) -> None:
        tid, now = self.thread_id, self.deps.wall_clock()
        self.record = await self._db(
            lambda db: db.update_session(tid, now, status=status, **fields)
        )

    async def load(self) -> None:
        tid = self.thread_id
        now = self.deps.wall_clock()
        working_dir = str(self.config.claude_working_dir)

        def load(db: Database) -> tuple[SessionRecord, list[Any], list[PromptRecord]]:
            record = db.get_session(tid)
            if record is None:
                record = SessionRecord(
                    thread_id=tid,
                    channel_id=tid,
                    working_dir=working_dir,
                    created_at=now,
                    updated_at=now,
                )
                db.put_session(record)
            return record, db.inbox(tid), db.prompts_pending(tid)

        self.record, inbox, pending_prompts = await self._db(load)
        self.stopped = self.record.status is SessionStatus.STOPPED
        strangers = [i.message_id for i in inbox if not self.config.is_allowed(i.author_id)]
        if strangers:
            # X5: never let them reach Claude, whoever recorded them.
            await self._db(lambda db: db.inbox_set_state(strangers, InboxState.REJECTED))
        for item in inbox:
            if item.message_id in strangers:
                continue
            self.pending[item.message_id] = PendingMessage(
                item.message_id,
                item.author_id,
                item.content,
                tuple(AttachmentInfo(**a) for a in item.attachments),
            )
        cut_off = self.record.status in (SessionStatus.RUNNING, SessionStatus.QUEUED)
        delivered = [
            (i.message_id, i.content)
            for i in inbox
            if i.state is InboxState.DELIVERED and i.message_id in self.pending
        ]
        if cut_off and delivered:
            recorded = await self._recorded(delivered)
            if recorded:
                # Claude has them already: they count as given, and "please continue"
                # resumes the turn instead of showing them twice (issue 10, point 7).
                await self._db(lambda db: db.inbox_set_state(recorded, InboxState.DONE))
                for message_id in recorded:
                    del self.pending[message_id]
        for record in pending_prompts:
            # The process that asked is gone: keep the prompt answerable until it expires.
            delay = max(0.0, record.expires_at - now)
            self.orphan_timers[record.prompt_id] = self.ctx.send_after(
                delay, _PromptExpired(record.prompt_id)
            )
        restarted = self.ctx.incarnation > 1
        if restarted and self.record.status in (SessionStatus.RUNNING, SessionStatus.QUEUED):
            # We crashed mid-turn; our supervisor restarted us. Continue at once.
            await self._notice(render.resumed_notice("crash"))
            if not self.pending:
                self.pending[None] = PendingMessage(None, 0, RESUME_PROMPT)
            self._request_slot()
            await self._set_status(SessionStatus.QUEUED)
        elif self.record.status in (SessionStatus.RUNNING, SessionStatus.QUEUED):
            # Not ours to resume (the app resumes marked sessions): just make the store
            # agree that nothing runs.
            await self._set_status(SessionStatus.IDLE)

    async def _recorded(self, cut_off: list[tuple[int, str]]) -> list[int]:
        """The messages of the cut-off turn that the CLI's session file already holds."""
        record = self.record
        if record is None or not record.session_id:
            return []
        try:
            path = await find_session_file(
                config_dir(self.deps.claude_env), Path(record.working_dir), record.session_id
            )
            conversation = await read_session_messages(path) if path is not None else []
        except (control.ControlError, OSError) as exc:
            # Unreadable: send them again (shown twice at worst, never lost).
            log.warning("thread %s: session file not readable: %s", self.thread_id, exc)
            return []
        return list(recorded_messages(cut_off, conversation))

    # -- dispatch ----------------------------------------------------------------------

    async def handle(self, msg: Any) -> None:
        match msg:
            case _FromClaude(generation=generation, message=message):
                if generation == self.generation and self.proc is not None:
                    await self._on_claude(message)
            case UserMessage():
                await self._on_user_message(msg)
            case SlotGranted():
                await self._on_slot_granted()
            case QueuePosition(position=position, running=running):
                await self._on_queue_position(position, running)
            case StopTurn(requested_by=user_id):
                await self._on_stop(user_id)
            case AnswerPrompt():
                await self._on_answer(msg)
            case _PromptExpired(prompt_id=prompt_id):
                await self._on_prompt_expired(prompt_id)
            case _StallCheck(generation=generation):
                if generation == self.generation:
                    self.stall_armed = False
                    await self._check_stall()
            case _ToolTick(generation=generation):
                if generation == self.generation and self.proc and self.view:
                    self.view.tick(self.proc.turn, trio.current_time())
            case ResumeSession(reason=reason):
                await self._on_resume(reason)
            case PrepareShutdown():
                await self._on_prepare_shutdown(msg)
            case GetSessionStatus():
                msg.reply(self.status_report())
            case _:
                log.warning("session %s: ignoring unexpected message %r", self.thread_id, msg)

    def status_report(self) -> SessionStatusReport:
        if self.phase is _Phase.TURN:
            # Running means holding a slot; a turn without one waits for a human (or for
            # the slot to write the human's answer, or for its cancelled prompt's turn
            # to end).
            status = "running" if self.holding_slot else "waiting"
        elif self.phase is _Phase.QUEUED:
            status = "queued"
        else:
            status = "stopped" if self.stopped else "idle"
        proc = self.proc
        return SessionStatusReport(
            thread_id=self.thread_id,
            status=status,
            session_id=self.record.session_id if self.record else None,
            claude_pid=proc.pid if proc is not None and not proc.exited else None,
            queue_position=self.queue_position if self.phase is _Phase.QUEUED else None,
            pending_messages=sum(1 for k in self.pending if k is not None),
        )

    # -- user messages, /stop, resume --------------------------------------------------

    async def _on_user_message(self, msg: UserMessage) -> None:
        if not self.config.is_allowed(msg.author_id):
            # The router already answered; never let such a message reach Claude (X5).
            mid = msg.message_id
            self.pending.pop(mid, None)
            await self._db(lambda db: db.inbox_set_state([mid], InboxState.REJECTED))
            return
        if self.shutting_down:
            # It stays pending in the inbox; the next start picks it up.
            await self._notice(render.shutting_down_notice())
            return
        self.pending[msg.message_id] = PendingMessage(
            msg.message_id, msg.author_id, msg.content, msg.attachments
        )
        self.pending.pop(None, None)  # a real message replaces "please continue"
        self.anchor_id = msg.message_id
        self.stopped = False
        if self.phase is _Phase.IDLE:
            if self.first_turn and self.record is not None and not self.record.title:
                title = thread_name(msg.content)
                tid, now = self.thread_id, self.deps.wall_clock()
                self.record = await self._db(lambda db: db.update_session(tid, now, title=title))
            self._request_slot()
            await self._set_status(SessionStatus.QUEUED)
        elif self.phase is _Phase.TURN and self.interrupt is None:
            await self._notice(render.interrupt_notice())
            await self._interrupt(_Interrupt.MESSAGE)

    async def _on_stop(self, user_id: int) -> None:
        if not self.config.is_allowed(user_id):
            return
        if self.phase is _Phase.IDLE:
            await self._notice(render.nothing_to_stop_notice())
        elif self.phase is _Phase.QUEUED:
            self._release_slot()
            self.phase = _Phase.IDLE
            dropped = await self._reject_pending()
            self.stopped = True
            await self._clear_queue_notice()
            await self._set_status(SessionStatus.STOPPED)
            await self._notice(render.stopped_notice(dropped))
        elif self.interrupt in (None, _Interrupt.MESSAGE):
            # Messages typed before /stop are dropped (and answered); later ones still run.
            self.drop_on_stop = [k for k in self.pending if k is not None]
            self.pending.pop(None, None)
            await self._interrupt(_Interrupt.STOP)

    async def _on_resume(self, reason: str) -> None:
        if self.phase is not _Phase.IDLE or self.shutting_down:
            return
        notice = await post(self.rest, self.thread_id, render.plain(render.resumed_notice(reason)))
        self.anchor_id = notice
        if not any(k is not None for k in self.pending):
            self.pending[None] = PendingMessage(None, 0, RESUME_PROMPT)
        tid, now = self.thread_id, self.deps.wall_clock()
        self.record = await self._db(
            lambda db: db.update_session(tid, now, resume_reason=None, status=SessionStatus.QUEUED)
        )
        self._request_slot()

    async def _reject_pending(self, only: list[int] | None = None) -> int:
        """Answer undelivered messages (all, or ``only`` these) with the stop notice;
        returns how many."""
        ids = [k for k in self.pending if k is not None and (only is None or k in only)]
        for k in ids:
            self.pending.pop(k, None)
        if only is None:
            self.pending.clear()
        if ids:
            await self._db(lambda db: db.inbox_set_state(ids, InboxState.REJECTED))
        return len(ids)

    # -- the concurrency slot ----------------------------------------------------------

    def _request_slot(self) -> None:
        if self.phase is _Phase.IDLE:
            self.phase = _Phase.QUEUED
        self.deps.limiter.tell(AcquireSlot(thread_id=self.thread_id, requester=self.ctx.self))

    def _release_slot(self) -> None:
        self.holding_slot = False
        with contextlib.suppress(actors.ActorStopped):
            self.deps.limiter.tell(ReleaseSlot(thread_id=self.thread_id))

    def _wants_slot(self) -> bool:
        if self.phase is _Phase.QUEUED:
            return True
        return (
            self.phase is _Phase.TURN
            and not self.holding_slot
            and self.prompt is not None
            and self.prompt.answer is not None
        )

    async def _grant_is_current(self) -> bool:
        """Whether the limiter really counts us as running (see the module docstring)."""
        try:
            snapshot: SlotsSnapshot = await self.deps.limiter.ask(
                GetSlots(), timeout=self.deps.ask_timeout
            )
        except (actors.ActorsError, trio.TooSlowError):
            return False
        return self.thread_id in snapshot.running

    async def _on_slot_granted(self) -> None:
        if self.holding_slot:
            return  # a duplicate of a grant we already acted on
        if not self._wants_slot():
            self._release_slot()  # a stale grant: give it straight back
            return
        if not await self._grant_is_current():
            return  # stale; the real grant (or a queue position) follows
        self.holding_slot = True
        self.queue_position = None
        await self._clear_queue_notice()
        if self.phase is _Phase.QUEUED:
            await self._start_turn()
        else:
            await self._send_prompt_answer()

    async def _on_queue_position(self, position: int, running: int) -> None:
        if not self._wants_slot():
            return
        self.queue_position = position
        payload = render.plain(render.queue_notice(position, running))
        if self.queue_message_id is None:
            self.queue_message_id = await post(self.rest, self.thread_id, payload)
        else:
            edit(self.rest, self.thread_id, self.queue_message_id, payload)
        if self.phase is _Phase.QUEUED:
            self._reaction().set(render.EMOJI_QUEUED)

    async def _clear_queue_notice(self) -> None:
        if self.queue_message_id is not None:
            message_id, self.queue_message_id = self.queue_message_id, None
            await self._delete(message_id)

    # -- starting a turn ---------------------------------------------------------------

    async def _start_turn(self) -> None:
        batch = list(self.pending.values())
        self.pending.clear()
        turn_input = await prepare_input(self.rest, batch)
        if turn_input.refusals:
            await self._notice(turn_input.refusals)
        context = await self._turn_context()
        record = self.record
        assert record is not None
        appended = build_appended_prompt(
            thread_id=self.thread_id,
            working_dir=record.working_dir,
            worktree_base_dir=self.config.worktree_base_dir,
            others=context.others,
            lounge=context.lounge,
            api_url=self.deps.api_url,
        )
        text = turn_input.text
        # Snapshot off: by default the CLI sends the first turn's system prompt again on
        # every --resume, so K3/K4 would freeze (tests/e2e/test_claude_cli_system_prompt.py).
        try:
            command = attrs.evolve(
                self.deps.claude_command,
                resume=record.session_id,
                append_system_prompt=appended,
                system_prompt_snapshot=False,
            )
        except control.ControlError as exc:
            log.error(
                "thread %s: stored session id rejected (%s); starting fresh", self.thread_id, exc
            )
            command = attrs.evolve(
                self.deps.claude_command,
                append_system_prompt=appended,
                system_prompt_snapshot=False,
            )
        # X4: neither the bot token nor the API secret may reach the child.
        secrets = [s for s in (self.config.discord_bot_token, self.config.api_secret) if s]
        env = child_env(
            self.deps.claude_env,
            thread_id=self.thread_id,
            api_url=self.deps.api_url,
            secrets=secrets,
        )
        self.generation += 1
        generation = self.generation
        ref = self.ctx.self

        async def deliver(message: ClaudeMessage) -> None:
            with contextlib.suppress(actors.ActorStopped):
                await ref.send(_FromClaude(generation, message))

        owner = TurnProcess(self.deps.close_grace)
        try:
            proc = await self.ctx.nursery.start(
                owner.run,
                command,
                deliver,
                record.working_dir,
                env,
                self.config.session_timeout_seconds,
                self.deps.interrupt_grace,
            )
        except OSError as exc:
            await self._start_failed(batch, f"`{command.executable}` could not be started: {exc}")
            return
        self.owner, self.proc = owner, proc
        self.phase = _Phase.TURN
        self.interrupt = None
        self.result = None
        self.delivered = [p.message_id for p in batch if p.message_id is not None]
        self.batch = batch
        self.resumed_with = command.resume
        self.view = TurnView(self.rest, self.thread_id, self._reaction())
        with contextlib.suppress(ClaudeGone):  # its exit arrives as ClaudeExited
            await proc.send_user(text, images=turn_input.images, text_files=turn_input.text_files)
        delivered = self.delivered
        if delivered:
            await self._db(lambda db: db.inbox_set_state(delivered, InboxState.DELIVERED))
        await self._set_status(SessionStatus.RUNNING)
        self.view.set_status(render.status_emoji(Activity.REQUESTING))
        self.tick_timer = self.ctx.start_timer(
            self.config.tool_timer_interval_seconds, _ToolTick(generation)
        )
        self._arm_stall(self.config.stall_notice_seconds)
        if self.deps.coordinator is not None:
            self._tell_coordinator(
                SessionStarted(
                    thread_id=self.thread_id,
                    title=record.title or f"thread {self.thread_id}",
                    working_dir=record.working_dir,
                )
            )
        self.first_turn = False

    async def _start_failed(self, batch: list[PendingMessage], error: str) -> None:
        log.error("thread %s: %s", self.thread_id, error)
        self._release_slot()
        self.phase = _Phase.IDLE
        ids = [p.message_id for p in batch if p.message_id is not None]
        if ids:
            await self._db(lambda db: db.inbox_set_state(ids, InboxState.REJECTED))
        await post(self.rest, self.thread_id, render.start_failed_notice(error))
        await self._set_status(SessionStatus.IDLE)

    async def _turn_context(self) -> TurnContext:
        if self.deps.coordinator is None:
            return TurnContext(others=(), lounge=())
        try:
            context: TurnContext = await self.deps.coordinator.ask(
                GetTurnContext(thread_id=self.thread_id), timeout=self.deps.ask_timeout
            )
        except (actors.ActorsError, trio.TooSlowError) as exc:
            log.warning("thread %s: no turn context from the coordinator: %s", self.thread_id, exc)
            return TurnContext(others=(), lounge=())
        return context

    def _tell_coordinator(self, msg: Any) -> None:
        if self.deps.coordinator is not None:
            self.deps.coordinator.offer(msg)

    # -- events from claude ------------------------------------------------------------

    async def _on_claude(self, message: ClaudeMessage) -> None:
        proc, view = self.proc, self.view
        assert proc is not None
        assert view is not None
        match message:
            case ClaudeEvent(event=event, at=now):
                await self._clear_stall()
                await view.on_event(event, proc.turn, now)
                await self._on_event(event, proc)
                if self.proc is proc and self.phase is _Phase.TURN:
                    turn = proc.turn
                    view.set_status(render.status_emoji(turn.activity, turn.current_tool))
                    self._report_activity()
                    if not self.stall_armed:
                        self._arm_stall(self.config.stall_notice_seconds)
            case ClaudeTimedOut(kind=kind, limit=limit):
                if kind is TimeoutKind.TOTAL and self.interrupt is None:
                    self.interrupt = _Interrupt.TIMEOUT
                    started = proc.turn.turn_started_at or trio.current_time()
                    await self._post_embed(
                        render.timeout_embed(limit, trio.current_time() - started)
                    )
            case ClaudeInterruptEscalated(signal=sig):
                log.warning(
                    "thread %s: claude ignored an interrupt; sent signal %d", self.thread_id, sig
                )
            case ClaudeExited(returncode=code, stderr_tail=tail):
                if self.result is None:
                    await self._end_turn(None, exit_code=code, stderr_tail=tail)

    async def _on_event(self, event: ev.Event, proc: ClaudeProcess) -> None:
        if isinstance(event, ev.SystemInit | ev.Result):
            await self._save_session_id(proc.session_id)
        if isinstance(event, ev.ControlRequest):
            await self._on_control_request(event, proc)
        elif isinstance(event, ev.ControlCancelRequest):
            await self._on_control_cancel(event.request_id)
        elif isinstance(event, ev.Result):
            self.result = event
            await self._record_spending(event, proc)
            await self._end_turn(event)

    async def _record_spending(self, event: ev.Result, proc: ClaudeProcess) -> None:
        """Budgets: charge the turn (to the author of the last message it answered) and
        post the notices due (``bridge.sessions.spending``)."""
        author = self.batch[-1].author_id if self.batch else None
        for text in await record_spending(
            self._db,
            self.config.budget,
            self.thread_id,
            proc.session_id,
            author,
            event,
            self.deps.wall_clock(),
        ):
            await self._notice(text)

    async def _save_session_id(self, session_id: str | None) -> None:
        if session_id and self.record is not None and session_id != self.record.session_id:
            tid, now = self.thread_id, self.deps.wall_clock()
            self.record = await self._db(
                lambda db: db.update_session(tid, now, session_id=session_id)
            )

    def _report_activity(self) -> None:
        proc = self.proc
        if proc is None:
            return
        activity = render.activity_phrase(proc.turn.activity, proc.turn.current_tool)
        if activity != self.last_activity:
            self.last_activity = activity
            status = "waiting" if self.prompt is not None else "running"
            self._tell_coordinator(
                SessionActivity(thread_id=self.thread_id, status=status, activity=activity)
            )

    # -- stall notice (C22) ------------------------------------------------------------

    def _arm_stall(self, delay: float) -> None:
        self.stall_armed = True
        self.ctx.send_after(delay, _StallCheck(self.generation))

    async def _check_stall(self) -> None:
        proc = self.proc
        if proc is None or self.phase is not _Phase.TURN:
            return
        threshold = self.config.stall_notice_seconds
        silent = proc.turn.silent_for(trio.current_time())
        if silent >= threshold:
            if self.stall_message_id is None:
                self.stall_message_id = await post(
                    self.rest, self.thread_id, render.plain(render.stall_notice(silent))
                )
                if self.view is not None:
                    self.view.set_status(render.EMOJI_STALLED)
            self._arm_stall(threshold)
        else:
            self._arm_stall(threshold - silent)

    async def _clear_stall(self) -> None:
        if self.stall_message_id is not None:
            message_id, self.stall_message_id = self.stall_message_id, None
            await self._delete(message_id)

    # -- prompts to humans (C14) -------------------------------------------------------

    async def _on_control_request(self, event: ev.ControlRequest, proc: ClaudeProcess) -> None:
        body = event.request
        if isinstance(body, ev.Elicitation):
            # C15 is not built yet: decline at once rather than leave the CLI waiting.
            await self._answer(proc, control.elicitation_response(event.request_id, "decline"))
            return
        if not isinstance(body, ev.CanUseTool):
            return  # the process helper answers unsupported requests itself
        if proc.turn.pending is not None and proc.turn.pending.kind is PendingKind.QUESTION:
            # C12 is not built yet: let Claude ask in plain text instead of hanging.
            await self._answer(
                proc,
                control.deny(
                    event.request_id,
                    "This bridge cannot show multiple-choice questions yet; ask the user in "
                    "plain text and wait for their reply.",
                ),
            )
            return
        tid = self.thread_id
        answered = await self._db(lambda db: db.prompts(tid, PromptState.ANSWERED))
        reusable = prompts.find_reusable(answered, body)
        if reusable is not None:
            response = prompts.control_response(reusable, event.request_id)
            reused = reusable
            await self._db(
                lambda db: db.prompt_set_answer(
                    reused.prompt_id, {**(reused.answer or {}), "applied": True}
                )
            )
            if response is not None:
                await self._answer(proc, response)
            await self._notice(f"-# 🔐 {prompts.outcome_line(reusable)} (answer given earlier)")
            return
        adopted = await self._adopt_orphan(event, body)
        if adopted:
            return
        record = prompts.permission_record(
            event,
            prompt_id=self.deps.new_prompt_id(),
            thread_id=tid,
            now=self.deps.wall_clock(),
            timeout=self.config.permission_timeout_seconds,
        )
        await self._db(lambda db: db.prompt_add(record))
        message_id = await post(
            self.rest,
            self.thread_id,
            prompts.render_pending(record, mention=self.config.discord_owner_id),
        )
        if message_id is not None:
            record = attrs.evolve(record, message_id=message_id)
            pid = record.prompt_id
            await self._db(lambda db: db.prompt_set_message(pid, message_id))
        timer = self.ctx.send_after(
            self.config.permission_timeout_seconds, _PromptExpired(record.prompt_id)
        )
        self.prompt = _LivePrompt(record, event.request_id, timer)
        if self.holding_slot:
            self._release_slot()  # C8: never hold a slot while a human is awaited
        self._tell_coordinator(
            SessionActivity(thread_id=tid, status="waiting", activity="waiting for permission")
        )

    async def _adopt_orphan(self, event: ev.ControlRequest, body: ev.CanUseTool) -> bool:
        """After a restart, the resumed turn asks again for what an unanswered prompt of
        the previous run shows: that prompt (its message, its buttons, its expiry) now
        answers this request, so nobody sees the same question twice."""
        if not self.orphan_timers:
            return False
        tid = self.thread_id
        pending: list[PromptRecord] = await self._db(lambda db: db.prompts_pending(tid))
        for record in pending:
            if record.prompt_id in self.orphan_timers and prompts.matches(record, body):
                timer = self.orphan_timers.pop(record.prompt_id)
                self.prompt = _LivePrompt(record, event.request_id, timer)
                if self.holding_slot:
                    self._release_slot()
                return True
        return False

    async def _answer(self, proc: ClaudeProcess, response: dict[str, Any]) -> None:
        with contextlib.suppress(ClaudeGone):  # the exit ends the turn
            await proc.answer(response)

    async def _on_answer(self, msg: AnswerPrompt) -> None:
        if not self.config.is_allowed(msg.user_id):
            log.warning("thread %s: user %s may not answer prompts", self.thread_id, msg.user_id)
            return
        pid = msg.prompt_id
        record: PromptRecord | None = await self._db(lambda db: db.prompt_get(pid))
        if record is None or record.thread_id != self.thread_id:
            return
        if not prompts.is_valid_choice(record, msg.choice):
            return
        live = self.prompt if self.prompt and self.prompt.record.prompt_id == pid else None
        answer = prompts.answer(
            msg.choice, msg.user_id, applied=live is not None, values=msg.values
        )
        resolved: PromptRecord | None = await self._db(
            lambda db: db.prompt_resolve(pid, PromptState.ANSWERED, answer, msg.user_id)
        )
        if resolved is None:
            return  # already answered, expired or withdrawn: resolved once
        await self._resolved(resolved, live)

    async def _on_prompt_expired(self, prompt_id: str) -> None:
        self.orphan_timers.pop(prompt_id, None)
        resolved: PromptRecord | None = await self._db(
            lambda db: db.prompt_resolve(prompt_id, PromptState.EXPIRED)
        )
        if resolved is None:
            return
        live = self.prompt if self.prompt and self.prompt.record.prompt_id == prompt_id else None
        await self._resolved(resolved, live)

    async def _resolved(self, resolved: PromptRecord, live: _LivePrompt | None) -> None:
        self._show_resolved(resolved)
        timer = self.orphan_timers.pop(resolved.prompt_id, None)
        if timer is not None:
            timer.cancel()
        if live is None:
            return
        if live.timer is not None:
            live.timer.cancel()
        live.answer = resolved
        if self.holding_slot:
            await self._send_prompt_answer()
        else:
            self._request_slot()

    async def _send_prompt_answer(self) -> None:
        live, proc = self.prompt, self.proc
        self.prompt = None
        if live is None or live.answer is None or proc is None:
            return
        response = prompts.control_response(live.answer, live.request_id)
        if response is not None:
            await self._answer(proc, response)
        if not self.stall_armed:
            self._arm_stall(self.config.stall_notice_seconds)

    def _show_resolved(self, resolved: PromptRecord) -> None:
        """Replace the prompt's buttons with its outcome (a non-blocking edit)."""
        if resolved.message_id is not None:
            edit(self.rest, self.thread_id, resolved.message_id, prompts.render_resolved(resolved))

    async def _withdraw_prompt(self, live: _LivePrompt) -> None:
        """The live prompt's request is gone (withdrawn, or its turn ended): stop its
        expiry timer and, if nobody answered it, resolve it as cancelled and say so.

        At shutdown an unanswered prompt stays pending instead: it can still be answered
        after the restart, and the resumed turn will ask again."""
        if live.timer is not None:
            live.timer.cancel()
        if live.answer is None and not self.shutting_down:
            pid = live.record.prompt_id
            resolved = await self._db(lambda db: db.prompt_resolve(pid, PromptState.CANCELLED))
            if resolved is not None:
                self._show_resolved(resolved)

    async def _on_control_cancel(self, request_id: str) -> None:
        live = self.prompt
        if live is None or live.request_id != request_id:
            return
        self.prompt = None
        await self._withdraw_prompt(live)
        if self.shutting_down and live.answer is None:
            self.orphan_timers[live.record.prompt_id] = self.ctx.send_after(
                max(0.0, live.record.expires_at - self.deps.wall_clock()),
                _PromptExpired(live.record.prompt_id),
            )
        if not self.holding_slot and self.phase is _Phase.TURN:
            # We may be queued for the answer's slot: leave the queue, the turn is ending.
            self._release_slot()

    # -- interrupting and ending turns -------------------------------------------------

    async def _interrupt(self, reason: _Interrupt) -> None:
        self.interrupt = reason
        if self.proc is not None:
            # A control interrupt, escalated to signals by the process helper if the CLI
            # does not end the turn; a no-op once the result is in.
            await self.proc.interrupt()

    async def _end_turn(
        self, result: ev.Result | None, *, exit_code: int | None = None, stderr_tail: str = ""
    ) -> None:
        """The turn is over (its ``result`` arrived, or the process exited without one)."""
        proc, view = self.proc, self.view
        assert proc is not None
        assert view is not None
        reason = self.interrupt
        interrupted = reason is not None  # the completion embed says "Interrupted", not "error"
        await self._clear_stall()
        if self.tick_timer is not None:
            self.tick_timer.cancel()
            self.tick_timer = None
        live, self.prompt = self.prompt, None
        # The turn is finished only if the process also exits 0: a successful ``result``
        # followed by a non-zero exit is a crash (issue 10, point 7), so the exit status
        # is awaited before anything is shown as done. An error result already says so.
        closed_with = await self.end_process()
        if result is not None and result.error_text is None and reason is None and closed_with:
            exit_code, stderr_tail, result = closed_with, proc.stderr_tail(), None
        await view.finish(proc.turn, result, trio.current_time(), interrupted=interrupted)
        if result is None:
            if reason is None or reason is _Interrupt.MESSAGE:
                await post(
                    self.rest, self.thread_id, render.crashed_notice(exit_code or 0, stderr_tail)
                )
            view.set_status(render.EMOJI_ERROR if reason is None else render.EMOJI_STOPPED)
        delivered, self.delivered = self.delivered, []
        batch, self.batch = self.batch, []
        if result is not None and self.resumed_with and resume_failed(result):
            # The stored conversation cannot be resumed (its file is gone, or it belongs
            # to another directory): start a new one with the same messages, or the
            # thread would fail the same way on every message.
            await self._restart_conversation(batch)
        else:
            if delivered:
                await self._db(lambda db: db.inbox_set_state(delivered, InboxState.DONE))
            await self._save_session_id(proc.session_id)
        if self.holding_slot or self._wants_slot():
            self._release_slot()
        if live is not None:
            await self._withdraw_prompt(live)
        self.phase = _Phase.IDLE
        self.interrupt = None
        self.last_activity = None
        outcome = {
            None: "done" if result is not None and result.error_text is None else "error",
            _Interrupt.MESSAGE: "interrupted",
            _Interrupt.STOP: "stopped",
            _Interrupt.TIMEOUT: "timed out",
            _Interrupt.SHUTDOWN: "shutdown",
        }[reason]
        self._tell_coordinator(SessionFinished(thread_id=self.thread_id, outcome=outcome))
        if self.shutting_down:
            await self._set_status(SessionStatus.IDLE, resume_reason="shutdown")
            self._answer_shutdown()
            return
        if reason is _Interrupt.STOP:
            dropped = await self._reject_pending(only=self.drop_on_stop)
            self.drop_on_stop = []
            await self._notice(render.stopped_notice(dropped))
            if not self.pending:
                self.stopped = True
                await self._set_status(SessionStatus.STOPPED)
                return
        if self.pending:
            self._request_slot()  # C21: the next turn starts at once
            await self._set_status(SessionStatus.QUEUED)
        else:
            stopped = reason is _Interrupt.TIMEOUT
            self.stopped = stopped
            await self._set_status(SessionStatus.STOPPED if stopped else SessionStatus.IDLE)

    async def _restart_conversation(self, batch: list[PendingMessage]) -> None:
        old = self.resumed_with
        tid, now = self.thread_id, self.deps.wall_clock()
        self.record = await self._db(lambda db: db.update_session(tid, now, session_id=None))
        for item in reversed(batch):
            if item.message_id not in self.pending:
                self.pending = {item.message_id: item, **self.pending}
        await self._notice(
            f"-# ♻️ The previous conversation ({old}) could not be resumed; starting a new one "
            "with your message."
        )
        self.resumed_with = None

    async def end_process(self) -> int | None:
        """Close the turn's process (stdin EOF, then terminate), forget it, and return its
        exit status (``None`` if there was none or it is unknown).

        *Cancellation*: the owner task is in the actor's nursery; if this wait is
        cancelled, the nursery's cancellation still ends the process group.
        """
        owner = self.owner
        self.owner, self.proc = None, None
        self.generation += 1  # late events from this process are ignored from now on
        if owner is None:
            return None
        return await owner.close()

    # -- shutdown (A4) -----------------------------------------------------------------

    async def _on_prepare_shutdown(self, msg: PrepareShutdown) -> None:
        self.shutting_down = True
        if self.phase is _Phase.TURN:
            self.shutdown_asks.append(msg)
            tid, now = self.thread_id, self.deps.wall_clock()
            self.record = await self._db(
                lambda db: db.update_session(tid, now, resume_reason="shutdown")
            )
            if self.interrupt is not _Interrupt.SHUTDOWN:
                await self._interrupt(_Interrupt.SHUTDOWN)
            return
        if self.phase is _Phase.QUEUED:
            self._release_slot()
            self.phase = _Phase.IDLE
            await self._clear_queue_notice()
            await self._set_status(SessionStatus.IDLE, resume_reason="shutdown")
        msg.reply(None)

    def _answer_shutdown(self) -> None:
        asks, self.shutdown_asks = self.shutdown_asks, []
        for ask in asks:
            ask.reply(None)

    # -- small helpers -----------------------------------------------------------------

    def _reaction(self) -> Reaction:
        """The status reaction on the current anchor (the latest user message), kept
        across queueing and the turn so an emoji is always replaced, never stacked."""
        if self.reaction is None or self.reaction.message_id != self.anchor_id:
            channel_id = self.thread_id
            if self.anchor_id == self.thread_id and self.record is not None:
                # The message a thread was started from keeps its id as the thread's id
                # and stays in the parent channel: react there, or Discord answers 404.
                channel_id = self.record.channel_id
            self.reaction = Reaction(self.rest, channel_id, self.anchor_id)
        return self.reaction

    async def _notice(self, text: str) -> None:
        await post(self.rest, self.thread_id, render.plain(text))

    async def _post_embed(self, embed: Any) -> None:
        await post(self.rest, self.thread_id, render.embeds_only(embed))

    async def _delete(self, message_id: int) -> None:
        try:
            await self.rest.delete_message(self.thread_id, message_id)
        except DiscordError as exc:
            log.info("thread %s: could not delete message %s: %s", self.thread_id, message_id, exc)
