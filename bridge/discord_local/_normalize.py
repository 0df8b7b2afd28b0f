"""What Discord stores when a client sends embeds and components: defaults filled in.

Discord echoes embeds with ``type: "rich"`` and fields with ``inline``; it numbers every
component of a message with an ``id`` (1, 2, ... in tree order) and fills select defaults.
Responses must carry these, or they break the official schema (and strict clients).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

JSON = dict[str, Any]


def embeds(items: list[JSON] | None) -> list[JSON]:
    out = []
    for embed in items or []:
        e = {k: v for k, v in embed.items() if v is not None}
        e.setdefault("type", "rich")
        if "fields" in e:
            e["fields"] = [{"inline": False, **f} for f in e["fields"]]
        out.append(e)
    return out


def components(rows: list[JSON] | None) -> list[JSON]:
    counter = itertools.count(1)
    return [_component(row, counter) for row in rows or []]


def _component(c: JSON, ids: Iterator[int]) -> JSON:
    out = {k: v for k, v in c.items() if v is not None}
    out.setdefault("id", next(ids))
    kind = out.get("type")
    if kind == 3:
        out.setdefault("min_values", 1)
        out.setdefault("max_values", 1)
        out.setdefault("options", [])
    elif kind == 4:
        out.setdefault("label", None)
        out.setdefault("min_length", None)
        out.setdefault("max_length", None)
    elif kind == 2 and out.get("style") != 5:
        out.setdefault("disabled", False)
    if "components" in out:
        out["components"] = [_component(child, ids) for child in out["components"]]
    if "component" in out and isinstance(out["component"], dict):
        out["component"] = _component(out["component"], ids)
    return out
