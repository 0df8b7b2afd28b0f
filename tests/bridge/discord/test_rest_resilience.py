"""Rate limits, retries, coalescing and shedding, against the local server's real limits."""

from __future__ import annotations

import attrs
import httpx
import pytest
import trio
import trio.testing

from bridge.discord import BackgroundFailure, HTTPError, RateLimitedTooLong, RequestShed
from bridge.discord_local import Realism
from protocol.discord.edits import Live
from protocol.discord.limits import LimitExceeded
from tests.bridge.discord.conftest import LoseResponses, open_rig

CREATE = "POST /channels/{channel_id}/messages"
EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"


def _is_create(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/messages")


async def test_a_lost_response_is_retried_without_duplicating_the_message(
    autojump_clock: object,
) -> None:
    # The server stores the message, then the network loses its answer: the retry carries
    # the same nonce, and enforce_nonce makes Discord return the first message.
    async with open_rig(wrap=lambda t: LoseResponses(t, _is_create, count=2)) as rig:
        sent = await rig.rest.create_message(rig.channel_id, content="exactly once")
        creates = rig.routes(CREATE)
        assert len(creates) == 3
        assert len({e.request_json["nonce"] for e in creates}) == 1
        contents = [x["content"] for x in rig.server.control.messages(rig.channel_id)]
        assert contents == ["exactly once"]
        assert sent.id == int(creates[0].response_json["id"])
        assert rig.rest.stats.retries == 2


async def test_a_429_storm_on_a_route_is_waited_out(autojump_clock: object) -> None:
    async with open_rig() as rig:
        rig.server.control.rest_fault(route=CREATE, kind="429", count=3, retry_after=2.0)
        start = trio.current_time()
        await rig.rest.create_message(rig.channel_id, content="after the storm")
        assert trio.current_time() - start >= 6.0
        assert rig.rest.stats.responses_429 == 3
        assert len(rig.routes(CREATE)) == 4
        assert rig.rest.invalid_requests() == 3


async def test_a_global_429_pauses_every_globally_limited_request(autojump_clock: object) -> None:
    async with open_rig() as rig:
        sent = await rig.rest.create_message(rig.channel_id, content="m")
        rig.server.control.rest_fault(route=CREATE, kind="429", retry_after=3.0, **{"global": True})
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: rig.rest.create_message(rig.channel_id, content="n"))
            await trio.testing.wait_all_tasks_blocked()
            # An edit on another route is queued during the global pause: it waits too.
            await rig.rest.edit_message(rig.channel_id, sent.id, content="m2")
            assert trio.current_time() - start >= 3.0
        assert rig.rest.stats.global_429 == 1
        assert rig.server.stats.responses_429 == 1  # only the injected one


async def test_shared_scope_429s_are_not_invalid_requests(autojump_clock: object) -> None:
    async with open_rig() as rig:
        rig.server.control.rest_fault(
            route=CREATE, kind="429", count=2, retry_after=1.0, scope="shared"
        )
        await rig.rest.create_message(rig.channel_id, content="x")
        assert rig.rest.stats.responses_429 == 2
        assert rig.rest.invalid_requests() == 0


async def test_5xx_bursts_are_retried_with_backoff(autojump_clock: object) -> None:
    async with open_rig() as rig:
        rig.server.control.rest_fault(route=CREATE, kind="5xx", count=3, status=502)
        sent = await rig.rest.create_message(rig.channel_id, content="eventually")
        assert rig.message(sent.id)["content"] == "eventually"
        assert rig.rest.stats.retries == 3


async def test_a_create_outlasts_any_run_of_5xx_and_the_wait_is_reported(
    autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    # A message create is never given up while the client runs: it backs off (capped at
    # 16 s) through an outage of any length, with a log line per minute of waiting.
    async with open_rig() as rig:
        rig.server.control.rest_fault(route=CREATE, kind="5xx", count=None, status=500)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: rig.rest.create_message(rig.channel_id, content="after the outage")
            )
            await trio.sleep(300)
            attempts = len(rig.routes(CREATE))
            assert attempts > 15  # far past the 5 retries that bound other requests
            assert rig.server.control.messages(rig.channel_id) == []
            assert rig.rest.stats.wait_reports >= 4
            assert rig.rest.stats.retry_wait_seconds > 250
            reports = [r for r in caplog.records if "waiting for Discord" in r.getMessage()]
            assert len(reports) == rig.rest.stats.wait_reports
            assert "POST /channels/{channel_id}/messages" in reports[-1].getMessage()
            rig.server.control.clear_faults()
        contents = [x["content"] for x in rig.server.control.messages(rig.channel_id)]
        assert contents == ["after the outage"]


async def test_slow_responses_time_out_and_retry_once(autojump_clock: object) -> None:
    async with open_rig(timeout=2.0) as rig:
        rig.server.control.rest_fault(route=CREATE, kind="slow", delay=10.0)
        sent = await rig.rest.create_message(rig.channel_id, content="patient")
        assert rig.message(sent.id)["content"] == "patient"
        contents = [x["content"] for x in rig.server.control.messages(rig.channel_id)]
        assert contents == ["patient"]


