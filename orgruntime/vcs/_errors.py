"""Errors of the version-control layer; all are `orgruntime.GitError` (an `OrgError`).

GitError                      (orgruntime._errors) a git operation refused or failed
├── UnsafeNameError           a ref, branch, remote name, path or URL refused before git sees it
├── NotARepositoryError       the folder is not the root of a git work tree
├── DirtyTreeError            the work tree has uncommitted changes (carries the files)
├── GitCommandFailed          git itself exited non-zero (carries the command and its stderr)
└── MergeStateError           no merge pending, one already pending, unresolved conflicts, ...
"""

from __future__ import annotations

from collections.abc import Sequence

from orgruntime._errors import GitError


class UnsafeNameError(GitError):
    """Raised before any git call for input that could be read as an option, a range or a transport."""


class NotARepositoryError(GitError):
    pass


class DirtyTreeError(GitError):
    def __init__(self, operation: str, files: Sequence[str]) -> None:
        self.files = tuple(files)
        listed = ", ".join(self.files[:10]) + (f" and {len(self.files) - 10} more" if len(self.files) > 10 else "")
        super().__init__(
            f"refusing to {operation}: the work tree has uncommitted changes ({listed}); commit or stash them first"
        )


class GitCommandFailed(GitError):
    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        self.args_run = tuple(args)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"git {' '.join(args[:3])} failed ({returncode}): {self.stderr or 'no message'}")


class MergeStateError(GitError):
    pass
