"""Claude skills the CLI can run (C7): found in the CLI's ``skills`` directory and in the
working directory's ``.claude/skills``, each a folder with a ``SKILL.md``.

A ``SKILL.md`` opens with YAML front matter between ``---`` lines; ``name`` (lowercase
letters, digits and hyphens, at most 64) and ``description`` are what ``/skill`` offers.
Without a usable ``name`` the folder's name is used, as the CLI does. The CLI runs a skill
when a user message starts with ``/<name>`` (it expands the body, with ``$ARGUMENTS``
replaced by the rest of the line: ``tests/e2e/test_bridge_commands.py`` pins it with the
real CLI), so running one is sending that message.

:class:`SkillCatalog` is read again whenever a folder or file changed (checked by
modification times on every lookup, so a skill added while the bridge runs shows up at the
next keystroke, with no restart and no watcher). Files are read in a worker thread; each
lookup builds a new cache and replaces the old one, never edits it in place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import attrs
import trio
import yaml

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


_Stamp = tuple[int, int]  # (mtime_ns, size)


@attrs.frozen
class _Scan:
    dirs: Mapping[Path, int]
    """Each skills directory's mtime (a folder added or removed changes it)."""
    files: Mapping[Path, tuple[_Stamp, Skill | None]]


def _stamp(path: Path) -> _Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _scan(roots: Sequence[Path], previous: _Scan) -> _Scan:
    """Read every ``<root>/<folder>/SKILL.md``, reusing the parse of unchanged files."""
    dirs: dict[Path, int] = {}
    files: dict[Path, tuple[_Stamp, Skill | None]] = {}
    for root in roots:
        stamp = _stamp(root)
        if stamp is None:
            continue
        dirs[root] = stamp[0]
        try:
            folders = sorted((e for e in os.scandir(root) if e.is_dir()), key=lambda e: e.name)
        except OSError:
            continue
        for entry in folders:
            path = Path(entry.path) / SKILL_FILE
            file_stamp = _stamp(path)
            if file_stamp is None:
                continue
            old = previous.files.get(path)
            if old is not None and old[0] == file_stamp:
                files[path] = old
                continue
            try:
                with path.open("rb") as f:
                    text = f.read(READ_MAX).decode("utf-8", errors="replace")
            except OSError:
                continue
            files[path] = (file_stamp, parse_skill(text, entry.name, path))
    return _Scan(dirs=dirs, files=files)


def _unchanged(roots: Sequence[Path], scan: _Scan) -> bool:
    """Cheap check: the same directories with the same mtimes, and every known file with
    the same stamp (an edited ``SKILL.md`` does not change its folder's mtime)."""
    for root in roots:
        stamp = _stamp(root)
        if (stamp[0] if stamp else None) != scan.dirs.get(root):
            return False
        try:
            folders = [e for e in os.scandir(root) if e.is_dir()]
        except OSError:
            folders = []
        for entry in folders:
            path = Path(entry.path) / SKILL_FILE
            known = scan.files.get(path)
            if _stamp(path) != (known[0] if known else None):
                return False
    return True


class SkillCatalog:
    """The skills of the CLI's user directory plus one working directory's project ones."""

    def __init__(self, user_dir: Path) -> None:
        self.user_dir = user_dir
        self._scans: Mapping[tuple[Path, ...], _Scan] = {}

    def roots(self, working_dir: str | Path) -> tuple[Path, ...]:
        """User skills first: on a name clash the CLI prefers the personal skill."""
        return (self.user_dir, Path(working_dir) / ".claude" / "skills")

    async def skills(self, working_dir: str | Path) -> list[Skill]:
        """The skills, sorted by name, each name once (the first root wins)."""
        roots = self.roots(working_dir)
        previous = self._scans.get(roots, _Scan(dirs={}, files={}))

        def refresh() -> _Scan:
            if previous.dirs and _unchanged(roots, previous):
                return previous
            return _scan(roots, previous)

        scan = await trio.to_thread.run_sync(refresh)
        if scan is not previous:
            # A new mapping, never an edit: two lookups at once each see a whole one.
            self._scans = {**self._scans, roots: scan}
        found: dict[str, Skill] = {}
        for _, skill in scan.files.values():
            if skill is not None and skill.name not in found:
                found[skill.name] = skill
        return sorted(found.values(), key=lambda s: s.name)

    async def find(self, working_dir: str | Path, name: str) -> Skill | None:
        return next((s for s in await self.skills(working_dir) if s.name == name), None)
