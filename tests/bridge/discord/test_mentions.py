"""allowed_mentions: every message body the client sends pings exactly what the bot means
(nobody, or one user it opted in), whoever built the body."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.discord.rest import USER_AGENT, FileUpload
from bridge.discord_local import Exchange
from protocol.discord import models as m
from tests.bridge.discord.conftest import open_rig
from tests.bridge.discord.test_rest_interactions import _command
from tests.support.allowed_mentions import mention_errors

NOBODY = {"parse": [], "users": [], "replied_user": False}
LOUD = "@everyone @here <@&1234> look"


def _bodies(exchanges: list[Exchange], method: str, suffix: str) -> list[Any]:
    return [e.request_json for e in exchanges if e.method == method and e.path.endswith(suffix)]


async def test_every_message_body_pings_nobody_by_default(autojump_clock: object) -> None:
    async with open_rig() as rig:
        channel = rig.channel_id
        user_msg = rig.server.control.post_message(channel, rig.owner_id, "hello")
        sent = await rig.rest.create_message(channel, content=LOUD, reply_to=int(user_msg["id"]))
        await rig.rest.create_message(
            channel, content=LOUD, files=[FileUpload("a.txt", b"hi", "text/plain")]
        )
        await rig.rest.edit_message(channel, sent.id, content=LOUD + " (edited)")
        rig.rest.submit_edit(channel, sent.id, embeds=[m.Embed(title="done")])
        await rig.rest.wait_idle()
        inter = await _command(rig)
        app_id = rig.server.world.application_id
        await rig.rest.create_interaction_response(
            int(inter["id"]),
            inter["token"],
            m.InteractionResponse(
                type=m.InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
                data=m.InteractionMessage(content=LOUD),
            ),
        )
        await rig.rest.edit_original_response(app_id, inter["token"], content=LOUD)
        await rig.rest.create_followup(app_id, inter["token"], content=LOUD)

    creates = _bodies(rig.exchanges, "POST", f"/channels/{channel}/messages")
    edits = _bodies(rig.exchanges, "PATCH", f"/messages/{sent.id}")
    [callback] = _bodies(rig.exchanges, "POST", "/callback")
    original = _bodies(rig.exchanges, "PATCH", "/messages/@original")
    followups = _bodies(rig.exchanges, "POST", inter["token"])
    assert len(creates) == 2
    assert len(edits) == 2
    assert len(original) == 1
    assert len(followups) == 1
    for body in [*creates, *edits, *original, *followups, callback["data"]]:
        assert body["allowed_mentions"] == NOBODY
    assert rig.recorder.problems == []


async def test_one_user_can_be_pinged_on_purpose(autojump_clock: object) -> None:
    async with open_rig() as rig:
        owner = rig.owner_id
        await rig.rest.create_message(
            rig.channel_id, content=f"<@{owner}> a session needs your answer", ping_user=owner
        )
        with pytest.raises(ValueError, match="does not mention"):
            await rig.rest.create_message(rig.channel_id, content="no name here", ping_user=owner)
    [body] = _bodies(rig.exchanges, "POST", f"/channels/{rig.channel_id}/messages")
    assert body["allowed_mentions"] == {"parse": [], "users": [str(owner)], "replied_user": False}


def _exchange(
    body: Any, *, user_agent: str = USER_AGENT, path: str = "/channels/1/messages"
) -> Exchange:
    return Exchange(
        method="POST",
        path=path,
        route="POST /channels/{channel_id}/messages",
        query={},
        request_content_type="application/json",
        request_json=body,
        request_files=(),
        status=200,
        response_headers={},
        response_json=None,
        user_agent=user_agent,
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"content": "@everyone"}, "no allowed_mentions"),
        ({"content": "x", "allowed_mentions": {"parse": ["everyone"]}}, "parse"),
        ({"content": "x", "allowed_mentions": {"parse": [], "roles": ["5"]}}, "roles"),
        ({"content": "x", "allowed_mentions": {"parse": []}}, "replied_user"),
        (
            {"content": "hi", "allowed_mentions": {**NOBODY, "users": ["42"]}},
            "does not mention",
        ),
    ],
)
def test_the_suite_check_catches_missing_or_wide_allowed_mentions(
    body: dict[str, Any], words: str
) -> None:
    problems = mention_errors(_exchange(body))
    assert problems
    assert words in problems[0]


def test_the_suite_check_passes_intended_pings_and_other_clients() -> None:
    assert mention_errors(_exchange({"content": "x", "allowed_mentions": NOBODY})) == []
    pinged = {"content": "<@42> look", "allowed_mentions": {**NOBODY, "users": ["42"]}}
    assert mention_errors(_exchange(pinged)) == []
    # discord.py or a raw test client is not the bridge.
    assert mention_errors(_exchange({"content": "@everyone"}, user_agent="python-httpx")) == []
    # Routes that carry no message are not checked.
    assert mention_errors(_exchange({"name": "t"}, path="/channels/1/threads")) == []
