"""The README's configuration table names every variable bridge/config.py reads (E3)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_config_variable_is_documented_in_the_readme() -> None:
    source = (ROOT / "bridge" / "config.py").read_text()
    read = set(re.findall(r'reader\.\w+\(\s*"([A-Z_]+)"', source))
    assert len(read) >= 20  # the scan itself works
    table = {
        match
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("| `")
        for match in re.findall(r"^\| `([A-Z_]+)` \|", line)
    }
    assert read - table == set(), "undocumented variables"
    assert table - read == set(), "documented variables config.py does not read"
