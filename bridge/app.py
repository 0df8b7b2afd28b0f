"""The composition root: builds the supervision tree of docs/architecture.md and wires it.

This is the one place where parts meet. :func:`open_bridge` starts, in order::

    REST client (owned by this block, not an actor)
    root supervisor (ONE_FOR_ONE, critical)
    ├── store        SQLite; at start: crashed sessions marked, the resume list read (A4)
    ├── dashboard    the pinned status message in the main channel (C17)
    ├── coordinator  registry (K3), lounge (K4), broadcasts (K5)
    ├── limiter      MAX_CONCURRENT_SESSIONS (C8)
    ├── sessions     dynamic supervisor: one session actor per thread
    ├── router       gateway dispatches -> session messages (X5 at every entry point)
    ├── upgrade      with UPGRADE_COMMAND: the auto-upgrade (A3, docs/upgrade.md)
    └── gateway      started last, so nothing arrives before the router exists
    ├── scheduler    scheduled tasks and notifications (A1, R3, R4)
    local API        Starlette on 127.0.0.1 (see docs/api.md)

then starts K2 worktree cleanup in the background. The marked sessions are resumed by the
router once the gateway is READY, after the catch-up of their threads
(:meth:`Bridge.wait_ready`).

Shutdown (A4), when the block ends for any reason, bounded by ``shutdown_timeout``: the
gateway and the router stop (no new work), every session is asked ``PrepareShutdown``
(interrupt, mark for resume, end its process), any session still recorded as running is
marked for resume, then sessions, limiter, coordinator (which flushes its lounge posts),
dashboard (its last edit) and store stop in that order while the REST client is still open.

Embedding (E2): ``await nursery.start(run_bridge, config)`` runs it inside any trio
program; cancelling that nursery shuts it down gracefully (shielded, bounded).

After an upgrade (A3) the bridge asks its owner to stop it: :attr:`Bridge.restart_requested`
is set and :attr:`Bridge.restart_plan` says what to do once the block has ended
(``ccbridge run`` execs ``RESTART_COMMAND`` or exits with status 75).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Hashable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

import attrs
import httpx
import trio

import actors
from bridge.api import ApiDeps, LateRefs, SessionTokens, make_api_app, serve_api
from bridge.claude.sessions import config_dir
from bridge.config import Config
from bridge.dashboard.actor import DASHBOARD_MAILBOX, DashboardConfig, dashboard_actor
from bridge.discord import (
    BackgroundFailure,
    GatewayConfig,
    GatewayFatalError,
    RestClient,
    open_rest_client,
    run_gateway,
)
from bridge.discord.gateway import GatewayBotSource, GatewayMessage
from bridge.mcp import MCP_TOOLS_RULE, mcp_config_json
from bridge.scheduler.actor import (
    ReloadSchedule,
    RunTaskNow,
    SchedulerConfig,
    SchedulerMessage,
    scheduler_actor,
)
from bridge.sessions.approvers import approvers_of
from bridge.sessions.coordinator import CoordinatorConfig, coordinator_actor
from bridge.sessions.limiter import LIMITER_MAILBOX, limiter_actor
from bridge.sessions.management import ManagementConfig
from bridge.sessions.messages import (
    CoordinatorMessage,
    LimiterMessage,
    PrepareShutdown,
    SessionMessage,
)
from bridge.sessions.presentation.view import SessionRest
from bridge.sessions.resume import resume_facts, resume_sessions, sessions_to_resume
from bridge.sessions.router import (
    ROUTER_MAILBOX,
    RouterConfig,
    RouterMessage,
    RouterRest,
    Startup,
    router_actor,
)
from bridge.sessions.session import SessionDeps, session_actor, session_child_spec
from bridge.sessions.worktrees import cleanup_worktrees
from bridge.store.actor import STORE_MAILBOX, StoreMessage, store_actor, store_call
from bridge.upgrade import (
    Settings,
    Stop,
    UpgradeConfig,
    UpgradeMessage,
    scrubbed_environment,
    upgrade_actor,
)
from protocol.claude.argv import ClaudeCommand

__all__ = [
    "Bridge",
    "BridgeStopped",
    "RestartPlan",
    "local_config",
    "open_bridge",
    "run_bridge",
]

log = logging.getLogger(__name__)

STORE_TIMEOUT: Final = 30.0
SESSION_SHUTDOWN: Final = 15.0
"""Seconds a session may take to stop once asked (its ``claude`` gets TERM, then KILL)."""
DEFAULT_SHUTDOWN_TIMEOUT: Final = 30.0
"""The whole graceful shutdown's budget: systemd's default stop timeout is 90 s, and a
bounded shutdown must finish well inside it."""


@attrs.define(auto_exc=True)
class BridgeStopped(Exception):
    """A part the bridge cannot run without ended (the gateway, or the root supervisor
    gave up after too many restarts); ``reason`` says which and why."""

    reason: str

    def __str__(self) -> str:
        return f"the bridge stopped: {self.reason}"


@attrs.frozen(kw_only=True)
class RestartPlan:
    """What the owner of the bridge does once an upgrade has stopped it (A3)."""

    command: tuple[str, ...] | None
    """``RESTART_COMMAND`` to exec; ``None``: exit with ``EXIT_RESTART`` (75)."""
    interrupted: bool
    """Turns were still running at the drain bound (they were interrupted, and resume)."""


@attrs.define
class _RestartRequest:
    """Set by the upgrade actor, read by :class:`Bridge` (one writer, then only readers)."""

    plan: RestartPlan | None = None
    event: trio.Event = attrs.Factory(trio.Event)


class Bridge:
    """A running bridge: the refs of its actors and the graceful shutdown.

    Built by :func:`open_bridge`; tests and embedders read its parts.
    """

    def __init__(
        self,
        *,
        config: Config,
        system: actors.System,
        root: actors.SupervisorRef,
        rest: RestClient,
        store: actors.Ref[StoreMessage],
        coordinator: actors.Ref[CoordinatorMessage],
        limiter: actors.Ref[LimiterMessage],
        sessions: actors.SupervisorRef,
        router: actors.Ref[RouterMessage],
        gateway: actors.Ref[GatewayMessage],
        api_url: str,
        tokens: SessionTokens,
        resumed: list[tuple[int, str]],
        startup: Startup,
        scheduler: actors.Ref[SchedulerMessage] | None = None,
        upgrade: actors.Ref[UpgradeMessage] | None = None,
        restart: _RestartRequest | None = None,
    ) -> None:
        self.config = config
        self.system = system
        self.root = root
        self.rest = rest
        self.store = store
        self.coordinator = coordinator
        self.limiter = limiter
        self.sessions = sessions
        self.router = router
        self.gateway = gateway
        self.scheduler = scheduler
        """The scheduler (A1, R3, R4); ``None`` when no owner or allowed user is set."""
        self.upgrade = upgrade
        """The upgrade actor (A3); ``None`` without ``UPGRADE_COMMAND``."""
        self._restart = restart or _RestartRequest()
        self.api_url = api_url
        """Base URL of the local API, e.g. ``http://127.0.0.1:43121``."""
        self.tokens = tokens
        self._resumed = resumed
        self._startup = startup
        self._shutdown_started = False
        self._shutdown_done = trio.Event()

    @property
    def restart_requested(self) -> trio.Event:
        """Set when an upgrade has drained the bridge: end the bridge's block (the graceful
        shutdown marks the sessions for resume), then follow :attr:`restart_plan`."""
        return self._restart.event

    @property
    def restart_plan(self) -> RestartPlan | None:
        return self._restart.plan

    @property
    def resumed(self) -> tuple[tuple[int, str], ...]:
        """``(thread_id, reason)`` of every session resumed at start (A4), by thread id;
        complete once :meth:`wait_ready` returns."""
        return tuple(sorted(self._resumed))

    async def wait_ready(self) -> None:
        """Wait until the gateway's first READY was handled: status reactions corrected,
        the main channel and every session thread caught up, marked sessions resumed."""
        await self._startup.done.wait()

    def session_api_url(self, thread_id: int) -> str:
        """The API URL a thread's session uses (it carries the session's own token)."""
        return f"{self.api_url}/s/{self.tokens.token_for(thread_id)}"

    def session(self, thread_id: int) -> actors.Ref[SessionMessage] | None:
        """The running session actor of a thread, if any."""
        return self.sessions.child(thread_id)

    async def shutdown(self, *, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
        """Stop taking work, let sessions prepare for resume, then stop every actor.

        Idempotent: a second call waits for the first. Bounded by ``timeout`` seconds;
        whatever has not stopped by then is cancelled when the system closes.
        """
        if self._shutdown_started:
            await self._shutdown_done.wait()
            return
        self._shutdown_started = True
        try:
            with trio.move_on_after(timeout) as scope:
                await self._shutdown_steps(timeout)
            if scope.cancelled_caught:
                log.warning(
                    "bridge: graceful shutdown took over %.0f s; cancelling the rest", timeout
                )
        finally:
            self._shutdown_done.set()

    async def _shutdown_steps(self, timeout: float) -> None:
        for child_id in ("gateway", "scheduler", "upgrade", "router"):
            await _terminate(self.root, child_id)
        prepare_timeout = max(timeout * 0.6, 1.0)
        try:
            children = self.sessions.which_children()
        except actors.ActorStopped:
            children = {}  # the sessions supervisor is gone: nothing to prepare
        async with trio.open_nursery() as nursery:
            for thread_id, info in children.items():
                nursery.start_soon(_prepare, thread_id, info.ref, prepare_timeout)
        try:
            marked = await store_call(
                self.store,
                lambda db: db.mark_active_for_resume("shutdown", time.time()),
                timeout=STORE_TIMEOUT,
            )
        except actors.ActorsError as exc:
            log.error("bridge: could not mark running sessions for resume: %s", exc)
        else:
            if marked:
                log.info("bridge: marked for resume at the next start: %s", marked)
        for child_id in ("sessions", "limiter", "coordinator", "dashboard", "store"):
            await _terminate(self.root, child_id)


async def _terminate(root: actors.SupervisorRef, child_id: str) -> None:
    # Already gone (it crashed for good, or the supervisor is stopping): nothing to stop.
    with contextlib.suppress(actors.UnknownChild, actors.ActorStopped):
        await root.terminate_child(child_id)


async def _prepare(
    thread_id: Hashable, session: actors.Ref[SessionMessage], timeout: float
) -> None:
    try:
        await session.ask(PrepareShutdown(), timeout=timeout)
    except actors.ActorsError as exc:
        # The store mark that follows covers it: it resumes at the next start anyway.
        log.warning("bridge: session %s did not prepare for shutdown: %s", thread_id, exc)


@attrs.frozen
class _LateScheduler:
    """``/task`` reaches the scheduler, which starts after the router."""

    late: LateRefs

    def reload(self) -> bool:
        if self.late.scheduler is None:
            return False
        self.late.scheduler.tell(ReloadSchedule())
        return True

    def run_now(self, task_id: int) -> bool:
        if self.late.scheduler is None:
            return False
        self.late.scheduler.tell(RunTaskNow(task_id=task_id))
        return True


def local_config(config: Config, server: Any) -> Config:
    """``config`` pointed at an in-process local Discord server (``open_discord_local``).

    The server's token and REST URL replace the real ones; with no channel or allowed
    users configured, its default channel and its owner are used, so the local server's
    owner can drive Claude out of the box.
    """
    world = server.world
    allowed = config.allowed_user_ids or frozenset({world.owner_id})
    return attrs.evolve(
        config,
        discord_bot_token=server.token,
        discord_api_base_url=server.rest_url,
        discord_channel_id=config.discord_channel_id or world.default_channel.id,
        discord_owner_id=config.discord_owner_id or world.owner_id,
        allowed_user_ids=allowed,
    )


@asynccontextmanager
async def open_bridge(
    config: Config,
    *,
    claude_env: Mapping[str, str] | None = None,
    session_behavior: actors.Behavior | None = None,
    rest_transport: httpx.AsyncBaseTransport | None = None,
    gateway_config: GatewayConfig | None = None,
    rng: random.Random | None = None,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
) -> AsyncIterator[Bridge]:
    """Run the bridge for the duration of the block.

    Args:
        config: a loaded configuration with a bot token (for local mode, pass it through
            :func:`local_config` first).
        claude_env: the base environment of ``claude`` children (default ``os.environ``);
            secrets are removed from it per child (X4).
        session_behavior: the session actor (default:
            ``bridge.sessions.session.session_actor``); called as
            ``behavior(ctx, deps: SessionDeps, thread_id)`` with ``deps.api_url`` the
            thread's own API URL. Tests pass a stand-in.
        rest_transport: an httpx transport for the REST client (tests); default network.
        gateway_config: intents and timeouts of the gateway (the token is always
            ``config``'s).
        rng: seeds jitter, nonces and backoff (tests pass a seeded one).
        shutdown_timeout: the graceful shutdown's budget in seconds.

    Yields:
        The running :class:`Bridge`.

    Raises:
        ValueError: ``config`` has no bot token (local mode was not resolved).
        GatewayFatalError: (in an ``ExceptionGroup``) Discord refused the token or intents;
            the block is cancelled and the bridge shut down.
        BridgeStopped: (in an ``ExceptionGroup``) the gateway ended unexpectedly.

    *Cancellation*: leaving the block normally or by an exception runs the graceful
    shutdown (shielded, bounded by ``shutdown_timeout``). A cancellation from a scope
    around the block cancels the actors too (their processes are still killed): to turn a
    cancellation into a graceful shutdown, use :func:`run_bridge`.
    """
    if config.discord_bot_token is None or config.discord_channel_id is None:
        raise ValueError(
            "open_bridge needs a bot token and a channel id; in local mode pass the config "
            "through local_config(config, server) with a running local Discord server"
        )
    rng = rng or random.Random()
    behavior = session_behavior or session_actor
    env = dict(os.environ if claude_env is None else claude_env)
    async with (
        actors.open_system(name="ccbridge", random=rng) as system,
        open_rest_client(
            config.discord_api_base_url,
            config.discord_bot_token,
            transport=rest_transport,
            random=rng,
        ) as rest,
    ):
        rest.add_failure_listener(_log_background_failure)
        async with trio.open_nursery() as nursery:
            bridge = await _start(system, rest, nursery, config, behavior, env, gateway_config, rng)
            nursery.start_soon(_watch_gateway, bridge)
            try:
                yield bridge
            finally:
                with trio.move_on_after(shutdown_timeout + 5.0, shield=True):
                    await bridge.shutdown(timeout=shutdown_timeout)
                nursery.cancel_scope.cancel()


async def run_bridge(
    config: Config,
    *,
    task_status: trio.TaskStatus[Bridge] = trio.TASK_STATUS_IGNORED,
    **kwargs: Any,
) -> None:
    """Run the bridge until cancelled: ``bridge = await nursery.start(run_bridge, config)``.

    Takes the keyword arguments of :func:`open_bridge`.

    *Cancellation*: cancelling it (e.g. the caller's nursery) shuts the bridge down
    gracefully: the bridge runs in a shielded scope, so the cancellation only tells it to
    stop, and the shutdown is bounded by ``shutdown_timeout`` (plus a small margin) before
    the rest is cancelled.
    """
    stop = trio.Event()
    budget = float(kwargs.get("shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT)) + 10.0

    async def shielded(*, task_status: trio.TaskStatus[Bridge]) -> None:
        with trio.CancelScope(shield=True) as scope:
            async with open_bridge(config, **kwargs) as bridge:
                task_status.started(bridge)
                await stop.wait()
                scope.deadline = trio.current_time() + budget

    async with trio.open_nursery() as nursery:
        bridge = await nursery.start(shielded)
        task_status.started(bridge)
        try:
            await trio.sleep_forever()
        finally:
            stop.set()


async def _start(
    system: actors.System,
    rest: RestClient,
    nursery: trio.Nursery,
    config: Config,
    behavior: actors.Behavior,
    env: dict[str, str],
    gateway_config: GatewayConfig | None,
    rng: random.Random,
) -> Bridge:
    assert config.discord_bot_token is not None
    assert config.discord_channel_id is not None
    # The parts declare the REST calls they make as Protocols (hikari-style, so tests can
    # hand them fakes); these typed names are where the checker holds the real client to them.
    router_rest: RouterRest = rest
    session_rest: SessionRest = rest
    gateway_rest: GatewayBotSource = rest
    started_at = time.time()
    root = await system.start_supervisor(
        actors.SupervisorSpec(max_restarts=5, within=60.0), name="root", critical=True
    )
    store = await root.start_child_spec(
        actors.ChildSpec(
            store_actor,
            args=(config.database_path,),
            id="store",
            mailbox=STORE_MAILBOX,
            shutdown=10.0,
        )
    )
    facts = await store_call(store, lambda db: resume_facts(db, time.time()), timeout=STORE_TIMEOUT)
    to_resume = sessions_to_resume(facts)

    async def post(channel_id: int, text: str) -> None:
        await rest.create_message(channel_id, content=text)

    # The router sets it at the end of the first READY's start-up (Startup.done).
    discord_seen = trio.Event()
    dashboard = await root.start_child_spec(
        actors.ChildSpec(
            dashboard_actor,
            args=(
                rest,
                DashboardConfig(channel_id=config.discord_channel_id, ready=discord_seen),
            ),
            id="dashboard",
            mailbox=DASHBOARD_MAILBOX,
            shutdown=10.0,
        )
    )
    coordinator = await root.start_child_spec(
        actors.ChildSpec(
            coordinator_actor,
            args=(
                store,
                post,
                CoordinatorConfig(
                    lounge_channel_id=config.lounge_channel_id,
                    coordination_channel_id=config.coordination_channel_id,
                    worktree_base_dir=config.worktree_base_dir,
                    session_end_quiet=config.session_end_quiet_seconds,
                    forward=dashboard.offer,
                ),
            ),
            id="coordinator",
            shutdown=10.0,
        )
    )
    limiter = await root.start_child_spec(
        actors.ChildSpec(
            limiter_actor,
            args=(config.max_concurrent_sessions,),
            id="limiter",
            mailbox=LIMITER_MAILBOX,
        )
    )
    tokens = SessionTokens.generate()
    late = LateRefs()
    api_app = make_api_app(
        ApiDeps(
            store=store,
            coordinator=coordinator,
            tokens=tokens,
            admin_secret=config.api_secret,
            late=late,
            post=post,
            channel_id=config.discord_channel_id,
            default_working_dir=str(config.claude_working_dir),
            default_timeout=config.session_timeout_seconds,
        )
    )
    api_url: str = await nursery.start(
        functools.partial(serve_api, host=config.api_host), api_app, config.api_port
    )

    def session_api_url(thread_id: int) -> str:
        return f"{api_url}/s/{tokens.token_for(thread_id)}"

    deps = SessionDeps(
        config=config,
        rest=session_rest,
        store=store,
        limiter=limiter,
        coordinator=coordinator,
        claude_command=ClaudeCommand(
            executable=config.claude_command,
            model=config.claude_model,
            permission_mode=config.claude_permission_mode,
            # K6: the bridge's own tools (bridge/mcp), allowed without asking.
            mcp_config=mcp_config_json(),
            allowed_tools=(MCP_TOOLS_RULE,),
        ),
        claude_env=env,
        api_url=api_url,
    )
    sessions = await root.start_child_spec(
        actors.SupervisorSpec(
            # One thread's session crashing over and over must not take the others down
            # quickly; the intensity is for the whole set.
            max_restarts=20,
            within=60.0,
            dynamic=session_child_spec(
                deps,
                behavior=behavior,
                api_url_for=session_api_url,
                shutdown=SESSION_SHUTDOWN,
                backoff=actors.Backoff(initial=0.5, maximum=10.0),
            ),
        ).as_child(id="sessions")
    )
    resumed: list[tuple[int, str]] = []

    async def resume(thread_id: int, reason: str) -> None:
        resumed.extend(
            await resume_sessions(
                store, sessions, [(thread_id, reason)], store_timeout=STORE_TIMEOUT
            )
        )

    # A4: resumed by the router after READY and the thread's catch-up, not before.
    startup = Startup(to_resume=tuple(to_resume), resume=resume, done=discord_seen)

    restart = _RestartRequest()
    upgrade = None
    if config.upgrade_command is not None:
        upgrade = await _start_upgrade(root, limiter, rest, config, restart)

    # Sessions started by the API or the scheduler act for the owner (X5 still holds: the
    # owner is allowed), else for the lowest allowed id.
    api_author = config.discord_owner_id or min(config.allowed_user_ids, default=None)
    router = await root.start_child_spec(
        actors.ChildSpec(
            router_actor,
            args=(
                RouterConfig(
                    channel_id=config.discord_channel_id,
                    allowed_user_ids=config.allowed_user_ids,
                    working_dir=str(config.claude_working_dir),
                    model=config.claude_model,
                    catch_up_max_age=config.catch_up_max_age_seconds,
                    catch_up_max_messages=config.catch_up_max_messages,
                    started_at=started_at,
                    api_author_id=api_author,
                    triggers=config.triggers,
                    task_control=_LateScheduler(late),
                    approvers=approvers_of(config),
                    skills_dir=str(config_dir(env) / "skills"),
                    upgrade=upgrade,
                    management=ManagementConfig(
                        channel_id=config.discord_channel_id,
                        working_dir=str(config.claude_working_dir),
                        claude_config_dir=config_dir(env),
                        worktree_base_dir=config.worktree_base_dir,
                        budget=config.budget,
                        approver_ids=_budget_approver_ids(config),
                    ),
                ),
                router_rest,
                store,
                sessions,
                startup,
            ),
            id="router",
            mailbox=ROUTER_MAILBOX,
        )
    )
    late.router = router
    scheduler = None
    if api_author is not None:
        scheduler = await root.start_child_spec(
            actors.ChildSpec(
                scheduler_actor,
                args=(
                    store,
                    router,
                    sessions,
                    post,
                    SchedulerConfig(channel_id=config.discord_channel_id, author_id=api_author),
                ),
                id="scheduler",
            )
        )
        late.scheduler = scheduler
    gw_config = attrs.evolve(
        gateway_config or GatewayConfig(token=config.discord_bot_token),
        token=config.discord_bot_token,
    )
    gateway = await root.start_child_spec(
        actors.ChildSpec(
            run_gateway,
            args=(gw_config, gateway_rest, [router], rng),
            id="gateway",
            # A fatal close (bad token, intents) would only repeat: never restart; the
            # watcher below ends the bridge with the error instead.
            restart=actors.Restart.TEMPORARY,
        )
    )
    if config.worktree_base_dir is not None:
        active = frozenset(thread_id for thread_id, _ in to_resume)
        nursery.start_soon(_cleanup_worktrees, config, active)
    return Bridge(
        config=config,
        system=system,
        root=root,
        rest=rest,
        store=store,
        coordinator=coordinator,
        limiter=limiter,
        sessions=sessions,
        router=router,
        gateway=gateway,
        api_url=api_url,
        tokens=tokens,
        resumed=resumed,
        startup=startup,
        scheduler=scheduler,
        upgrade=upgrade,
        restart=restart,
    )


def _budget_approver_ids(config: Config) -> frozenset[int]:
    """Who may let a parked session spend more: APPROVER_USER_IDS and the owner; with no
    approver list, the owner alone (money), or every allowed user when there is no owner.
    The budget buttons see user ids only: APPROVER_ROLE_IDS does not apply."""
    owner = {config.discord_owner_id} if config.discord_owner_id is not None else set()
    if config.approver_user_ids:
        return frozenset(config.approver_user_ids | owner)
    return frozenset(owner) if owner else config.allowed_user_ids


async def _start_upgrade(
    root: actors.SupervisorRef,
    limiter: actors.Ref[LimiterMessage],
    rest: RestClient,
    config: Config,
    restart: _RestartRequest,
) -> actors.Ref[UpgradeMessage]:
    assert config.upgrade_command is not None
    assert config.discord_channel_id is not None

    def request_restart(stop: Stop) -> None:
        if restart.plan is None:
            restart.plan = RestartPlan(command=config.restart_command, interrupted=stop.interrupted)
            restart.event.set()

    secrets = [s for s in (config.discord_bot_token, config.api_secret) if s]
    upgrade_config = UpgradeConfig(
        command=config.upgrade_command,
        timeout=config.upgrade_timeout_seconds,
        channel_id=config.discord_channel_id,
        settings=Settings(
            approvers=approvers_of(config),
            require_approval=config.upgrade_require_approval,
            drain_seconds=config.upgrade_drain_seconds,
        ),
        env=scrubbed_environment(os.environ, secrets),
    )
    ref: actors.Ref[UpgradeMessage] = await root.start_child_spec(
        actors.ChildSpec(
            upgrade_actor,
            args=(limiter, rest, upgrade_config, request_restart),
            id="upgrade",
            shutdown=10.0,
        )
    )
    return ref


async def _cleanup_worktrees(config: Config, active: frozenset[int]) -> None:
    assert config.worktree_base_dir is not None
    try:
        results = await cleanup_worktrees(config.worktree_base_dir, active)
    except OSError as exc:
        log.error("bridge: worktree cleanup at start failed: %s", exc)
        return
    for result in results:
        log.info("bridge: worktree %s: %s %s", result.path, result.outcome.value, result.detail)


async def _watch_gateway(bridge: Bridge) -> None:
    reason = await bridge.gateway.wait_stopped()
    if reason.kind in (actors.ExitKind.SHUTDOWN, actors.ExitKind.CANCELLED):
        return  # we stopped it (shutdown), or everything is being cancelled
    fatal = _find(reason.error, GatewayFatalError)
    if fatal is not None:
        raise fatal
    raise BridgeStopped(f"the gateway ended unexpectedly ({reason.kind.name}: {reason.error!r})")


def _find(error: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _find(inner, kind)
            if found is not None:
                return found
    return None


def _log_background_failure(failure: BackgroundFailure) -> None:
    log.warning("bridge: a background Discord request failed: %s", failure)
