"""Modules the running bridge rarely needs are imported when first used, not at start-up,
so they cost no resident memory in a bridge that never uses them (docs/performance.md,
"Memory"). Checked in a fresh interpreter: this test process has imported everything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAZY = ("yaml",)
"""PyYAML: read only to parse a skill's SKILL.md front matter (bridge/sessions/skills.py)."""


def test_starting_the_bridge_imports_none_of_the_lazy_modules() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bridge.app, bridge.cli; "
            f"print(sorted(m for m in {LAZY!r} if m in sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_skill_file_is_still_parsed_with_its_front_matter(tmp_path: Path) -> None:
    from bridge.sessions.skills import parse_skill

    text = "---\nname: tidy-up\ndescription: Tidies\n  the tree\n---\nbody\n"
    skill = parse_skill(text, "folder", tmp_path / "SKILL.md")
    assert skill is not None
    assert (skill.name, skill.description) == ("tidy-up", "Tidies the tree")
