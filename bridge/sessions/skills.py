"""Claude skills the CLI can run (C7): found in the CLI's ``skills`` directory and in the
working directory's ``.claude/skills``, each a folder with a ``SKILL.md``.

A ``SKILL.md`` opens with YAML front matter between ``---`` lines; ``name`` (lowercase
letters, digits and hyphens, at most 64) and ``description`` are what ``/skill`` offers.
Without a usable ``name`` the folder's name is used, as the CLI does. The CLI runs a skill
when a user message starts with ``/<name>`` (it expands the body, with ``$ARGUMENTS``
replaced by the rest of the line: ``tests/e2e/test_bridge_commands.py`` pins it with the
real CLI), so running one is sending that message.

:class:`SkillCatalog` lists the folders again at every lookup (every autocomplete keystroke:
two directory listings and a ``stat`` per skill) and reads a ``SKILL.md`` again only when
its stamp (modification and change times, size, inode) changed, or when it was modified
around the time it was last read, so a skill added, edited or removed while the bridge
runs shows up at the next keystroke, with no restart and no watcher. Files are read in a
worker thread; each lookup builds a new cache and replaces the old one, never edits it in
place.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import attrs
import trio

__all__ = ["SKILL_FILE", "Skill", "SkillCatalog", "parse_skill"]

SKILL_FILE: Final = "SKILL.md"
READ_MAX: Final = 64 * 1024
"""Bytes of a ``SKILL.md`` read for its front matter (a skill's body can be long)."""
DESCRIPTION_MAX: Final = 300
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_FRONT: Final = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*$", re.DOTALL | re.MULTILINE)


@attrs.frozen(kw_only=True)
class Skill:
    name: str
    description: str
    path: Path
    """The skill's ``SKILL.md``."""


def parse_skill(text: str, folder: str, path: Path) -> Skill | None:
    """The skill a ``SKILL.md``'s text describes; ``None`` if no name can be had (the
    folder's name is no valid skill name either)."""
    # PyYAML (~1 MB of the bridge's resident memory) is imported on the first SKILL.md
    # read, not at start-up: most bridges never list a skill.
    import yaml

    meta: object = None
    match = _FRONT.match(text)
    if match is not None:
        try:
            meta = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            meta = None
    fields = meta if isinstance(meta, dict) else {}
    name = fields.get("name")
    if not (isinstance(name, str) and _NAME.fullmatch(name)):
        name = folder if _NAME.fullmatch(folder) else None
    if name is None:
        return None
    description = fields.get("description")
    if not isinstance(description, str) or not description.strip():
        body = text[match.end() :] if match is not None else text
        description = next((line.strip() for line in body.splitlines() if line.strip()), "")
    description = " ".join(description.split())
    if len(description) > DESCRIPTION_MAX:
        description = description[: DESCRIPTION_MAX - 1] + "…"
    return Skill(name=name, description=description, path=path)


RACY_NS: Final = 2_000_000_000
"""A file modified this close to when it was read may change again within the file
system's timestamp granularity without its stamp changing ("racy clean", as git calls
it): such a file is read again at the next lookup rather than trusted."""

_Stamp = tuple[int, int, int, int]  # (mtime_ns, ctime_ns, size, inode)


@attrs.frozen
class _Read:
    stamp: _Stamp
    skill: Skill | None
    read_at_ns: int
    """Wall-clock time just before the file was read (comparable with its mtime)."""

    def trusted(self, stamp: _Stamp) -> bool:
        return stamp == self.stamp and stamp[0] < self.read_at_ns - RACY_NS


def _stamp(path: Path) -> _Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _scan(roots: Sequence[Path], previous: Mapping[Path, _Read]) -> dict[Path, _Read]:
    """Every ``<root>/<folder>/SKILL.md`` (roots in order, folders by name), reading again
    only the files whose stamp changed or that were modified around the last read."""
    found: dict[Path, _Read] = {}
    for root in roots:
        try:
            folders = sorted((e for e in os.scandir(root) if e.is_dir()), key=lambda e: e.name)
        except OSError:
            continue  # no such directory (yet): no skills there
        for entry in folders:
            path = Path(entry.path) / SKILL_FILE
            stamp = _stamp(path)
            if stamp is None:
                continue
            old = previous.get(path)
            if old is not None and old.trusted(stamp):
                found[path] = old
                continue
            read_at = time.time_ns()
            try:
                with path.open("rb") as f:
                    text = f.read(READ_MAX).decode("utf-8", errors="replace")
            except OSError:
                continue
            found[path] = _Read(stamp, parse_skill(text, entry.name, path), read_at)
    return found


class SkillCatalog:
    """The skills of the CLI's user directory plus one working directory's project ones."""

    def __init__(self, user_dir: Path) -> None:
        self.user_dir = user_dir
        self._scans: Mapping[tuple[Path, ...], Mapping[Path, _Read]] = {}

    def roots(self, working_dir: str | Path) -> tuple[Path, ...]:
        """User skills first: on a name clash the CLI prefers the personal skill."""
        return (self.user_dir, Path(working_dir) / ".claude" / "skills")

    async def skills(self, working_dir: str | Path) -> list[Skill]:
        """The skills, sorted by name, each name once (the first root wins)."""
        roots = self.roots(working_dir)
        previous = self._scans.get(roots, {})
        scan = await trio.to_thread.run_sync(_scan, roots, previous)
        # A new mapping, never an edit: two lookups at once each see a whole one.
        self._scans = {**self._scans, roots: scan}
        found: dict[str, Skill] = {}
        for read in scan.values():
            if read.skill is not None and read.skill.name not in found:
                found[read.skill.name] = read.skill
        return sorted(found.values(), key=lambda s: s.name)

    async def find(self, working_dir: str | Path, name: str) -> Skill | None:
        return next((s for s in await self.skills(working_dir) if s.name == name), None)
