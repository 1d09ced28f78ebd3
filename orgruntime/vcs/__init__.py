"""Version control for orgs: the one safe git wrapper, fork and lineage, semantic diff and merge."""

from orgruntime.vcs._errors import (
    DirtyTreeError,
    GitCommandFailed,
    MergeStateError,
    NotARepositoryError,
    UnsafeNameError,
)
from orgruntime.vcs._conflicts import Choice, Conflict, ConflictKind, Edited, MergeResult, Side
from orgruntime.vcs._diff import AgentChange, ChannelChange, OrgDiff, diff_orgs
from orgruntime.vcs._merge import merge_orgs
from orgruntime.vcs._resolve import apply_resolution
from orgruntime.vcs._text_merge import TextMerge, merge_text
from orgruntime.vcs._repo import commit_all, current_branch, dirty_files, head_commit, init_repo, is_dirty

__all__ = [
    "AgentChange",
    "ChannelChange",
    "Choice",
    "Conflict",
    "ConflictKind",
    "Edited",
    "MergeResult",
    "OrgDiff",
    "Side",
    "TextMerge",
    "apply_resolution",
    "diff_orgs",
    "merge_orgs",
    "merge_text",
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
