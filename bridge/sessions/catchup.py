"""Catch-up decisions: what to do with messages sent while the bridge was away.

Pure code (no IO, time passed in); the router reads the history and performs these
decisions (docs/architecture.md "Catch-up").

* :func:`plan_catch_up` splits the messages read after a channel's cursor into those to run
  (oldest first, through the normal path) and those only listed in the notice: older than
  the configured maximum age, or beyond the maximum count (the newest ones run).
* :func:`reaction_fixes` corrects status reactions a stopped bridge left behind: an
  in-progress emoji (🤔, ✍️, ⏸️ ...) on a message whose turn is over, or that will be run
  again, would say "working" forever.
* :func:`catch_up_notice` is the one short notice per thread.

Message ids are snowflakes: their high bits are the creation time in milliseconds since
Discord's epoch (docs reference.mdx "Snowflakes"), so ages come from ids, not clocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from bridge.sessions.presentation import render
from bridge.store import InboxState

__all__ = [
    "DISCORD_EPOCH_MS",
    "FINAL_EMOJI",
    "NOTICE_LINKS_MAX",
    "CatchUpPlan",
    "ReactionFix",
    "Seen",
    "catch_up_notice",
    "jump_link",
    "plan_catch_up",
    "reaction_fixes",
    "snowflake_at",
    "snowflake_time",
]

DISCORD_EPOCH_MS: Final = 1420070400000
"""The first second of 2015, in Unix milliseconds (docs reference.mdx "Snowflakes")."""
NOTICE_LINKS_MAX: Final = 10
"""Messages listed by link in a notice; more are counted ("and 4 more")."""

FINAL_EMOJI: Final = frozenset({render.EMOJI_DONE, render.EMOJI_ERROR, render.EMOJI_STOPPED})
"""Status reactions that describe a finished turn; every other status emoji means
"in progress"."""
_STATUS_EMOJI: Final = frozenset(
    {
        render.EMOJI_QUEUED,
        render.EMOJI_REQUESTING,
        render.EMOJI_THINKING,
        render.EMOJI_WRITING,
        render.EMOJI_TOOL_READ,
        render.EMOJI_TOOL_EDIT,
        render.EMOJI_TOOL_WEB,
        render.EMOJI_WAITING,
        render.EMOJI_QUESTION,
        render.EMOJI_RETRYING,
        render.EMOJI_COMPACTING,
        render.EMOJI_STALLED,
    }
)


def snowflake_time(snowflake: int) -> float:
    """The Unix time (seconds) at which a snowflake was made."""
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000.0


def snowflake_at(unix_seconds: float) -> int:
    """The smallest snowflake made at ``unix_seconds`` (for "after this moment" queries)."""
    return max(int(unix_seconds * 1000) - DISCORD_EPOCH_MS, 0) << 22


def jump_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """A link that opens the message in Discord."""
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


@attrs.frozen(kw_only=True)
class Seen:
    """A message read from a channel's history, reduced to what the decisions need."""

    id: int
    channel_id: int
    from_person: bool
    """Typed by a person (not a bot, not a webhook, a user message type): a candidate to
    run. The bot's own messages are not, but their reactions are still repaired."""
    own_reactions: frozenset[str] = frozenset()
    """Emojis the bot has on it."""


@attrs.frozen(kw_only=True)
class CatchUpPlan:
    run: tuple[Seen, ...]
    """To feed through the normal path, oldest first."""
    not_run: tuple[Seen, ...]
    """Too old, or over the count: listed in the notice, oldest first."""
    cursor: int
    """The channel's cursor after this catch-up: the newest id read (or the old one)."""


def plan_catch_up(
    messages: Iterable[Seen], *, cursor: int, now: float, max_age: float, max_count: int
) -> CatchUpPlan:
    """Decide which of ``messages`` (any order, any channel of one lane) to run.

    Only messages newer than ``cursor`` count (a page may repeat one); a message is run if
    it is at most ``max_age`` seconds old and among the newest ``max_count`` of those; the
    other persons' messages are listed. Duplicates (the same id twice) count once.
    """
    by_id = {m.id: m for m in messages if m.id > cursor}
    ordered = [by_id[i] for i in sorted(by_id)]
    new_cursor = max([cursor, *by_id])
    persons = [m for m in ordered if m.from_person]
    oldest_allowed = now - max_age
    fresh = [m for m in persons if snowflake_time(m.id) >= oldest_allowed]
    run = fresh[-max_count:] if max_count > 0 else []
    chosen = {m.id for m in run}
    not_run = tuple(m for m in persons if m.id not in chosen)
    return CatchUpPlan(run=tuple(run), not_run=not_run, cursor=new_cursor)


@attrs.frozen(kw_only=True)
class ReactionFix:
    channel_id: int
    message_id: int
    remove: tuple[str, ...]
    add: tuple[str, ...] = ()


def reaction_fixes(messages: Iterable[Seen], states: Mapping[int, InboxState]) -> list[ReactionFix]:
    """The reaction changes that make a stopped bridge's leftovers true again.

    Every in-progress status emoji of ours goes: no turn runs at start. A message whose turn
    finished (``DONE`` in ``states``) and shows no final emoji gets ✅ (it was carried by a
    turn that ended; the completion embed in the thread says how). Messages to be run again
    (pending or delivered) get their emoji from the resumed turn; rejected ones were
    answered in words.
    """
    fixes: list[ReactionFix] = []
    for message in sorted({m.id: m for m in messages}.values(), key=lambda m: m.id):
        stale = tuple(sorted(message.own_reactions & _STATUS_EMOJI))
        if not stale:
            continue
        done = states.get(message.id) is InboxState.DONE
        add = (render.EMOJI_DONE,) if done and not message.own_reactions & FINAL_EMOJI else ()
        fixes.append(
            ReactionFix(channel_id=message.channel_id, message_id=message.id, remove=stale, add=add)
        )
    return fixes


def catch_up_notice(
    picked: int,
    not_run: Iterable[Seen],
    *,
    guild_id: int | None,
    max_age: float,
    max_count: int,
) -> str | None:
    """The one notice for a thread after catch-up, or None when there is nothing to say."""
    skipped = list(not_run)
    if not picked and not skipped:
        return None
    parts: list[str] = []
    if picked:
        noun = "message" if picked == 1 else "messages"
        parts.append(f"📬 Picked up {picked} {noun} sent while I was offline.")
    if skipped:
        links = [jump_link(guild_id, m.channel_id, m.id) for m in skipped[:NOTICE_LINKS_MAX]]
        more = len(skipped) - len(links)
        tail = f" and {more} more" if more > 0 else ""
        noun = "message was" if len(skipped) == 1 else "messages were"
        parts.append(
            f"{len(skipped)} {noun} not run (older than {_duration(max_age)}, or beyond the "
            f"newest {max_count}); send again what still matters: " + " ".join(links) + tail
        )
    return render.truncate("\n".join(parts), 1900)


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
