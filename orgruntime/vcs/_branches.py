"""Branches and history for the git panel: list, switch (never over uncommitted work), delete, log."""

from __future__ import annotations

import os
from dataclasses import dataclass

from orgruntime.vcs import _git
from orgruntime.vcs._errors import DirtyTreeError, MergeStateError, UnsafeNameError
from orgruntime.vcs._names import check_branch_name, check_revision
from orgruntime.vcs._repo import current_branch, dirty_files, head_commit, is_ancestor, repo_root, resolve_commit


@dataclass(frozen=True, kw_only=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author: str
    timestamp: int  # seconds since the epoch
    subject: str


def list_branches(path: str | os.PathLike[str]) -> tuple[str, ...]:
    result = _git.run(repo_root(path), "for-each-ref", "--format=%(refname:short)", "refs/heads/")
    return tuple(line for line in result.text.splitlines() if line)


def remote_branches(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Remote-tracking branches (`upstream/main`, ...), as fetch left them; their symbolic HEADs left out."""
    result = _git.run(repo_root(path), "for-each-ref", "--format=%(refname:short)%00%(symref)", "refs/remotes/")
    return tuple(name for line in result.text.splitlines() if (name := line.split("\0")[0]) and not line.split("\0")[1])


def create_branch(path: str | os.PathLike[str], branch: str, start: str = "HEAD") -> str:
    """Make a branch at `start` without switching to it; returns the commit it points at."""
    root = repo_root(path)
    check_branch_name(branch)
    if branch in list_branches(root):
        raise UnsafeNameError(f"a branch called {branch!r} already exists")
    if head_commit(root) is None:
        raise MergeStateError("cannot branch a repository with no commit yet")
    commit = resolve_commit(root, start)
    _git.run(root, "branch", "--quiet", "--no-track", "--", branch, commit)
    return commit


def switch_branch(path: str | os.PathLike[str], branch: str) -> None:
    """Check out another branch; refused while the work tree has uncommitted work (commit or stash first)."""
    root = repo_root(path)
    check_branch_name(branch)
    if branch not in list_branches(root):
        raise UnsafeNameError(f"there is no branch called {branch!r}")
    if branch == current_branch(root):
        return
    dirty = dirty_files(root)
    if dirty:
        raise DirtyTreeError(f"switch to {branch}", dirty)
    _git.run(root, "switch", "--quiet", "--no-guess", branch)


def delete_branch(path: str | os.PathLike[str], branch: str, *, force: bool = False) -> None:
    """Delete a branch; refused for the current one, and (without `force`) for one not merged into HEAD."""
    root = repo_root(path)
    check_branch_name(branch)
    if branch not in list_branches(root):
        raise UnsafeNameError(f"there is no branch called {branch!r}")
    if branch == current_branch(root):
        raise MergeStateError(f"cannot delete {branch}: it is checked out")
    head = head_commit(root)
    if not force and (head is None or not is_ancestor(root, resolve_commit(root, branch), head)):
        raise MergeStateError(f"{branch} has commits that are not merged; delete it with force to lose them")
    _git.run(root, "branch", "--quiet", "--delete", "--force", "--", branch)


def history(path: str | os.PathLike[str], rev: str = "HEAD", *, limit: int = 200) -> tuple[CommitInfo, ...]:
    """Commits reachable from `rev`, newest first, with their parents (enough to draw a lane graph)."""
    root = repo_root(path)
    check_revision(rev)
    if head_commit(root) is None:
        return ()
    result = _git.run(root, "log", f"--max-count={max(1, int(limit))}", "-z", "--format=%H%x1f%P%x1f%an%x1f%at%x1f%s",
                      "--end-of-options", rev, "--")
    commits = []
    for record in result.text.split("\0"):
        if record:
            sha, parents, author, timestamp, subject = record.split("\x1f", 4)
            commits.append(CommitInfo(sha=sha, parents=tuple(parents.split()), author=author,
                                      timestamp=int(timestamp), subject=subject))
    return tuple(commits)
