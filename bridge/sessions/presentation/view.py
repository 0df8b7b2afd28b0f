"""The Discord side of one turn: which messages exist, and keeping them current.

Theory of operation
-------------------
A :class:`TurnView` belongs to the session actor (one per turn, never shared) and is
driven by it: every CLI event goes to :meth:`TurnView.show` (or :meth:`TurnView.on_event`)
together with the :class:`~protocol.claude.turn.TurnState` that already includes it. The
view decides what to send with the pure builders of
:mod:`bridge.sessions.presentation.render` and hands it to the thread's
:class:`~bridge.sessions.presentation.outbox.Outbox`:

* the status reaction on the user's message (C2) changes with :meth:`set_status`, through
  the client's coalescing ``submit_reaction``: a burst of activity changes costs one
  reaction update, not one per event;
* text streams into a *segment*: the text since the last tool or thinking embed, split by
  :func:`~bridge.sessions.presentation.render.split_text` into messages. A message that
  exists is updated through a :class:`~protocol.discord.edits.Live` value: the REST client
  renders its text when it sends the PATCH (at most one per edit slot), so a text delta
  only records the new text and, if no edit of the message is waiting, queues one; the
  segment is split again only when its text may no longer fit the messages it has, or
  when something else happens (a tool, the end). A message is created only when the
  segment outgrows the ones it has (C3, C23);
* a tool call closes the segment and posts its embed, which :meth:`tick` refreshes with the
  elapsed time (C4) and the tool result finishes (green or red);
* complete thinking blocks post a spoiler embed (C5); a compaction posts a notice (C20);
* :meth:`close` closes the turn: any final text not streamed yet, the completion embed
  (C18, C19; posted only once the text's last edits landed, so it never sits under a stale
  answer) and the final reaction; :meth:`finish` also waits until the outbox drained.

Nothing here waits for Discord when the outbox has a sender task (the session's): posts
return a placeholder at once and are sent in order by that task; edits keep only the
latest version. Used on its own (no sender task), :meth:`on_event` sends at the caller's
pace. A Discord error while rendering is logged and never ends the session: the turn
itself must go on even if a message cannot be shown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial as bind
from typing import Any, Protocol

from bridge.discord.rest import FileUpload
from bridge.sessions.presentation import render
from bridge.sessions.presentation.outbox import Outbox, Placeholder, Target
from bridge.sessions.presentation.render import MessagePayload
from bridge.sessions.presentation.tasks import (
    TASK_TOOLS,
    TaskListShown,
    TaskListStep,
    task_list_embed,
)
from protocol.claude import events as ev
from protocol.claude.turn import TaskItem, TurnState
from protocol.discord import models as m
from protocol.discord.edits import Live

log = logging.getLogger(__name__)


class SessionRest(Protocol):
    """The part of ``bridge.discord.rest.RestClient`` a session uses."""

    async def create_message(
        self,
        channel_id: int,
        *,
        content: str | None = None,
        embeds: Sequence[m.Embed] = (),
        components: Sequence[m.ActionRow] = (),
        files: Sequence[FileUpload] = (),
        reply_to: int | None = None,
        ping_user: int | None = None,
    ) -> m.Message: ...

    def submit_edit(
        self,
        channel_id: int,
        message_id: int,
        *,
        content: Any = m.UNDEFINED,
        embeds: Any = m.UNDEFINED,
        components: Any = m.UNDEFINED,
    ) -> None: ...

    def submit_live_edit(self, channel_id: int, message_id: int, content: Live) -> None: ...

    def submit_reaction(
        self,
        channel_id: int,
        message_id: int,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> None: ...

    async def delete_message(self, channel_id: int, message_id: int) -> None: ...

    async def edits_landed(self, channel_id: int, message_id: int) -> None: ...

    async def download_attachment(self, url: str, *, max_bytes: int) -> bytes: ...


class Reaction:
    """The one status emoji on a message (C2).

    ``message_id`` may be a :class:`Placeholder` (a notice not posted yet): its changes
    then go through ``outbox``, behind the post. ``shown``: an emoji of ours already on the
    message (the router's first status, put there when the message arrived)."""

    def __init__(
        self,
        rest: SessionRest,
        channel_id: int,
        message_id: Target | None,
        outbox: Outbox | None = None,
        *,
        shown: str | None = None,
    ) -> None:
        self._outbox = outbox if outbox is not None else Outbox(rest, channel_id)
        self._channel_id = channel_id
        self.message_id = message_id
        self.shown = shown

    def set(self, emoji: str | None) -> None:
        if self.message_id is None or emoji == self.shown:
            return
        remove = [self.shown] if self.shown else []
        add = [emoji] if emoji else []
        self._outbox.react(self._channel_id, self.message_id, add=add, remove=remove)
        self.shown = emoji


class _Segment:
    """Text since the last embed, and the messages that show it.

    *Who writes what*: the owner (the view) writes everything here; the REST client's
    task calls :meth:`chunk` through a message's ``Live`` value, which only reads, and
    writes that value's ``taken``. The view writes ``taken`` only while the message has
    no id, when no edit of it can be with the client."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.blocks_chars = 0
        """The blocks' length with their separators: the body is at most this long plus
        the partial text."""
        self.fenced = False
        """A block holds a code-fence marker (only the chunker splits such text right)."""
        self.partial = ""
        """The streamed text shown after the blocks (what :meth:`chunk` renders)."""
        self.message_ids: list[Placeholder] = []
        self.live: list[Live] = []
        """Per message, its text rendered by the client when it sends an edit; its
        ``taken`` is what the message shows or will show (post, payload edit or PATCH)."""

    def add_block(self, text: str) -> None:
        self.blocks.append(text)
        self.blocks_chars += len(text) + 2
        self.fenced = self.fenced or _has_fence(text)

    def body(self, partial: str) -> str:
        parts = [*self.blocks, partial] if partial else self.blocks
        return "\n\n".join(p for p in parts if p)

    def fits_one(self, partial: str) -> bool:
        """Whether the body with ``partial`` is surely one message: short enough and
        without a fence, so :func:`render.split_text` would return it whole."""
        return (
            not self.fenced
            and self.blocks_chars + len(partial) <= render.CHUNK_CHARS
            and not _has_fence(partial)
        )

    def chunk(self, index: int) -> str:
        """What message ``index`` shows now (rendered when the client sends its edit). A
        message the text no longer reaches keeps what it showed."""
        chunks = render.split_text(self.body(self.partial))
        return chunks[index] if index < len(chunks) else str(self.live[index].taken)


def _has_fence(text: str) -> bool:
    return "```" in text or "~~~" in text


class TurnView:
    """The messages of one turn in one thread. See the module docstring."""

    def __init__(
        self,
        rest: SessionRest,
        channel_id: int,
        reaction: Reaction,
        outbox: Outbox | None = None,
        *,
        tasks: tuple[TaskItem, ...] = (),
    ) -> None:
        self._outbox = outbox if outbox is not None else Outbox(rest, channel_id)
        self.channel_id = channel_id
        self.reaction = reaction
        self.task_list = TaskListShown(shown=tasks)
        """The turn's one task-list embed (C16); ``tasks`` is the list the turn began with."""
        self.task_message: Placeholder | None = None
        self._segment = _Segment()
        self.tool_messages: dict[str, Placeholder] = {}
        """tool_use_id -> the message holding its embed."""
        self._finished_tools: set[str] = set()
        self.last_call_usage: ev.Usage | None = None
        """Usage of the last main-thread API call (for the context fill, C19)."""
        self.text_posted = False
        self.messages_posted = 0
        self._partial: str | None = None
        """Streamed text not split into messages yet (see :meth:`flush`)."""

    # -- status ------------------------------------------------------------------------

    def set_status(self, emoji: str | None) -> None:
        self.reaction.set(emoji)

    # -- events ------------------------------------------------------------------------

    async def on_event(self, event: ev.Event, state: TurnState, now: float) -> None:
        """Show what ``event`` changed; ``state`` already includes it. Never waits for
        Discord when the outbox has a sender task."""
        self.show(event, state, now)
        self.flush()
        await self._outbox.settle()

    @property
    def text_waiting(self) -> bool:
        """Streamed text was noted and not shown yet."""
        return self._partial is not None

    def flush(self) -> None:
        """Show the streamed text noted by :meth:`show`."""
        partial, self._partial = self._partial, None
        if partial is not None:
            self._sync_text(partial)

    def show(self, event: ev.Event, state: TurnState, now: float) -> None:
        """:meth:`on_event` without sending: everything goes to the outbox's queue.

        A text delta is only noted (:attr:`text_waiting`): splitting the whole segment
        again for every delta costs time the actor needs for its next message (a /stop
        behind a burst of deltas), and only the latest text is shown anyway (Discord's
        edit limits coalesce the rest). It is split by :meth:`flush`, which the owner
        calls shortly after, and which every other change calls first, so the order on
        screen stays the order of events."""
        if isinstance(event, ev.StreamEvent):
            if (
                event.parent_tool_use_id is None
                and event.text_delta is not None
                and not self._stream(state.partial_text)
            ):
                self._partial = state.partial_text
            return
        self.flush()
        if isinstance(event, ev.AssistantMessage):
            self._on_assistant(event, state, now)
        elif isinstance(event, ev.UserMessage) and event.tool_results:
            self._finish_tools(state, now)
            self._sync_tasks(state)
        elif isinstance(event, ev.CompactBoundary):
            self._close_segment(state)
            self._post(render.plain(render.compaction_notice(event)))

    def _on_assistant(self, event: ev.AssistantMessage, state: TurnState, now: float) -> None:
        if event.parent_tool_use_id is not None or event.is_synthetic:
            # Subagent output stays inside its tool; synthetic messages repeat the
            # result's error text, which the completion embed shows.
            return
        if event.usage is not None:
            self.last_call_usage = event.usage
        for block in event.content:
            if isinstance(block, ev.TextBlock):
                if block.text.strip():
                    self._segment.add_block(block.text)
                self._sync_text("")
            elif isinstance(block, ev.ThinkingBlock):
                if block.thinking.strip():
                    self._close_segment(state)
                    self._post(render.embeds_only(render.thinking_embed(block.thinking)))
            elif isinstance(block, ev.RedactedThinkingBlock):
                self._close_segment(state)
                self._post(render.embeds_only(render.redacted_thinking_embed()))
            elif isinstance(block, ev.ToolUseBlock):
                self._close_segment(state)
                run = next((t for t in state.tools if t.tool_use_id == block.id), None)
                if run is not None and run.name not in TASK_TOOLS:
                    message = self._post(render.embeds_only(render.tool_embed(run, now)))
                    self.tool_messages[block.id] = message

    def tick(self, state: TurnState, now: float) -> None:
        """Refresh the elapsed time of every running tool's embed (C4)."""
        for run in state.running_tools:
            message = self.tool_messages.get(run.tool_use_id)
            if message is not None:
                self._outbox.edit(message, render.embeds_only(render.tool_embed(run, now)))

    def _finish_tools(self, state: TurnState, now: float) -> None:
        for run in state.tools:
            if run.running or run.tool_use_id in self._finished_tools:
                continue
            message = self.tool_messages.get(run.tool_use_id)
            if message is None:
                continue
            self._finished_tools.add(run.tool_use_id)
            self._outbox.edit(message, render.embeds_only(render.tool_embed(run, now)))

    def _sync_tasks(self, state: TurnState) -> None:
        """Show a changed task list (C16): posted on the turn's first change, then edited
        in place; a burst of changes is coalesced by the outbox and the client."""
        step = self.task_list.update(state.tasks)
        if step is None:
            return
        payload = render.embeds_only(task_list_embed(state.tasks))
        if step is TaskListStep.POST or self.task_message is None:
            self._close_segment(state)  # what Claude wrote before comes first
            self.task_message = self._post(payload)
        else:
            self._outbox.edit(self.task_message, payload)

    # -- text --------------------------------------------------------------------------

    def _stream(self, partial: str) -> bool:
        """Show a text delta without splitting, when the segment is one sent message and
        stays one: record the text, and queue the message's ``Live`` edit (nothing if one
        is waiting already). False: the text must be split (:attr:`text_waiting`)."""
        segment = self._segment
        if (
            self._partial is not None
            or len(segment.message_ids) != 1
            or segment.message_ids[0].id is None
            or not segment.fits_one(partial)
        ):
            return False
        segment.partial = partial
        return self._outbox.edit_live(segment.message_ids[0], segment.live[0])

    def _sync_text(self, partial: str) -> None:
        segment = self._segment
        segment.partial = partial
        chunks = render.split_text(segment.body(partial))
        for index, chunk in enumerate(chunks):
            if index < len(segment.message_ids):
                self._show_chunk(segment, index, chunk)
            else:
                segment.message_ids.append(self._post(render.plain(chunk)))
                segment.live.append(Live(bind(segment.chunk, index), initial=chunk))
                self.text_posted = True

    def _show_chunk(self, segment: _Segment, index: int, chunk: str) -> None:
        message, live = segment.message_ids[index], segment.live[index]
        if message.id is not None and not message.deleted:
            # Sent: the client renders the text when it sends the edit. ``taken`` is what
            # the last edit carried (or the post, or the payload edit after it).
            if live.taken != chunk:
                self._outbox.edit_live(message, live)
            return
        if live.taken != chunk:
            live.taken = chunk  # what it will show once posted (or edited after the post)
            self._outbox.edit(message, render.plain(chunk))

    def _close_segment(self, state: TurnState) -> None:
        """Show the segment's final text (a partial block is dropped: its complete block
        arrives as an assistant event), then start a new one."""
        self.flush()
        self._sync_text("")
        self._segment = _Segment()

    # -- the end -----------------------------------------------------------------------

    async def finish(
        self, state: TurnState, result: ev.Result | None, now: float, *, interrupted: bool
    ) -> None:
        """:meth:`close`, then wait until everything the view queued is sent (drained)."""
        self.close(state, result, now, interrupted=interrupted)
        await self._outbox.drain()

    def close(
        self, state: TurnState, result: ev.Result | None, now: float, *, interrupted: bool
    ) -> None:
        """Close the turn: remaining text, the final text if nothing was streamed, the
        tool embeds, and the completion embed (queued, in that order)."""
        self._close_segment(state)
        self._finish_tools(state, now)
        if result is None:
            return
        final = (result.result or "").strip()
        if not self.text_posted and final and result.error_text is None:
            for chunk in render.split_text(final):
                self._post(render.plain(chunk))
        embed = render.completion_embed(result, self.last_call_usage, interrupted=interrupted)
        # Not above a stale answer: the embed waits for the text's last edits to land.
        self._post(render.embeds_only(embed), after_edits=True)
        if interrupted:
            self.set_status(render.EMOJI_STOPPED)
        else:
            self.set_status(
                render.status_emoji(state.activity, error=result.error_text is not None)
            )

    def _post(self, payload: MessagePayload, *, after_edits: bool = False) -> Placeholder:
        self.messages_posted += 1
        return self._outbox.post(payload, after_edits=after_edits)
