"""The package exports every module's public names exactly once, and nothing else."""

from __future__ import annotations

import collections

import protocol.discord as pkg
from protocol.discord import (
    chunking,
    converter,
    edits,
    gateway,
    gateway_codes,
    limits,
    mentions,
    models,
    pacing,
    ratelimit,
    routes,
    zlib_stream,
)

MODULES = [
    models,
    converter,
    gateway_codes,
    gateway,
    zlib_stream,
    pacing,
    routes,
    ratelimit,
    limits,
    mentions,
    edits,
    chunking,
]


def test_every_public_name_is_exported_once() -> None:
    counts = collections.Counter(name for module in MODULES for name in module.__all__)
    assert [name for name, n in counts.items() if n > 1] == []
    assert set(pkg.__all__) == set(counts)
    for module in MODULES:
        for name in module.__all__:
            assert getattr(pkg, name) is getattr(module, name), name


def test_module_all_lists_are_honest() -> None:
    for module in MODULES:
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.__all__ lists missing {name}"
        # Every public class and function defined in the module is exported.
        defined = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and callable(value)
            and getattr(value, "__module__", None) == module.__name__
        }
        missing = defined - set(module.__all__)
        assert not missing, f"{module.__name__} does not export {sorted(missing)}"
