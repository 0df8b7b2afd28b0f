"""A supervised actor runtime on trio.

Actors are async functions that own a bounded mailbox, live in trio nurseries, are
supervised in the manner of Erlang/OTP, and talk only by messages. The package knows
nothing of Discord or Claude, never calls ``trio.run``, installs no signal handlers and
configures no logging, so it can be embedded in any trio program. See docs/actors.md.

Layers: ``_mailbox`` (bounded queues) and ``_ask`` (one-shot replies) under ``_ref``
(handles) under ``_actor`` (incarnations, Context) under ``_supervisor`` and ``_system``;
``_process`` owns subprocesses. Everything public is re-exported here.
"""

from ._actor import Behavior, BehaviorOf, Context, MonitorHandle, TimerHandle
from ._ask import Ask
from ._errors import (
    ActorCrashed,
    ActorsError,
    ActorStopped,
    AlreadyReplied,
    AskedSelf,
    AskTimeout,
    DuplicateChild,
    MailboxFull,
    RestartIntensityExceeded,
    SpawnError,
    SystemClosed,
    UnknownChild,
)
from ._events import (
    Crashed,
    DeadLetter,
    Down,
    Dropped,
    Event,
    ExitKind,
    ExitReason,
    IntensityExceeded,
    Restarted,
    Started,
    Stopped,
)
from ._mailbox import Mailbox, MailboxReader, Overflow
from ._process import OwnedProcess, ProcessExited, iter_lines, open_process
from ._ref import Ref
from ._supervisor import (
    Backoff,
    ChildInfo,
    ChildSpec,
    Restart,
    Strategy,
    SupervisorChildSpec,
    SupervisorRef,
    SupervisorSpec,
)
from ._system import EventStream, System, open_system, run_system

__all__ = [
    "ActorCrashed",
    "ActorStopped",
    "ActorsError",
    "AlreadyReplied",
    "Ask",
    "AskTimeout",
    "AskedSelf",
    "Backoff",
    "Behavior",
    "BehaviorOf",
    "ChildInfo",
    "ChildSpec",
    "Context",
    "Crashed",
    "DeadLetter",
    "Down",
    "Dropped",
    "DuplicateChild",
    "Event",
    "EventStream",
    "ExitKind",
    "ExitReason",
    "IntensityExceeded",
    "Mailbox",
    "MailboxFull",
    "MailboxReader",
    "MonitorHandle",
    "Overflow",
    "OwnedProcess",
    "ProcessExited",
    "Ref",
    "Restart",
    "RestartIntensityExceeded",
    "Restarted",
    "SpawnError",
    "Started",
    "Stopped",
    "Strategy",
    "SupervisorChildSpec",
    "SupervisorRef",
    "SupervisorSpec",
    "System",
    "SystemClosed",
    "TimerHandle",
    "UnknownChild",
    "iter_lines",
    "open_process",
    "open_system",
    "run_system",
]
