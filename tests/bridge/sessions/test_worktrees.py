"""Worktree cleanup on real git repositories: clean ones go, dirty and active ones stay."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bridge.sessions.worktrees import (
    CleanupOutcome,
    cleanup_worktrees,
    list_session_worktrees,
    remove_if_clean,
)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "t")
    (repo / "README").write_text("hi\n")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "init")
    return repo


def add_worktree(repo: Path, base: Path, thread_id: int) -> Path:
    path = base / f"wt-{thread_id}"
    git(repo, "worktree", "add", "-q", str(path), "-b", f"session/{thread_id}")
    return path


async def test_clean_removed_dirty_and_active_kept(repo: Path, tmp_path: Path) -> None:
    base = tmp_path / "wt"
    base.mkdir()
    clean = add_worktree(repo, base, 1)
    dirty = add_worktree(repo, base, 2)
    (dirty / "README").write_text("changed\n")
    untracked = add_worktree(repo, base, 3)
    (untracked / "new.txt").write_text("new\n")
    active = add_worktree(repo, base, 4)
    (base / "not-a-worktree").mkdir()

    listed = await list_session_worktrees(base)
    assert [(w.thread_id, w.clean) for w in listed] == [
        (1, True),
        (2, False),
        (3, False),
        (4, True),
    ]

    results = await cleanup_worktrees(base, frozenset({4}))
    assert {r.thread_id: r.outcome for r in results} == {
        1: CleanupOutcome.REMOVED,
        2: CleanupOutcome.DIRTY,
        3: CleanupOutcome.DIRTY,
        4: CleanupOutcome.ACTIVE,
    }
    assert not clean.exists()
    assert dirty.exists()
    assert untracked.exists()
    assert active.exists()
    # The branch survives, so committed work is never lost with the worktree.
    assert "session/1" in git(repo, "branch", "--list", "session/1")
    assert str(clean) not in git(repo, "worktree", "list")


async def test_git_error_counts_as_dirty(tmp_path: Path) -> None:
    fake = tmp_path / "wt-9"
    fake.mkdir()
    (fake / ".git").write_text("gitdir: /nonexistent\n")
    result = await remove_if_clean(fake, 9)
    assert result.outcome is CleanupOutcome.DIRTY
    assert fake.exists()


async def test_missing_base_dir_lists_nothing(tmp_path: Path) -> None:
    assert await list_session_worktrees(tmp_path / "absent") == []
