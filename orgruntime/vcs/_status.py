"""What the git panel shows at a glance, in one call; and staging, committing and pushing for it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from orgruntime.vcs import _git
from orgruntime.vcs._errors import MergeStateError
from orgruntime.vcs._fork import UPSTREAM, lineage
from orgruntime.vcs._names import check_clone_source, check_repo_path
from orgruntime.vcs._progress import GitProgress, line_handler
from orgruntime.vcs._repo import commit_index, repo_root
from orgruntime.vcs._pending import PendingMerge
from orgruntime.vcs._repo_merge import pending_merge


@dataclass(frozen=True, kw_only=True)
class RepoStatus:
    branch: str | None
    head: str | None
    upstream: str | None
    ahead: int
    behind: int
    changed: tuple[str, ...]  # uncommitted paths (modified, staged, deleted, untracked)
    staged: tuple[str, ...]
    merging: bool  # an orgide merge is pending
    conflicts: int  # its unresolved conflicts

    def as_json(self) -> dict[str, object]:
        return {"branch": self.branch, "head": self.head, "upstream": self.upstream, "ahead": self.ahead,
                "behind": self.behind, "changed": list(self.changed), "staged": list(self.staged),
                "merging": self.merging, "conflicts": self.conflicts}


def repo_status(path: str | os.PathLike[str]) -> RepoStatus:
    """Branch, upstream, ahead/behind and every uncommitted path from one `git status --porcelain=v2` call."""
    root = repo_root(path)
    result = _git.run(root, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all",
                      "--ignore-submodules=none", "--no-renames")
    return _parse_status(result.text, pending_merge(root))


def _parse_status(text: str, pending: PendingMerge | None) -> RepoStatus:
    head = branch = upstream = None
    ahead = behind = 0
    tracked = False
    changed: set[str] = set()
    staged: set[str] = set()
    for record in text.split("\0"):
        if record.startswith("# branch.oid "):
            oid = record[len("# branch.oid "):]
            head = None if oid == "(initial)" else oid
        elif record.startswith("# branch.head "):
            name = record[len("# branch.head "):]
            branch = None if name == "(detached)" else name
        elif record.startswith("# branch.upstream "):
            upstream = record[len("# branch.upstream "):]
        elif record.startswith("# branch.ab "):
            plus, minus = record[len("# branch.ab "):].split()
            ahead, behind, tracked = int(plus), -int(minus), True
        elif record.startswith(("1 ", "u ")):
            fields = record.split(" ", 8 if record[0] == "1" else 10)
            name = fields[-1]
            changed.add(name)
            if record[0] == "u" or fields[1][0] != ".":
                staged.add(name)
        elif record.startswith("? "):
            changed.add(record[2:])
    if not tracked:
        upstream = None  # no upstream, or one that no longer exists
    return RepoStatus(branch=branch, head=head, upstream=upstream, ahead=ahead, behind=behind,
                      changed=tuple(sorted(changed)), staged=tuple(sorted(staged)), merging=pending is not None,
                      conflicts=len(pending.conflicts) if pending else 0)


def staged_files(path: str | os.PathLike[str]) -> tuple[str, ...]:
    root = repo_root(path)
    if _git.run(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode != 0:
        result = _git.run(root, "ls-files", "-z")
    else:
        result = _git.run(root, "diff", "--cached", "--name-only", "-z", "--no-renames", "--no-ext-diff", "--no-textconv")
    return tuple(sorted(name for name in result.text.split("\0") if name))


def stage(path: str | os.PathLike[str], paths: Iterable[str]) -> None:
    """Stage these paths as the work tree has them (a deleted file is staged as deleted)."""
    root = repo_root(path)
    checked = [check_repo_path(p) for p in paths]
    if checked:
        _git.run(root, "add", "--all", "--", *checked)


def unstage(path: str | os.PathLike[str], paths: Iterable[str]) -> None:
    """Take paths out of the next commit; the work tree keeps them exactly as they are."""
    root = repo_root(path)
    checked = [check_repo_path(p) for p in paths]
    if checked:
        _git.run(root, "reset", "--quiet", "--", *checked, check=False)


def commit_staged(path: str | os.PathLike[str], message: str) -> str:
    """Commit what is staged; refused with nothing staged, or while an orgide merge is pending."""
    root = repo_root(path)
    if pending_merge(root) is not None:
        raise MergeStateError("a merge is pending: resolve its conflicts and commit the merge, or abort it")
    if not staged_files(root):
        raise MergeStateError("nothing is staged to commit")
    return commit_index(root, message)


def push(path: str | os.PathLike[str], remote: str = UPSTREAM, *,
         progress: Callable[[GitProgress], None] | None = None) -> None:
    """Push the current branch to the branch it tracks on `remote`, by the remote's checked URL."""
    root = repo_root(path)
    line = lineage(root)
    if line.branch is None or line.upstream is None or not line.upstream.startswith(f"{remote}/"):
        raise MergeStateError(f"the current branch does not track a branch of {remote!r}")
    url = _git.run(root, "config", "--get", f"remote.{remote}.url", check=False).text.strip()
    checked = check_clone_source(url)
    target = line.upstream[len(remote) + 1:]
    _git.run(root, "push", "--progress" if progress else "--quiet", "--no-verify", "--", checked,
             f"refs/heads/{line.branch}:refs/heads/{target}", network=True, progress=line_handler(progress))
    _git.run(root, "update-ref", f"refs/remotes/{remote}/{target}", f"refs/heads/{line.branch}")
