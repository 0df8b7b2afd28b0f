"""Generated structuring functions for attrs models, fast on the values Discord really sends.

Why this exists
---------------
Every gateway dispatch is structured into a model (issue 4 measures it), and cattrs'
generated functions call one Python hook per field even when the value is a plain ``str``,
an ``int`` or an empty list. Those calls are most of the cost of structuring a message.

What it does
------------
For each attrs class we generate one function (like cattrs does, with ``exec``) that, per
field, takes the *exact-type happy path inline* and otherwise calls the very hook cattrs
would have called (``conv.get_structure_hook(field type)``):

* ``str`` / ``int`` / ``bool`` / ``float`` and unions of them with ``None``: a value whose
  class is exactly one of the allowed ones is kept as is (what the hook returns for it);
* a snowflake given as ``str``: ``int(v)`` (what the snowflake hook does);
* an open enum (``E | int``): a known ``int`` becomes its member (what the hook does);
* a list field given ``[]``: a new empty list (what cattrs' list hook returns);
* a missing key: the attrs default (or factory), or ``KeyError`` if the field is required.

Anything else goes to the hook, so the result is the same as cattrs' by construction; only
errors differ (plain exceptions instead of ``ClassValidationError``), and
:class:`~protocol.discord.converter.DiscordConverter` re-runs a failed structuring through
its detailed twin to raise the error that names the paths.

Classes that need what this does not handle (renamed keys, ``init=False`` fields, factories
that take ``self``) are left to cattrs.
"""

from __future__ import annotations

import enum
import itertools
import linecache
import types
import typing
from collections.abc import Callable
from typing import Any, Final

import attrs
import cattrs

from protocol.discord import models as m

__all__ = ["can_generate", "make_fast_structure_fn"]

_PRIMITIVES: Final = (str, int, float, bool)
_MISSING: Final = object()
_counter = itertools.count()
_BUILDING: dict[int, set[type]] = {}


def can_generate(cls: type) -> bool:
    """Whether :func:`make_fast_structure_fn` can build a function for ``cls``."""
    if attrs.has(cls) and getattr(cls, "__attrs_post_init__", None) is not None:
        return False
    for a in attrs.fields(cls):
        if not a.init or a.validator is not None or a.converter is not None:
            return False
        if isinstance(a.default, attrs.Factory) and a.default.takes_self:  # type: ignore[arg-type]  # a class, stubbed as a function
            return False
    return True


def _union_members(t: Any) -> tuple[list[Any], bool] | None:
    if typing.get_origin(t) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(t)
    rest = [a for a in args if a not in (type(None), m.UndefinedType)]
    return rest, type(None) in args


def _fast_path(
    t: Any, i: int, ns: dict[str, Any], conv: cattrs.Converter, building: set[type]
) -> tuple[str, str] | None:
    """(condition, expression) for the inline happy path of a field typed ``t``, reading the
    value ``v``; names it needs go into ``ns``. None: always call the hook."""
    if t in _PRIMITIVES:
        ns[f"X{i}"] = t
        return f"v.__class__ is X{i}", "v"
    if t is m.Snowflake:
        return "v.__class__ is str", "int(v)"
    if typing.get_origin(t) is list:
        return "v.__class__ is list and not v", "[]"
    union = _union_members(t)
    if union is None:
        return None
    rest, nullable = union
    if rest and all(r in _PRIMITIVES for r in rest):
        ns[f"X{i}"] = frozenset(rest) | ({type(None)} if nullable else set())
        return f"v.__class__ in X{i}", "v"
    if rest == [m.Snowflake]:
        return "v.__class__ is str", "int(v)"  # None goes to the hook, which returns None
    if len(rest) == 2 and int in rest:
        other = rest[0] if rest[1] is int else rest[1]
        if isinstance(other, type) and issubclass(other, enum.IntEnum):
            ns[f"K{i}"] = other._value2member_map_
            return f"v.__class__ is int and v in K{i}", f"K{i}[v]"
    if len(rest) == 1 and attrs.has(rest[0]) and rest[0] not in building:
        # An optional nested model: call its hook directly, not through the union hook
        # (which resolves it lazily, because a model may contain itself).
        ns[f"A{i}"] = conv.get_structure_hook(rest[0])
        ns[f"C{i}"] = rest[0]
        return "v.__class__ is dict", f"A{i}(v, C{i})"
    if len(rest) == 1 and typing.get_origin(rest[0]) is list:
        return "v.__class__ is list and not v", "[]"
    if nullable:
        return "v is None", "v"  # what the union hook returns for null
    return None


