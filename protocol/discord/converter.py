"""The Discord cattrs converter: the one place Discord JSON becomes models and back.

Rules it applies (see :mod:`protocol.discord.models` for why):

* ``Snowflake`` fields read a string or an int and write a decimal string.
* ``UNDEFINED`` fields are left out of the output; a missing key reads as ``UNDEFINED``
  (the attrs default); ``None`` reads and writes as ``null``.
* ``SomeEnum | int`` fields read a known value as the enum member and anything else as a
  plain ``int``; they write the integer.
* Component and interaction unions dispatch on ``type``; an unknown tag reads as
  :class:`~protocol.discord.models.UnknownComponent` /
  :class:`~protocol.discord.models.UnknownInteraction` and writes back its raw payload.
* Unknown keys are ignored when reading (Discord adds fields all the time).
* The only rename: ``RateLimitedBody.is_global`` <-> ``global``.

Reading a payload that lacks a required field or has a wrong type raises
``cattrs.errors.ClassValidationError`` (the peer's fault; its message lists the paths).
Never use the global ``cattrs`` functions and never register Discord hooks elsewhere.

Speed (issue 4: every gateway dispatch goes through here)
---------------------------------------------------------
cattrs' detailed validation wraps every field in ``try``/``except`` and collects errors,
which roughly doubles the cost of structuring a message. Payloads from Discord are almost
always valid, so :class:`DiscordConverter` structures with ``detailed_validation=False``
and, only when that fails, structures the same data again with a detailed twin converter
(built by the same function) to raise the ``ClassValidationError`` that names the paths.
The per-field hooks we add (snowflakes, open enums, nullable and optional fields) are one
plain function each, resolving nested hooks once instead of dispatching through
``conv.structure`` per value.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from typing import Any, Final

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from protocol.discord import models as m
from protocol.discord._fast_structure import can_generate, make_fast_structure_fn

__all__ = ["DISPATCH_MODELS", "DiscordConverter", "make_converter", "structure_dispatch"]

_RENAMES: Final[dict[type, dict[str, str]]] = {m.RateLimitedBody: {"is_global": "global"}}

_COMPONENT_CLASSES: Final[tuple[type, ...]] = (
    m.ActionRow,
    m.Button,
    m.StringSelect,
    m.TextInput,
    m.TextDisplay,
    m.Label,
)
_INTERACTION_CLASSES: Final[tuple[type, ...]] = (
    m.PingInteraction,
    m.CommandInteraction,
    m.AutocompleteInteraction,
    m.ComponentInteraction,
    m.ModalSubmitInteraction,
)
_CALLBACK_DATA: Final[dict[int, type]] = {
    m.InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE: m.InteractionMessage,
    m.InteractionCallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: m.InteractionMessage,
    m.InteractionCallbackType.UPDATE_MESSAGE: m.InteractionMessage,
    m.InteractionCallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT: m.AutocompleteResult,
    m.InteractionCallbackType.MODAL: m.Modal,
}
_PRIMITIVES: Final = (str, int, float, bool)

DISPATCH_MODELS: Final[dict[str, type]] = {
    "READY": m.Ready,
    "GUILD_CREATE": m.Guild,
    "GUILD_UPDATE": m.Guild,
    "CHANNEL_CREATE": m.Channel,
    "CHANNEL_UPDATE": m.Channel,
    "CHANNEL_DELETE": m.Channel,
    "THREAD_CREATE": m.Channel,
    "THREAD_UPDATE": m.Channel,
    "THREAD_DELETE": m.Channel,
    "MESSAGE_CREATE": m.Message,
    "INTERACTION_CREATE": m.Interaction,  # type: ignore[dict-item]  # a union; its hook structures it
}
"""Dispatch names that :func:`structure_dispatch` turns into models. Others stay dicts:
e.g. MESSAGE_UPDATE may be partial, and MESSAGE_DELETE is just ids."""


def _is_union(t: Any) -> bool:
    return typing.get_origin(t) in (typing.Union, types.UnionType)


def _split_union(t: Any) -> tuple[list[Any], bool, bool]:
    """The members of a union other than None/UNDEFINED, and whether each was present."""
    args = typing.get_args(t)
    rest = [a for a in args if a not in (type(None), m.UndefinedType)]
    return rest, type(None) in args, m.UndefinedType in args


def _open_enum(members: list[Any]) -> type[enum.Enum] | None:
    """``SomeEnum | int`` -> SomeEnum; anything else -> None."""
    if len(members) == 2 and int in members:
        other = members[0] if members[1] is int else members[1]
        if isinstance(other, type) and issubclass(other, enum.IntEnum | enum.IntFlag):
            return other
    return None


class DiscordConverter(cattrs.Converter):
    """A cattrs converter that structures fast and explains failures in detail.

    ``structure`` runs the fast hooks (no detailed validation); if they raise, the data is
    structured again by ``explain`` (the same hooks with detailed validation), whose
    ``ClassValidationError`` lists every bad path. Build it with :func:`make_converter`.
    """

    explain: cattrs.Converter | None = None
    """The detailed twin that re-runs a failed structuring to explain it (None: the twin
    itself, which raises its own errors)."""

    def structure(self, obj: Any, cl: Any) -> Any:
        try:
            # What cattrs' structure does, minus a call frame (this is the hot path).
            # cattrs annotates ``dispatch`` as taking the converter too; it is a cached bound
            # method taking the type alone.
            return self._structure_func.dispatch(cl)(obj, cl)  # type: ignore[call-arg,misc]  # see above
        except Exception:
            if self.explain is None:
                raise
            # The twin is the reference: it raises the ClassValidationError that names
            # the paths (the fast hooks only take shortcuts with the same results).
            return self.explain.structure(obj, cl)


def make_converter() -> DiscordConverter:
    """Build the Discord converter (cheap; build one per component that needs it)."""
    conv = _build(detailed=False)
    conv.explain = _build(detailed=True)
    return conv


def _build(*, detailed: bool) -> DiscordConverter:
    conv = DiscordConverter(detailed_validation=detailed)

    # Snowflakes: int in Python, decimal string on the wire.
    conv.register_structure_hook(m.Snowflake, _structure_snowflake)
    conv.register_unstructure_hook(m.Snowflake, str)
    conv.register_unstructure_hook(m.UndefinedType, lambda v: v)

    def structure_component(v: Any, _: Any) -> Any:
        cls = _COMPONENT_BY_TAG.get(v.get("type"))
        if cls is None:
            return m.UnknownComponent(type=int(v.get("type", -1)), raw=dict(v))
        return conv.get_structure_hook(cls)(v, cls)

    def structure_interaction(v: Any, _: Any) -> Any:
        cls = _INTERACTION_BY_TAG.get(v.get("type"))
        if cls is None:
            return m.UnknownInteraction(type=int(v.get("type", -1)), raw=dict(v))
        return conv.get_structure_hook(cls)(v, cls)

    tagged: dict[Any, Callable[[Any, Any], Any]] = {
        m.Component: structure_component,
        m.Interaction: structure_interaction,
    }

    def union_structure_factory(t: Any) -> Callable[[Any, Any], Any]:
        if t in tagged:
            return tagged[t]
        rest, nullable, _undefinable = _split_union(t)
        inner: Any = rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]  # noqa: UP007
        if len(rest) > 1 and inner in tagged:
            inner_fn = tagged[inner]
        elif (enum_cls := _open_enum(rest)) is not None:
            inner_fn = _make_open_enum_structure(enum_cls)
        elif all(r in _PRIMITIVES for r in rest):
            inner_fn = _make_primitive_structure(tuple(rest), t)
        else:
            # Resolved on first use, not here: a model may contain itself
            # (Message.referenced_message), and its hook is being built right now.
            hook: list[Callable[[Any, Any], Any]] = []

            def inner_fn(v: Any, _: Any) -> Any:
                if not hook:
                    hook.append(conv.get_structure_hook(inner))
                return hook[0](v, inner)

        if not nullable:
            # UndefinedOr[X] without None: a present key is never UNDEFINED (JSON has no
            # such value), so the inner hook is the whole hook.
            return inner_fn

        def structure_union(v: Any, _: Any) -> Any:
            if v is None:
                return None
            return inner_fn(v, inner)

        return structure_union

    def union_unstructure_factory(t: Any) -> Callable[[Any], Any]:
        if t in tagged:
            return lambda v: conv.unstructure(v, v.__class__)
        rest, _nullable, _undefinable = _split_union(t)
        single = rest[0] if len(rest) == 1 else None

        def unstructure_union(v: Any) -> Any:
            if v is None or v is m.UNDEFINED:
                return v
            if single is not None:
                return conv.unstructure(v, single)
            if isinstance(v, enum.Enum):
                return v.value
            return conv.unstructure(v, v.__class__)

        return unstructure_union

    conv.register_structure_hook_factory(_is_union, union_structure_factory)
    conv.register_unstructure_hook_factory(_is_union, union_unstructure_factory)

    def attrs_structure_factory(cls: type) -> Callable[[Any, Any], Any]:
        if not detailed and cls not in _RENAMES and can_generate(cls):
            return make_fast_structure_fn(cls, conv)
        renames: dict[str, Any] = {k: override(rename=v) for k, v in _RENAMES.get(cls, {}).items()}
        return make_dict_structure_fn(cls, conv, **renames)

    def attrs_unstructure_factory(cls: type) -> Callable[[Any], Any]:
        if cls in (m.UnknownComponent, m.UnknownInteraction):
            return lambda v: dict(v.raw)
        renames: dict[str, Any] = {k: override(rename=v) for k, v in _RENAMES.get(cls, {}).items()}
        base: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(cls, conv, **renames)
        tag = getattr(cls, "type", None)
        # A class-level ``type`` (components, interactions) is the union tag: not an attrs
        # field, but Discord needs it in the payload.
        head = {"type": int(tag)} if isinstance(tag, enum.IntEnum) else {}

        def unstructure_attrs(v: Any) -> dict[str, Any]:
            out = {**head, **base(v)}
            return {k: val for k, val in out.items() if val is not m.UNDEFINED}

        return unstructure_attrs

    conv.register_structure_hook_factory(attrs.has, attrs_structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, attrs_unstructure_factory)

    def structure_interaction_response(v: Any, _: Any) -> m.InteractionResponse:
        kind = _make_open_enum_structure(m.InteractionCallbackType)(v["type"], None)
        data_cls = _CALLBACK_DATA.get(kind)
        data: Any = m.UNDEFINED
        if data_cls is not None and v.get("data") is not None:
            data = conv.structure(v["data"], data_cls)
        return m.InteractionResponse(type=kind, data=data)

    conv.register_structure_hook(m.InteractionResponse, structure_interaction_response)
    return conv


_COMPONENT_BY_TAG: Final[dict[int, type]] = {int(c.type): c for c in _COMPONENT_CLASSES}  # type: ignore[attr-defined]  # each class has a ClassVar tag
_INTERACTION_BY_TAG: Final[dict[int, type]] = {int(c.type): c for c in _INTERACTION_CLASSES}  # type: ignore[attr-defined]  # each class has a ClassVar tag


def _structure_snowflake(v: Any, _: Any) -> int:
    # Discord sends strings; ints come from our own code and from ETF-style peers.
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise ValueError(f"a snowflake must be a decimal string or an int, got {v!r}")
    return int(v)


def _make_open_enum_structure(enum_cls: type[enum.Enum]) -> Callable[[Any, Any], Any]:
    known = enum_cls._value2member_map_

    def structure_open_enum(v: Any, _: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"{enum_cls.__name__} must be an integer, got {v!r}")
        member = known.get(v)
        if member is not None:
            return member
        if issubclass(enum_cls, enum.IntFlag):
            return enum_cls(v)  # flags keep unknown bits as a valid flag value
        return int(v)

    return structure_open_enum


def _make_primitive_structure(allowed: tuple[type, ...], t: Any) -> Callable[[Any, Any], Any]:
    def structure_primitive(v: Any, _: Any) -> Any:
        # bool is an int subclass: only let it through when bool is a member.
        if isinstance(v, bool) and bool not in allowed:
            raise ValueError(f"expected {t}, got {v!r}")
        if not isinstance(v, allowed):
            raise ValueError(f"expected {t}, got {v!r}")
        return v

    return structure_primitive


def structure_dispatch(conv: cattrs.Converter, name: str, data: Any) -> Any:
    """Turn a dispatch's ``d`` into its model (see :data:`DISPATCH_MODELS`), or return it
    unchanged (a dict) if we do not model that event.

    Raises:
        cattrs.errors.BaseValidationError: the payload does not fit the model (peer's fault).
    """
    model = DISPATCH_MODELS.get(name)
    if model is None:
        return data
    return conv.structure(data, model)
