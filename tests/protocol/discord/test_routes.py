"""Named routes, path compilation and the major-parameter part of bucket keys."""

from __future__ import annotations

import pytest

from protocol.discord import routes
from protocol.discord.routes import ROUTES, RouteError


def test_compile_fills_and_encodes() -> None:
    compiled = routes.ADD_OWN_REACTION.compile(channel_id=1, message_id=2, emoji_name="👍")
    assert compiled.path == "/channels/1/messages/2/reactions/%F0%9F%91%8D/@me"
    custom = routes.ADD_OWN_REACTION.compile(channel_id=1, message_id=2, emoji_name="blob:123")
    assert custom.path.endswith("/reactions/blob:123/@me")
    assert compiled.method == "PUT"
    assert (
        compiled.route_key
        == "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me"
    )


def test_major_parameters() -> None:
    a = routes.CREATE_MESSAGE.compile(channel_id=10)
    b = routes.CREATE_MESSAGE.compile(channel_id=11)
    assert a.route_key == b.route_key
    assert a.major == "channel_id=10"
    assert a.major != b.major
    assert a.channel_id == "10"
    assert routes.GET_GUILD.compile(guild_id=5).major == "guild_id=5"
    assert routes.GET_CURRENT_USER.compile().major == ""
    # The message id is not a major parameter: edits of two messages share a bucket.
    assert (
        routes.EDIT_MESSAGE.compile(channel_id=1, message_id=2).major
        == routes.EDIT_MESSAGE.compile(channel_id=1, message_id=3).major
    )


def test_webhook_major_uses_a_token_digest_not_the_token() -> None:
    token = "aW50ZXJhY3Rpb246c2VjcmV0"
    followup = routes.CREATE_FOLLOWUP_MESSAGE.compile(webhook_id=99, webhook_token=token)
    assert followup.path == f"/webhooks/99/{token}"
    assert followup.major.startswith("webhook_id=99+token=")
    assert token not in followup.major
    other = routes.CREATE_FOLLOWUP_MESSAGE.compile(webhook_id=99, webhook_token="other")
    assert other.major != followup.major


def test_interaction_callback_is_not_globally_limited() -> None:
    assert routes.CREATE_INTERACTION_RESPONSE.global_limited is False
    assert routes.CREATE_MESSAGE.global_limited is True
    reaction_routes = {name for name, r in ROUTES.items() if r.reaction}
    assert reaction_routes == {
        "ADD_OWN_REACTION",
        "DELETE_OWN_REACTION",
        "DELETE_USER_REACTION",
        "DELETE_ALL_REACTIONS",
        "DELETE_ALL_REACTIONS_FOR_EMOJI",
    }


def test_compile_errors_name_the_parameters() -> None:
    with pytest.raises(RouteError, match="cannot compile route CREATE_MESSAGE: missing channel_id"):
        routes.CREATE_MESSAGE.compile()
    with pytest.raises(RouteError, match="unexpected guild_id"):
        routes.CREATE_MESSAGE.compile(channel_id=1, guild_id=2)


def test_every_route_is_named_after_itself_and_in_the_official_spec() -> None:
    import json

    from tests.support.openapi import SPEC_PATH

    paths = json.loads(SPEC_PATH.read_text())["paths"]
    for name, route in ROUTES.items():
        assert getattr(routes, name) is route
        assert route.template in paths, f"{name}: {route.template} not in the OpenAPI paths"
        assert route.method.lower() in paths[route.template], f"{name}: {route.method} not allowed"
