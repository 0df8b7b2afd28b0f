"""Skills for ``/skill`` (C7): front matter read with PyYAML, the folder's name as a
fallback, junk never crashes, and the catalog sees files added, edited and removed while
it runs (modification times, no restart)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bridge.sessions.skills import DESCRIPTION_MAX, Skill, SkillCatalog, parse_skill

P = Path("/s/SKILL.md")


def test_front_matter_gives_name_and_description() -> None:
    text = "---\nname: greet\ndescription: Say hello\nallowed-tools: Bash\n---\nbody\n"
    assert parse_skill(text, "folder", P) == Skill(name="greet", description="Say hello", path=P)


def test_fallbacks_folder_name_and_first_body_line() -> None:
    assert parse_skill("no front matter\nmore", "tidy-up", P) == Skill(
        name="tidy-up", description="no front matter", path=P
    )
    # A name the CLI would not take: the folder's; broken YAML: as if there were none.
    bad_name = "---\nname: Not Valid!\ndescription: d\n---\n"
    assert parse_skill(bad_name, "ok", P) == Skill(name="ok", description="d", path=P)
    broken = "---\nname: [unclosed\n---\nthe body\n"
    assert parse_skill(broken, "ok", P) == Skill(name="ok", description="the body", path=P)
    assert parse_skill("x", "Bad Folder", P) is None
    folded = "---\ndescription: >\n  two\n  lines\n---\n"
    assert parse_skill(folded, "f", P) == Skill(name="f", description="two lines", path=P)


@given(text=st.text(max_size=400), folder=st.text(max_size=20))
def test_junk_never_crashes_and_names_stay_valid(text: str, folder: str) -> None:
    skill = parse_skill(text, folder, P)
    if skill is not None:
        assert 1 <= len(skill.name) <= 64
        assert skill.name == skill.name.lower()
        assert len(skill.description) <= DESCRIPTION_MAX
        assert "\n" not in skill.description


@given(
    name=st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
    description=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=200
    ),
)
def test_any_valid_front_matter_round_trips(name: str, description: str) -> None:
    import yaml

    front = yaml.safe_dump({"name": name, "description": description})
    skill = parse_skill(f"---\n{front}---\nbody\n", "folder", P)
    assert skill is not None
    assert skill.name == name
    expected = " ".join(description.split()) or "body"
    assert skill.description == (
        expected if len(expected) <= DESCRIPTION_MAX else expected[: DESCRIPTION_MAX - 1] + "…"
    )


def _write(root: Path, folder: str, text: str) -> Path:
    path = root / folder / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _bump(path: Path) -> None:
    """A later modification time than the last read saw (file systems with coarse
    timestamps would otherwise hide an edit made in the same tick)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


async def test_catalog_sees_changes_without_restart(tmp_path: Path) -> None:
    user, work = tmp_path / "user", tmp_path / "work"
    project = work / ".claude" / "skills"
    catalog = SkillCatalog(user)
    assert await catalog.skills(work) == []  # neither directory exists yet

    _write(project, "greet", "---\nname: greet\ndescription: Hello\n---\n")
    assert [(s.name, s.description) for s in await catalog.skills(work)] == [("greet", "Hello")]

    edited = _write(project, "greet", "---\nname: greet\ndescription: Hello again\n---\n")
    _bump(edited)
    assert [s.description for s in await catalog.skills(work)] == ["Hello again"]

    # The user's skill of the same name wins, as in the CLI.
    _write(user, "greet", "---\nname: greet\ndescription: Mine\n---\n")
    _write(user, "alpha", "---\ndescription: First\n---\n")
    found = await catalog.skills(work)
    assert [(s.name, s.description) for s in found] == [("alpha", "First"), ("greet", "Mine")]
    assert await catalog.find(work, "greet") == found[1]

    (user / "greet" / "SKILL.md").unlink()
    (user / "greet").rmdir()
    assert [s.description for s in await catalog.skills(work)] == ["First", "Hello again"]
    assert await catalog.find(work, "nope") is None
    # Another working directory has its own project skills.
    assert [s.name for s in await catalog.skills(tmp_path / "elsewhere")] == ["alpha"]
