"""Roles (for approvers by role) and autocomplete results in the local server: members'
roles reach interactions and survive a restart, junk bodies are 4xx, and an autocomplete
answer outside Discord's limits is refused as Discord refuses it."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.discord_local import _render as render
from bridge.discord_local import dump_world, load_world
from bridge.discord_local._errors import DiscordHTTPError
from bridge.discord_local._validation import check_choices
from tests.bridge.discord_local.conftest import Rig
from tests.bridge.discord_local.test_interactions import COMMAND
from tests.bridge.discord_local.test_persist import control, make_world


async def test_roles_reach_interactions_and_the_state_file(rig: Rig) -> None:
    alice = await rig.human()
    role = (await rig.control.post("/roles", json={"name": "reviewers"})).json()
    assert role["name"] == "reviewers"
    assert role["permissions"] == "0"
    member = await rig.control.put(f"/members/{alice['id']}/roles", json={"role_ids": [role["id"]]})
    assert member.status_code == 200, member.text
    assert member.json()["roles"] == [role["id"]]
    unknown = await rig.control.put(f"/members/{alice['id']}/roles", json={"role_ids": ["42"]})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == 10011

    await rig.rest.put(f"/applications/{rig.server.world.application_id}/commands", json=[COMMAND])
    sent = await rig.control.post(
        "/interactions/command",
        json={"user_id": alice["id"], "channel_id": rig.channel_id, "name": "ask"},
    )
    assert sent.status_code == 200, sent.text
    world = rig.server.world
    seen = render.interaction(world, int(sent.json()["id"]))
    assert seen["member"]["roles"] == [role["id"]]

    saved = dump_world(world)
    again = make_world(0.0)
    load_world(again, saved)
    assert again.users[int(alice["id"])].roles == [int(role["id"])]
    assert [r.name for r in again.roles.values()] == ["reviewers"]
    # A state file written before roles existed still loads.
    load_world(make_world(0.0), {k: v for k, v in saved.items() if k != "roles"})


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=120),
    st.lists(st.one_of(st.integers(), st.text(max_size=25), st.none()), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _outcome(fn: Any) -> Any:
    """The result, or the HTTP status of the refusal."""
    try:
        return fn()
    except DiscordHTTPError as exc:
        return exc.status


@settings(max_examples=200)
@given(name=junk, user_id=junk, role_ids=junk)
def test_junk_role_requests_are_refused_cleanly(name: Any, user_id: Any, role_ids: Any) -> None:
    async def main() -> None:
        world = make_world(0.0)
        ctl = control(world)
        alice = world.add_user("alice")
        made = _outcome(lambda: ctl.create_role(name))
        if isinstance(made, int):
            assert 400 <= made < 500
        else:
            assert 1 <= len(made["name"]) <= 100
        for target in (user_id, alice.id):
            member = _outcome(lambda t=target: ctl.set_member_roles(t, role_ids))
            if isinstance(member, int):
                assert 400 <= member < 500
            else:
                assert all(int(r) in world.roles for r in member["roles"])

    trio.run(main)


FIRST = ("data", "choices", 0)
LENGTH = "BASE_TYPE_BAD_LENGTH"


def _codes(choices: Any) -> list[tuple[tuple[Any, ...], str]]:
    return [(e.path, e.code) for e in check_choices({"choices": choices})]


def test_choices_within_limits_pass() -> None:
    assert _codes([{"name": "a" * 100, "value": "v" * 100}, {"name": "n", "value": 3}]) == []
    assert _codes([{"name": "n", "value": str(i)} for i in range(25)]) == []


@pytest.mark.parametrize(
    ("choices", "path", "code"),
    [
        (
            [{"name": "a" * 101, "value": "v"}],
            ("data", "choices", 0, "name"),
            "BASE_TYPE_BAD_LENGTH",
        ),
        ([{"name": "", "value": "v"}], ("data", "choices", 0, "name"), "BASE_TYPE_BAD_LENGTH"),
        (
            [{"name": "n", "value": "v" * 101}],
            ("data", "choices", 0, "value"),
            "BASE_TYPE_BAD_LENGTH",
        ),
        ([{"name": "n", "value": ""}], ("data", "choices", 0, "value"), "BASE_TYPE_BAD_LENGTH"),
        (
            [{"name": "n", "value": {"x": 1}}],
            ("data", "choices", 0, "value"),
            "STRING_TYPE_CONVERT",
        ),
        ([{"name": "n"}], ("data", "choices", 0, "value"), "STRING_TYPE_CONVERT"),
        (["n"], ("data", "choices", 0), "DICT_TYPE_CONVERT"),
        ([{"name": "n", "value": "v"}] * 26, ("data", "choices"), "BASE_TYPE_MAX_LENGTH"),
    ],
)
def test_choices_outside_limits_are_named(choices: Any, path: tuple[Any, ...], code: str) -> None:
    assert (path, code) in _codes(choices)


@given(st.lists(st.dictionaries(st.sampled_from(["name", "value", "x"]), junk), max_size=30))
def test_junk_choices_never_crash(choices: list[dict[str, Any]]) -> None:
    check_choices({"choices": choices})


async def test_an_overlong_choice_is_refused_over_http(rig: Rig) -> None:
    await rig.rest.put(f"/applications/{rig.server.world.application_id}/commands", json=[COMMAND])
    alice = await rig.human()
    inter = rig.server.world.invoke_command(
        int(alice["id"]),
        rig.channel_id,
        "ask",
        [{"name": "q", "type": 3, "value": "w", "focused": True}],
        autocomplete=True,
    )
    url = f"/interactions/{inter.id}/{inter.token}/callback"
    bad = await rig.rest.post(
        url, json={"type": 8, "data": {"choices": [{"name": "x" * 101, "value": "v"}]}}
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == 50035
    ok = await rig.rest.post(
        url, json={"type": 8, "data": {"choices": [{"name": "x", "value": "v"}]}}
    )
    assert ok.status_code == 204
