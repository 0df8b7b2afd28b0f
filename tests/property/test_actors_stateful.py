"""Stateful property test of the actor runtime against a simple model (issue 2, tests).

Hypothesis drives random sequences of spawn / tell / ask / crash / stop / restart /
advance-time, and after every step checks these invariants:

* no message is both delivered and dead-lettered (or dropped), none is delivered twice,
  and each actor sees its messages in send order;
* every ask resolves exactly once, at the latest at its deadline, and consistently with
  what happened to its message (a value only if delivered, never for a held ask);
* restart intensity is respected: every crash of a restartable supervised child is a
  restart until more than ``max_restarts`` fall within ``within`` seconds, and then the
  supervisor gives up (``IntensityExceeded``), exactly as the model predicts;
* which actors are alive, and at which incarnation, matches the model;
* after the system closes: nothing is alive, every ask has resolved, every accepted
  message was delivered, dead-lettered or dropped, and no task is left running.

Trio runs on a worker thread with a ``MockClock`` (time moves only in the ``advance``
rule); each rule runs one operation with ``trio.from_thread.run`` and then waits until
every task is blocked, so steps are sequential and reproducible (research §2.4, way B).
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
from collections import defaultdict
from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import actors
from actors import ExitKind, Restart

# -- the subject ---------------------------------------------------------------------------


@attrs.frozen
class Plain:
    id: int


@attrs.frozen
class Work:
    id: int
    seconds: float


@attrs.frozen
class Crash:
    id: int


@attrs.frozen
class EchoAsk(actors.Ask[int]):
    id: int


@attrs.frozen
class HoldAsk(actors.Ask[int]):
    id: int


def msg_id(msg: Any) -> int | None:
    return getattr(msg, "id", None)


async def subject(ctx: actors.Context[Any], delivered: list[tuple[int, int]]) -> None:
    """Records (actor id, message id) on delivery, then acts on the message."""
    held = []
    async for msg in ctx.mailbox:
        delivered.append((ctx.self.id, msg.id))
        match msg:
            case Work(_, seconds):
                await trio.sleep(seconds)
            case Crash():
                raise ValueError(f"crash {msg.id}")
            case EchoAsk(value) as q:
                q.reply(value)
            case HoldAsk() as q:
                held.append(q)


# -- the model -----------------------------------------------------------------------------

RUNNING, STOPPING, DEAD = "running", "stopping", "dead"
STEP_LIMIT = 30.0  # real seconds one step may take before it counts as hung


@attrs.define
class ActorModel:
    ref: actors.Ref[Any]
    supervised: bool
    restart: Restart
    state: str = RUNNING
    incarnation: int = 1
    stop_requested: bool = False


@attrs.define
class AskModel:
    id: int
    actor: ActorModel
    hold: bool
    deadline: float
    outcomes: list[Any] = attrs.Factory(list)


def count_tasks(task: trio.lowlevel.Task) -> int:
    return 1 + sum(count_tasks(t) for n in task.child_nurseries for t in n.child_tasks)


class ActorSystemMachine(RuleBasedStateMachine):
    actors_ = Bundle("actors")

    def __init__(self) -> None:
        super().__init__()
        self.clock = trio.testing.MockClock()
        self.ids = itertools.count(1)
        self.delivered: list[tuple[int, int]] = []
        self.dead: set[int] = set()
        self.dropped: set[int] = set()
        self.accepted: dict[int, ActorModel] = {}
        self.asks: list[AskModel] = []
        self.models: dict[int, ActorModel] = {}
        self.window: list[float] = []
        self.expected_restarts = 0
        self.seen_restarts = 0
        self.expected_exceeded = 0
        self.seen_exceeded = 0
        self.sup_alive = True
        self.max_restarts = 0
        self.within = 1.0
        self.closed_checks: dict[str, Any] = {}
        self._error: BaseException | None = None
        self._started = threading.Event()
        self._step_scope: trio.CancelScope | None = None
        self._thread: threading.Thread | None = None

    # -- plumbing: trio on a worker thread ----------------------------------------------

    def _run_trio(self) -> None:
        try:
            trio.run(self._main, clock=self.clock)
        except BaseException as exc:
            self._error = exc
        finally:
            self._started.set()

    async def _main(self) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self.teardown_requested = trio.Event()
        root = trio.lowlevel.current_root_task()
        async with trio.open_nursery() as background:
            self.background = background
            baseline = count_tasks(root)
            system_cm = actors.open_system(random=random.Random(0), shutdown_timeout=2.0)
            async with system_cm as system:
                self.system = system
                async with system.subscribe(buffer=1_000_000) as events:
                    self.events = events
                    spec = actors.SupervisorSpec(
                        max_restarts=self.max_restarts,
                        within=self.within,
                        dynamic=actors.ChildSpec(subject, args=(self.delivered,), shutdown=2.0),
                    )
                    self.sup = await system.start_supervisor(spec, name="sup")
                    self._started.set()
                    await self.teardown_requested.wait()
                    # Close with time running by itself, so drains and stop timeouts finish.
                    self.clock.autojump_threshold = 0
                    await system.aclose()
                    self._absorb_events()
            await trio.testing.wait_all_tasks_blocked()
            self.closed_checks["tasks_after_close"] = count_tasks(root)
            self.closed_checks["baseline_tasks"] = baseline

    def _call(self, afn: Any, *args: Any) -> Any:
        async def step() -> Any:
            with trio.CancelScope() as scope:
                self._step_scope = scope
                result = await afn(*args)
                await trio.testing.wait_all_tasks_blocked()
            self._step_scope = None
            if scope.cancelled_caught:
                raise AssertionError(f"a step did not finish within {STEP_LIMIT} s of real time")
            self._absorb_events()
            return result

        # Time is virtual, so a hung step would never time out by itself: a real-time
        # watchdog turns a hang into a failure hypothesis can shrink.
        watchdog = threading.Timer(STEP_LIMIT, self._cancel_step)
        watchdog.start()
        try:
            return trio.from_thread.run(step, trio_token=self.token)
        finally:
            watchdog.cancel()

    def _cancel_step(self) -> None:
        def cancel() -> None:
            if self._step_scope is not None:
                self._step_scope.cancel()

        with contextlib.suppress(trio.RunFinishedError):
            trio.from_thread.run_sync(cancel, trio_token=self.token)

    # -- events -> observations ---------------------------------------------------------

    def _absorb_events(self) -> None:
        now = trio.current_time()
        while True:
            try:
                event = self.events.receive_nowait()
            except trio.WouldBlock:
                break
            match event:
                case actors.DeadLetter(_, message):
                    if msg_id(message) is not None:
                        self.dead.add(message.id)
                case actors.Dropped(_, message, _):
                    self.dropped.add(message.id)
                case actors.Crashed(ref, _, _) if ref.id in self.models:
                    self._model_crash(self.models[ref.id], now)
                case actors.Restarted(ref, _, _) if ref.id in self.models:
                    self.seen_restarts += 1
                case actors.IntensityExceeded():
                    self.seen_exceeded += 1
                case actors.Stopped(ref, _) if ref.id in self.models:
                    self.models[ref.id].state = DEAD

    def _model_crash(self, actor: ActorModel, now: float) -> None:
        """What the model says a crash leads to."""
        if (
            not actor.supervised
            or actor.restart is Restart.TEMPORARY
            or actor.stop_requested
            or not self.sup_alive
        ):
            actor.state = DEAD
            return
        self.window = [t for t in self.window if t > now - self.within]
        self.window.append(now)
        if len(self.window) > self.max_restarts:
            self.expected_exceeded += 1
            self.sup_alive = False
            actor.state = DEAD
            for other in self.models.values():
                if other.supervised and other.state == RUNNING:
                    other.state = STOPPING  # the supervisor stops them, draining
            return
        self.expected_restarts += 1
        actor.incarnation += 1

    # -- rules --------------------------------------------------------------------------

    @initialize(max_restarts=st.integers(0, 3), within=st.sampled_from([1.0, 5.0, 30.0]))
    def start(self, max_restarts: int, within: float) -> None:
        self.max_restarts = max_restarts
        self.within = within
        self._thread = threading.Thread(target=self._run_trio, daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error

    @rule(
        target=actors_,
        supervised=st.booleans(),
        restart=st.sampled_from(list(Restart)),
        capacity=st.integers(1, 3),
        overflow=st.sampled_from(list(actors.Overflow)),
    )
    def spawn(
        self, supervised: bool, restart: Restart, capacity: int, overflow: actors.Overflow
    ) -> Any:
        mailbox = actors.Mailbox(capacity, overflow)

        async def go() -> actors.Ref[Any] | None:
            if not supervised:
                return await self.system.spawn(subject, self.delivered, mailbox=mailbox)
            spec = actors.ChildSpec(
                subject,
                args=(self.delivered,),
                id=next(self.ids),
                restart=restart,
                mailbox=mailbox,
                shutdown=2.0,
            )
            try:
                return await self.sup.start_child_spec(spec, timeout=5)
            except actors.ActorStopped:
                assert not self.sup_alive, "start_child refused by a live supervisor"
                return None

        ref = self._call(go)
        if ref is None:
            return None
        model = ActorModel(ref, supervised, restart)
        self.models[ref.id] = model
        return model

    def _tell(self, actor: ActorModel | None, msg: Any) -> None:
        if actor is None:
            return

        async def go() -> None:
            try:
                actor.ref.tell(msg)
            except actors.ActorStopped:
                assert actor.stop_requested or actor.state != RUNNING, "a running actor refused"
            except actors.MailboxFull:
                assert actor.ref._cell.box.overflow in (
                    actors.Overflow.REJECT,
                    actors.Overflow.BLOCK_SENDER,
                )
            else:
                self.accepted[msg.id] = actor

        self._call(go)

    @rule(
        actor=actors_,
        seconds=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
        count=st.integers(1, 4),
    )
    def tell(self, actor: ActorModel | None, seconds: float, count: int) -> None:
        # Several at once, so that blocked actors' small mailboxes overflow often.
        for _ in range(count):
            i = next(self.ids)
            self._tell(actor, Work(i, seconds) if seconds else Plain(i))

    @rule(actor=actors_, count=st.integers(1, 4))
    def try_send(self, actor: ActorModel | None, count: int) -> None:
        """``try_send`` queues when there is room and otherwise leaves the message with the
        caller: no overflow policy applied, no ``Dropped`` event, whatever the policy."""
        if actor is None:
            return
        refused: list[int] = []

        async def go() -> None:
            box = actor.ref._cell.box
            for _ in range(count):
                i = next(self.ids)
                full = len(box.user) >= box.capacity
                before = list(box.user)
                try:
                    queued = actor.ref.try_send(Plain(i))
                except actors.ActorStopped:
                    assert actor.stop_requested or actor.state != RUNNING, "a running actor refused"
                    assert list(box.user) == before, "a refused message changed the queue"
                    continue
                assert queued is not full, f"try_send returned {queued} with full={full}"
                if queued:
                    self.accepted[i] = actor
                else:
                    assert list(box.user) == before, "a refused try_send changed the queue"
                    refused.append(i)

        self._call(go)
        assert not set(refused) & self.dropped, "try_send emitted Dropped for a kept message"

    @rule(actor=actors_)
    def crash(self, actor: ActorModel | None) -> None:
        self._tell(actor, Crash(next(self.ids)))

    @rule(actor=actors_, hold=st.booleans(), timeout=st.sampled_from([0.5, 1.0, 2.0, 5.0]))
    def ask(self, actor: ActorModel | None, hold: bool, timeout: float) -> None:
        if actor is None:
            return
        i = next(self.ids)

        async def go() -> None:
            record = AskModel(i, actor, hold, trio.current_time() + timeout)
            self.asks.append(record)

            async def asker() -> None:
                msg = HoldAsk(i) if hold else EchoAsk(i)
                try:
                    record.outcomes.append(await actor.ref.ask(msg, timeout=timeout))
                except actors.ActorsError as exc:
                    record.outcomes.append(exc)

            self.background.start_soon(asker)

        self._call(go)

    @rule(actor=actors_, drain=st.booleans(), timeout=st.sampled_from([0.5, 2.0]))
    def stop(self, actor: ActorModel | None, drain: bool, timeout: float) -> None:
        if actor is None:
            return

        async def go() -> None:
            if actor.state == RUNNING:
                actor.state = STOPPING
            actor.stop_requested = True

            async def stopper() -> None:
                reason = await actor.ref.stop(drain=drain, timeout=timeout)
                assert reason.kind is not ExitKind.CANCELLED
                actor.state = DEAD

            self.background.start_soon(stopper)

        self._call(go)

    @precondition(lambda self: self.sup_alive)
    @rule(actor=actors_)
    def restart(self, actor: ActorModel | None) -> None:
        if actor is None or not actor.supervised or actor.state != RUNNING:
            return

        async def go() -> None:
            ref = await self.sup.restart_child(
                actor.ref._cell.owner.by_cell[actor.ref._cell].key, timeout=5
            )
            assert ref is actor.ref
            actor.incarnation += 1
            self.expected_restarts += 1

        self._call(go)

    @rule(seconds=st.sampled_from([0.1, 0.5, 1.0, 2.0, 5.0]))
    def advance(self, seconds: float) -> None:
        async def go() -> None:
            self.clock.jump(seconds)

        self._call(go)

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def messages_are_delivered_at_most_once_or_dead_lettered(self) -> None:
        ids = [m for _, m in self.delivered]
        assert len(ids) == len(set(ids)), "a message was delivered twice"
        delivered = set(ids)
        assert not delivered & self.dead, "delivered and dead-lettered"
        assert not delivered & self.dropped, "delivered and dropped"
        assert not self.dead & self.dropped, "dead-lettered and dropped"
        per_actor: dict[int, list[int]] = defaultdict(list)
        for actor_id, m in self.delivered:
            per_actor[actor_id].append(m)
        for seq in per_actor.values():
            assert seq == sorted(seq), f"out of order delivery: {seq}"

    @invariant()
    def no_accepted_message_vanishes(self) -> None:
        """Each accepted message is in exactly one place: still queued (peeking at the
        mailbox, test-only), delivered, dead-lettered or dropped."""
        if not hasattr(self, "token"):
            return
        delivered = {m for _, m in self.delivered}
        queued: set[int] = set()
        for model in self.models.values():
            box = model.ref._cell.box
            queued.update(m.id for m in box.user)
        for i in self.accepted:
            places = (i in queued) + (i in delivered) + (i in self.dead) + (i in self.dropped)
            assert places == 1, f"message {i} is in {places} places (0 = vanished)"

    @invariant()
    def asks_resolve_exactly_once_and_consistently(self) -> None:
        if not hasattr(self, "token"):
            return
        now = self.clock.current_time()
        delivered = {m for _, m in self.delivered}
        for a in self.asks:
            assert len(a.outcomes) <= 1, f"ask {a.id} resolved twice: {a.outcomes}"
            if now >= a.deadline:
                assert len(a.outcomes) == 1, f"ask {a.id} unresolved past its deadline"
            if not a.outcomes:
                continue
            outcome = a.outcomes[0]
            if isinstance(outcome, int):
                assert not a.hold, "a held ask got a value"
                assert outcome == a.id
                assert a.id in delivered
            # An asker may have timed out before its queued message was dead-lettered or
            # dropped; otherwise the error must say what happened to the message.
            if a.id in self.dead:
                assert isinstance(
                    outcome, (actors.ActorStopped, actors.ActorCrashed, actors.AskTimeout)
                )
            if a.id in self.dropped:
                assert isinstance(outcome, (actors.MailboxFull, actors.AskTimeout))
            if isinstance(outcome, actors.ActorCrashed):
                assert a.id in delivered, "ActorCrashed for an ask the actor never held"

    @invariant()
    def restart_intensity_is_respected(self) -> None:
        assert self.seen_exceeded == self.expected_exceeded
        assert self.seen_restarts == self.expected_restarts
        assert self.seen_exceeded <= 1

    @invariant()
    def liveness_matches_the_model(self) -> None:
        for model in self.models.values():
            if model.state == RUNNING:
                assert model.ref.alive, f"{model.ref} should be alive"
                assert model.ref.incarnation == model.incarnation
            elif model.state == DEAD:
                assert not model.ref.alive, f"{model.ref} should have ended"

    # -- teardown -----------------------------------------------------------------------

    def teardown(self) -> None:
        if self._thread is None:
            return
        if self._error is None and self._thread.is_alive():
            trio.from_thread.run_sync(self.teardown_requested.set, trio_token=self.token)
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the trio thread did not finish"
        if self._error is not None:
            raise self._error
        # Nothing left running after close.
        checks = self.closed_checks
        assert checks["tasks_after_close"] == checks["baseline_tasks"]
        for model in self.models.values():
            assert not model.ref.alive
        for a in self.asks:
            assert len(a.outcomes) == 1, f"ask {a.id} never resolved"
        delivered = {m for _, m in self.delivered}
        for i in self.accepted:
            places = (i in delivered) + (i in self.dead) + (i in self.dropped)
            assert places == 1, f"message {i} vanished or was counted twice ({places})"


TestActorSystem = ActorSystemMachine.TestCase
TestActorSystem.settings = settings(stateful_step_count=40, deadline=None)
