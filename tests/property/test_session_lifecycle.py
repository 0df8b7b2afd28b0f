"""Session lifecycles under random operations (hypothesis ``RuleBasedStateMachine``).

Each example runs one small bridge (the real store, limiter, coordinator and session
actors, the local Discord server, and a fake ``claude`` that replays recorded real CLI
output, with a scenario chosen per thread) in a trio loop on a helper thread; the rules
call into it with ``trio.from_thread``. Operations: messages from allowed users and from
strangers (a message during a turn interrupts it, C21), /stop, prompt answers, Claude
killed mid-turn, turns that hang until the total timeout, and bridge restarts (graceful,
A4, or abrupt, like a SIGKILL).

After every step the system is left to settle (its observable state unchanged over a few
polls), then the invariants are checked:

* never two ``claude`` processes for one thread, and every live one is the one its session
  reports (no orphan);
* the concurrency limit is never exceeded: every session reporting ``running`` holds a
  limiter slot, and at most ``limit`` do;
* the store agrees with the running actors (status per session);
* every message is accounted for: pending or delivered only while its session still has
  work, rejected only with a reason (a stranger, or a /stop that came after it), and at
  the end every message is ``done`` or ``rejected``; no process survives the bridge.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

import attrs
import psutil
import trio
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bridge.sessions.messages import (
    AnswerPrompt,
    GetSlots,
    PrepareShutdown,
    ResumeSession,
    StopTurn,
)
from bridge.store import InboxState, SessionStatus
from tests.bridge.sessions.harness import (
    Bridge,
    choose_scenario,
    open_bridge,
    write_dispatcher,
)

THREADS = 2
LIMIT = 1
SCENARIOS = ("text_thinking", "interrupt", "bash_allow", "hang")
#: Report status -> the store status that must match it.
STORE_STATUS = {
    "idle": {SessionStatus.IDLE},
    "stopped": {SessionStatus.STOPPED},
    "queued": {SessionStatus.QUEUED},
    "running": {SessionStatus.RUNNING},
    "waiting": {SessionStatus.RUNNING},
}


class _Portal:
    """A bridge running in its own trio loop on a helper thread."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.bridge: Bridge | None = None
        self.token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(60) or self.error is not None:
            raise RuntimeError(f"the bridge did not start: {self.error!r}")

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        dispatcher = write_dispatcher(self.tmp)
        async with open_bridge(
            self.tmp,
            "text_thinking",
            claude_executable=str(dispatcher),
            max_concurrent_sessions=LIMIT,
            session_timeout_seconds=1.0,
            permission_timeout_seconds=60.0,
            deps_overrides={"interrupt_grace": 0.3, "close_grace": 2.0},
        ) as bridge:
            self.bridge = bridge
            self.token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            self.ready.set()
            await self._stop.wait()

    def call(self, fn: Any, *args: Any) -> Any:
        return trio.from_thread.run(fn, *args, trio_token=self.token)

    def call_sync(self, fn: Any, *args: Any) -> Any:
        return trio.from_thread.run_sync(fn, *args, trio_token=self.token)

    def close(self) -> None:
        if self._stop is not None:
            trio.from_thread.run_sync(self._stop.set, trio_token=self.token)
        self.thread.join(60)
        if self.error is not None:
            raise self.error


@attrs.define
class _Sent:
    message_id: int
    thread_id: int
    allowed: bool
    may_be_rejected: bool


def _claude_processes(tmp: Path) -> dict[int, list[int]]:
    """Live (not zombie) fake ``claude`` processes of this example, by thread id."""
    found: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if not any(str(tmp) in part and "claude-dispatcher" in part for part in cmdline):
                continue
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            thread = int(proc.environ().get("DISCORD_THREAD_ID", "0"))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found.setdefault(thread, []).append(proc.pid)
    return found


class SessionLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="ccb-lifecycle-"))
        self.portal = _Portal(self.tmp)
        bridge = self.portal.bridge
        assert bridge is not None
        self.bridge = bridge
        self.threads = [self.portal.call_sync(bridge.thread, f"t{i}") for i in range(THREADS)]
        self.sent: list[_Sent] = []
        self.snapshot: dict[str, Any] = {}
        for thread in self.threads:
            choose_scenario(self.tmp, thread, "text_thinking")
        self._settle()

    # -- driving the bridge ----------------------------------------------------------

    async def _observe(self) -> dict[str, Any]:
        bridge = self.bridge
        reports = {}
        for thread in self.threads:
            ref = bridge.sessions.child(thread)
            reports[thread] = await bridge.status(thread) if ref is not None else None
        slots = await bridge.limiter.ask(GetSlots(), timeout=10)
        records = {r.thread_id: r for r in await bridge.db(lambda db: db.sessions())}
        inbox = {
            i.message_id: i.state
            for thread in self.threads
            for i in await bridge.db(lambda db, t=thread: db.inbox(t, *InboxState))
        }
        return {"reports": reports, "slots": slots, "records": records, "inbox": inbox}

    async def _settle_async(self) -> dict[str, Any]:
        """Poll until the observable state stays the same over a few polls."""
        with trio.fail_after(60):
            previous, same = None, 0
            while True:
                current = await self._observe()
                key = (
                    {
                        t: (r.status, r.claude_pid, r.pending_messages) if r else None
                        for t, r in current["reports"].items()
                    },
                    current["slots"],
                    {t: (r.status, r.resume_reason) for t, r in current["records"].items()},
                    current["inbox"],
                    {t: len(p) for t, p in _claude_processes(self.tmp).items()},
                )
                same = same + 1 if key == previous else 0
                if same >= 3:
                    return current
                previous = key
                await trio.sleep(0.03)

    def _settle(self) -> None:
        self.snapshot = self.portal.call(self._settle_async)

    def _report(self, thread: int) -> Any:
        return self.snapshot["reports"].get(thread)

    # -- rules -----------------------------------------------------------------------

    @rule(index=st.integers(0, THREADS - 1), scenario=st.sampled_from(SCENARIOS))
    def choose(self, index: int, scenario: str) -> None:
        """What the thread's next ``claude`` process replays."""
        thread = self.threads[index]
        if scenario == "hang":
            choose_scenario(self.tmp, thread, "text_thinking", hang_after=3)
        else:
            choose_scenario(self.tmp, thread, scenario)

    @rule(index=st.integers(0, THREADS - 1), text=st.sampled_from(["hi", "SLOWTEXT", "RUNTOUCH"]))
    def user_message(self, index: int, text: str) -> None:
        thread = self.threads[index]
        mid = self.portal.call(self.bridge.say, thread, text)
        self.sent.append(_Sent(mid, thread, allowed=True, may_be_rejected=False))
        self._settle()

    @rule(index=st.integers(0, THREADS - 1))
    def stranger_message(self, index: int) -> None:
        thread = self.threads[index]

        async def say() -> int:
            return await self.bridge.say(thread, "let me in", author_id=self.bridge.stranger_id)

        mid = self.portal.call(say)
        self.sent.append(_Sent(mid, thread, allowed=False, may_be_rejected=True))
        self._settle()

    @rule(index=st.integers(0, THREADS - 1))
    def stop(self, index: int) -> None:
        thread = self.threads[index]
        for sent in self.sent:
            if sent.thread_id == thread:
                sent.may_be_rejected = True  # /stop drops what was typed before it

        async def stop() -> None:
            (await self.bridge.session(thread)).tell(StopTurn(requested_by=self.bridge.human_id))

        self.portal.call(stop)
        self._settle()

    # The rules below draw only from fixed domains and do nothing when the thread has
    # nothing to act on: a precondition on the (timing-dependent) bridge state would make
    # hypothesis's data generation flaky.

    @rule(index=st.integers(0, THREADS - 1), choice=st.sampled_from(["allow", "deny"]))
    def answer_prompt(self, index: int, choice: str) -> None:
        thread = self.threads[index]

        async def answer() -> None:
            pending = await self.bridge.db(lambda db: db.prompts_pending(thread))
            for prompt in pending:
                (await self.bridge.session(thread)).tell(
                    AnswerPrompt(
                        prompt_id=prompt.prompt_id, choice=choice, user_id=self.bridge.human_id
                    )
                )

        self.portal.call(answer)
        self._settle()

    @rule(index=st.integers(0, THREADS - 1))
    def kill_claude(self, index: int) -> None:
        """Claude crashes mid-turn (if the thread's session has a process now)."""
        report = self._report(self.threads[index])
        if report is not None and report.claude_pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(report.claude_pid, signal.SIGKILL)
        self._settle()

    @rule(graceful=st.booleans())
    def restart_bridge(self, graceful: bool) -> None:
        """A4: stop every session (after PrepareShutdown, or abruptly as after a SIGKILL),
        then start again the way the app does: leftovers marked ``crash``, every marked
        session resumed."""

        async def restart() -> None:
            bridge = self.bridge
            children = list(bridge.sessions.which_children())
            if graceful:
                for child in children:
                    ref = bridge.sessions.child(child)
                    if ref is not None:
                        await ref.ask(PrepareShutdown(), timeout=30)
            for child in children:
                await bridge.sessions.terminate_child(child)
            now = bridge.deps.wall_clock()
            await bridge.db(lambda db: db.mark_active_for_resume("crash", now))
            for record in await bridge.db(lambda db: db.sessions_to_resume()):
                ref = await bridge.session(record.thread_id)
                ref.tell(ResumeSession(reason=record.resume_reason or "crash"))

        self.portal.call(restart)
        self._settle()

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def one_process_per_thread_and_none_orphaned(self) -> None:
        if not self.snapshot:
            return
        processes = _claude_processes(self.tmp)
        for thread, pids in processes.items():
            assert len(pids) <= 1, f"thread {thread} has several claude processes: {pids}"
            report = self._report(thread)
            assert report is not None, f"claude pid {pids[0]} of thread {thread} has no session"
            assert report.claude_pid == pids[0], (
                f"claude pid {pids[0]} of thread {thread} is not its session's ({report})"
            )

    @invariant()
    def concurrency_limit_holds(self) -> None:
        if not self.snapshot:
            return
        running = [t for t, r in self.snapshot["reports"].items() if r and r.status == "running"]
        assert len(running) <= LIMIT
        assert set(running) <= set(self.snapshot["slots"].running)

    @invariant()
    def store_agrees_with_actors(self) -> None:
        if not self.snapshot:
            return
        for thread, report in self.snapshot["reports"].items():
            record = self.snapshot["records"].get(thread)
            if report is None:
                assert record is None or record.status not in (
                    SessionStatus.RUNNING,
                    SessionStatus.QUEUED,
                ), f"thread {thread}: no actor, but the store says {record.status}"
                continue
            assert record is not None
            assert record.status in STORE_STATUS[report.status], (
                f"thread {thread}: actor {report.status}, store {record.status}"
            )

    @invariant()
    def every_message_is_accounted_for(self) -> None:
        if not self.snapshot:
            return
        inbox = self.snapshot["inbox"]
        for sent in self.sent:
            state = inbox[sent.message_id]
            report = self._report(sent.thread_id)
            if state is InboxState.REJECTED:
                assert sent.may_be_rejected, f"message {sent} rejected without a reason"
            elif state is InboxState.DONE:
                assert sent.allowed, f"a stranger's message reached Claude: {sent}"
            else:
                assert sent.allowed
                busy = report is not None and report.status in ("queued", "running", "waiting")
                assert busy, f"message {sent} is {state} but its session is {report}"

    # -- the end ---------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if self.portal.bridge is not None and self.snapshot:
                self._drain()
        finally:
            self.portal.close()
        leftovers = _claude_processes(self.tmp)
        assert leftovers == {}, f"claude processes survived the bridge: {leftovers}"

    def _drain(self) -> None:
        """Let every session finish: quick recordings from now on, prompts allowed."""
        for thread in self.threads:
            choose_scenario(self.tmp, thread, "text_thinking")

        async def drain() -> None:
            with trio.fail_after(60):
                while True:
                    current = await self._settle_async()
                    busy = False
                    for thread, report in current["reports"].items():
                        if report is None:
                            continue
                        if report.status in ("queued", "running"):
                            busy = True
                        elif report.status == "waiting":
                            busy = True
                            pending = await self.bridge.db(
                                lambda db, t=thread: db.prompts_pending(t)
                            )
                            for prompt in pending:
                                (await self.bridge.session(thread)).tell(
                                    AnswerPrompt(
                                        prompt_id=prompt.prompt_id,
                                        choice="allow",
                                        user_id=self.bridge.human_id,
                                    )
                                )
                    if not busy:
                        self.snapshot = current
                        return
                    await trio.sleep(0.05)

        self.portal.call(drain)
        inbox = self.snapshot["inbox"]
        for sent in self.sent:
            assert inbox[sent.message_id] in (InboxState.DONE, InboxState.REJECTED), sent
        for thread, report in self.snapshot["reports"].items():
            assert report is None or report.status in ("idle", "stopped"), (thread, report)


TestSessionLifecycle = SessionLifecycle.TestCase
TestSessionLifecycle.settings = settings(
    max_examples=int(os.environ.get("CCB_LIFECYCLE_EXAMPLES", "8")),
    stateful_step_count=8,
    deadline=None,
)
