"""The session-management slash commands (S1-S4, ``/usage``) and their buttons: dispatch
and answers (the definitions are in :mod:`.definitions`).

The router checks the user (X5) and hands every interaction here first
(:meth:`Management.on_command`, :meth:`Management.on_component`); what is not ours returns
``False`` and the router goes on. Each answer is ephemeral (only the person who asked
sees it). ``/sync-sessions`` and ``/worktree-cleanup``'s confirm may take longer than
Discord's 3 s, so they are acknowledged first (a deferred reply or update) and the
answer is filled in when done. One sync runs at a time (a second is told so), so two
clicks cannot import one session twice.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import attrs
import trio

from bridge.budget import Limits
from bridge.sessions.management import listing
from bridge.sessions.management.definitions import (
    HOURS_MAX,
    PREFIX,
    RESUME_INFO_COMMAND,
    SESSIONS_COMMAND,
    SYNC_COMMAND,
    USAGE_COMMAND,
    WORKTREE_CLEANUP_COMMAND,
    WORKTREE_LIST_COMMAND,
)
from bridge.sessions.management.listing import Origin, SessionsQuery
from bridge.sessions.management.sync import COUNT_DEFAULT, COUNT_MAX, Store, SyncRest, sync_sessions
from bridge.sessions.management.usage_command import USAGE_TOP, usage_text
from bridge.sessions.management.worktree_commands import (
    CLEANUP_CANCEL,
    CLEANUP_CONFIRM,
    cleanup_plan_text,
    cleanup_results_text,
    worktree_list_text,
)
from bridge.sessions.messages import ContinueParked
from bridge.sessions.presentation.render import truncate
from bridge.sessions.spending import parse_budget_custom_id
from bridge.sessions.worktrees import cleanup_worktrees, list_session_worktrees
from bridge.store import Database, SessionStatus, utc_day
from protocol.discord import limits
from protocol.discord import models as m

__all__ = [
    "Management",
    "ManagementConfig",
    "ManagementRest",
]


class ManagementRest(SyncRest, Protocol):
    async def create_interaction_response(
        self, interaction_id: int, token: str, response: m.InteractionResponse
    ) -> None: ...

    async def edit_original_response(
        self,
        application_id: int,
        token: str,
        *,
        content: Any = ...,
        embeds: Any = ...,
        components: Any = ...,
    ) -> m.Message: ...


@attrs.frozen(kw_only=True)
class ManagementConfig:
    channel_id: int
    """The main channel: imported sessions' starter messages go here."""
    working_dir: str
    """CLAUDE_WORKING_DIR: whose CLI sessions ``/sync-sessions`` imports."""
    claude_config_dir: Path
    """Where the CLI keeps its sessions (``$CLAUDE_CONFIG_DIR`` or ``~/.claude``)."""
    worktree_base_dir: Path | None = None
    budget: Limits = attrs.Factory(Limits)
    """The configured budgets, shown by ``/usage``."""
    approver_ids: frozenset[int] = frozenset()
    """Who may let a session parked over its budget continue: the owner
    (DISCORD_OWNER_ID), else every allowed user."""
    clock: Callable[[], float] = time.time


def _options(data: m.ApplicationCommandData) -> dict[str, Any]:
    options = data.options if isinstance(data.options, list) else []
    return {o.name: o.value for o in options if o.value is not m.UNDEFINED}


