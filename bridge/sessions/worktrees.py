"""Session worktrees (K2): find them, tell clean from dirty, remove only the clean ones.

Each session works in ``{WORKTREE_BASE_DIR}/wt-{thread_id}`` (K1). At session end and at
start-up the bridge removes the clean ones; a worktree with uncommitted or untracked
changes is never removed, and any git error counts as dirty, because losing a user's work
is worse than leaving a directory behind. The branch ``session/{thread_id}`` is kept, so
committed work survives the worktree. git runs by exec, never through a shell.
"""

from __future__ import annotations

import enum
import re
import subprocess
from pathlib import Path

import attrs
import trio

_WORKTREE_NAME = re.compile(r"^wt-(\d+)$")


class CleanupOutcome(enum.StrEnum):
    REMOVED = "removed"
    DIRTY = "dirty"
    """Kept: uncommitted or untracked changes (or git could not tell)."""
    ACTIVE = "active"
    """Kept: its session is running."""
    FAILED = "failed"
    """Clean, but ``git worktree remove`` failed; ``detail`` says why."""


@attrs.frozen
class WorktreeInfo:
    path: Path
    thread_id: int
    clean: bool


@attrs.frozen
class CleanupResult:
    path: Path
    thread_id: int
    outcome: CleanupOutcome
    detail: str = ""


async def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        ["git", "-C", str(cwd), *args], capture_stdout=True, capture_stderr=True, check=False
    )


async def is_clean(path: Path) -> bool:
    """True only if git says the worktree has no changes at all (untracked files count)."""
    result = await _git(path, "status", "--porcelain")
    return result.returncode == 0 and not result.stdout.strip()


async def list_session_worktrees(base_dir: Path) -> list[WorktreeInfo]:
    """Every ``wt-<thread id>`` git worktree directly under ``base_dir``, by thread id."""
    candidates = await trio.to_thread.run_sync(_candidates, base_dir)
    return [WorktreeInfo(path, tid, await is_clean(path)) for tid, path in candidates]


def _candidates(base_dir: Path) -> list[tuple[int, Path]]:
    if not base_dir.is_dir():
        return []
    found = []
    for child in base_dir.iterdir():
        match = _WORKTREE_NAME.match(child.name)
        if match and (child / ".git").exists():
            found.append((int(match[1]), child))
    return sorted(found)


async def remove_if_clean(path: Path, thread_id: int) -> CleanupResult:
    """Remove one session worktree if it is clean; never touches a dirty one."""
    if not await is_clean(path):
        return CleanupResult(path, thread_id, CleanupOutcome.DIRTY)
    common = await _git(path, "rev-parse", "--path-format=absolute", "--git-common-dir")
    if common.returncode != 0:
        return CleanupResult(
            path, thread_id, CleanupOutcome.FAILED, common.stderr.decode(errors="replace")
        )
    # Run from the main repository: a worktree is not removed from inside itself.
    main_repo = Path(common.stdout.decode().strip()).parent
    removed = await _git(main_repo, "worktree", "remove", str(path))
    if removed.returncode != 0:
        return CleanupResult(
            path, thread_id, CleanupOutcome.FAILED, removed.stderr.decode(errors="replace")
        )
    return CleanupResult(path, thread_id, CleanupOutcome.REMOVED)


async def cleanup_worktrees(
    base_dir: Path, active_thread_ids: frozenset[int] = frozenset()
) -> list[CleanupResult]:
    """Remove every clean session worktree under ``base_dir`` whose session is not active."""
    results = []
    for info in await list_session_worktrees(base_dir):
        if info.thread_id in active_thread_ids:
            results.append(CleanupResult(info.path, info.thread_id, CleanupOutcome.ACTIVE))
        else:
            results.append(await remove_if_clean(info.path, info.thread_id))
    return results
