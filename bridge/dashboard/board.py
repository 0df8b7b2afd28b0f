"""The dashboard's content (C17): what every session is doing, from the sessions' reports.

Theory of operation
-------------------
Session actors report to the coordinator (``SessionStarted`` when a turn's process starts,
``SessionActivity`` whenever their status, activity, queue position or waiting prompt
changes, ``SessionFinished`` when a turn ends); the coordinator passes every report on to
the dashboard actor, which feeds it to a :class:`Board` with the wall-clock time. The board
keeps one :class:`Entry` per thread, in one of four phases:

* **working**: a turn runs (with what it is doing: ``Bash: pytest -q``, ``thinking``);
* **waiting**: the turn waits for a human (a permission prompt ...), with the prompt's
  message once it exists;
* **queued**: waiting for a concurrency slot, with the position;
* **parked**: over a budget or at the account's usage limit (with until when);
* **finished**: the last turn ended (with its outcome); shown for
  :data:`FINISHED_KEEP_SECONDS`, at most :data:`FINISHED_SHOWN` of them, newest first.

:func:`render_dashboard` turns a board into the one embed of the pinned message. Both are
pure: no clock is read, no IO is done.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final

import attrs

from bridge.sessions.messages import SessionActivity, SessionFinished, SessionStarted
from bridge.sessions.presentation.render import BLURPLE, MessagePayload, truncate
from protocol.discord import limits
from protocol.discord import models as m

__all__ = [
    "DASHBOARD_TITLE",
    "FINISHED_KEEP_SECONDS",
    "FINISHED_SHOWN",
    "Board",
    "Entry",
    "Phase",
    "Report",
    "render_dashboard",
]

DASHBOARD_TITLE: Final = "📊 Claude sessions"
"""The pinned message's embed title; also how the bridge recognizes it after a restart."""
FINISHED_SHOWN: Final = 5
FINISHED_KEEP_SECONDS: Final = 3600.0

Report = SessionStarted | SessionActivity | SessionFinished


class Phase(enum.Enum):
    WORKING = "working"
    WAITING = "waiting"
    QUEUED = "queued"
    PARKED = "parked"
    FINISHED = "finished"


_PHASE_OF_STATUS: Final = {
    "running": Phase.WORKING,
    "waiting": Phase.WAITING,
    "queued": Phase.QUEUED,
    "parked": Phase.PARKED,
}
_AT_REST: Final = frozenset({"idle", "stopped"})
"""A turn's end comes as ``SessionFinished`` (before the session reports it is at rest);
at rest without one (stopped while queued, a turn that never started) finishes the entry
with the status as its outcome."""


@attrs.frozen
class Entry:
    thread_id: int
    phase: Phase
    since: float
    """Wall-clock seconds when the entry entered its phase."""
    title: str | None = None
    activity: str = ""
    queue_position: int | None = None
    prompt_message_id: int | None = None
    outcome: str | None = None


@attrs.define
class Board:
    """The entries by thread. See the module docstring."""

    entries: dict[int, Entry] = attrs.field(factory=dict)

    def apply(self, report: Report, now: float) -> None:
        current = self.entries.get(report.thread_id)
        match report:
            case SessionStarted(thread_id=tid, title=title):
                since = current.since if current and current.phase is Phase.WORKING else now
                activity = current.activity if current and current.phase is Phase.WORKING else ""
                self.entries[tid] = Entry(tid, Phase.WORKING, since, title=title, activity=activity)
            case SessionActivity(thread_id=tid, status=status) if status in _AT_REST:
                if current is not None and current.phase is not Phase.FINISHED:
                    self.entries[tid] = Entry(
                        tid, Phase.FINISHED, now, title=current.title, outcome=status
                    )
            case SessionActivity(thread_id=tid, status=status):
                phase = _PHASE_OF_STATUS.get(status)
                if phase is None:
                    return
                known = current.title if current else None
                since = current.since if current and current.phase is phase else now
                self.entries[tid] = Entry(
                    tid,
                    phase,
                    since,
                    title=known,
                    activity=report.activity,
                    queue_position=report.queue_position if phase is Phase.QUEUED else None,
                    prompt_message_id=(
                        report.prompt_message_id if phase is Phase.WAITING else None
                    ),
                )
            case SessionFinished(thread_id=tid, outcome=outcome):
                known = current.title if current else None
                self.entries[tid] = Entry(tid, Phase.FINISHED, now, title=known, outcome=outcome)
        self.prune(now)

    def prune(self, now: float) -> None:
        """Forget finished entries that are too old or beyond the newest few."""
        finished = sorted(
            (e for e in self.entries.values() if e.phase is Phase.FINISHED),
            key=lambda e: (e.since, e.thread_id),
            reverse=True,
        )
        for index, entry in enumerate(finished):
            if index >= FINISHED_SHOWN or now - entry.since > FINISHED_KEEP_SECONDS:
                del self.entries[entry.thread_id]

    def phase(self, phase: Phase) -> list[Entry]:
        """The entries of one phase in the order shown: queued by position, finished newest
        first, the others longest first."""
        found = [e for e in self.entries.values() if e.phase is phase]
        if phase is Phase.QUEUED:
            return sorted(found, key=lambda e: (e.queue_position or 0, e.since, e.thread_id))
        if phase is Phase.FINISHED:
            return sorted(found, key=lambda e: (-e.since, e.thread_id))
        return sorted(found, key=lambda e: (e.since, e.thread_id))


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------

