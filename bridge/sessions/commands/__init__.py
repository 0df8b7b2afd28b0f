"""The slash commands, one module per group, assembled into one :class:`Registry`.

``/stop`` (C9), ``/task`` (A1), ``/model`` (C24), ``/skill`` (C7) and ``/upgrade`` (A3). The
registry checks authorization and keeps errors ephemeral for all of them (:mod:`._registry`).
"""

from __future__ import annotations

from bridge.sessions.commands._registry import (
    CHOICE_TEXT_MAX,
    CHOICES_MAX,
    Answer,
    CommandError,
    CommandHost,
    Invocation,
    Registry,
    SlashCommand,
    choice,
)
from bridge.sessions.commands._texts import NOT_ALLOWED
from bridge.sessions.commands.model import MODEL
from bridge.sessions.commands.skill import skill_command
from bridge.sessions.commands.stop import STOP
from bridge.sessions.commands.task import TASK
from bridge.sessions.commands.upgrade import UPGRADE
from bridge.sessions.skills import SkillCatalog

__all__ = [
    "CHOICES_MAX",
    "CHOICE_TEXT_MAX",
    "NOT_ALLOWED",
    "Answer",
    "CommandError",
    "CommandHost",
    "Invocation",
    "Registry",
    "SlashCommand",
    "choice",
    "registry",
]


def registry(skills: SkillCatalog) -> Registry:
    """Every command the bridge registers, in the order Discord lists them."""
    return Registry.of(STOP, TASK, MODEL, skill_command(skills), UPGRADE)
