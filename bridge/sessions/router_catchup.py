"""The router's catch-up work: reading the history after a channel's cursor, correcting
stale status reactions, and feeding what was missed through the normal path
(docs/architecture.md "Catch-up"). The decisions are :mod:`bridge.sessions.catchup`'s;
this is the IO around them, run in the lanes of the router (:mod:`.router`), which mixes
it in and queues these jobs at READY.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import actors
from bridge.discord.errors import DiscordError
from bridge.sessions import catchup
from bridge.store import Database, InboxItem, SessionRecord, SessionStatus
from protocol.discord import models as m

if TYPE_CHECKING:
    from bridge.sessions.router import RouterConfig, RouterRest, RouterStats, Startup

__all__ = ["CATCH_UP_PAGES_MAX", "REPAIR_WINDOW", "CatchUpMixin"]

log = logging.getLogger("bridge.sessions.router")

CATCH_UP_PAGES_MAX: Final = 10
"""Pages of 100 messages read per channel at catch-up (Discord's page size limit): the
newest 1,000 messages within the maximum age are seen, and the count limit picks from
them."""
REPAIR_WINDOW: Final = 25
"""Messages up to a channel's cursor whose status reactions are checked at start: the
anchors of the last turns (the cursor is the newest one handled)."""

# Message types a person types (resources/message.mdx "Message Types").
USER_MESSAGE_TYPES: Final = frozenset({m.MessageType.DEFAULT, m.MessageType.REPLY})


class CatchUpMixin:
    """Catch-up jobs of the router; the router provides the attributes and the normal-path
    methods declared below."""

    ctx: actors.Context[Any]
    config: RouterConfig
    rest: RouterRest
    startup: Startup
    stats: RouterStats
    guild_id: int | None

    if TYPE_CHECKING:

        async def _db(self, fn: Callable[[Database], Any]) -> Any: ...
        async def _post(self, channel_id: int, text: str) -> None: ...
        async def _deliver(self, thread_id: int, msg: Any) -> None: ...
        async def _stranger(self, message: m.Message, *, tell: bool) -> None: ...
        async def _reply_not_allowed(self, channel_id: int, message_id: int) -> None: ...
        async def _start_session(
            self, message: m.Message, *, notice: str | None = None
        ) -> bool: ...
        async def _mark_live(self, thread_id: int) -> None: ...
        def _inbox_item(self, message: m.Message, thread_id: int, now: float) -> InboxItem: ...
        def _user_message(self, item: InboxItem, message: m.Message) -> Any: ...

    async def _cursor(self, channel_id: int) -> int:
        """The newest message id handled in a channel: stored; else, for a thread, its
        newest inbox message; else the bridge's start (nothing earlier was ours to see)."""
        assert self.config.started_at is not None
        floor = catchup.snowflake_at(self.config.started_at)

        def read(db: Database) -> int | None:
            return db.cursor_get(channel_id) or db.inbox_last_id(channel_id)

        return await self._db(read) or floor

    async def _read_after(self, channel_id: int, cursor: int) -> list[m.Message]:
        """The history after ``cursor``: one page of what is too old to run (to list it),
        then up to :data:`CATCH_UP_PAGES_MAX` pages from the maximum age on."""
        oldest = catchup.snowflake_at(self.config.clock() - self.config.catch_up_max_age)
        found: list[m.Message] = []
        after = cursor
        if cursor < oldest:
            page = await self.rest.get_messages(channel_id, after=cursor, limit=100)
            found += [msg for msg in page if msg.id <= oldest]
            after = oldest
        for _ in range(CATCH_UP_PAGES_MAX):
            page = await self.rest.get_messages(channel_id, after=after, limit=100)
            found += page
            if len(page) < 100:
                break
            after = max(msg.id for msg in page)
        return found

    async def _history(
        self, channel_id: int, cursor: int, *, repair: bool
    ) -> tuple[list[m.Message], list[m.Message]]:
        """(messages after the cursor, messages up to it whose reactions are checked)."""
        try:
            after = await self._read_after(channel_id, cursor)
            before: list[m.Message] = []
            if repair:
                before = await self.rest.get_messages(
                    channel_id, before=cursor + 1, limit=REPAIR_WINDOW
                )
        except DiscordError as exc:
            log.warning("router: could not read the history of %s to catch up: %s", channel_id, exc)
            return [], []
        return after, before

    def _seen(self, message: m.Message) -> catchup.Seen:
        reactions = message.reactions if isinstance(message.reactions, list) else []
        return catchup.Seen(
            id=message.id,
            channel_id=message.channel_id,
            from_person=message.author.bot is not True
            and message.webhook_id is m.UNDEFINED
            and message.type in USER_MESSAGE_TYPES,
            own_reactions=frozenset(
                r.emoji.name for r in reactions if r.me and isinstance(r.emoji.name, str)
            ),
        )

    async def _repair(self, messages: list[m.Message]) -> None:
        seen = [self._seen(msg) for msg in messages]
        ids = [s.id for s in seen if s.own_reactions]
        if not ids:
            return
        states = await self._db(lambda db: db.inbox_states(ids))
        for fix in catchup.reaction_fixes(seen, states):
            self.rest.submit_reaction(
                fix.channel_id, fix.message_id, add=fix.add, remove=fix.remove
            )
            self.stats.reactions_fixed += 1

    def _plan(self, messages: list[m.Message], cursor: int) -> catchup.CatchUpPlan:
        plan = catchup.plan_catch_up(
            [self._seen(msg) for msg in messages],
            cursor=cursor,
            now=self.config.clock(),
            max_age=self.config.catch_up_max_age,
            max_count=self.config.catch_up_max_messages,
        )
        self.stats.caught_up += len(plan.run)
        self.stats.not_run += len(plan.not_run)
        return plan

    def _notice(
        self, picked: int, not_run: Sequence[catchup.Seen], guild_id: int | None
    ) -> str | None:
        return catchup.catch_up_notice(
            picked,
            not_run,
            guild_id=guild_id,
            max_age=self.config.catch_up_max_age,
            max_count=self.config.catch_up_max_messages,
        )

    async def _catch_up_main(self, *, repair: bool) -> None:
        channel = self.config.channel_id
        cursor = await self._cursor(channel)
        after, before = await self._history(channel, cursor, repair=repair)
        if repair:
            await self._repair(before + after)
        plan = self._plan(after, cursor)
        by_id: dict[int, m.Message] = {msg.id: msg for msg in after}
        told: set[int] = set()
        for seen in plan.run:
            message = by_id[seen.id]
            if message.author.id not in self.config.allowed_user_ids:
                await self._stranger(message, tell=message.author.id not in told)
                told.add(message.author.id)
                continue
            notice = self._notice(1, (), self.guild_id)
            if await self._start_session(message, notice=notice):
                await self._mark_live(message.id)
        text = self._notice(0, plan.not_run, self.guild_id)
        if text is not None:
            await self._post(channel, text)
        now = self.config.clock()
        await self._db(lambda db: db.cursor_advance(channel, plan.cursor, now))

    async def _catch_up_thread(self, thread_id: int, resume: str | None, *, repair: bool) -> None:
        record: SessionRecord | None = await self._db(lambda db: db.get_session(thread_id))
        if record is None or record.status is SessionStatus.ENDED:
            return
        cursor = await self._cursor(thread_id)
        after, before = await self._history(thread_id, cursor, repair=repair)
        if repair:
            await self._repair(before + after)
        plan = self._plan(after, cursor)
        by_id: dict[int, m.Message] = {msg.id: msg for msg in after}
        now = self.config.clock()
        allowed = [
            by_id[s.id] for s in plan.run if by_id[s.id].author.id in self.config.allowed_user_ids
        ]
        items = [self._inbox_item(msg, thread_id, now) for msg in allowed]

        def store(db: Database) -> list[int]:
            added = [item.message_id for item in items if db.inbox_add(item)]
            db.cursor_advance(thread_id, plan.cursor, now)
            return added

        added = set(await self._db(store))
        told: set[int] = set()
        for seen in plan.run:
            author = by_id[seen.id].author.id
            if author not in self.config.allowed_user_ids and author not in told:
                told.add(author)
                self.ctx.nursery.start_soon(self._reply_not_allowed, thread_id, seen.id)
        text = self._notice(len(added), plan.not_run, record.guild_id or self.guild_id)
        if text is not None:
            await self._post(thread_id, text)
        if resume is not None and self.startup.resume is not None:
            # The session loads its inbox when it starts: the resumed turn carries them.
            await self.startup.resume(thread_id, resume)
            return
        for item, message in zip(items, allowed, strict=True):
            if item.message_id in added:
                await self._deliver(thread_id, self._user_message(item, message))
