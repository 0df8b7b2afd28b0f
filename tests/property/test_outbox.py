"""The outbox under random interleavings of posts, edits, deletes and sender progress
(hypothesis; an in-memory Discord stands in for the REST client, so only our code runs).

Whatever the interleaving, once drained: the messages exist in the order they were
posted (minus those deleted before they were sent), each shows the latest version asked
for, the ones deleted after they were sent are gone, and Discord saw no edit or delete of
a message that did not exist. Edits land late here (as on a rate-limited edit bucket),
and no post asked for with ``after_edits`` is created while an edit asked for before it
is still waiting to land.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs
import trio
import trio.lowlevel
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.sessions.presentation.outbox import Outbox, Placeholder
from bridge.sessions.presentation.render import MessagePayload, plain
from protocol.discord import models as m
from protocol.discord.edits import Live


@attrs.define
class FakeDiscord:
    """Just enough of the REST client: creates take a few scheduler turns, and edits wait
    (in ``pending``) until the test lets them land or someone awaits them."""

    delays: list[int]
    shown: dict[int, str] = attrs.field(factory=dict)
    order: list[int] = attrs.field(factory=list)
    deleted: set[int] = attrs.field(factory=set)
    pending: dict[int, str] = attrs.field(factory=dict)
    """Message id -> the edit submitted and not landed yet (latest wins, as the client's)."""
    pending_at_create: dict[int, list[str]] = attrs.field(factory=dict)
    """Per created message, the edits still waiting when it was created."""
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
        for _ in range(self.delays.pop() if self.delays else 0):
            await trio.lowlevel.checkpoint()
        self.next_id += 1
        self.pending_at_create[self.next_id] = list(self.pending.values())
        self.shown[self.next_id] = content or ""
        self.order.append(self.next_id)
        return attrs.make_class("Created", ["id"])(self.next_id)

    def submit_edit(self, channel_id: int, message_id: int, **fields: Any) -> None:
        assert message_id in self.shown, message_id
        assert message_id not in self.deleted, message_id
        self.pending[message_id] = fields["content"]

    def land(self, message_id: int | None = None) -> None:
        for key in [message_id] if message_id is not None else list(self.pending):
            content = self.pending.pop(key, None)
            if content is not None and key not in self.deleted:
                self.shown[key] = content

    def submit_live_edit(self, channel_id: int, message_id: int, content: Live) -> None:
        self.submit_edit(channel_id, message_id, content=content.take())

    def submit_reaction(self, channel_id: int, message_id: int, **fields: Any) -> None:
        assert message_id in self.shown, message_id

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        assert message_id in self.shown, message_id
        assert message_id not in self.deleted, message_id
        self.deleted.add(message_id)

    async def edits_landed(self, channel_id: int, message_id: int) -> None:
        assert message_id in self.shown, message_id  # only messages the outbox edited
        for _ in range(self.delays.pop() if self.delays else 0):
            await trio.lowlevel.checkpoint()
        self.land(message_id)


def _asked(content: str) -> int:
    """The ask counter written into every post and edit."""
    match = re.search(r" a(\d+)$", content)
    assert match is not None, content
    return int(match.group(1))


Op = tuple[str, int]
ops = st.lists(
    st.tuples(
        st.sampled_from(
            ["post", "post_after_edits", "edit", "edit_live", "delete", "progress", "land"]
        ),
        st.integers(0, 30),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ops=ops, delays=st.lists(st.integers(0, 4), max_size=60))
def test_random_interleavings_end_in_the_latest_state(ops: list[Op], delays: list[int]) -> None:
    async def main() -> None:
        discord = FakeDiscord(delays=list(delays))
        outbox = Outbox(discord, 1)
        posted: list[Placeholder] = []
        after_edits: dict[int, int] = {}  # index in posted -> when it was asked for
        latest: dict[int, str] = {}  # index in posted -> latest content asked for
        deleted: set[int] = set()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(outbox.run)
            for asked, (kind, n) in enumerate(ops):
                if kind in ("post", "post_after_edits"):
                    index = len(posted)
                    text = f"post {index} v0 a{asked}"
                    after = kind == "post_after_edits"
                    posted.append(outbox.post(plain(text), after_edits=after))
                    latest[index] = text
                    if after:
                        after_edits[index] = asked
                elif kind == "edit" and posted:
                    index = n % len(posted)
                    text = f"post {index} v{n} a{asked}"
                    outbox.edit(posted[index], MessagePayload(content=text))
                    if index not in deleted:
                        latest[index] = text
                elif kind == "edit_live" and posted:
                    # Streaming text: rendered when the client sends it, but asked for now.
                    index = n % len(posted)
                    text = f"post {index} live{n} a{asked}"
                    if outbox.edit_live(posted[index], Live(lambda text=text: text)):
                        if index not in deleted:
                            latest[index] = text
                    else:
                        outbox.edit(posted[index], MessagePayload(content=text))
                        if index not in deleted:
                            latest[index] = text
                elif kind == "delete" and posted:
                    index = n % len(posted)
                    outbox.delete(posted[index])
                    deleted.add(index)
                elif kind == "progress":
                    for _ in range(n % 5):
                        await trio.lowlevel.checkpoint()
                elif kind == "land":
                    discord.land()
            await outbox.drain()
            nursery.cancel_scope.cancel()
        discord.land()  # Discord applies every edit in the end
        created = [p for p in posted if p.id is not None]
        assert [p.id for p in created] == discord.order  # posted in order
        for index, placeholder in enumerate(posted):
            if index in deleted:
                assert placeholder.id is None or placeholder.id in discord.deleted
            else:
                assert placeholder.id is not None
                assert discord.shown[placeholder.id] == latest[index]
                assert placeholder.id not in discord.deleted
        for index, asked in after_edits.items():
            message_id = posted[index].id
            if message_id is not None:
                waiting = discord.pending_at_create[message_id]
                assert all(_asked(content) > asked for content in waiting), (asked, waiting)
        assert outbox.queued == 0

    trio.run(main)
