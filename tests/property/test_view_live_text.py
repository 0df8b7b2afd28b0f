"""Streamed text rendered when the edit is sent ends exactly as text rendered at once
(hypothesis; an in-memory Discord stands in for the REST client, so only our code runs).

The view hands a sent text message's edits to the client as ``Live`` values, rendered
when the client takes the PATCH, and skips splitting while a segment surely stays one
message. Whatever the text (long runs that need several messages, code fences, blank
deltas) and whenever the client takes its edits, and whether the owner flushes after
every event or only now and then (the session's timer), every message ends showing
exactly what a client that renders every edit at once shows: the same messages, in the
same order, with the same final text.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import attrs
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.sessions.presentation.view import Reaction, TurnView
from protocol.claude import events as ev
from protocol.claude.converter import parse_line
from protocol.claude.turn import TurnState
from protocol.discord import limits
from protocol.discord import models as m
from protocol.discord.edits import Live
from tests.support.fake_claude import long_turn_lines


@attrs.define
class FakeDiscord:
    """Creates at once; plain edits apply at once; Live edits wait (one per message, as
    ``RestClient.submit_live_edit`` keeps them) until the test takes them, unless
    ``eager``."""

    eager: bool
    shown: dict[int, str] = attrs.field(factory=dict)
    order: list[int] = attrs.field(factory=list)
    waiting: dict[int, Live] = attrs.field(factory=dict)
    next_id: int = 1000

    async def create_message(
        self,
        channel_id: int,
        *,
        content: str | None = None,
        embeds: Sequence[m.Embed] = (),
        components: Sequence[m.ActionRow] = (),
        reply_to: int | None = None,
        ping_user: int | None = None,
    ) -> Any:
        self.next_id += 1
        self.shown[self.next_id] = content or f"<embed {len(self.order)}>"
        self.order.append(self.next_id)
        return attrs.make_class("Created", ["id"])(self.next_id)

    def submit_edit(self, channel_id: int, message_id: int, **fields: Any) -> None:
        content = fields.get("content")
        self.waiting.pop(message_id, None)  # the latest edit wins
        if content:
            self.shown[message_id] = content

    def submit_live_edit(self, channel_id: int, message_id: int, content: Live) -> None:
        self.waiting[message_id] = content
        if self.eager:
            self.take(message_id)

    def take(self, message_id: int) -> None:
        text = self.waiting.pop(message_id).take()
        limits.check_content(text)
        self.shown[message_id] = text

    def submit_reaction(self, channel_id: int, message_id: int, **fields: Any) -> None:
        pass

    async def edits_landed(self, channel_id: int, message_id: int) -> None:
        """The client would send the waiting Live edit in its slot: that is when it lands."""
        if message_id in self.waiting:
            self.take(message_id)

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        raise AssertionError("a turn's view deletes nothing")

    async def download_attachment(self, url: str, *, max_bytes: int) -> bytes:
        raise AssertionError("not used")


WORDS = st.sampled_from(["word", "Two words", "\n", "\n\n", "```", "```py\n", "~~~", " ", "x" * 97])
DELTA = st.lists(WORDS, min_size=1, max_size=6).map("".join)


def _turn(steps: list[list[str]]) -> list[bytes]:
    """A turn with these text deltas per step (a Read tool call between steps); each
    step's complete text block is its deltas joined, as the CLI sends it."""
    lines = long_turn_lines(steps=len(steps), deltas_per_step=max(len(s) for s in steps))
    out: list[bytes] = []
    step, n = 0, 0
    for line in lines:
        data = json.loads(line)
        delta = data.get("event", {}).get("delta", {}) if data["type"] == "stream_event" else {}
        if delta.get("type") == "text_delta":
            if n >= len(steps[step]):
                continue
            delta["text"] = steps[step][n]
            n += 1
        elif data["type"] == "assistant":
            content = data["message"]["content"]
            if content and content[0]["type"] == "text":
                content[0]["text"] = "".join(steps[step]).strip()
                step, n = step + 1, 0
        out.append(json.dumps(data).encode())
    return out


async def _show(lines: list[bytes], plan: list[int], *, eager: bool) -> FakeDiscord:
    discord = FakeDiscord(eager=eager)
    view = TurnView(discord, 1, Reaction(discord, 1, None))
    state = TurnState().start_turn(0.0)
    now = 0.0
    for i, line in enumerate(lines):
        event = parse_line(line)
        now += 0.05
        state = state.apply(event, now)
        action = plan[i % len(plan)] if plan else 0
        if eager or action == 0:
            await view.on_event(event, state, now)  # shown and flushed at once
        else:
            view.show(event, state, now)  # flushed only now and then, like the timer
            if action == 1:
                view.flush()
            await view._outbox.settle()
        if not eager and action == 2:
            for message_id in list(discord.waiting):
                discord.take(message_id)
        if isinstance(event, ev.Result):
            await view.finish(state, event, now, interrupted=False)
    for message_id in list(discord.waiting):
        discord.take(message_id)
    return discord


@settings(max_examples=120, deadline=None)
@given(
    steps=st.lists(st.lists(DELTA, min_size=1, max_size=40), min_size=1, max_size=3),
    plan=st.lists(st.integers(0, 3), max_size=12),
)
def test_live_text_ends_as_text_rendered_at_once(steps: list[list[str]], plan: list[int]) -> None:
    lines = _turn(steps)
    live = trio.run(functools.partial(_show, lines, plan, eager=False))
    eager = trio.run(functools.partial(_show, lines, [], eager=True))
    assert [live.shown[i] for i in live.order] == [eager.shown[i] for i in eager.order]
    for text in ("".join(s).strip() for s in steps):
        if text and len(text) < 1900 and "```" not in text and "~~~" not in text:
            assert text in [eager.shown[i] for i in eager.order]