async def test_a_429_longer_than_we_wait_raises_for_a_request_nobody_misses(
    autojump_clock: object,
) -> None:
    commands = "PUT /applications/{application_id}/commands"
    async with open_rig(max_rate_limit_wait=30.0) as rig:
        rig.server.control.rest_fault(route=commands, kind="429", retry_after=3600.0)
        with pytest.raises(RateLimitedTooLong) as caught:
            await rig.rest.bulk_overwrite_global_commands(rig.server.world.application_id, [])
        assert caught.value.retry_after == 3600.0
        assert "3600.0 s" in str(caught.value)


async def test_a_create_waits_as_long_as_discord_asks(autojump_clock: object) -> None:
    async with open_rig(max_rate_limit_wait=30.0) as rig:
        rig.server.control.rest_fault(route=CREATE, kind="429", retry_after=3600.0, count=7)
        start = trio.current_time()
        sent = await rig.rest.create_message(rig.channel_id, content="patient")
        assert trio.current_time() - start >= 7 * 3600.0
        assert rig.message(sent.id)["content"] == "patient"
        assert len(rig.routes(CREATE)) == 8


async def test_streaming_edits_coalesce_to_the_latest_content(autojump_clock: object) -> None:
    async with open_rig() as rig:
        sent = await rig.rest.create_message(rig.channel_id, content="0")
        for i in range(1, 101):
            rig.rest.submit_edit(rig.channel_id, sent.id, content=str(i))
            await trio.sleep(0.05)
        final = await rig.rest.edit_message(rig.channel_id, sent.id, content="final")
        assert final.content == "final"
        assert rig.message(sent.id)["content"] == "final"
        edits = rig.routes(EDIT)
        # 5 s of streaming within a 5-per-5 s bucket: a handful of requests, not 101.
        assert len(edits) <= 8
        assert rig.rest.stats.coalesced_edits >= 90
        assert rig.server.stats.responses_429 == 0
        # Versions only ever move forward (an older edit never overtakes a newer one).
        seen = [int(v["content"]) for v in rig.message(sent.id)["versions"][1:-1]]
        assert seen == sorted(seen)


async def test_live_edits_render_once_per_patch_with_the_text_of_then(
    autojump_clock: object,
) -> None:
    async with open_rig() as rig:
        sent = await rig.rest.create_message(rig.channel_id, content="0")
        text = ["0"]
        renders: list[str] = []

        def render() -> str:
            renders.append(text[0])
            return text[0]

        live = Live(render, initial="0")
        for i in range(1, 101):
            text[0] = str(i)
            rig.rest.submit_live_edit(rig.channel_id, sent.id, live)
            await trio.sleep(0.05)
        await rig.rest.wait_idle()
        assert rig.message(sent.id)["content"] == "100"
        edits = rig.routes(EDIT)
        # One render per PATCH sent, not one per change; each carried the text of then.
        assert len(renders) == len(edits) <= 8
        assert [e.request_json["content"] for e in edits] == renders
        assert live.taken == "100"
        assert rig.server.stats.responses_429 == 0


async def test_a_live_edit_over_the_content_limit_fails_to_the_listeners(
    autojump_clock: object,
) -> None:
    async with open_rig() as rig:
        sent = await rig.rest.create_message(rig.channel_id, content="short")
        failures: list[BackgroundFailure] = []
        rig.rest.add_failure_listener(failures.append)
        rig.rest.submit_live_edit(rig.channel_id, sent.id, Live(lambda: "x" * 2001))
        await rig.rest.wait_idle()
        assert len(failures) == 1
        assert isinstance(failures[0].error, LimitExceeded)
        assert rig.routes(EDIT) == []  # nothing was sent
        # Its limiter slot was freed: the next edit of the message goes out.
        rig.rest.submit_live_edit(rig.channel_id, sent.id, Live(lambda: "fits"))
        await rig.rest.wait_idle()
        assert rig.message(sent.id)["content"] == "fits"


