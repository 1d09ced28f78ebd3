"""Version control for orgs: the one safe git wrapper, fork and lineage, semantic diff and merge."""

from orgruntime.vcs._errors import (
    DirtyTreeError,
    GitCommandFailed,
    MergeStateError,
    NotARepositoryError,
    UnsafeNameError,
)
from orgruntime.vcs._repo import commit_all, current_branch, dirty_files, head_commit, init_repo, is_dirty

__all__ = [
    "DirtyTreeError",
    "GitCommandFailed",
    "MergeStateError",
    "NotARepositoryError",
    "UnsafeNameError",
    "commit_all",
    "current_branch",
    "dirty_files",
    "head_commit",
    "init_repo",
    "is_dirty",
]
