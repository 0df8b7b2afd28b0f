"""The per-turn view fed recorded CLI events, against the real REST client and the local
Discord server (no subprocess: only our code runs, so trio's clock jumps)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx

from bridge.discord.rest import RestClient, open_rest_client
from bridge.discord_local import LocalDiscord, Realism
from bridge.sessions.presentation import render
from bridge.sessions.presentation.view import Reaction, TurnView
from protocol.claude import events as ev
from protocol.claude.converter import parse_line
from protocol.claude.turn import TurnState
from tests.support.fake_claude import long_turn_lines, stdout_lines


@attrs.define
class Rig:
    server: LocalDiscord
    rest: RestClient
    thread_id: int
    anchor_id: int

    def messages(self) -> list[dict[str, Any]]:
        bot = str(self.server.world.bot.id)
        found = self.server.control.messages(self.thread_id)
        return [m for m in found if m["author"]["id"] == bot]

    def view(self) -> TurnView:
        return TurnView(
            self.rest, self.thread_id, Reaction(self.rest, self.thread_id, self.anchor_id)
        )


@asynccontextmanager
async def open_rig(realism: Realism | None = None) -> AsyncIterator[Rig]:
    server = LocalDiscord(realism=realism or Realism.off(), rng=random.Random(3))
    thread = server.world.add_channel("t").id
    human = server.world.add_user("alice").id
    anchor = int(server.control.post_message(thread, human, "hi")["id"])
    transport = httpx.ASGITransport(server.app)
    async with open_rest_client(
        server.rest_url, server.token, transport=transport, random=random.Random(3)
    ) as rest:
        yield Rig(server, rest, thread, anchor)


async def _replay(rig: Rig, view: TurnView, lines: list[bytes], now: float = 100.0) -> TurnState:
    state = TurnState().start_turn(now)
    for line in lines:
        event = parse_line(line)
        now += 0.5
        state = state.apply(event, now)
        await view.on_event(event, state, now)
        view.set_status(render.status_emoji(state.activity, state.current_tool))
        if isinstance(event, ev.Result):
            await view.finish(state, event, now, interrupted=False)
    await rig.rest.wait_idle()
    return state


async def test_streaming_text_is_one_message_edited_in_place(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        view = rig.view()
        await _replay(rig, view, stdout_lines("text_thinking"))
        messages = rig.messages()
        text = [m for m in messages if m["content"] == "The answer is 42."]
        assert len(text) == 1
        # Created with the first delta, then edited as the deltas arrived (C3).
        versions = [v["content"] for v in text[0]["versions"]]
        assert versions[0] == "The an"
        assert versions[-1] == "The answer is 42."
        reactions = rig.server.control.message(rig.anchor_id)["reaction_users"]
        assert [e for e, users in reactions.items() if users] == [render.EMOJI_DONE]


async def test_tool_embed_ticks_and_shows_the_result(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        view = rig.view()
        lines = stdout_lines("bash_allow")
        state = TurnState().start_turn(0.0)
        tool_line = next(i for i, line in enumerate(lines) if b'"tool_use"' in line)
        for line in lines[: tool_line + 1]:
            event = parse_line(line)
            state = state.apply(event, 1.0)
            await view.on_event(event, state, 1.0)
        view.tick(state, 1.0 + 75)  # C4: the timer edits the embed
        await rig.rest.wait_idle()
        (embed_msg,) = [m for m in rig.messages() if m["embeds"]]
        assert "1m 15s elapsed" in embed_msg["embeds"][0]["description"]
        for line in lines[tool_line + 1 :]:
            event = parse_line(line)
            state = state.apply(event, 80.0)
            await view.on_event(event, state, 80.0)
        await rig.rest.wait_idle()
        final = rig.server.control.message(embed_msg["id"])["embeds"][0]
        assert "(Bash completed with no output)" in final["description"]
        assert final["color"] == render.GREEN


async def test_compaction_posts_a_notice(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        view = rig.view()
        boundary = next(line for line in stdout_lines("compact") if b"compact_boundary" in line)
        await _replay(rig, view, [boundary])
        contents = [m["content"] for m in rig.messages()]
        assert any(c.startswith("-# 🗜️ Context compacted (manual)") for c in contents)


async def test_long_text_is_split_into_messages_within_limits(autojump_clock: Any) -> None:
    async with open_rig() as rig:
        view = rig.view()
        long_text = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum " * 40 for i in range(20))
        state = TurnState().start_turn(0.0)
        event = ev.AssistantMessage(content=(ev.TextBlock(text=long_text),))
        state = state.apply(event, 1.0)
        await view.on_event(event, state, 1.0)
        await rig.rest.wait_idle()
        contents = [m["content"] for m in rig.messages()]
        assert len(contents) > 1
        assert all(len(c) <= 2000 for c in contents)
        assert "".join(contents).replace("\n", "") == long_text.replace("\n", "")


async def test_the_completion_embed_comes_after_the_answers_last_edit(autojump_clock: Any) -> None:
    """With Discord's limits the thread's edit bucket (5 per 5 s) runs dry while the answer
    streams, and the create bucket still has room: the completion embed must wait for the
    answer's last edit rather than overtake it (issue 15)."""
    async with open_rig(Realism.faithful()) as rig:
        view = rig.view()
        lines = long_turn_lines(steps=1, deltas_per_step=12)
        state = TurnState().start_turn(0.0)
        now, deltas = 0.0, 0
        for line in lines:
            event = parse_line(line)
            now += 0.05
            state = state.apply(event, now)
            await view.on_event(event, state, now)
            if isinstance(event, ev.Result):
                await view.finish(state, event, now, interrupted=False)
            elif isinstance(event, ev.StreamEvent) and event.text_delta is not None:
                deltas += 1
                if deltas <= 6:  # one create and five PATCHes: the edit bucket is empty
                    await rig.rest.wait_idle()
        await rig.rest.wait_idle()
        [final_text] = [
            block.text
            for event in map(parse_line, lines)
            if isinstance(event, ev.AssistantMessage)
            for block in event.content
            if isinstance(block, ev.TextBlock)
        ]
        messages = rig.messages()
        [answer] = [m for m in messages if m["versions"][0]["content"].startswith(final_text[:5])]
        embed = messages[-1]
        assert embed["embeds"][0]["title"] == "✅ Done"
        assert answer["content"] == final_text
        assert len(answer["versions"]) > 6  # edits were still coming when the turn ended
        last_text = answer["versions"][-1]["visible_at"]
        assert last_text <= embed["versions"][0]["visible_at"]