def _int_option(options: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = options.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return min(max(int(value), low), high)


def _active(db: Database) -> frozenset[int]:
    busy = db.sessions(SessionStatus.RUNNING, SessionStatus.QUEUED)
    return frozenset(r.thread_id for r in busy)


class Management:
    """Answers the management commands and buttons (see the module docstring)."""

    def __init__(
        self,
        config: ManagementConfig,
        rest: ManagementRest,
        store: Store,
        *,
        started: Callable[[int], Awaitable[None]],
        guild_id: Callable[[], int | None],
        deliver: Callable[[int, ContinueParked], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.rest = rest
        self.store = store
        self.started = started
        self.guild_id = guild_id
        self.deliver = deliver
        self.syncing = trio.Lock()

    # -- dispatch ----------------------------------------------------------------------

    async def on_command(self, interaction: m.CommandInteraction, user_id: int) -> bool:
        """Answer ``interaction`` if it is one of ours; ``False`` if not."""
        name = interaction.data.name
        options = _options(interaction.data)
        if name == SYNC_COMMAND.name:
            await self._sync(interaction, options)
        elif name == SESSIONS_COMMAND.name:
            origin = options.get("origin", Origin.ALL.value)
            query = SessionsQuery(
                origin=Origin(origin) if origin in set(Origin) else Origin.ALL,
                hours=_int_option(options, "hours", 1, HOURS_MAX) or 0,
            )
            content, rows = await self._sessions_page(query)
            await self._reply(interaction, content, rows)
        elif name == RESUME_INFO_COMMAND.name:
            await self._reply(interaction, await self._resume_info(interaction.channel_id))
        elif name == WORKTREE_LIST_COMMAND.name:
            await self._worktree_list(interaction)
        elif name == WORKTREE_CLEANUP_COMMAND.name:
            await self._worktree_plan(interaction)
        elif name == USAGE_COMMAND.name:
            day = utc_day(self.config.clock())
            report = await self.store(lambda db: db.usage(day, top=USAGE_TOP))
            await self._reply(interaction, usage_text(report, self.config.budget))
        else:
            return False
        return True

    async def on_component(self, interaction: m.ComponentInteraction, user_id: int) -> bool:
        custom_id = interaction.data.custom_id
        if not custom_id.startswith(PREFIX):
            return False
        budget = parse_budget_custom_id(custom_id)
        query = listing.parse_sessions_custom_id(custom_id)
        if budget is not None:
            await self._continue_parked(interaction, user_id, *budget)
        elif query is not None:
            content, rows = await self._sessions_page(query)
            await self._update(interaction, content, rows)
        elif custom_id == CLEANUP_CONFIRM:
            await self._worktree_cleanup(interaction)
        elif custom_id == CLEANUP_CANCEL:
            await self._update(interaction, "Cleanup cancelled; nothing was removed.", [])
        else:
            await self._reply(interaction, "This button is not one of this bot's.")
        return True

    # -- budgets -----------------------------------------------------------------------

    async def _continue_parked(
        self, interaction: m.ComponentInteraction, user_id: int, thread_id: int, extra: float
    ) -> None:
        """An approver's "continue with +$N": the allowance is stored, then the session is
        told. Anyone else's click changes nothing."""
        if user_id not in self.config.approver_ids:
            await self._reply(
                interaction,
                "Only an approver (the bot's owner) can let this session continue; nothing "
                "changed.",
            )
            return
        now = self.config.clock()

        def allow(db: Database) -> bool:
            record = db.get_session(thread_id)
            if record is None or record.status is not SessionStatus.PARKED:
                return False
            db.budget_allow(thread_id, extra, user_id, now)
            return True

        if not await self.store(allow) or self.deliver is None:
            await self._reply(interaction, "This session is not paused any more; nothing changed.")
            return
        before = interaction.message.content if isinstance(interaction.message.content, str) else ""
        await self._update(
            interaction, f"{before}\n-# ▶️ Continued with +${extra:.2f} by <@{user_id}>.", []
        )
        await self.deliver(thread_id, ContinueParked(approved_by=user_id, extra_usd=extra))

    # -- S1 ----------------------------------------------------------------------------

    async def _sync(self, interaction: m.CommandInteraction, options: dict[str, Any]) -> None:
        if self.syncing.locked():
            await self._reply(interaction, "A sync is already running; try again when it ends.")
            return
        async with self.syncing:
            await self._defer(interaction)
            try:
                report = await sync_sessions(
                    self.rest,
                    self.store,
                    channel_id=self.config.channel_id,
                    guild_id=self.guild_id(),
                    working_dir=self.config.working_dir,
                    claude_config_dir=self.config.claude_config_dir,
                    now=self.config.clock(),
                    hours=_int_option(options, "hours", 1, HOURS_MAX),
                    count=_int_option(options, "count", 1, COUNT_MAX) or COUNT_DEFAULT,
                    started=self.started,
                )
            except OSError as exc:
                # The CLI's session directory could not be read: say so, crash nothing.
                await self.rest.edit_original_response(
                    interaction.application_id,
                    interaction.token,
                    content=_cut(f"⚠️ Could not read the CLI's sessions: {exc}"),
                )
                return
        lines = []
        if report.imported:
            lines.append(f"📥 Imported {len(report.imported)} session(s):")
            lines += [f"• <#{thread_id}>" for thread_id, _ in report.imported]
        else:
            lines.append("Nothing new to import.")
        if report.already:
            lines.append(f"-# {report.already} in the window were imported before.")
        if report.failed:
            lines.append(f"⚠️ {len(report.failed)} could not be imported (tried again next time).")
        await self.rest.edit_original_response(
            interaction.application_id, interaction.token, content=_cut("\n".join(lines))
        )

    # -- S2, S3 ------------------------------------------------------------------------

    async def _sessions_page(self, query: SessionsQuery) -> tuple[str, list[m.ActionRow]]:
        records = await self.store(lambda db: db.sessions())
        return listing.sessions_page(records, query, self.config.clock())

    async def _resume_info(self, channel_id: Any) -> str:
        record = None
        if isinstance(channel_id, int):
            record = await self.store(lambda db: db.get_session(channel_id))
        if record is None:
            return "There is no Claude session in this channel: use /resume-info in its thread."
        command = listing.resume_command(record)
        if command is None:
            return "This session has no Claude conversation yet (its first turn has not run)."
        return (
            f"Continue this session in a terminal:\n```sh\n{command}\n```\n"
            "-# Not while a turn runs here: two processes on one session would both write it."
        )

    # -- S4 ----------------------------------------------------------------------------

    async def _worktrees(self) -> tuple[list[Any], frozenset[int]] | None:
        base = self.config.worktree_base_dir
        if base is None:
            return None
        infos = await list_session_worktrees(base)
        return infos, await self.store(_active)

    async def _worktree_list(self, interaction: m.CommandInteraction) -> None:
        await self._defer(interaction)
        found = await self._worktrees()
        text = _NO_WORKTREES if found is None else worktree_list_text(*found)
        await self.rest.edit_original_response(
            interaction.application_id, interaction.token, content=text
        )

    async def _worktree_plan(self, interaction: m.CommandInteraction) -> None:
        await self._defer(interaction)
        found = await self._worktrees()
        text, rows = (_NO_WORKTREES, []) if found is None else cleanup_plan_text(*found)
        await self.rest.edit_original_response(
            interaction.application_id, interaction.token, content=text, components=rows
        )

    async def _worktree_cleanup(self, interaction: m.ComponentInteraction) -> None:
        await self.rest.create_interaction_response(
            interaction.id,
            interaction.token,
            m.InteractionResponse(type=m.InteractionCallbackType.DEFERRED_UPDATE_MESSAGE),
        )
        base = self.config.worktree_base_dir
        if base is None:
            text = _NO_WORKTREES
        else:
            results = await cleanup_worktrees(base, await self.store(_active))
            text = cleanup_results_text(results)
        await self.rest.edit_original_response(
            interaction.application_id, interaction.token, content=text, components=[]
        )

    # -- answering ---------------------------------------------------------------------

    async def _defer(self, interaction: Any) -> None:
        await self.rest.create_interaction_response(
            interaction.id,
            interaction.token,
            m.InteractionResponse(
                type=m.InteractionCallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                data=m.InteractionMessage(flags=int(m.MessageFlags.EPHEMERAL)),
            ),
        )

    async def _reply(self, interaction: Any, text: str, rows: Sequence[m.ActionRow] = ()) -> None:
        await self.rest.create_interaction_response(
            interaction.id,
            interaction.token,
            m.InteractionResponse(
                type=m.InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
                data=m.InteractionMessage(
                    content=_cut(text),
                    components=list(rows) if rows else m.UNDEFINED,
                    flags=int(m.MessageFlags.EPHEMERAL),
                ),
            ),
        )

    async def _update(self, interaction: Any, text: str, rows: Sequence[m.ActionRow]) -> None:
        await self.rest.create_interaction_response(
            interaction.id,
            interaction.token,
            m.InteractionResponse(
                type=m.InteractionCallbackType.UPDATE_MESSAGE,
                data=m.InteractionMessage(content=_cut(text), components=list(rows)),
            ),
        )


_NO_WORKTREES: Final = "Session worktrees are off (WORKTREE_BASE_DIR is not set)."


def _cut(text: str) -> str:
    return truncate(text, limits.CONTENT)
