"""Repository basics over the git wrapper: init, commit, HEAD, dirtiness, reading trees and blobs."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from orgruntime.vcs import _git
from orgruntime.vcs._errors import GitCommandFailed, NotARepositoryError, UnsafeNameError
from orgruntime.vcs._names import check_repo_path, check_revision

FALLBACK_IDENTITY = (("user.name", "orgide"), ("user.email", "orgide@localhost"))
DEFAULT_BRANCH = "main"


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    sha: str


def repo_root(path: str | os.PathLike[str]) -> Path:
    root = Path(path).expanduser().resolve()
    if not (root / ".git").exists():
        raise NotARepositoryError(f"{root} is not the root of a git repository")
    return root


def init_repo(path: str | os.PathLike[str]) -> Path:
    """Make `path` (created if missing) a git repository on branch `main`; a repository already there is left as is."""
    root = Path(path).expanduser().resolve()
    if (root / ".git").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    _git.run_outside(root, "init", "--quiet", f"--initial-branch={DEFAULT_BRANCH}", "--", str(root))
    return root


def identity_config(root: Path) -> tuple[tuple[str, str], ...]:
    """The fallback identity, only where neither the environment nor git's config names the user."""
    missing = []
    for key, env_names in (("user.name", ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME")),
                           ("user.email", ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"))):
        if all(os.environ.get(name) for name in env_names):
            continue
        if not _git.run(root, "config", "--get", key, check=False).text.strip():
            missing.append(key)
    return tuple(item for item in FALLBACK_IDENTITY if item[0] in missing)


def commit_all(path: str | os.PathLike[str], message: str) -> str:
    """Stage every change (new, modified, deleted; not ignored files) and commit; return the commit id.

    With nothing to commit on an existing branch, nothing happens and HEAD's id is returned.
    """
    root = repo_root(path)
    _check_message(message)
    _git.run(root, "add", "--all", "--", ".")
    head = head_commit(root)
    if head is not None and not _git.run(root, "diff", "--cached", "--quiet", "--no-ext-diff", "--no-textconv", check=False).returncode:
        return head
    _git.run(root, "commit", "--quiet", "--no-verify", "--allow-empty", "--file=-", stdin=message.encode(),
             extra_config=identity_config(root))
    return head_commit(root) or ""


def commit_index(root: Path, message: str) -> str:
    """Commit what is staged (including a pending MERGE_HEAD as second parent)."""
    _check_message(message)
    _git.run(root, "commit", "--quiet", "--no-verify", "--allow-empty", "--file=-", stdin=message.encode(),
             extra_config=identity_config(root))
    return head_commit(root) or ""


def _check_message(message: str) -> None:
    if not message.strip() or "\0" in message:
        raise UnsafeNameError("a commit message must be non-empty text without NUL characters")


def head_commit(path: str | os.PathLike[str]) -> str | None:
    """The commit id HEAD points at, or None on a branch with no commit yet."""
    root = repo_root(path)
    result = _git.run(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    return result.text.strip() or None if result.returncode == 0 else None


def current_branch(path: str | os.PathLike[str]) -> str | None:
    """The checked-out branch's short name, or None when HEAD is detached."""
    result = _git.run(repo_root(path), "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return result.text.strip() or None if result.returncode == 0 else None


def dirty_files(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Paths with uncommitted work: modified, staged, deleted, renamed or untracked (not ignored)."""
    result = _git.run(repo_root(path), "status", "--porcelain=v1", "-z", "--untracked-files=all",
                      "--ignore-submodules=none", "--no-renames")
    return tuple(sorted({entry[3:] for entry in result.text.split("\0") if len(entry) > 3}))


def is_dirty(path: str | os.PathLike[str]) -> bool:
    return bool(dirty_files(path))


def resolve_commit(root: Path, rev: str) -> str:
    check_revision(rev)
    result = _git.run(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False)
    if result.returncode != 0 or not result.text.strip():
        raise GitCommandFailed(["rev-parse", rev], result.returncode or 1, f"unknown revision {rev!r}")
    return result.text.strip()


def merge_bases(root: Path, ours: str, theirs: str) -> tuple[str, ...]:
    result = _git.run(root, "merge-base", "--all", ours, theirs, check=False)
    return tuple(result.text.split()) if result.returncode == 0 else ()


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    return _git.run(root, "merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode == 0


def list_tree(root: Path, commit: str) -> dict[str, TreeEntry]:
    """Every file of a commit (recursively), by path."""
    result = _git.run(root, "ls-tree", "-r", "-z", "--full-tree", commit)
    entries: dict[str, TreeEntry] = {}
    for record in result.text.split("\0"):
        if not record:
            continue
        meta, _, name = record.partition("\t")
        mode, _kind, sha = meta.split(" ")
        entries[name] = TreeEntry(mode, sha)
    return entries


def read_blobs(root: Path, shas: Iterable[str]) -> dict[str, bytes]:
    """The contents of blobs by id, read in one `cat-file --batch` call."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    output = _git.run(root, "cat-file", "--batch", stdin="".join(f"{sha}\n" for sha in wanted).encode()).stdout
    blobs: dict[str, bytes] = {}
    position = 0
    for sha in wanted:
        header_end = output.index(b"\n", position)
        header = output[position:header_end].decode().split(" ")
        if len(header) < 3:
            raise GitCommandFailed(["cat-file", sha], 1, f"object {sha} is missing")
        size = int(header[2])
        blobs[sha] = output[header_end + 1 : header_end + 1 + size]
        position = header_end + 1 + size + 1
    return blobs


def read_commit_files(root: Path, commit: str, wanted: Iterable[str] | None = None) -> dict[str, bytes]:
    """Path -> bytes for the files of a commit (all of them, or those whose path `wanted` names)."""
    tree = list_tree(root, commit)
    names = [name for name in tree if wanted is None or name in set(wanted)]
    blobs = read_blobs(root, (tree[name].sha for name in names))
    return {name: blobs[tree[name].sha] for name in names}


def stage_paths(root: Path, paths: Iterable[str]) -> None:
    """Stage these paths as they are in the work tree (a missing file is staged as deleted)."""
    checked = [check_repo_path(path) for path in paths]
    if checked:
        _git.run(root, "update-index", "--add", "--remove", "--", *checked)


def git_path(root: Path, name: str) -> Path:
    """Where git keeps a state file such as MERGE_HEAD (follows a `.git` file to the real folder)."""
    if (root / ".git").is_dir():
        return root / ".git" / name
    return (root / _git.run(root, "rev-parse", "--git-path", name).text.strip()).resolve()
