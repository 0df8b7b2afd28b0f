"""``/sessions`` (S2) and ``/resume-info`` (S3): what they show, as pure functions.

``/sessions`` lists the bridge's sessions, newest activity first, filtered by origin and
time window, :data:`PAGE_SIZE` a page, with Previous / Next buttons. A button's
``custom_id`` carries the whole query (origin, window, page), so a click needs nothing
remembered: the page is read again from the store, and a session that started meanwhile
shifts the pages by one rather than going missing.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Sequence
from typing import Final

import attrs

from bridge.sessions.presentation.render import quiet, truncate
from bridge.store import SessionRecord, SessionStatus
from protocol.discord import models as m

__all__ = [
    "PAGE_SIZE",
    "SESSIONS_PREFIX",
    "Origin",
    "SessionsQuery",
    "parse_sessions_custom_id",
    "resume_command",
    "sessions_page",
]

PAGE_SIZE: Final = 10
"""Sessions per page: ten lines of at most ~160 characters stay far under 2000."""
TITLE_CHARS: Final = 60
SESSIONS_PREFIX: Final = "ccb:mgmt:sessions:"
"""``ccb:mgmt:sessions:<origin>:<hours, 0 for any>:<page>``."""


class Origin(enum.StrEnum):
    """Which sessions ``/sessions`` shows: ``cli`` are those imported from the terminal
    (``/sync-sessions``); ``discord`` every other one (started by a message, the API, a
    trigger or a scheduled task: all live in Discord from their start)."""

    ALL = "all"
    DISCORD = "discord"
    CLI = "cli"


_STATUS_EMOJI: Final = {
    SessionStatus.IDLE: "💤",
    SessionStatus.QUEUED: "⏸️",
    SessionStatus.RUNNING: "▶️",
    SessionStatus.STOPPED: "⏹️",
    SessionStatus.ENDED: "🏁",
    SessionStatus.PARKED: "💸",
}


@attrs.frozen(kw_only=True)
class SessionsQuery:
    origin: Origin = Origin.ALL
    hours: int = 0
    """Only sessions active in the last ``hours``; 0: any age."""
    page: int = 0

    def custom_id(self, page: int) -> str:
        return f"{SESSIONS_PREFIX}{self.origin.value}:{self.hours}:{page}"


def parse_sessions_custom_id(custom_id: str) -> SessionsQuery | None:
    """The query a page button carries, or ``None`` if it is not one (or is junk)."""
    if not custom_id.startswith(SESSIONS_PREFIX):
        return None
    parts = custom_id[len(SESSIONS_PREFIX) :].split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts[1:]):
        return None
    try:
        origin = Origin(parts[0])
    except ValueError:
        return None
    hours, page = int(parts[1]), int(parts[2])
    if hours > 24 * 366 or page > 10_000:
        return None
    return SessionsQuery(origin=origin, hours=hours, page=page)


def _matches(record: SessionRecord, query: SessionsQuery, now: float) -> bool:
    if query.origin is Origin.CLI and record.origin != "cli":
        return False
    if query.origin is Origin.DISCORD and record.origin == "cli":
        return False
    return not query.hours or record.updated_at >= now - query.hours * 3600


def _line(record: SessionRecord) -> str:
    """One session: status, a link to its thread (``<#id>`` shows as the thread's name
    and opens it), its title, origin and last activity (Discord shows it relative)."""
    emoji = _STATUS_EMOJI.get(record.status, "•")
    title = quiet(truncate(record.title or "(untitled)", TITLE_CHARS))
    return (
        f"{emoji} <#{record.thread_id}> {title} · {record.status.value} · {record.origin} · "
        f"<t:{int(record.updated_at)}:R>"
    )


def sessions_page(
    records: Sequence[SessionRecord], query: SessionsQuery, now: float
) -> tuple[str, list[m.ActionRow]]:
    """The page's text and its buttons (none when everything fits on one page)."""
    found = sorted(
        (r for r in records if _matches(r, query, now)),
        key=lambda r: r.updated_at,
        reverse=True,
    )
    window = f" active in the last {query.hours} h" if query.hours else ""
    which = "" if query.origin is Origin.ALL else f" from {query.origin.value}"
    if not found:
        return f"No sessions{which}{window}.", []
    pages = (len(found) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(query.page, 0), pages - 1)
    shown = found[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    header = f"**{len(found)} session{'s' if len(found) != 1 else ''}{which}{window}**"
    if pages > 1:
        header += f" · page {page + 1} of {pages}"
    lines = [header, *(_line(r) for r in shown)]
    if pages == 1:
        return "\n".join(lines), []
    # A disabled button still needs an id that parses (and differs from its neighbour's):
    # on the first page "Previous" names page 0, on the last "Next" names the last page.
    buttons: list[m.Component] = [
        m.Button(
            style=m.ButtonStyle.SECONDARY,
            label="◀ Previous",
            custom_id=query.custom_id(max(page - 1, 0)),
            disabled=page == 0,
        ),
        m.Button(
            style=m.ButtonStyle.SECONDARY,
            label="Next ▶",
            custom_id=query.custom_id(min(page + 1, pages - 1)),
            disabled=page >= pages - 1,
        ),
    ]
    return "\n".join(lines), [m.ActionRow(components=buttons)]


def resume_command(record: SessionRecord) -> str | None:
    """The shell command that continues this session in a terminal, or ``None`` while it
    has no Claude session id yet (its first turn has not started)."""
    if not record.session_id:
        return None
    return f"cd {shlex.quote(record.working_dir)} && claude --resume {record.session_id}"
