"""The session actor: one per Discord thread; reads its mailbox, feeds its machine, performs.

Theory of operation
-------------------
Every decision of a session lives in :class:`~bridge.sessions.machine.SessionMachine`
(pure, no IO; its docstring has the state and transition table). This actor does three
things only (docs/architecture.md, "Inside a session actor"):

1. **Read**: each mailbox message (a user message, a slot grant, a Claude event, a timer,
   a prompt answer, /stop, shutdown, resume) is turned into one machine *input*, after the
   store, the process or the clock supplied the facts the input carries (whether an
   author may talk to Claude, how long Claude has been silent, whether a prompt was
   resolved in the store, once).
2. **Feed** it to the machine, which returns *orders*.
3. **Perform** each order, in order, without ever holding the mailbox on Discord or on
   the ``claude`` process:

   * everything shown in the thread (text segments, tool embeds, the completion embed,
     notices, prompts, the status reaction) goes through the thread's
     :class:`~bridge.sessions.presentation.outbox.Outbox`: queued at once, sent in order by
     its sender task (posts keep a placeholder; edits keep the latest version);
   * starting a turn (downloading attachments, asking the coordinator, spawning
     ``claude``, writing the user message), writing a control response, interrupting and
     closing the process are helper tasks in the actor's nursery that report back through
     the mailbox (``_Started`` / ``_StartFailed`` / ``_Exited``), tagged with the turn's
     generation so a late report of an earlier process is ignored;
   * store writes and the limiter's grant check are awaited (local actors, not Discord).

So /stop takes effect as soon as the machine reads it: the interrupt is written by a
helper at once, and the turn ends when the process's ``result`` and exit are read, however
many posts are still queued for Discord.

Left out of the machine because they change no state of the session: the stopgap answers
until C12 and C15 land (a multiple-choice question is denied with "ask in plain text", an
elicitation declined, both written at once), naming the thread's record after its first
message, and presentation pacing (streamed text shown once per burst, the status emoji).

*Resource handling*: the ``claude`` process of a running turn is held by a helper task in
this actor's nursery (``turn.TurnProcess``), so however the actor ends, the process group
ends with it; a held concurrency slot is freed by the limiter, which monitors us; the
outbox is drained (bounded by the shutdown grace) when the actor ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import trio

import actors
from bridge.budget import over_text
from bridge.claude.process import (
    ClaudeEvent,
    ClaudeExited,
    ClaudeGone,
    ClaudeInterruptEscalated,
    ClaudeMessage,
    ClaudeProcess,
    ClaudeTimedOut,
    ControlRequestFailed,
)
from bridge.claude.sessions import config_dir, find_session_file, read_session_messages
from bridge.config import Config
from bridge.sessions import machine as sm
from bridge.sessions.approvers import approvers_of
from bridge.sessions.attachments import AttachmentInfo
from bridge.sessions.messages import (
    AcquireSlot,
    AnswerPrompt,
    ContinueParked,
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
    SetModel,
    SlotGranted,
    SlotsSnapshot,
    StopTurn,
    TurnContext,
    UserMessage,
)
from bridge.sessions.presentation import (
    elicitations,
    plans,
    prompt_views,
    prompts,
    questions,
    render,
)
from bridge.sessions.presentation.outbox import Outbox, Placeholder, Target
from bridge.sessions.presentation.system_prompt import build_appended_prompt
from bridge.sessions.presentation.usage import thread_name
from bridge.sessions.presentation.view import Reaction, SessionRest, TurnView
from bridge.sessions.resume import recorded_messages
from bridge.sessions.spending import parked_payload, record_spending
from bridge.sessions.turn import (
    PendingMessage,
    TurnProcess,
    prepare_input,
    resume_failed,
    session_command,
)
from bridge.sessions.usage_parked import park_at_usage_limit, parked_text, resumed_text
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
from protocol.claude.turn import Activity, PendingKind, TaskItem, TimeoutKind, TurnState
from protocol.claude.usage import usage_limit

log = logging.getLogger(__name__)

__all__ = [
    "RESUME_PROMPT",
    "SESSION_MAILBOX",
    "USAGE_RESUME_PROMPT",
    "SessionDeps",
    "session_actor",
    "session_child_spec",
]

RESUME_PROMPT: Final = (
    "The bridge restarted while you were working; please continue where you left off."
)
USAGE_RESUME_PROMPT: Final = (
    "The account's usage limit stopped you mid-turn and has reset now; please continue "
    "where you left off."
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
class _Fired:
    """A timer the machine armed; ``token`` tells a current timer from a replaced one."""

    timer: sm.Timer
    key: str
    token: int


@attrs.frozen
class _PromptShown:
    """A prompt's message was created: its id can be reported (C17 links it)."""

    prompt_id: str
    message_id: int


@attrs.frozen
class _ShowText:
    """Time to show the text streamed since the last time (``TurnView.flush``)."""


@attrs.frozen
class _Started:
    """The start helper spawned ``claude`` and wrote the user message."""

    generation: int
    owner: TurnProcess
    proc: ClaudeProcess
    resumed_with: str | None
    refusals: str | None


@attrs.frozen
class _StartFailed:
    generation: int
    error: str
    refusals: str | None


@attrs.frozen
class _Exited:
    """The close helper reaped the turn's process group: the turn's process is gone."""

    generation: int
    returncode: int
    stderr_tail: str


TEXT_FLUSH_SECONDS: Final = 0.1
"""How long streamed text may wait to be split into messages: Discord takes a few edits a
second per channel at most, so showing it more often costs the actor time for nothing."""

FOLD_EVERY: Final = 64
"""Claude events handled before their activity is folded in even though more are queued
(the mailbox hands out up to 64 between checkpoints): under a flood the status emoji and
the stall notice still follow within one batch."""

_TURN_STATES: Final = frozenset(
    {
        sm.State.RUNNING,
        sm.State.WAITING_FOR_HUMAN,
        sm.State.ANSWER_QUEUED,
        sm.State.INTERRUPTING,
    }
)


# ---------------------------------------------------------------------------------------
# The actor
# ---------------------------------------------------------------------------------------