async def test_reaction_changes_cancel_out_while_queued(autojump_clock: object) -> None:
    async with open_rig() as rig:
        sent = await rig.rest.create_message(rig.channel_id, content="status")
        rig.rest.submit_reaction(rig.channel_id, sent.id, add=["⏳"])
        rig.rest.submit_reaction(rig.channel_id, sent.id, add=["🔧"])
        rig.rest.submit_reaction(rig.channel_id, sent.id, remove=["🔧"])  # never sent
        rig.rest.submit_reaction(rig.channel_id, sent.id, add=["⏳"])  # already queued
        await rig.rest.wait_idle()
        rig.rest.submit_reaction(rig.channel_id, sent.id, add=["✅"], remove=["⏳"])
        await rig.rest.wait_idle()
        bot = str(rig.server.world.bot.id)
        assert rig.message(sent.id)["reaction_users"] == {"✅": [bot]}
        assert rig.rest.stats.cancelled_reactions == 1
        assert (
            len(
                rig.routes("PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
            )
            == 2
        )


async def test_reactions_are_paced_per_channel_without_429s(autojump_clock: object) -> None:
    async with open_rig() as rig:
        sent = await rig.rest.create_message(rig.channel_id, content="many")
        emojis = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊"]
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for e in emojis:
                nursery.start_soon(rig.rest.add_reaction, rig.channel_id, sent.id, e)
        assert trio.current_time() - start >= 9 * 0.25
        assert rig.server.stats.responses_429 == 0
        assert len(rig.message(sent.id)["reaction_users"]) == 10


async def test_steady_load_at_the_limits_gets_no_429s(autojump_clock: object) -> None:
    # 40 channels of streaming sessions for 30 s: creates, edits and reactions well past
    # what the buckets and the global budget allow; the client paces itself instead.
    async with open_rig(check_spec=False) as rig:
        channels = [int(rig.server.control.create_channel(f"s{i}")["id"]) for i in range(40)]

        async def session(channel_id: int) -> None:
            msg = await rig.rest.create_message(channel_id, content="start")
            for step in range(150):
                rig.rest.submit_edit(channel_id, msg.id, content=f"step {step}")
                if step % 20 == 0:
                    rig.rest.submit_reaction(
                        channel_id, msg.id, add=[f"{step % 3}\N{COMBINING ENCLOSING KEYCAP}"]
                    )
                await trio.sleep(0.2)
            await rig.rest.create_message(channel_id, content="done")

        async with trio.open_nursery() as nursery:
            for c in channels:
                nursery.start_soon(session, c)
        await rig.rest.wait_idle()
        assert rig.server.stats.responses_429 == 0
        assert rig.rest.stats.responses_429 == 0
        for c in channels:
            last = rig.server.control.messages(c)
            assert last[-1]["content"] == "done"
            assert last[0]["content"] == "step 149"


async def test_non_essential_traffic_is_shed_under_invalid_request_pressure(
    autojump_clock: object,
) -> None:
    async with open_rig(shed_threshold=3) as rig:
        mine = await rig.rest.create_message(rig.channel_id, content="mine")
        human = rig.server.control.post_message(rig.channel_id, rig.owner_id, "theirs")
        for _ in range(3):  # 403s: editing someone else's message
            with pytest.raises(HTTPError):
                await rig.rest.edit_message(rig.channel_id, int(human["id"]), content="x")
        assert rig.rest.invalid_requests() == 3
        failures: list[object] = []
        rig.rest.add_failure_listener(failures.append)
        rig.rest.submit_edit(rig.channel_id, mine.id, content="held, not lost")
        rig.rest.submit_reaction(rig.channel_id, mine.id, add=["👀"])
        # Essential traffic still flows; the reaction is shed, the edit held.
        await rig.rest.create_message(rig.channel_id, content="still here")
        assert rig.rest.stats.shed == 1
        assert [type(f.error) for f in failures] == [RequestShed]  # type: ignore[attr-defined]
        assert rig.message(mine.id)["content"] == "mine"
        # Once the window has room again (ten minutes after the first 403), the edit lands.
        await rig.rest.wait_idle()
        assert trio.current_time() >= 600
        assert rig.message(mine.id)["content"] == "held, not lost"
        assert len(failures) == 1


async def test_background_failures_are_reported_not_raised(autojump_clock: object) -> None:
    async with open_rig() as rig:
        failures: list[object] = []
        rig.rest.add_failure_listener(failures.append)
        rig.rest.submit_edit(rig.channel_id, 999, content="no such message")
        await rig.rest.wait_idle()
        [failure] = failures
        assert failure.route == EDIT  # type: ignore[attr-defined]
        assert rig.rest.recent_failures[-1] is failure
        assert rig.rest.stats.background_failures == 1


async def test_strict_buckets_still_converge_without_429s_after_learning(
    autojump_clock: object,
) -> None:
    # One request per window per bucket: the first response teaches the limit.
    realism = attrs.evolve(Realism.faithful(), bucket_scale=0.0)
    async with open_rig(realism) as rig:
        for i in range(5):
            await rig.rest.create_message(rig.channel_id, content=str(i))
        assert rig.server.stats.responses_429 == 0


async def test_status_reactions_are_not_starved_by_a_stream_of_edits(
    autojump_clock: object,
) -> None:
    # 150 channels streaming edits keep the global budget full for 20 s; a reaction queued
    # at the start still lands within seconds, not after the stream.
    async with open_rig(check_spec=False) as rig:
        channels = [int(rig.server.control.create_channel(f"s{i}")["id"]) for i in range(150)]
        messages = [await rig.rest.create_message(c, content="0") for c in channels]
        await trio.sleep(5)
        target = messages[0]
        stop = trio.current_time() + 20

        async def stream(msg: object) -> None:
            step = 0
            while trio.current_time() < stop:
                step += 1
                rig.rest.submit_edit(msg.channel_id, msg.id, content=str(step))  # type: ignore[attr-defined]
                await trio.sleep(0.1)

        async with trio.open_nursery() as nursery:
            for msg in messages:
                nursery.start_soon(stream, msg)
            await trio.sleep(1)
            start = trio.current_time()
            await rig.rest.add_reaction(target.channel_id, target.id, "⏳")
            waited = trio.current_time() - start
        assert waited < 8.0
        assert rig.server.stats.responses_429 == 0
