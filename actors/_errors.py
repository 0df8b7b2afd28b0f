"""The runtime's exceptions.

::

    ActorsError                     base of every error the runtime raises
    ├── ActorStopped                the target has stopped (or is stopping): tell/ask/send refused,
    │                               or an ask was pending when it stopped
    ├── ActorCrashed                the target crashed while an ask to it was pending
    ├── AskTimeout                  no reply within the ask's timeout (also a ``trio.TooSlowError``)
    ├── MailboxFull                 a full mailbox refused a message (REJECT / BLOCK_SENDER)
    ├── AlreadyReplied              an ``Ask`` was answered twice (a bug in the callee)
    ├── AskedSelf                   an actor asked itself: it would wait for itself forever
    ├── SpawnError                  a behavior failed (or was too slow) before ``ctx.started()``
    ├── SystemClosed                spawn on a system that is closing or closed
    ├── RestartIntensityExceeded    a supervisor gave up; escalates to its parent
    ├── DuplicateChild              a dynamic child with this id already exists
    └── UnknownChild                no child with this id

Exceptions are attrs classes, so code can act on their fields; ``str()`` is a sentence.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

import attrs
import trio

if TYPE_CHECKING:
    from ._events import ExitReason


@attrs.define(eq=False)
class ActorsError(Exception):
    """Base class of every error raised by the ``actors`` runtime."""


@attrs.define(eq=False)
class ActorStopped(ActorsError):
    """The actor has stopped or is stopping, so it will not handle this message."""

    actor: str
    reason: ExitReason | None = None

    def __str__(self) -> str:
        why = f" ({self.reason})" if self.reason is not None else ""
        return f"actor {self.actor!r} is stopped{why}; it accepts and answers no more messages"


@attrs.define(eq=False)
class ActorCrashed(ActorsError):
    """The actor crashed while this ask was pending; ``cause`` is what it raised."""

    actor: str
    cause: BaseException | None = None

    def __str__(self) -> str:
        what = f"{type(self.cause).__name__}: {self.cause}" if self.cause is not None else "?"
        return f"actor {self.actor!r} crashed before replying ({what})"


@attrs.define(eq=False)
class AskTimeout(ActorsError, trio.TooSlowError):
    """No reply arrived within the ask's timeout. The late reply, if any, goes nowhere."""

    actor: str
    message_type: str
    timeout: float

    def __str__(self) -> str:
        return (
            f"actor {self.actor!r} did not reply to {self.message_type} within "
            f"{self.timeout:g} s; it may be overloaded, blocked, or never replying to this message"
        )


@attrs.define(eq=False)
class MailboxFull(ActorsError):
    """The bounded mailbox is full and its overflow policy refuses new messages."""

    actor: str
    capacity: int

    def __str__(self) -> str:
        return (
            f"the mailbox of actor {self.actor!r} is full ({self.capacity} messages); "
            "slow down, use `await ref.send(msg)` with Overflow.BLOCK_SENDER, or pick a drop policy"
        )


@attrs.define(eq=False)
class AlreadyReplied(ActorsError):
    """``reply``/``fail`` was called a second time on the same ask (a bug in the callee)."""

    message_type: str

    def __str__(self) -> str:
        return f"this {self.message_type} was already answered; an ask takes exactly one reply"


@attrs.define(eq=False)
class AskedSelf(ActorsError):
    """An actor's own task asked the actor itself, which can never be answered."""

    actor: str

    def __str__(self) -> str:
        return (
            f"actor {self.actor!r} asked itself and would wait for itself forever; "
            "handle the message directly, or tell() it to yourself"
        )


@attrs.define(eq=False)
class SpawnError(ActorsError):
    """The behavior raised, returned or timed out before calling ``ctx.started()``.

    ``cause`` (also ``__cause__``) is the original exception.
    """

    actor: str
    cause: BaseException | None = None

    def __str__(self) -> str:
        what = f"{type(self.cause).__name__}: {self.cause}" if self.cause is not None else "?"
        return f"actor {self.actor!r} failed to start ({what})"


@attrs.define(eq=False)
class SystemClosed(ActorsError):
    """The actor system is closing or closed; nothing new can be started in it."""

    system: str

    def __str__(self) -> str:
        return f"actor system {self.system!r} is closing or closed; nothing new can start in it"


@attrs.define(eq=False)
class RestartIntensityExceeded(ActorsError):
    """A supervisor saw more than ``max_restarts`` restarts within ``within`` seconds.

    It has stopped its children; raising this makes the supervisor itself crash, so the
    failure goes up to its own supervisor (or to the system's event stream and log).
    """

    supervisor: str
    max_restarts: int
    within: float
    last_error: BaseException | None = None

    def __str__(self) -> str:
        return (
            f"supervisor {self.supervisor!r} gave up: more than {self.max_restarts} restarts "
            f"within {self.within:g} s (last error: {self.last_error!r})"
        )


@attrs.define(eq=False)
class DuplicateChild(ActorsError):
    """``start_child`` was given an id that a running child already has."""

    supervisor: str
    id: Hashable

    def __str__(self) -> str:
        return (
            f"supervisor {self.supervisor!r} already has a child with id {self.id!r}; "
            "look it up with sup.child(id) or terminate it first"
        )


@attrs.define(eq=False)
class UnknownChild(ActorsError):
    """No child with this id exists (it may have ended already)."""

    supervisor: str
    id: Hashable

    def __str__(self) -> str:
        return f"supervisor {self.supervisor!r} has no child with id {self.id!r}"