async def session_actor(ctx: actors.Context[Any], deps: SessionDeps, thread_id: int) -> None:
    """Run the session of ``thread_id`` until stopped.

    Loads the session record, its pending inbox messages and pending prompts from the
    store, then serves the messages of ``bridge.sessions.messages`` addressed to sessions.
    """
    session = _Session(ctx, deps, thread_id)
    ctx.nursery.start_soon(session.outbox.run)
    await session.load()
    ctx.started()
    try:
        async for msg in ctx.mailbox:
            await session.handle(msg)
    finally:
        with ctx.cleanup_scope():
            await session.end_process()
            await session.outbox.drain()


class _Session:
    """The actor's state: the machine, and what performing its orders needs (the store's
    record, message contents, the process handle, the view, timers, placeholders). None
    of these fields decides anything."""

    def __init__(self, ctx: actors.Context[Any], deps: SessionDeps, thread_id: int) -> None:
        self.ctx = ctx
        self.deps = deps
        self.config = deps.config
        self.rest = deps.rest
        self.thread_id = thread_id
        self.machine = sm.SessionMachine(
            stall_seconds=deps.config.stall_notice_seconds,
            tick_seconds=deps.config.tool_timer_interval_seconds,
        )
        self.outbox = Outbox(deps.rest, thread_id)
        self.record: SessionRecord | None = None
        self.messages: dict[int, PendingMessage] = {}
        """The contents of stored messages the machine still holds, by id."""
        # The running turn.
        self.generation = 0
        self.owner: TurnProcess | None = None
        self.proc: ClaudeProcess | None = None
        self.turn: TurnState | None = None
        """The turn's last state (kept after the process is gone, for the end's view)."""
        self.view: TurnView | None = None
        self.resumed_with: str | None = None
        self.result: ev.Result | None = None
        self.usage_resets_at: float | None = None
        """The reset a ``rate_limit_event`` of the running turn announced (epoch seconds)."""
        self.exit_tail = ""
        self.timeout_limit = 0.0
        self.last_activity: str | None = None
        self.text_flush_armed = False
        self.activity_shown: tuple[Any, ...] | None = None
        """What :meth:`_show_activity` last showed, and from what (activity, tools, view,
        phrase, emoji): the same activity again shows nothing new."""
        self.unfolded = 0
        """Claude events handled whose activity is not folded in yet (:meth:`_fold`)."""
        # What is shown.
        self.anchor: Target | None = None
        """The latest user message (or resume notice): it carries the status reaction."""
        self.seen_mark: tuple[int, str] | None = None
        """(message id, emoji): the router's "seen" reaction on a message, not taken over
        by a status reaction yet (see :meth:`_reaction`)."""
        self.reaction: Reaction | None = None
        self.queue_notice: Placeholder | None = None
        self.stall_notice: Placeholder | None = None
        self.prompt_messages: dict[str, Placeholder] = {}
        # Prompts and timers.
        self.answers: dict[str, PromptRecord] = {}
        """Resolved prompts whose control response the machine may order written."""
        self.timers: dict[tuple[sm.Timer, str], tuple[int, actors.TimerHandle]] = {}
        self.timer_token = 0
        self.shutdown_asks: list[PrepareShutdown] = []
        self.reported: SessionActivity | None = None
        self.prompt_message_ids: dict[str, int] = {}
        """Prompt id -> the id of the message showing it, once known (C17 links it)."""
        """The status last reported to the coordinator (and so the dashboard, C17)."""

    # -- store -------------------------------------------------------------------------

    async def _db(self, fn: Callable[[Database], Any]) -> Any:
        return await store_call(self.deps.store, fn, timeout=self.deps.store_timeout)

    async def _update_session(self, **fields: Any) -> None:
        tid, now = self.thread_id, self.deps.wall_clock()
        self.record = await self._db(lambda db: db.update_session(tid, now, **fields))

    async def load(self) -> None:
        tid = self.thread_id
        now = self.deps.wall_clock()
        working_dir = str(self.config.claude_working_dir)

        def load(
            db: Database,
        ) -> tuple[SessionRecord, list[Any], list[PromptRecord], float | None]:
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
            return record, db.inbox(tid), db.prompts_pending(tid), db.usage_parked_until(tid)

        self.record, inbox, pending_prompts, usage_until = await self._db(load)
        for prompt in pending_prompts:
            if prompt.message_id is not None:
                self.prompt_message_ids[prompt.prompt_id] = prompt.message_id
        allowed = [i for i in inbox if self.config.is_allowed(i.author_id)]
        for item in allowed:
            self.messages[item.message_id] = PendingMessage(
                item.message_id,
                item.author_id,
                item.content,
                tuple(AttachmentInfo(**a) for a in item.attachments),
            )
        recorded: list[int] = []
        if self.record.status in (SessionStatus.RUNNING, SessionStatus.QUEUED):
            cut_off = [
                (i.message_id, i.content) for i in allowed if i.state is InboxState.DELIVERED
            ]
            if cut_off:
                recorded = await self._recorded(cut_off)
        await self.feed(
            sm.Loaded(
                status=self.record.status,
                pending=tuple(i.message_id for i in allowed),
                restarted=self.ctx.incarnation > 1,
                recorded=tuple(recorded),
                prompts=tuple((r.prompt_id, max(0.0, r.expires_at - now)) for r in pending_prompts),
                usage_resume_in=None if usage_until is None else usage_until - now,
            )
        )
        for item in inbox:
            if item not in allowed:
                # X5: never let them reach Claude, whoever recorded them.
                await self.feed(sm.MessageStored(item.message_id, allowed=False))

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

    # -- read: mailbox messages become inputs -------------------------------------------

    async def handle(self, msg: Any) -> None:
        """Handle one message. The activity of Claude events (the machine's
        ``ClaudeActivity``, the status emoji and phrase, the report to the coordinator) is
        folded in once per drained batch: after the last queued one, before any other
        message, or every ``FOLD_EVERY`` events; each would only overwrite the one before."""
        claude_event = isinstance(msg, _FromClaude) and isinstance(msg.message, ClaudeEvent)
        if not claude_event:
            await self._fold()
        await self._handle(msg)
        if claude_event and self.unfolded < FOLD_EVERY and len(self.ctx.mailbox):
            return
        await self._fold()
        self._report()

    async def _fold(self) -> None:
        """Fold in the activity of the Claude events handled since the last fold."""
        if not self.unfolded:
            return
        self.unfolded = 0
        await self.feed(sm.ClaudeActivity())
        proc = self.proc
        if proc is not None and self.machine.state in _TURN_STATES:
            self._show_activity(proc)

    async def _handle(self, msg: Any) -> None:
        match msg:
            case _FromClaude(generation=generation, message=message):
                if generation == self.generation and self.proc is not None:
                    await self._on_claude(self.proc, message)
            case UserMessage():
                await self._on_user_message(msg)
            case SlotGranted():
                await self.feed(sm.SlotGranted())
            case QueuePosition(position=position, running=running, held=held):
                await self.feed(sm.QueuePositionIs(position, running, held))
            case StopTurn(requested_by=user_id):
                await self.feed(sm.Stop(allowed=self.config.is_allowed(user_id)))
            case SetModel():
                await self._on_set_model(msg)
            case AnswerPrompt():
                await self._on_answer(msg)
            case _Fired():
                await self._on_timer(msg)
            case _PromptShown(prompt_id=prompt_id, message_id=message_id):
                self.prompt_message_ids[prompt_id] = message_id  # reported by handle()
            case _ShowText():
                self.text_flush_armed = False
                if self.view is not None:
                    self.view.flush()
            case _Started(generation=generation):
                if generation == self.generation:
                    await self._on_started(msg)
                else:  # started for an actor that already moved on: end it
                    self.ctx.nursery.start_soon(msg.owner.close)
            case _StartFailed(generation=generation, error=error, refusals=refusals):
                if generation == self.generation:
                    log.error("thread %s: %s", self.thread_id, error)
                    self._notice_refusals(refusals)
                    await self.feed(sm.StartFailed(error))
            case _Exited(generation=generation, returncode=code, stderr_tail=tail):
                if generation == self.generation and self.proc is not None:
                    await self._exited(code, tail)
            case ResumeSession(reason=reason):
                await self.feed(sm.Resume(reason))
            case ContinueParked(approved_by=user_id, extra_usd=extra):
                await self.feed(sm.Unpark(f"<@{user_id}> let it continue with +${extra:.2f}"))
            case PrepareShutdown():
                self.shutdown_asks.append(msg)
                await self.feed(sm.Shutdown())
            case GetSessionStatus():
                msg.reply(self.status_report())
            case _:
                log.warning("session %s: ignoring unexpected message %r", self.thread_id, msg)

    def status_report(self) -> SessionStatusReport:
        machine, proc = self.machine, self.proc
        return SessionStatusReport(
            thread_id=self.thread_id,
            status=machine.status,
            session_id=self.record.session_id if self.record else None,
            claude_pid=proc.pid if proc is not None and not proc.exited else None,
            queue_position=(machine.queue_position if machine.state is sm.State.QUEUED else None),
            pending_messages=len(machine.pending),
        )

    async def _on_user_message(self, msg: UserMessage) -> None:
        allowed = self.config.is_allowed(msg.author_id)
        if allowed:
            self.messages[msg.message_id] = PendingMessage(
                msg.message_id, msg.author_id, msg.content, msg.attachments
            )
            self.anchor = msg.message_id
            if msg.seen_reaction is not None:
                self.seen_mark = (msg.message_id, msg.seen_reaction)
            if self.record is not None and not self.record.title:
                await self._update_session(title=thread_name(msg.content))
        await self.feed(sm.MessageStored(msg.message_id, allowed=allowed))

    async def _on_claude(self, proc: ClaudeProcess, message: ClaudeMessage) -> None:
        match message:
            case ClaudeEvent(event=event, at=now):
                self.turn = proc.turn
                view = self.view
                if view is not None:
                    view.show(event, proc.turn, now)
                    if view.text_waiting and not self.text_flush_armed:
                        # Streamed text is split and shown a moment later, once for a
                        # burst of deltas (presentation pacing, not a session decision).
                        self.text_flush_armed = True
                        self.ctx.send_after(TEXT_FLUSH_SECONDS, _ShowText())
                if isinstance(event, ev.SystemInit | ev.Result):
                    await self._save_session_id(proc.session_id)
                if isinstance(event, ev.Unknown):
                    announced = usage_limit(event)
                    if announced is not None:
                        self.usage_resets_at = announced.resets_at
                self.unfolded += 1
                if isinstance(event, ev.ControlRequest | ev.ControlCancelRequest | ev.Result):
                    # The machine sees the activity before what follows from the event.
                    await self.feed(sm.ClaudeActivity())
                if isinstance(event, ev.ControlRequest):
                    await self._on_control_request(event, proc)
                elif isinstance(event, ev.ControlCancelRequest):
                    await self.feed(sm.ControlCancelled(event.request_id))
                elif isinstance(event, ev.Result):
                    self.result = event
                    await self._record_spending(event, proc)
                    await self._check_usage_limit(event)
                    await self.feed(
                        sm.ClaudeResult(
                            error=event.error_text is not None,
                            resume_failed=bool(self.resumed_with) and resume_failed(event),
                        )
                    )
            case ClaudeTimedOut(kind=kind, limit=limit):
                if kind is TimeoutKind.TOTAL:
                    self.timeout_limit = limit
                    await self.feed(sm.TotalTimeout())
            case ClaudeInterruptEscalated(signal=sig):
                log.warning(
                    "thread %s: claude ignored an interrupt; sent signal %d", self.thread_id, sig
                )
            case ClaudeExited(stderr_tail=tail):
                # The main process is gone; its group may not be yet. The turn ends when
                # the close helper has reaped it all (``_Exited``), so that a slot is
                # never given back while a process of this turn still runs.
                self.exit_tail = tail
                self._close()

    async def _exited(self, returncode: int, stderr_tail: str) -> None:
        """The close helper reaped the process and its group."""
        proc, self.proc = self.proc, None
        if proc is not None:
            self.turn = proc.turn
        self.exit_tail = stderr_tail or self.exit_tail
        await self.feed(sm.ClaudeExited(returncode))

    async def _on_started(self, msg: _Started) -> None:
        self.owner, self.proc = msg.owner, msg.proc
        self.turn = msg.proc.turn
        self.resumed_with = msg.resumed_with
        self.result = None
        self._notice_refusals(msg.refusals)
        self.view = TurnView(
            self.rest, self.thread_id, self._reaction(), self.outbox, tasks=msg.proc.turn.tasks
        )
        self.view.set_status(render.status_emoji(Activity.REQUESTING))
        record = self.record
        if record is not None:
            self._tell_coordinator(
                SessionStarted(
                    thread_id=self.thread_id,
                    title=record.title or f"thread {self.thread_id}",
                    working_dir=record.working_dir,
                )
            )
        await self.feed(sm.TurnStarted())

    async def _on_timer(self, fired: _Fired) -> None:
        key = (fired.timer, fired.key)
        current = self.timers.get(key)
        if current is None or current[0] != fired.token:
            return  # replaced or cancelled after it fired
        if fired.timer is sm.Timer.TOOL_TICK:
            if self.proc is not None and self.view is not None:
                self.view.tick(self.proc.turn, trio.current_time())
            return
        del self.timers[key]
        if fired.timer is sm.Timer.STALL:
            proc = self.proc
            silent = proc.turn.silent_for(trio.current_time()) if proc is not None else 0.0
            await self.feed(sm.StallCheck(silent))
        elif fired.timer is sm.Timer.USAGE_RESET:
            tid = self.thread_id
            await self._db(lambda db: db.usage_resumed(tid))
            await self.feed(sm.UsageReset())
        else:
            pid = fired.key
            resolved = await self._db(lambda db: db.prompt_resolve(pid, PromptState.EXPIRED))
            if resolved is not None:
                await self._resolved(resolved)

    # -- prompts to humans (C14) -------------------------------------------------------

    async def _on_control_request(self, event: ev.ControlRequest, proc: ClaudeProcess) -> None:
        body = event.request
        if isinstance(body, ev.Elicitation):
            await self._on_elicitation(event)
            return
        if not isinstance(body, ev.CanUseTool):
            return  # the process helper answers unsupported requests itself
        question = proc.turn.pending is not None and proc.turn.pending.kind is PendingKind.QUESTION
        if question and not questions.parse_questions(body.input):
            self._write(
                proc,
                control.deny(
                    event.request_id,
                    "AskUserQuestion needs at least one question with its text; nothing was "
                    "shown to the user.",
                ),
            )
            return
        tid = self.thread_id
        answered = await self._db(lambda db: db.prompts(tid, PromptState.ANSWERED))
        reusable = prompts.find_reusable(answered, body, plan=proc.turn.plan)
        if reusable is not None:
            # Answered after the asking process was gone: that answer is this one's.
            reused = reusable
            await self._db(
                lambda db: db.prompt_set_answer(
                    reused.prompt_id, {**(reused.answer or {}), "applied": True}
                )
            )
            self.answers[reused.prompt_id] = reused
            self._notice(f"-# 🔐 {prompt_views.outcome_line(reused)} (answer given earlier)")
            await self.feed(sm.PermissionAnsweredBefore(reused.prompt_id, event.request_id))
            return
        now = self.deps.wall_clock()
        adopted = await self._orphan_for(body, proc.turn.plan)
        if adopted is not None:
            # The resumed turn asks what an unanswered prompt of the previous run shows:
            # that prompt (message, buttons, expiry) answers it, nobody is asked twice.
            await self.feed(
                sm.PermissionAsked(
                    adopted.prompt_id,
                    event.request_id,
                    max(0.0, adopted.expires_at - now),
                    answered_by_message=prompt_views.is_question(adopted),
                )
            )
            return
        plan = proc.turn.pending is not None and proc.turn.pending.kind is PendingKind.PLAN
        if question:
            timeout = self.config.question_timeout_seconds
            record = questions.question_record(
                event, prompt_id=self.deps.new_prompt_id(), thread_id=tid, now=now, timeout=timeout
            )
        elif plan:
            timeout = self.config.plan_timeout_seconds
            record = plans.plan_record(
                event,
                plan=proc.turn.plan,
                prompt_id=self.deps.new_prompt_id(),
                thread_id=tid,
                now=now,
                timeout=timeout,
            )
        else:
            timeout = self.config.permission_timeout_seconds
            record = prompts.permission_record(
                event, prompt_id=self.deps.new_prompt_id(), thread_id=tid, now=now, timeout=timeout
            )
        await self._db(lambda db: db.prompt_add(record))
        shown = self.outbox.post(prompt_views.render_pending(record, mention=self._owner_ping()))
        self.prompt_messages[record.prompt_id] = shown
        self.ctx.nursery.start_soon(self._remember_prompt_message, record.prompt_id, shown)
        await self.feed(
            sm.PermissionAsked(
                record.prompt_id, event.request_id, timeout, answered_by_message=question
            )
        )

    def _owner_ping(self) -> int | None:
        """The owner, mentioned with a prompt that starts a wait (C17), else nobody."""
        return self.config.discord_owner_id if self.machine.starts_waiting else None

    async def _on_elicitation(self, event: ev.ControlRequest) -> None:
        """C15: an MCP server asks for input; shown as a form or a link."""
        timeout = self.config.elicitation_timeout_seconds
        record = elicitations.elicitation_record(
            event,
            prompt_id=self.deps.new_prompt_id(),
            thread_id=self.thread_id,
            now=self.deps.wall_clock(),
            timeout=timeout,
        )
        await self._db(lambda db: db.prompt_add(record))
        shown = self.outbox.post(prompt_views.render_pending(record, mention=self._owner_ping()))
        self.prompt_messages[record.prompt_id] = shown
        self.ctx.nursery.start_soon(self._remember_prompt_message, record.prompt_id, shown)
        await self.feed(sm.PermissionAsked(record.prompt_id, event.request_id, timeout))

    async def _orphan_for(self, body: ev.CanUseTool, plan: str | None) -> PromptRecord | None:
        if not self.machine.orphans:
            return None
        tid = self.thread_id
        pending: list[PromptRecord] = await self._db(lambda db: db.prompts_pending(tid))
        for record in pending:
            if record.prompt_id in self.machine.orphans and prompts.matches(
                record, body, plan=plan
            ):
                return record
        return None

    async def _remember_prompt_message(self, prompt_id: str, shown: Placeholder) -> None:
        """A helper: once Discord created the prompt's message, store its id (so the
        outcome can replace the buttons after a restart too)."""
        await shown.wait_sent()
        message_id = shown.id
        if message_id is not None:
            with contextlib.suppress(actors.ActorsError, trio.TooSlowError):
                await self._db(lambda db: db.prompt_set_message(prompt_id, message_id))
            with contextlib.suppress(actors.ActorStopped):
                await self.ctx.self.send(_PromptShown(prompt_id, message_id))

    async def _on_answer(self, msg: AnswerPrompt) -> None:
        pid = msg.prompt_id
        record: PromptRecord | None = await self._db(lambda db: db.prompt_get(pid))
        if record is None or record.thread_id != self.thread_id:
            return
        # Checked again here, whoever told us: approvers answer approvals (by id or role).
        if not approvers_of(self.config).may_answer(record.kind, msg.user_id, msg.role_ids):
            log.warning("thread %s: user %s may not answer prompts", self.thread_id, msg.user_id)
            return
        applied = self.machine.awaits(pid)
        if prompt_views.is_question(record):
            await self._on_question_answer(record, msg, applied=applied)
            return
        if prompt_views.is_plan(record):
            answer = plans.answer_for(msg.choice, msg.values, msg.user_id, applied=applied)
            if answer is None:
                return  # "Revise…" only opened the modal, or junk
        elif prompt_views.is_elicitation(record):
            answer = elicitations.answer_for(
                record, msg.choice, msg.values, msg.user_id, applied=applied
            )
            if answer is None:
                return  # "Fill in…" only opened the modal, a form that does not validate
        elif not prompts.is_valid_choice(record, msg.choice):
            return
        else:
            answer = prompts.answer(msg.choice, msg.user_id, applied=applied, values=msg.values)
        resolved: PromptRecord | None = await self._db(
            lambda db: db.prompt_resolve(pid, PromptState.ANSWERED, answer, msg.user_id)
        )
        if resolved is not None:  # None: already answered, expired or withdrawn
            await self._resolved(resolved)

    async def _on_question_answer(
        self, record: PromptRecord, msg: AnswerPrompt, *, applied: bool
    ) -> None:
        """C12: one question answered; the answer goes back once all of them are."""
        pick = questions.parse_pick(msg.choice)
        if record.state is not PromptState.PENDING or pick is None:
            return
        answers = questions.apply_pick(record, questions.partial(record), pick, msg.values)
        if answers is None:
            return  # a stale click (already answered) or junk
        pid = record.prompt_id
        if questions.current(record, answers) is not None:
            partial = {**(record.answer or {}), "partial": answers}
            await self._db(lambda db: db.prompt_set_answer(pid, partial))
            updated = attrs.evolve(record, answer=partial)
            shown = self.prompt_messages.get(pid)
            target: Target | None = shown if shown is not None else record.message_id
            if target is not None:
                self.outbox.edit(target, prompt_views.render_pending(updated))
            return
        answer = questions.answer(answers, msg.user_id, applied=applied)
        resolved: PromptRecord | None = await self._db(
            lambda db: db.prompt_resolve(pid, PromptState.ANSWERED, answer, msg.user_id)
        )
        if resolved is not None:
            await self._resolved(resolved)

    async def _answer_with_message(self, prompt_id: str, message_id: int) -> None:
        """C12: the machine decided that a typed message answers the waiting question."""
        record: PromptRecord | None = await self._db(lambda db: db.prompt_get(prompt_id))
        typed = self.messages.get(message_id)
        if record is None or record.state is not PromptState.PENDING:
            return
        text = typed.content if typed is not None and typed.content.strip() else "(no text)"
        author = typed.author_id if typed is not None else 0
        answer = questions.answer(
            questions.typed_answers(record, text), author, applied=True, typed=True
        )
        resolved: PromptRecord | None = await self._db(
            lambda db: db.prompt_resolve(prompt_id, PromptState.ANSWERED, answer, author)
        )
        if resolved is None:
            return
        self._notice("-# 💬 Your message answered Claude's question.")
        await self._resolved(resolved)

    async def _on_set_model(self, msg: SetModel) -> None:
        """C24: stored for the turns to come (``--model``); a running ``claude`` switches
        now (control ``set_model``), so the rest of this turn uses it too. Not an input of
        the machine: it changes no state, only what the next start and this process use."""
        await self._update_session(model=msg.model)
        proc = self.proc
        if proc is None or proc.exited:
            return
        target = msg.model or self.deps.claude_command.model or "default"
        try:
            await proc.set_model(target)
        except (ClaudeGone, ControlRequestFailed, trio.TooSlowError) as exc:
            log.warning("thread %s: set_model %r failed: %r", self.thread_id, target, exc)
            self.outbox.post(
                render.plain(
                    f"-# ⚠️ The running turn could not switch to `{target}`; the next one uses it."
                )
            )

    def _turn_model(self, record: SessionRecord) -> str | None:
        """The session's model (C24), else the bridge's default (CLAUDE_MODEL)."""
        default = self.deps.claude_command.model
        if record.model is None:
            return default
        try:
            return control.validate_model(record.model)
        except control.ControlError as exc:
            log.error("thread %s: stored model rejected (%s); default used", self.thread_id, exc)
            return default

    async def _resolved(self, resolved: PromptRecord) -> None:
        self._show_resolved(resolved)
        self.answers[resolved.prompt_id] = resolved
        await self.feed(sm.PromptResolved(resolved.prompt_id))

    def _show_resolved(self, resolved: PromptRecord) -> None:
        """Replace the prompt's buttons with its outcome."""
        shown = self.prompt_messages.pop(resolved.prompt_id, None)
        target: Target | None = shown if shown is not None else resolved.message_id
        if target is not None:
            self.outbox.edit(target, prompt_views.render_resolved(resolved))

    # -- feed and perform --------------------------------------------------------------

    async def feed(self, event: sm.Input) -> None:
        for order in self.machine.feed(event):
            await self._perform(order)

    async def _perform(self, order: sm.Order) -> None:
        match order:
            case sm.AcquireSlot():
                self.deps.limiter.tell(
                    AcquireSlot(thread_id=self.thread_id, requester=self.ctx.self)
                )
            case sm.ReleaseSlot():
                with contextlib.suppress(actors.ActorStopped):
                    self.deps.limiter.tell(ReleaseSlot(thread_id=self.thread_id))
            case sm.ConfirmGrant():
                await self.feed(sm.GrantConfirmed(current=await self._grant_is_current()))
            case sm.StartTurn():
                self._start(order)
            case sm.WriteControlResponse(prompt_id=pid, request_id=request_id):
                answer = self.answers.pop(pid, None)
                response = prompt_views.control_response(answer, request_id) if answer else None
                if answer is not None and response is not None and self.proc is not None:
                    self._send_answer(self.proc, answer, response)
            case sm.AnswerWithMessage(prompt_id=pid, message_id=message_id):
                await self._answer_with_message(pid, message_id)
            case sm.Interrupt():
                if self.proc is not None:
                    self.ctx.nursery.start_soon(self._interrupt, self.proc)
            case sm.CloseProcess():
                self._close()
            case sm.Notice():
                await self._show_notice(order)
            case sm.SetInbox(message_ids=ids, state=state):
                await self._db(lambda db: db.inbox_set_state(list(ids), state))
                if state in (InboxState.DONE, InboxState.REJECTED):
                    for message_id in ids:
                        self.messages.pop(message_id, None)
            case sm.SetStatus(status=status, resume_reason=None):
                await self._update_session(status=status)
            case sm.SetStatus(status=status, resume_reason=reason):
                await self._update_session(status=status, resume_reason=reason)
            case sm.MarkForResume(reason=reason):
                await self._update_session(resume_reason=reason)
            case sm.ArmTimer(timer=timer, delay=delay, key=key):
                self._arm(timer, delay, key)
            case sm.CancelTimer(timer=timer, key=key):
                entry = self.timers.pop((timer, key), None)
                if entry is not None:
                    entry[1].cancel()
            case sm.TurnFinished():
                await self._finish_turn(order)
            case sm.ReplyShutdown():
                if self.shutdown_asks:
                    self.shutdown_asks.pop(0).reply(None)

    def _arm(self, timer: sm.Timer, delay: float, key: str) -> None:
        previous = self.timers.pop((timer, key), None)
        if previous is not None:
            previous[1].cancel()
        self.timer_token += 1
        fired = _Fired(timer, key, self.timer_token)
        if timer is sm.Timer.TOOL_TICK:
            handle = self.ctx.start_timer(delay, fired)
        else:
            handle = self.ctx.send_after(delay, fired)
        self.timers[(timer, key)] = (self.timer_token, handle)

    async def _grant_is_current(self) -> bool:
        """Whether the limiter really counts us as running (a grant sent just before we
        left its queue may still have been in the mailbox)."""
        try:
            snapshot: SlotsSnapshot = await self.deps.limiter.ask(
                GetSlots(), timeout=self.deps.ask_timeout
            )
        except (actors.ActorsError, trio.TooSlowError):
            return False
        return self.thread_id in snapshot.running

    async def _finish_turn(self, order: sm.TurnFinished) -> None:
        view, turn = self.view, self.turn
        interrupted = order.outcome not in ("done", "error")
        result = self.result if order.completed else None
        if view is not None and turn is not None:
            view.close(turn, result, trio.current_time(), interrupted=interrupted)
            if result is None:
                view.set_status(render.EMOJI_STOPPED if interrupted else render.EMOJI_ERROR)
        self.result = None
        self.last_activity = None
        self.answers.clear()  # the turn's requests are gone with it
        self._tell_coordinator(SessionFinished(thread_id=self.thread_id, outcome=order.outcome))

    # -- notices -----------------------------------------------------------------------

    async def _show_notice(self, notice: sm.Notice) -> None:
        if self.view is not None:
            self.view.flush()  # what Claude said before it comes first
        kind = notice.kind
        if kind in (sm.NoticeKind.QUEUE, sm.NoticeKind.HELD):
            held = kind is sm.NoticeKind.HELD
            payload = render.plain(render.queue_notice(notice.count, int(notice.detail), held=held))
            if self.queue_notice is None:
                self.queue_notice = self.outbox.post(payload)
            else:
                self.outbox.edit(self.queue_notice, payload)
            if self.machine.state is sm.State.QUEUED:
                self._reaction().set(render.EMOJI_QUEUED)
        elif kind is sm.NoticeKind.CLEAR_QUEUE:
            if self.queue_notice is not None:
                self.outbox.delete(self.queue_notice)
                self.queue_notice = None
        elif kind is sm.NoticeKind.STALL:
            self.stall_notice = self.outbox.post(
                render.plain(render.stall_notice(float(notice.detail)))
            )
            if self.view is not None:
                self.view.set_status(render.EMOJI_STALLED)
        elif kind is sm.NoticeKind.CLEAR_STALL:
            if self.stall_notice is not None:
                self.outbox.delete(self.stall_notice)
                self.stall_notice = None
        elif kind is sm.NoticeKind.INTERRUPTING:
            self._notice(render.interrupt_notice())
        elif kind is sm.NoticeKind.NOTHING_TO_STOP:
            self._notice(render.nothing_to_stop_notice())
        elif kind is sm.NoticeKind.STOPPED:
            self._notice(render.stopped_notice(notice.count))
        elif kind is sm.NoticeKind.SHUTTING_DOWN:
            self._notice(render.shutting_down_notice())
        elif kind is sm.NoticeKind.RESUMED:
            # The notice carries the status reaction of the turn it starts.
            self.anchor = self.outbox.post(render.plain(render.resumed_notice(notice.detail)))
        elif kind is sm.NoticeKind.CRASHED:
            self.outbox.post(render.crashed_notice(notice.count, self.exit_tail))
        elif kind is sm.NoticeKind.START_FAILED:
            self.outbox.post(render.start_failed_notice(notice.detail))
        elif kind is sm.NoticeKind.TIMED_OUT:
            turn = self.turn
            started = turn.turn_started_at if turn is not None else None
            now = trio.current_time()
            elapsed = now - started if started is not None else 0.0
            self.outbox.post(render.embeds_only(render.timeout_embed(self.timeout_limit, elapsed)))
        elif kind is sm.NoticeKind.RESTARTED_CONVERSATION:
            old, self.resumed_with = self.resumed_with, None
            await self._update_session(session_id=None)
            self._notice(
                f"-# ♻️ The previous conversation ({old}) could not be resumed; starting a "
                "new one with your message."
            )
        elif kind is sm.NoticeKind.PARKED:
            self.last_activity = "over budget"  # the dashboard's parked line
            self.outbox.post(parked_payload(self.thread_id, notice.detail))
        elif kind is sm.NoticeKind.KEPT_WHILE_PARKED:
            self._notice("-# 📥 Kept: it goes to Claude when the session continues.")
        elif kind is sm.NoticeKind.UNPARKED:
            self.last_activity = None
            self._notice(f"▶️ {notice.detail}.")
        elif kind is sm.NoticeKind.PARKED_USAGE:
            self.last_activity = f"usage limit, until {notice.detail}"
            self._notice(parked_text(notice.detail, reported=bool(notice.count)))
        elif kind is sm.NoticeKind.USAGE_RESUMED:
            self.last_activity = None
            self._notice(resumed_text())
        elif kind is sm.NoticeKind.PROMPT_CANCELLED:
            pid = notice.detail
            resolved = await self._db(lambda db: db.prompt_resolve(pid, PromptState.CANCELLED))
            if resolved is not None:
                self._show_resolved(resolved)

    def _notice(self, text: str) -> None:
        self.outbox.post(render.plain(text))

    async def _record_spending(self, event: ev.Result, proc: ClaudeProcess) -> None:
        """Budgets: charge the turn to the author of the last message it answered and
        post the notices due (``bridge.sessions.spending``)."""
        batch = [self.messages[i] for i in self.machine.batch if i in self.messages]
        author = batch[-1].author_id if batch else None
        texts, over = await record_spending(
            self._db,
            self.config.budget,
            self.thread_id,
            proc.session_id,
            author,
            event,
            self.deps.wall_clock(),
        )
        for text in texts:
            self._notice(text)
        if over:
            await self.feed(sm.BudgetExhausted(over_text(over)))

    async def _check_usage_limit(self, event: ev.Result) -> None:
        """A result refused at the account's usage limit parks the session when the turn
        ends; any other result ends a run of such refusals."""
        announced, self.usage_resets_at = self.usage_resets_at, None
        tid = self.thread_id
        if usage_limit(event) is None:
            await self._db(lambda db: db.usage_cleared(tid))
            return
        limited = await park_at_usage_limit(
            self._db, self.config, tid, announced, self.deps.wall_clock()
        )
        log.info("thread %s: usage limit; trying again at %s", tid, limited.until)
        await self.feed(limited)

    def _notice_refusals(self, refusals: str | None) -> None:
        if refusals:
            self._notice(refusals)

    def _reaction(self) -> Reaction:
        """The status reaction on the current anchor, kept across queueing and the turn
        so an emoji is always replaced, never stacked."""
        if self.reaction is None or self.reaction.message_id != self.anchor:
            # The router's "seen" emoji on the anchor is the status shown so far: the first
            # change replaces it. On an older message (the anchor moved on before any
            # status was shown) it has nothing left to say: it goes.
            shown = None
            if self.seen_mark is not None:
                marked, emoji = self.seen_mark
                self.seen_mark = None
                if marked == self.anchor:
                    shown = emoji
                else:
                    self.outbox.react(
                        self._reaction_channel(marked), marked, add=(), remove=[emoji]
                    )
            channel_id = self._reaction_channel(self.anchor)
            self.reaction = Reaction(self.rest, channel_id, self.anchor, self.outbox, shown=shown)
        return self.reaction

    def _reaction_channel(self, message_id: Target | None) -> int:
        if message_id == self.thread_id and self.record is not None:
            # The message a thread was started from keeps its id as the thread's id
            # and stays in the parent channel: react there, or Discord answers 404.
            return self.record.channel_id
        return self.thread_id

    def _show_activity(self, proc: ClaudeProcess) -> None:
        turn, view = proc.turn, self.view
        shown = self.activity_shown
        if (
            shown is not None
            and shown[0] is turn.activity
            and shown[1] is turn.tools
            and shown[2] is view
            and self.last_activity == shown[3]
            and (view is None or view.reaction.shown == shown[4])
        ):
            return  # the same activity, and nothing else changed what it shows
        tool = turn.current_tool
        emoji = render.status_emoji(turn.activity, tool)
        if view is not None:
            view.set_status(emoji)
        self.last_activity = phrase = render.activity_phrase(turn.activity, tool)
        self.activity_shown = (turn.activity, turn.tools, view, phrase, emoji)

    def _report(self) -> None:
        """Tell the coordinator what the session is doing now, if that changed: status,
        activity, queue position, the waiting prompt's message (registry K3, dashboard C17)."""
        machine = self.machine
        prompt_message_id = None
        if machine.state is sm.State.WAITING_FOR_HUMAN:
            # Several requests may wait at once: the dashboard links the first still open.
            waiting = [p.prompt_id for p in machine.prompts if not p.resolved]
            if waiting:
                prompt_message_id = self.prompt_message_ids.get(waiting[0])
        report = SessionActivity(
            thread_id=self.thread_id,
            status=machine.status,
            activity=self.last_activity or "",
            queue_position=machine.queue_position if machine.state is sm.State.QUEUED else None,
            prompt_message_id=prompt_message_id,
        )
        if report != self.reported:
            self.reported = report
            self._tell_coordinator(report)

    def _tell_coordinator(self, msg: Any) -> None:
        if self.deps.coordinator is not None:
            self.deps.coordinator.offer(msg)

    async def _save_session_id(self, session_id: str | None) -> None:
        if session_id and self.record is not None and session_id != self.record.session_id:
            await self._update_session(session_id=session_id)

    # -- helpers that talk to the process ----------------------------------------------

    def _start(self, order: sm.StartTurn) -> None:
        """Start the turn in a helper; it reports ``_Started`` or ``_StartFailed``."""
        if order.please_continue:
            text = USAGE_RESUME_PROMPT if order.after_usage_limit else RESUME_PROMPT
            batch = [PendingMessage(None, 0, text)]
        else:
            batch = [self.messages[i] for i in order.batch if i in self.messages]
        record = self.record
        assert record is not None
        resume = None if order.fresh_conversation else record.session_id
        # C16: a resumed conversation keeps its task list (the CLI does too).
        tasks = self.turn.tasks if self.turn is not None and resume is not None else ()
        self.generation += 1
        self.ctx.nursery.start_soon(
            self._start_helper, self.generation, batch, record, resume, tasks
        )

    async def _start_helper(
        self,
        generation: int,
        batch: list[PendingMessage],
        record: SessionRecord,
        resume: str | None,
        tasks: tuple[TaskItem, ...] = (),
    ) -> None:
        ref = self.ctx.self
        turn_input = await prepare_input(self.rest, batch)
        context = await self._turn_context()
        appended = build_appended_prompt(
            thread_id=self.thread_id,
            working_dir=record.working_dir,
            worktree_base_dir=self.config.worktree_base_dir,
            others=context.others,
            lounge=context.lounge,
            api_url=self.deps.api_url,
        )
        template = session_command(self.deps.claude_command, record, self.thread_id)
        # Snapshot off: by default the CLI sends the first turn's system prompt again on
        # every --resume, so K3/K4 would freeze (tests/e2e/test_claude_cli_system_prompt.py).
        try:
            command = attrs.evolve(
                template,
                resume=resume,
                append_system_prompt=appended,
                system_prompt_snapshot=False,
                model=self._turn_model(record),
            )
        except control.ControlError as exc:
            log.error(
                "thread %s: stored session id rejected (%s); starting fresh", self.thread_id, exc
            )
            command = attrs.evolve(
                template,
                append_system_prompt=appended,
                system_prompt_snapshot=False,
                model=self._turn_model(record),
            )
        # X4: neither the bot token nor the API secret may reach the child.
        secrets = [s for s in (self.config.discord_bot_token, self.config.api_secret) if s]
        env = child_env(
            self.deps.claude_env,
            thread_id=self.thread_id,
            api_url=self.deps.api_url,
            secrets=secrets,
        )
        reported = trio.Event()

        async def deliver(message: ClaudeMessage) -> None:
            # Nothing of this process reaches the mailbox before ``_Started`` does.
            await reported.wait()
            with contextlib.suppress(actors.ActorStopped):
                await ref.send(_FromClaude(generation, message))

        def offer(message: ClaudeMessage) -> bool:
            # The pump's own hand-over (no task switch per event); refused before
            # ``_Started`` and while the mailbox is full, so those go through ``deliver``.
            if not reported.is_set():
                return False
            try:
                return ref.try_send(_FromClaude(generation, message))
            except actors.ActorStopped:
                return True  # gone with the actor, as ``deliver`` drops it

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
                tasks,
                offer,
            )
        except OSError as exc:
            error = f"`{command.executable}` could not be started: {exc}"
            with contextlib.suppress(actors.ActorStopped):
                await ref.send(_StartFailed(generation, error, turn_input.refusals))
            return
        # The user message goes first, so that an interrupt (/stop while starting) finds
        # the turn begun.
        with contextlib.suppress(ClaudeGone):  # its exit arrives as ClaudeExited
            await proc.send_user(
                turn_input.text, images=turn_input.images, text_files=turn_input.text_files
            )
        try:
            await ref.send(_Started(generation, owner, proc, command.resume, turn_input.refusals))
        finally:
            reported.set()

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

    def _send_answer(
        self, proc: ClaudeProcess, record: PromptRecord, response: dict[str, Any]
    ) -> None:
        """Write a prompt's control response, then the permission mode its answer chose
        (C13 "Approve + auto-accept edits"), in that order."""
        mode = plans.mode_after(record) if prompt_views.is_plan(record) else None
        if mode is None:
            self._write(proc, response)
        else:
            self.ctx.nursery.start_soon(self._answer_then_mode, proc, response, mode)

    async def _answer_then_mode(
        self, proc: ClaudeProcess, response: dict[str, Any], mode: str
    ) -> None:
        with contextlib.suppress(ClaudeGone):  # the exit ends the turn
            await proc.answer(response)
            try:
                await proc.set_permission_mode(mode)
            except (ControlRequestFailed, trio.TooSlowError) as exc:
                log.warning("thread %s: could not switch to %s: %s", self.thread_id, mode, exc)
                self._notice(f"-# ⚠️ The plan is approved, but edits still ask first: {exc}")

    def _write(self, proc: ClaudeProcess, response: dict[str, Any]) -> None:
        self.ctx.nursery.start_soon(self._answer, proc, response)

    async def _answer(self, proc: ClaudeProcess, response: dict[str, Any]) -> None:
        with contextlib.suppress(ClaudeGone):  # the exit ends the turn
            await proc.answer(response)

    async def _interrupt(self, proc: ClaudeProcess) -> None:
        # A control interrupt, escalated to signals by the process helper if the CLI does
        # not end the turn; a no-op once the result is in.
        await proc.interrupt()

    def _close(self) -> None:
        """Close the process in a helper, which reports ``_Exited`` when it is reaped."""
        owner, proc = self.owner, self.proc
        self.owner = None
        if owner is None:
            return
        generation, ref = self.generation, self.ctx.self

        async def close() -> None:
            code = await owner.close()
            tail = proc.stderr_tail() if proc is not None else ""
            with contextlib.suppress(actors.ActorStopped):
                # Unknown (the block ended first) only when the actor is ending anyway.
                await ref.send(_Exited(generation, code if code is not None else 0, tail))

        self.ctx.nursery.start_soon(close)

    async def end_process(self) -> None:
        """Close the turn's process (stdin EOF, then terminate) when the actor ends.

        *Cancellation*: the owner task is in the actor's nursery; if this wait is
        cancelled, the nursery's cancellation still ends the process group.
        """
        owner, self.owner, self.proc = self.owner, None, None
        self.generation += 1  # late events from this process are ignored from now on
        if owner is not None:
            await owner.close()