def _branches(fast: tuple[str, str] | None, slow: str, *, first: bool) -> list[str]:
    """Lines that set ``v`` from the value ``v``: the fast expression when its condition
    holds, else the hook (``slow``). ``first``: they open the ``if`` chain."""
    if fast is None:
        return [f"    v = {slow}"] if first else ["    else:", f"        v = {slow}"]
    cond, expr = fast
    keyword = "if" if first else "elif"
    if expr == "v":
        return [f"    {keyword} not ({cond}):", f"        v = {slow}"]
    return [f"    {keyword} {cond}:", f"        v = {expr}", "    else:", f"        v = {slow}"]


def _slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """Sets attribute ``name`` of a ``cls`` instance, bypassing the frozen ``__setattr__``,
    as attrs' own ``__init__`` does. A slot's descriptor is the fastest way to do that."""
    descriptor = getattr(cls, name, None)
    if isinstance(descriptor, types.MemberDescriptorType):
        return descriptor.__set__

    def set_attribute(obj: Any, value: Any) -> None:
        object.__setattr__(obj, name, value)

    return set_attribute


def make_fast_structure_fn(cls: type, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """A structuring function for the attrs class ``cls`` (see the module docstring).

    Field hooks are looked up from ``conv`` now, as cattrs' own generator does.
    """
    attrs.resolve_types(cls)
    # Classes whose functions are being generated up the stack (per converter): a nested
    # reference to one of them must stay lazy, or generating would never end.
    building = _BUILDING.setdefault(id(conv), set())
    building.add(cls)
    try:
        return _generate(cls, conv, building)
    finally:
        building.discard(cls)


def _generate(cls: type, conv: cattrs.Converter, building: set[type]) -> Callable[[Any, Any], Any]:
    ns: dict[str, Any] = {"cls": cls, "M": _MISSING, "new": object.__new__}
    lines = ["def structure(o, _=None):", "    get = o.get", "    obj = new(cls)"]
    for i, a in enumerate(attrs.fields(cls)):
        ns[f"H{i}"] = conv.get_structure_hook(a.type)
        ns[f"T{i}"] = a.type
        ns[f"S{i}"] = _slot_setter(cls, a.name)
        slow = f"H{i}(v, T{i})"
        fast = _fast_path(a.type, i, ns, conv, building)
        default = a.default
        if default is attrs.NOTHING:
            lines.append(f"    v = o[{a.name!r}]")  # KeyError: the fallback explains it
            lines += _branches(fast, slow, first=True)
        elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]  # a class, stubbed as a function
            ns[f"F{i}"] = default.factory
            lines.append(f"    v = get({a.name!r}, M)")
            lines.append(f"    if v is M:\n        v = F{i}()")
            lines += _branches(fast, slow, first=False)
        else:
            ns[f"D{i}"] = default
            lines.append(f"    v = get({a.name!r}, D{i})")
            if fast is not None and fast[1] == "v" and eval(fast[0], ns, {"v": default}):
                # The default passes the fast check itself: a missing key needs no branch.
                lines += _branches(fast, slow, first=True)
            else:
                lines.append(f"    if v is D{i}:\n        pass")
                lines += _branches(fast, slow, first=False)
        lines.append(f"    S{i}(obj, v)")
    lines.append("    return obj")
    source = "\n".join(lines)
    filename = f"<fast structure {cls.__module__}.{cls.__qualname__} #{next(_counter)}>"
    # Registered like cattrs' generated code, so tracebacks show the generated lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), ns)
    fn: Callable[[Any, Any], Any] = ns["structure"]
    return fn
