"""Exit reasons, the ``Down`` message and the lifecycle events a subscriber can observe.

Every value here is a frozen attrs class. Events name facts (what happened to which actor);
they are published on the system's event stream (``System.subscribe``), which is bounded:
a slow subscriber loses events and the loss is counted, it never slows the actors down.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

if TYPE_CHECKING:
    from ._mailbox import Overflow
    from ._ref import Ref


class ExitKind(enum.Enum):
    """How one incarnation of an actor ended."""

    NORMAL = "normal"
    """The behavior returned by itself."""
    SHUTDOWN = "shutdown"
    """The runtime asked it to end: ``Ref.stop``, ``Context.stop``, a supervisor or system close."""
    CRASH = "crash"
    """An ``Exception`` (or ``ExceptionGroup``) escaped the behavior or a helper task."""
    CANCELLED = "cancelled"
    """A scope *around* the runtime was cancelled, or a ``BaseException`` such as
    ``KeyboardInterrupt`` passed through. Never restarted; the exception keeps propagating."""


@attrs.frozen
class ExitReason:
    """Why an actor (or one incarnation of it) ended."""

    kind: ExitKind
    """The classification; only ``CRASH`` (and ``NORMAL`` for permanent children) restarts."""
    error: BaseException | None = attrs.field(default=None, eq=False)
    """The exception for ``CRASH`` and ``CANCELLED``; ``None`` otherwise."""

    def __str__(self) -> str:
        if self.error is None:
            return self.kind.value
        return f"{self.kind.value}: {type(self.error).__name__}: {self.error}"


NORMAL = ExitReason(ExitKind.NORMAL)
SHUTDOWN = ExitReason(ExitKind.SHUTDOWN)


@attrs.frozen
class Down:
    """Delivered to a monitoring actor when the monitored actor has ended for good.

    An actor that is restarted by its supervisor has not ended: its ``Ref`` stays valid and
    no ``Down`` is sent until the last incarnation is over.
    """

    ref: Ref[Any]
    """The actor that ended."""
    reason: ExitReason
    """Why it ended."""


@attrs.frozen
class Started:
    """An incarnation called ``ctx.started()`` (or began reading its mailbox)."""

    ref: Ref[Any]
    incarnation: int
    """1 for the first start, then 2, 3, ... after each restart."""


@attrs.frozen
class Stopped:
    """An actor ended for good (it will not be restarted); its mailbox is closed."""

    ref: Ref[Any]
    reason: ExitReason


@attrs.frozen
class Crashed:
    """An incarnation crashed: an ``Exception`` escaped it. Its supervisor decides what next."""

    ref: Ref[Any]
    incarnation: int
    error: BaseException = attrs.field(eq=False)


@attrs.frozen
class Restarted:
    """A supervisor started a new incarnation of a child (same ``Ref``, same mailbox)."""

    ref: Ref[Any]
    incarnation: int
    delay: float
    """The backoff delay waited before this restart, in seconds (0 without backoff)."""


@attrs.frozen
class Dropped:
    """A message was thrown away by a full mailbox's overflow policy (or ``offer`` refused it)."""

    ref: Ref[Any]
    message: Any
    policy: Overflow


@attrs.frozen
class DeadLetter:
    """A message was accepted into a mailbox but the actor ended before handling it."""

    ref: Ref[Any]
    message: Any


@attrs.frozen
class IntensityExceeded:
    """A supervisor saw more than ``max_restarts`` restarts within ``within`` seconds and gave up.

    It stops its remaining children and crashes with ``RestartIntensityExceeded``, so the
    failure escalates to its own supervisor.
    """

    ref: Ref[Any]
    restarts: int
    within: float


Event: TypeAlias = (
    Started | Stopped | Crashed | Restarted | Dropped | DeadLetter | IntensityExceeded
)
EVENT_TYPES: tuple[type[Any], ...] = (
    Started,
    Stopped,
    Crashed,
    Restarted,
    Dropped,
    DeadLetter,
    IntensityExceeded,
)
