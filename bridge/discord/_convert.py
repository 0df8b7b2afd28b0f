"""The one Discord converter the clients share, and typed views of dispatch payloads.

``protocol.discord.converter.make_converter`` builds it (that is the one place hooks are
registered); we only keep one instance, since building it is not free and it holds no
state that differs between callers.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import cattrs

from protocol.discord import models as m
from protocol.discord.converter import make_converter

__all__ = [
    "CONVERTER",
    "parse_channel",
    "parse_interaction",
    "parse_message",
    "parse_ready",
    "structure",
    "unstructure",
]

CONVERTER: Final[cattrs.Converter] = make_converter()

T = TypeVar("T")


def structure(data: Any, cls: type[T]) -> T:
    """``data`` (parsed JSON from Discord) as ``cls``.

    Raises:
        cattrs.errors.BaseValidationError: the payload does not fit (Discord's fault, or a
            model that is too strict).
    """
    return CONVERTER.structure(data, cls)


def unstructure(value: Any) -> Any:
    """A model (or a list of models) as JSON-ready data; UNDEFINED fields are left out."""
    return CONVERTER.unstructure(value)


def parse_ready(data: dict[str, Any]) -> m.Ready:
    """The ``d`` of a READY dispatch."""
    return structure(data, m.Ready)


def parse_message(data: dict[str, Any]) -> m.Message:
    """The ``d`` of MESSAGE_CREATE (and of a full MESSAGE_UPDATE)."""
    return structure(data, m.Message)


def parse_interaction(data: dict[str, Any]) -> m.Interaction:
    """The ``d`` of INTERACTION_CREATE: a command, autocomplete, component or modal submit
    interaction, or :class:`~protocol.discord.models.UnknownInteraction`."""
    return structure(data, m.Interaction)  # type: ignore[arg-type]  # a union; its hook structures it


def parse_channel(data: dict[str, Any]) -> m.Channel:
    """The ``d`` of THREAD_CREATE / THREAD_UPDATE / THREAD_DELETE / CHANNEL_*."""
    return structure(data, m.Channel)
