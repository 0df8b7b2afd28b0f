"""Skills for ``/skill`` (C7): front matter read with PyYAML, the folder's name as a
fallback, junk never crashes, and the catalog sees files added, edited and removed while
it runs (modification times, no restart)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

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


async def test_catalog_sees_changes_without_restart(tmp_path: Path) -> None:
    user, work = tmp_path / "user", tmp_path / "work"
    project = work / ".claude" / "skills"
    catalog = SkillCatalog(user)
    assert await catalog.skills(work) == []  # neither directory exists yet

    _write(project, "greet", "---\nname: greet\ndescription: Hello\n---\n")
    assert [(s.name, s.description) for s in await catalog.skills(work)] == [("greet", "Hello")]

    # Edited at once (within the file system's timestamp granularity): still seen.
    _write(project, "greet", "---\nname: greet\ndescription: Hello again\n---\n")
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


TEXTS = [
    "---\ndescription: one\n---\n",
    "---\ndescription: two\n---\n",  # the same size: an edit only the time can tell
    "no front\n",
    "---\nname: b\n---\nx",
]


class CatalogMachine(RuleBasedStateMachine):
    """Skills added, edited in place (same size too), removed, and folders without a
    ``SKILL.md``, in any order and as fast as possible: every lookup equals what a fresh
    catalog reads from the disk now."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="skills-"))
        self.user = self.tmp / "user"
        self.work = self.tmp / "work"
        self.catalog = SkillCatalog(self.user)

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _folder(self, user: bool, name: str) -> Path:
        root = self.user if user else self.work / ".claude" / "skills"
        return root / name

    @rule(user=st.booleans(), name=st.sampled_from(["a", "b", "c"]), text=st.sampled_from(TEXTS))
    def write(self, user: bool, name: str, text: str) -> None:
        folder = self._folder(user, name)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "SKILL.md").write_text(text)

    @rule(user=st.booleans(), name=st.sampled_from(["a", "b", "c"]))
    def remove(self, user: bool, name: str) -> None:
        shutil.rmtree(self._folder(user, name), ignore_errors=True)

    @rule(user=st.booleans(), name=st.sampled_from(["d", "e"]))
    def empty_folder(self, user: bool, name: str) -> None:
        self._folder(user, name).mkdir(parents=True, exist_ok=True)

    @invariant()
    def lookups_match_the_disk(self) -> None:
        async def both() -> tuple[list[Skill], list[Skill]]:
            cached = await self.catalog.skills(self.work)
            fresh = await SkillCatalog(self.user).skills(self.work)
            return cached, fresh

        cached, fresh = trio.run(both)
        assert cached == fresh


CatalogMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=15, deadline=None)
test_catalog_machine = CatalogMachine.TestCase


def test_a_file_modified_around_its_read_is_read_again() -> None:
    """On a file system with coarse timestamps an edit in the same tick keeps the stamp;
    a file modified within RACY_NS of its read is therefore never trusted."""
    from bridge.sessions.skills import RACY_NS, _Read

    read_at = 10 * RACY_NS
    stamp = (read_at - RACY_NS // 2, 0, 10, 1)
    racy = _Read(stamp, None, read_at)
    assert not racy.trusted(stamp)
    settled = _Read((read_at - 2 * RACY_NS, 0, 10, 1), None, read_at)
    assert settled.trusted(settled.stamp)
    assert not settled.trusted((read_at - 2 * RACY_NS, 0, 11, 1))  # another size
