"""``GET /_control/wait``: a long-poll that answers when the state satisfies a condition,
or 408 after its timeout, so a client in another process never polls."""

from __future__ import annotations

from typing import Any

import httpx
import trio
import trio.testing

from tests.bridge.discord_local.conftest import Rig


class Pending:
    """One ``/wait`` request running in the background; ``response`` is set when it ends."""

    def __init__(self) -> None:
        self.response: httpx.Response | None = None
        self.finished_at: float | None = None

    async def run(self, rig: Rig, params: dict[str, Any]) -> None:
        self.response = await rig.control.get("/wait", params=params)
        self.finished_at = trio.current_time()


async def start_wait(nursery: trio.Nursery, rig: Rig, **params: Any) -> Pending:
    pending = Pending()
    nursery.start_soon(pending.run, rig, params)
    await trio.testing.wait_all_tasks_blocked()
    return pending


async def test_a_message_wait_answers_when_a_matching_message_appears(rig: Rig) -> None:
    alice = await rig.human()
    async with trio.open_nursery() as nursery:
        pending = await start_wait(nursery, rig, channel_id=rig.channel_id, contains="answer is")
        await rig.say("thinking...")
        await trio.testing.wait_all_tasks_blocked()
        assert pending.response is None  # a message that does not match changes nothing
        edited = await rig.say("draft")
        await rig.rest.patch(
            f"/channels/{rig.channel_id}/messages/{edited['id']}",
            json={"content": "the answer is 42"},
        )
    assert pending.response is not None
    assert pending.response.status_code == 200
    assert (pending.response.json()["id"], pending.response.json()["content"]) == (
        edited["id"],
        "the answer is 42",
    )
    # Already true: answers at once, with the oldest match; no condition text: any message.
    await rig.control.post(
        f"/channels/{rig.channel_id}/messages",
        json={"author_id": alice["id"], "content": "the answer is 7"},
    )
    again = await rig.control.get(
        "/wait", params={"channel_id": rig.channel_id, "contains": "answer", "timeout": 0}
    )
    assert again.json()["id"] == edited["id"]
    first = await rig.control.get("/wait", params={"channel_id": rig.channel_id})
    assert first.json()["content"] == "thinking..."


async def test_a_message_wait_also_reads_embed_titles_and_descriptions(rig: Rig) -> None:
    await rig.say("plain")
    titled = await rig.say("", embeds=[{"title": "✅ Done", "description": "12 tokens"}])
    for text in ("✅ Done", "12 tokens"):
        r = await rig.control.get(
            "/wait", params={"channel_id": rig.channel_id, "contains": text, "timeout": 0}
        )
        assert r.status_code == 200
        assert r.json()["id"] == titled["id"]


async def test_deleted_messages_do_not_satisfy_a_message_wait(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    m = await rig.say("gone soon")
    await rig.rest.delete(f"/channels/{rig.channel_id}/messages/{m['id']}")
    r = await rig.control.get(
        "/wait", params={"channel_id": rig.channel_id, "contains": "gone", "timeout": 1}
    )
    assert r.status_code == 408


async def test_a_wait_on_a_thread_that_does_not_exist_yet(rig: Rig) -> None:
    starter = await rig.say("start a thread from me")
    thread_id = starter["id"]  # a thread created from a message takes the message's id
    async with trio.open_nursery() as nursery:
        in_thread = await start_wait(nursery, rig, channel_id=thread_id, contains="hello")
        child = await start_wait(nursery, rig, parent_id=rig.channel_id, name_contains="work")
        created = await rig.rest.post(
            f"/channels/{rig.channel_id}/messages/{thread_id}/threads", json={"name": "work 1"}
        )
        assert created.status_code in (200, 201), created.text
        await rig.say("hello there", channel_id=int(thread_id))
    assert child.response is not None
    assert child.response.status_code == 200
    assert (child.response.json()["id"], child.response.json()["name"]) == (thread_id, "work 1")
    assert in_thread.response is not None
    assert in_thread.response.status_code == 200
    assert in_thread.response.json()["channel_id"] == thread_id


async def test_a_reaction_wait_can_name_the_user(rig: Rig) -> None:
    alice = await rig.human("alice")
    bob = await rig.human("bob")
    m = await rig.say("react to me")
    async with trio.open_nursery() as nursery:
        by_bob = await start_wait(nursery, rig, message_id=m["id"], emoji="👍", user_id=bob["id"])
        by_anyone = await start_wait(nursery, rig, message_id=m["id"], emoji="👍")
        await rig.control.post(
            f"/messages/{m['id']}/reactions", json={"user_id": alice["id"], "emoji": "👍"}
        )
        await trio.testing.wait_all_tasks_blocked()
        assert by_anyone.response is not None
        assert by_anyone.response.status_code == 200
        assert by_bob.response is None
        await rig.control.post(
            f"/messages/{m['id']}/reactions", json={"user_id": bob["id"], "emoji": "👍"}
        )
    assert by_bob.response is not None
    assert by_bob.response.json()["reaction_users"] == {"👍": [alice["id"], bob["id"]]}


async def test_a_wait_that_never_holds_gives_408_after_its_timeout(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        started = trio.current_time()
        pending = await start_wait(
            nursery, rig, channel_id=rig.channel_id, contains="never", timeout=2.5
        )
    assert pending.response is not None
    assert pending.finished_at is not None
    assert pending.response.status_code == 408
    assert pending.finished_at - started == 2.5
    assert "never" in pending.response.json()["message"]
    assert "2.5 s" in pending.response.json()["message"]


async def test_malformed_waits_are_refused_with_the_reason(rig: Rig) -> None:
    async def status(**params: Any) -> tuple[int, str]:
        r = await rig.control.get("/wait", params=params)
        return r.status_code, r.text

    code, text = await status()
    assert code == 400
    assert "exactly one" in text
    code, text = await status(channel_id=rig.channel_id, parent_id=rig.channel_id)
    assert code == 400
    assert "exactly one" in text
    code, text = await status(message_id="1")
    assert code == 400
    assert "emoji" in text
    for bad in ("soon", "-1", "nan", "601"):
        code, text = await status(channel_id=rig.channel_id, timeout=bad)
        assert code == 400, bad
        assert "timeout" in text, bad
    code, text = await status(channel_id="general")
    assert code == 400
    assert "channel_id" in text
    code, text = await status(channel_id=rig.channel_id, colour="red")
    assert code == 400
    assert "colour" in text


async def test_the_python_twin_returns_what_the_route_returns(rig: Rig) -> None:
    m = await rig.say("twin")
    direct = await rig.server.control.wait(channel_id=rig.channel_id, contains="twin")
    over_http = (
        await rig.control.get("/wait", params={"channel_id": rig.channel_id, "contains": "twin"})
    ).json()
    assert direct == over_http
    assert direct["id"] == m["id"]
