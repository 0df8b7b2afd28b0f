"""The package's public face: ``__all__`` names exactly what it exports."""

from __future__ import annotations

import bridge.discord_local as pkg


def test_all_lists_real_public_names() -> None:
    public = {name for name in vars(pkg) if not name.startswith("_")}
    assert set(pkg.__all__) == public
    assert len(pkg.__all__) == len(set(pkg.__all__))
