"""Edits of a message in order, last writer wins, coalesced: a sans-IO machine.

Theory of operation
-------------------
What a message shows is the last PATCH Discord applied to it. Two PATCHes of one message
out at once may be applied in either order, and an older one retried after a 429 or a
dropped connection can land after a newer one: a streamed reply visibly shrinks and ends
stale. So, per message:

* at most one PATCH is outstanding (queued, in flight, or waiting out a retry);
* every attempt, the first and every retry, carries everything submitted and not yet
  confirmed, merged field by field with the latest value winning. A retry therefore never
  sends older content than what was submitted before it, and edits submitted while one is
  out are coalesced into the next attempt;
* a confirmed PATCH settles the fields it carried, unless a newer edit set them again; if
  anything newer is left, the driver sends another PATCH.

So an older edit never lands after a newer one, and the last PATCH that succeeds carries
the latest value of every field. Versions (increasing across all messages) tell callers
which submissions a PATCH carried.

A field's value may be :class:`Live`: a renderer called by ``take``, so each attempt
carries what it renders *then*. A message that changes many times per edit slot (streamed
text) is then rendered once per PATCH instead of once per change: the caller changes its
own state, and submits the same ``Live`` again only when none is waiting to be taken
(:meth:`EditQueue.waiting_with`); the waiting one will render the change anyway.

Using it (the driver is ``bridge/discord/rest.py``)::

    submitted = edits.submit(key, {"content": "..."})
    if submitted.start: queue a PATCH job for key
    # when the job is sent (each attempt):
    patch = edits.take(key)               # patch.fields, patch.version
    # when the job ends:
    more = edits.confirmed(key, patch.version)   # or edits.failed(key, patch.version)
    if more: queue another PATCH job for key
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import attrs

__all__ = ["EditQueue", "EditUsageError", "Live", "Patch", "Submitted"]


class Live:
    """A field value rendered when a PATCH carrying it is taken (each attempt renders
    again). ``taken`` is the last value it rendered (what the outstanding or last PATCH
    carried), or ``initial``, what the field showed before any."""

    __slots__ = ("_render", "taken")

    def __init__(self, render: Callable[[], Any], initial: Any = None) -> None:
        self._render = render
        self.taken = initial

    def take(self) -> Any:
        self.taken = value = self._render()
        return value


@attrs.frozen(kw_only=True)
class Submitted:
    version: int
    """This submission's version: a PATCH carrying a version at least this has it."""
    start: bool
    """No PATCH is outstanding for the message: the driver must queue one."""
    coalesced: bool
    """It was merged into fields already waiting to be sent."""


@attrs.frozen(kw_only=True)
class Patch:
    fields: dict[str, Any]
    """Every field submitted and not yet confirmed, latest values."""
    version: int
    """The newest submission it carries."""
    rendered: bool = False
    """Some of ``fields`` were :class:`Live` values, rendered by this take."""


@attrs.define(auto_exc=True, kw_only=True)
class EditUsageError(Exception):
    """A driver bug: the call does not fit the message's state."""

    key: Hashable
    detail: str

    def __str__(self) -> str:
        return f"edits of {self.key!r}: {self.detail}"


@attrs.define
class _Message:
    fields: dict[str, Any] = attrs.Factory(dict)
    """Submitted and not yet confirmed, latest values."""
    set_at: dict[str, int] = attrs.Factory(dict)
    """Per field, the version that last set it."""
    latest: int = 0
    """The newest version submitted."""
    taken: int = 0
    """The version the last ``take`` carried."""
    outstanding: bool = False


class EditQueue:
    """The edits of every message, keyed by anything hashable (e.g. channel and message
    ids)."""

    def __init__(self) -> None:
        self._messages: dict[Hashable, _Message] = {}
        self._version = 0

    def submit(self, key: Hashable, fields: Mapping[str, Any]) -> Submitted:
        """An edit of ``key``: these fields, these values."""
        message = self._messages.setdefault(key, _Message())
        coalesced = message.outstanding and message.latest > message.taken
        self._version += 1
        for name, value in fields.items():
            message.fields[name] = value
            message.set_at[name] = self._version
        message.latest = self._version
        start = not message.outstanding
        message.outstanding = True
        return Submitted(version=self._version, start=start, coalesced=coalesced)

    def take(self, key: Hashable) -> Patch:
        """The body of the outstanding PATCH's next attempt.

        Raises:
            EditUsageError: no PATCH is outstanding for ``key``.
        """
        message = self._outstanding(key, "take")
        message.taken = message.latest
        fields = dict(message.fields)
        rendered = False
        for name, value in fields.items():
            if isinstance(value, Live):
                fields[name] = value.take()
                rendered = True
        return Patch(fields=fields, version=message.latest, rendered=rendered)

    def waiting_with(self, key: Hashable, name: str, value: Any) -> bool:
        """Whether a submission of ``key`` not taken yet sets ``name`` to this very object
        (a :class:`Live` that will render when taken: submitting it again changes nothing)."""
        message = self._messages.get(key)
        return (
            message is not None
            and message.outstanding
            and message.latest > message.taken
            and message.fields.get(name) is value
        )

    def confirmed(self, key: Hashable, version: int) -> bool:
        """The PATCH carrying ``version`` succeeded. True: newer edits wait, send another."""
        return self._settle(self._outstanding(key, "confirmed"), key, version)

    def failed(self, key: Hashable, version: int) -> bool:
        """The PATCH carrying ``version`` failed for good (e.g. the message is gone): its
        fields are dropped, newer values kept. True: newer edits wait, send another."""
        return self._settle(self._outstanding(key, "failed"), key, version)

    def outstanding(self, key: Hashable) -> bool:
        message = self._messages.get(key)
        return message is not None and message.outstanding

    def latest(self, key: Hashable) -> int:
        """The newest version submitted for ``key`` (0: none)."""
        message = self._messages.get(key)
        return 0 if message is None else message.latest

    def __len__(self) -> int:
        """Messages with a PATCH outstanding."""
        return len(self._messages)

    def _outstanding(self, key: Hashable, call: str) -> _Message:
        message = self._messages.get(key)
        if message is None or not message.outstanding:
            raise EditUsageError(key=key, detail=f"{call} with no PATCH outstanding")
        return message

    def _settle(self, message: _Message, key: Hashable, version: int) -> bool:
        if version > message.latest:
            raise EditUsageError(
                key=key, detail=f"version {version} was never submitted (latest {message.latest})"
            )
        for name in [n for n, at in message.set_at.items() if at <= version]:
            del message.fields[name]
            del message.set_at[name]
        if message.latest > version:
            return True
        del self._messages[key]
        return False
