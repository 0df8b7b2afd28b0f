"""bridge.claude's public names: __all__ matches what the package exports."""

from __future__ import annotations

import bridge.claude as package


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(package) if not name.startswith("_")}
    assert set(package.__all__) == public - {"process", "sessions"}
    assert len(package.__all__) == len(set(package.__all__))
