"""Fork (a clone with the source as `upstream`, or a branch) and lineage (upstream, ahead/behind)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from orgruntime.vcs import _git
from orgruntime.vcs._driver import install_merge_driver
from orgruntime.vcs._errors import GitCommandFailed, MergeStateError, UnsafeNameError
from orgruntime.vcs._names import check_branch_name, check_clone_source, check_remote_name
from orgruntime.vcs._progress import GitProgress, line_handler
from orgruntime.vcs._repo import current_branch, head_commit, repo_root
from orgruntime.vcs._repo_merge import MergeOutcome, merge

UPSTREAM = "upstream"


@dataclass(frozen=True, kw_only=True)
class ForkResult:
    path: Path
    branch: str | None
    source: str  # the folder or URL it was cloned from, or the branch it was made from
    cloned: bool
    untrusted: bool  # org code from elsewhere: none of it may run until the user says so


@dataclass(frozen=True, kw_only=True)
class Lineage:
    branch: str | None  # None when HEAD is detached
    head: str | None
    upstream: str | None  # `upstream/main` for a cloned fork, `main` for a branch fork, None if not tracked
    upstream_url: str | None  # the remote's URL or folder (None for a local branch)
    ahead: int = 0
    behind: int = 0

    def as_json(self) -> dict[str, object]:
        return {"branch": self.branch, "head": self.head, "upstream": self.upstream, "upstream_url": self.upstream_url,
                "ahead": self.ahead, "behind": self.behind}


def fork(source: str | os.PathLike[str], dest: str | os.PathLike[str] | None = None, *, branch: str | None = None,
         merge_driver: Sequence[str] | None = None, progress: Callable[[GitProgress], None] | None = None) -> ForkResult:
    """`fork(src, dest)` clones a folder or URL into `dest`; `fork(path, branch=NAME)` makes and checks out a branch.

    `merge_driver` (the command line that runs `orgide merge-driver`) is installed into the fork when given;
    `progress` receives the clone's progress as git reports it.
    """
    if (dest is None) == (branch is None):
        raise UnsafeNameError("fork needs either a destination folder or a branch name, not both")
    if branch is not None:
        return _fork_branch(repo_root(source), check_branch_name(branch), merge_driver)
    return _clone(str(source), Path(dest).expanduser().resolve(), merge_driver, progress)  # type: ignore[arg-type]


def _clone(source: str, dest: Path, merge_driver: Sequence[str] | None,
           progress: Callable[[GitProgress], None] | None) -> ForkResult:
    checked = check_clone_source(source)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UnsafeNameError(f"{dest} already exists and is not an empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    created = not dest.exists()
    try:
        _git.run_outside(dest.parent, "clone", "--progress" if progress else "--quiet", "--origin", UPSTREAM,
                         "--no-recurse-submodules", "--", checked, str(dest), network=True,
                         progress=line_handler(progress))
    except GitCommandFailed:
        if created and dest.exists() and not (dest / ".git" / "HEAD").exists():
            _remove_tree(dest)
        raise
    if merge_driver is not None:
        install_merge_driver(dest, merge_driver, write_gitattributes=False)
    return ForkResult(path=dest, branch=current_branch(dest), source=checked, cloned=True, untrusted=True)


def _remove_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
    folder.rmdir()


def _fork_branch(root: Path, branch: str, merge_driver: Sequence[str] | None) -> ForkResult:
    if head_commit(root) is None:
        raise MergeStateError("cannot branch a repository with no commit yet")
    if _git.run(root, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode == 0:
        raise UnsafeNameError(f"a branch called {branch!r} already exists")
    origin = current_branch(root)
    _git.run(root, "switch", "--quiet", "--no-guess", "-c", branch)  # switching to a new branch at HEAD keeps local work
    if origin is not None:
        _git.run(root, "branch", "--quiet", f"--set-upstream-to={origin}", branch)
    if merge_driver is not None:
        install_merge_driver(root, merge_driver, write_gitattributes=False)
    return ForkResult(path=root, branch=branch, source=origin or "HEAD", cloned=False, untrusted=False)


def lineage(path: str | os.PathLike[str]) -> Lineage:
    root = repo_root(path)
    branch, head = current_branch(root), head_commit(root)
    if branch is None or head is None:
        return Lineage(branch=branch, head=head, upstream=None, upstream_url=None)
    found = _git.run(root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", f"{branch}@{{upstream}}", check=False)
    if found.returncode != 0 or not found.text.strip():
        return Lineage(branch=branch, head=head, upstream=None, upstream_url=None)
    upstream = found.text.strip()
    remote = _git.run(root, "config", "--get", f"branch.{branch}.remote", check=False).text.strip()
    url = _git.run(root, "config", "--get", f"remote.{remote}.url", check=False).text.strip() if remote not in ("", ".") else ""
    counts = _git.run(root, "rev-list", "--left-right", "--count", f"{head}...{branch}@{{upstream}}", check=False)
    ahead, behind = (int(n) for n in counts.text.split()) if counts.returncode == 0 else (0, 0)
    return Lineage(branch=branch, head=head, upstream=upstream, upstream_url=url or None, ahead=ahead, behind=behind)


def fetch(path: str | os.PathLike[str], remote: str = UPSTREAM, *,
          progress: Callable[[GitProgress], None] | None = None) -> None:
    """Fetch the remote's branches into `refs/remotes/<remote>/`, by its checked URL (never its config commands)."""
    root = repo_root(path)
    check_remote_name(remote)
    url = _git.run(root, "config", "--get", f"remote.{remote}.url", check=False).text.strip()
    if not url:
        raise MergeStateError(f"this repository has no remote called {remote!r}")
    checked = check_clone_source(url)
    _git.run(root, "fetch", "--progress" if progress else "--quiet", "--prune", "--no-recurse-submodules",
             "--no-write-fetch-head", "--", checked, f"+refs/heads/*:refs/remotes/{remote}/*", network=True,
             progress=line_handler(progress))


def pull(path: str | os.PathLike[str], *, progress: Callable[[GitProgress], None] | None = None) -> MergeOutcome:
    """Fetch the branch's upstream and merge it (refused, like any merge, on a dirty tree)."""
    before = lineage(path)
    if before.upstream is None:
        raise MergeStateError("this branch has no upstream to pull from")
    remote = _git.run(repo_root(path), "config", "--get", f"branch.{before.branch}.remote", check=False).text.strip()
    if remote and remote != ".":
        fetch(path, remote, progress=progress)
    return merge(path, before.upstream)
