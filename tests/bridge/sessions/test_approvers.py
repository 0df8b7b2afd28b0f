"""Who may answer which prompt: approvers (by id or role) for approvals, any allowed user
for questions; with no approver configured, the allowed users; the owner always."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.sessions.approvers import APPROVAL_KINDS, Approvers

ids = st.integers(1, 30)
id_sets = st.frozensets(ids, max_size=5)
kinds = st.sampled_from([*sorted(APPROVAL_KINDS), "question", "other"])


def test_default_is_the_allowed_users() -> None:
    rule = Approvers(allowed_user_ids=frozenset({1, 2}), owner_id=1)
    assert rule.may_approve(2)
    assert not rule.may_approve(3, [7])
    assert rule.may_answer("question", 2)
    assert not rule.may_answer("permission", 3)


def test_configured_approvers_by_id_and_role() -> None:
    rule = Approvers(
        user_ids=frozenset({5}),
        role_ids=frozenset({70}),
        allowed_user_ids=frozenset({1, 2}),
        owner_id=1,
    )
    assert rule.may_approve(5)
    assert rule.may_approve(9, [70, 71])
    assert rule.may_approve(1)  # the owner
    assert not rule.may_approve(2)  # allowed, but no approver
    assert rule.may_answer("question", 2)  # questions are for every allowed user
    assert not rule.may_answer("question", 9, [70])  # an approver by role is not allowed


@given(
    user_ids=id_sets,
    role_ids=id_sets,
    allowed=id_sets,
    owner=st.none() | ids,
    user=ids,
    roles=st.lists(ids, max_size=4),
    kind=kinds,
)
def test_the_rule(
    user_ids: frozenset[int],
    role_ids: frozenset[int],
    allowed: frozenset[int],
    owner: int | None,
    user: int,
    roles: list[int],
    kind: str,
) -> None:
    rule = Approvers(user_ids=user_ids, role_ids=role_ids, allowed_user_ids=allowed, owner_id=owner)
    if user_ids or role_ids:
        approver = user == owner or user in user_ids or bool(role_ids & set(roles))
    else:
        approver = user == owner or user in allowed
    assert rule.may_approve(user, roles) is approver
    expected = approver if kind in APPROVAL_KINDS else (user in allowed or user == owner)
    assert rule.may_answer(kind, user, roles) is expected