_SECTIONS: Final = (
    (Phase.WAITING, "🔐 Waiting for you"),
    (Phase.WORKING, "⚙️ Working"),
    (Phase.QUEUED, "⏸️ Queued"),
    (Phase.PARKED, "💤 Parked"),
    (Phase.FINISHED, "✅ Recently finished"),
)
_LINE_CHARS: Final = 300


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    guild = str(guild_id) if guild_id is not None else "@me"
    return f"https://discord.com/channels/{guild}/{channel_id}/{message_id}"


def _clean(text: str) -> str:
    """One line, no Markdown or mention of Claude's own."""
    flat = " ".join(text.split())
    for char in "\\*_~`|>[]":
        flat = flat.replace(char, f"\\{char}")
    return flat.replace("@", "@\u200b").replace("<", "\\<")


def entry_line(entry: Entry, guild_id: int | None) -> str:
    where = f"<#{entry.thread_id}>"
    if entry.title:
        where += f" {_clean(truncate(entry.title, 80))}"
    since = f"<t:{int(entry.since)}:R>"
    if entry.phase is Phase.WAITING:
        what = _clean(entry.activity) or "waiting for an answer"
        link = ""
        if entry.prompt_message_id is not None:
            url = message_link(guild_id, entry.thread_id, entry.prompt_message_id)
            link = f" · [open the prompt]({url})"
        line = f"{where} · {what}{link} · since {since}"
    elif entry.phase is Phase.WORKING:
        what = _clean(entry.activity) or "working"
        line = f"{where} · {what} · since {since}"
    elif entry.phase is Phase.QUEUED:
        position = f"#{entry.queue_position}" if entry.queue_position is not None else "#?"
        line = f"{position} {where} · since {since}"
    elif entry.phase is Phase.PARKED:
        what = _clean(entry.activity) or "parked"
        line = f"{where} · {what} · since {since}"
    else:
        line = f"{where} · {_clean(entry.outcome or 'done')} · {since}"
    return truncate(line, _LINE_CHARS)


def _section(header: str, lines: Iterable[str], room: int) -> str:
    """The section's header and as many lines as fit in ``room`` characters, the rest
    summed up."""
    items = list(lines)
    out = [f"**{header} ({len(items)})**"]
    used = len(out[0]) + 1
    for index, line in enumerate(items):
        more = f"… and {len(items) - index} more"
        if used + len(line) + 1 + len(more) + 1 > room:
            out.append(more)
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def render_dashboard(board: Board, guild_id: int | None) -> MessagePayload:
    """The pinned message: one embed, a section per non-empty phase (waiting first: that
    is where a human is needed), within Discord's embed limits."""
    sections = [(header, board.phase(phase)) for phase, header in _SECTIONS]
    present = [(h, entries) for h, entries in sections if entries]
    if not present:
        description = "No sessions right now. A message in this channel starts one."
    else:
        room = (limits.EMBED_DESCRIPTION - 2 * len(present)) // len(present)
        description = "\n\n".join(
            _section(h, (entry_line(e, guild_id) for e in entries), room) for h, entries in present
        )
    counts = {phase: len(board.phase(phase)) for phase, _ in _SECTIONS}
    footer = (
        f"{counts[Phase.WORKING]} working · {counts[Phase.WAITING]} waiting · "
        f"{counts[Phase.QUEUED]} queued"
    )
    embed = m.Embed(
        title=DASHBOARD_TITLE,
        description=description,
        color=BLURPLE,
        footer=m.EmbedFooter(text=footer),
    )
    return MessagePayload(embeds=(embed,))
