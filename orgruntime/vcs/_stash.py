"""Putting uncommitted work aside (stash) and bringing it back (stash pop), never losing any of it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from orgruntime.vcs import _git
from orgruntime.vcs._errors import DirtyTreeError, MergeStateError, UnsafeNameError
from orgruntime.vcs._repo import dirty_files, git_path, head_commit, repo_root
from orgruntime.vcs._repo_merge import pending_merge

_SEPARATOR = "\x1f"


@dataclass(frozen=True, kw_only=True)
class StashEntry:
    index: int  # 0 is the newest; `stash_pop` takes it
    commit: str
    message: str


def stash(path: str | os.PathLike[str], message: str | None = None) -> StashEntry | None:
    """Put every uncommitted change (modified, staged, deleted and untracked files) aside; the tree becomes HEAD's.

    Returns the new entry, or None when there was nothing to put aside.
    """
    root = repo_root(path)
    _refuse_during_merge(root, "stash")
    if head_commit(root) is None:
        raise MergeStateError("cannot stash in a repository with no commit yet; commit first")
    if not dirty_files(root):
        return None
    args = ["stash", "push", "--quiet", "--include-untracked"]
    if message is not None:
        if not message.strip() or any(ch in message for ch in "\0\n\r"):
            raise UnsafeNameError("a stash message must be one line of text")
        args.append(f"--message={message}")
    _git.run(root, *args, "--", ".")  # an explicit pathspec: the wrapper's literal pathspecs hide untracked files otherwise
    return stashes(root)[0]


def stashes(path: str | os.PathLike[str]) -> tuple[StashEntry, ...]:
    """The stashed work of this repository, newest first."""
    root = repo_root(path)
    if not git_path(root, "logs/refs/stash").exists() and not git_path(root, "refs/stash").exists():
        return ()
    result = _git.run(root, "log", "--walk-reflogs", "--no-show-signature", "-z", f"--format=%H{_SEPARATOR}%gs",
                      "refs/stash", "--", check=False)
    if result.returncode != 0:
        return ()
    entries = []
    for index, record in enumerate(r for r in result.text.split("\0") if r):
        commit, _, message = record.partition(_SEPARATOR)
        entries.append(StashEntry(index=index, commit=commit, message=message))
    return tuple(entries)


def stash_pop(path: str | os.PathLike[str], index: int = 0) -> None:
    """Bring stashed work back onto a clean tree and drop it from the stash.

    Refused on a dirty tree. When the work does not apply cleanly on the current commit (a conflict),
    the tree is put back exactly as it was and the work stays stashed.
    """
    root = repo_root(path)
    _refuse_during_merge(root, "restore stashed work")
    entries = stashes(root)
    if not 0 <= int(index) < len(entries):
        raise MergeStateError(f"there is no stashed work number {index}" if entries else "nothing is stashed")
    dirty = dirty_files(root)
    if dirty:
        raise DirtyTreeError("restore stashed work", dirty)
    ref = f"stash@{{{int(index)}}}"
    applied = _git.run(root, "stash", "apply", "--quiet", "--index", ref, check=False)
    if applied.returncode != 0:
        _restore_clean_tree(root)
        raise MergeStateError(f"the stashed work does not apply cleanly here ({applied.stderr.strip() or 'conflict'}); "
                              "it stays stashed and the tree is unchanged")
    _git.run(root, "stash", "drop", "--quiet", ref)


def _restore_clean_tree(root) -> None:  # type: ignore[no-untyped-def]
    """The tree was clean before the failed apply: put HEAD's files back and remove what the apply added."""
    _git.run(root, "reset", "--quiet", "--hard", "HEAD", check=False)
    _git.run(root, "clean", "--quiet", "--force", "-d", check=False)


def _refuse_during_merge(root, action: str) -> None:  # type: ignore[no-untyped-def]
    if pending_merge(root) is not None or git_path(root, "MERGE_HEAD").exists():
        raise MergeStateError(f"cannot {action} while a merge is in progress: finish or abort it first")
