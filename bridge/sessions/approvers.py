"""Who may answer which prompt: approvers for permission, plan and elicitation prompts.

``APPROVER_USER_IDS`` and ``APPROVER_ROLE_IDS`` name the approvers: a user listed by id, or
a guild member holding one of the roles. With neither set, the approvers are the allowed
users (``ALLOWED_USER_IDS`` and the owner), as before. The owner is always an approver.
Approving is deliberately separate from X5: an approver named by role need not be an
allowed user (they answer prompts; they cannot start or steer sessions), and an allowed user
who is no approver may still answer a question (C12), which only asks for information.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from bridge.config import Config

__all__ = ["APPROVAL_KINDS", "NOT_APPROVER", "Approvers", "approvers_of"]

APPROVAL_KINDS: Final = frozenset({"permission", "plan", "elicitation"})
"""Prompt kinds (the store's ``kind``) that only approvers answer; ``question`` is open to
every allowed user."""

NOT_APPROVER: Final = (
    "Only approvers can answer this prompt (APPROVER_USER_IDS / APPROVER_ROLE_IDS); "
    "nothing changed."
)


@attrs.frozen(kw_only=True)
class Approvers:
    """The approver rule, built once from the configuration."""

    user_ids: frozenset[int] = frozenset()
    role_ids: frozenset[int] = frozenset()
    allowed_user_ids: frozenset[int] = frozenset()
    """The default when no approver is configured (the owner is already in it)."""
    owner_id: int | None = None

    @property
    def configured(self) -> bool:
        return bool(self.user_ids or self.role_ids)

    def may_approve(self, user_id: int, role_ids: Iterable[int] = ()) -> bool:
        """Whether this user (a member holding ``role_ids``) may answer an approval prompt."""
        if user_id == self.owner_id:
            return True
        if not self.configured:
            return user_id in self.allowed_user_ids
        return user_id in self.user_ids or not self.role_ids.isdisjoint(role_ids)

    def may_answer(self, kind: str, user_id: int, role_ids: Iterable[int] = ()) -> bool:
        """Whether this user may answer a prompt of ``kind``: approvers for the approval
        kinds, any allowed user for the rest (questions)."""
        if kind in APPROVAL_KINDS:
            return self.may_approve(user_id, role_ids)
        return user_id in self.allowed_user_ids or user_id == self.owner_id


def approvers_of(config: Config) -> Approvers:
    """The rule the configuration sets (the router checks clicks with it, the session
    checks the answers it is told again)."""
    return Approvers(
        user_ids=config.approver_user_ids,
        role_ids=config.approver_role_ids,
        allowed_user_ids=config.allowed_user_ids,
        owner_id=config.discord_owner_id,
    )
