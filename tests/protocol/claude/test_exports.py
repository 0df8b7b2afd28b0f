"""protocol.claude's public names: __all__ matches what the package exports."""

from __future__ import annotations

import protocol.claude as package


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(package) if not name.startswith("_")}
    # Submodules imported by the re-exports are attributes too; only `events` is public API.
    submodules = {"argv", "control", "converter", "framing", "sessions", "turn", "usage"}
    assert set(package.__all__) == public - submodules
    assert len(package.__all__) == len(set(package.__all__))
