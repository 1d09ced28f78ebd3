"""Version control for orgs: the one safe git wrapper, fork and lineage, semantic diff and merge.

Pure functions over the org model: `diff_orgs`, `merge_orgs` (-> `MergeResult` with `Conflict`s, each
resolvable as `Side.OURS`, `Side.THEIRS` or `Edited(value)`), `apply_resolution`, `merge_text`.
In a repository: `init_repo`, `commit_all`, `head_commit`, `is_dirty`, `diff_revisions`, `merge`
(+ `pending_merge`, `resolve`, `commit_merge`, `abort_merge`), `fork`, `lineage`, `fetch`, `pull`,
`list_branches`, `create_branch`, `switch_branch`, `delete_branch`, `history`, `repo_status`, `stage`, `unstage`,
`commit_staged`, `push`, `stash` / `stash_pop` / `stashes`; the name checks the wrapper applies (`check_*`); and the git merge driver (`merge_file`, `install_merge_driver`).
"""

from orgruntime.vcs._branches import CommitInfo, create_branch, delete_branch, history, list_branches, remote_branches, switch_branch
from orgruntime.vcs._conflicts import Choice, Conflict, ConflictKind, Edited, MergeResult, Side
from orgruntime.vcs._diff import AgentChange, ChannelChange, OrgDiff, diff_orgs
from orgruntime.vcs._driver import ATTRIBUTE_LINES, DRIVER_NAME, install_merge_driver, merge_file
from orgruntime.vcs._errors import (
    DirtyTreeError,
    GitCommandFailed,
    MergeStateError,
    NotARepositoryError,
    UnsafeNameError,
)
from orgruntime.vcs._fork import ForkResult, Lineage, fetch, fork, lineage, pull
from orgruntime.vcs._history import diff_revisions, org_at_revision
from orgruntime.vcs._merge import merge_orgs
from orgruntime.vcs._names import check_branch_name, check_clone_source, check_remote_name, check_revision
from orgruntime.vcs._pending import PendingMerge
from orgruntime.vcs._progress import GitProgress
from orgruntime.vcs._repo import commit_all, current_branch, dirty_files, head_commit, init_repo, is_dirty
from orgruntime.vcs._repo_merge import MergeOutcome, MergeStatus, abort_merge, commit_merge, merge, pending_merge, resolve
from orgruntime.vcs._resolve import apply_resolution
from orgruntime.vcs._stash import StashEntry, stash, stash_pop, stashes
from orgruntime.vcs._status import RepoStatus, commit_staged, push, repo_status, stage, staged_files, unstage
from orgruntime.vcs._text_merge import TextMerge, merge_text

__all__ = [
    "ATTRIBUTE_LINES",
    "AgentChange",
    "ChannelChange",
    "Choice",
    "CommitInfo",
    "Conflict",
    "ConflictKind",
    "DRIVER_NAME",
    "DirtyTreeError",
    "Edited",
    "ForkResult",
    "GitCommandFailed",
    "GitProgress",
    "Lineage",
    "MergeOutcome",
    "MergeResult",
    "MergeStateError",
    "MergeStatus",
    "NotARepositoryError",
    "OrgDiff",
    "PendingMerge",
    "RepoStatus",
    "Side",
    "StashEntry",
    "TextMerge",
    "UnsafeNameError",
    "abort_merge",
    "apply_resolution",
    "check_branch_name",
    "check_clone_source",
    "check_remote_name",
    "check_revision",
    "commit_all",
    "commit_merge",
    "commit_staged",
    "create_branch",
    "current_branch",
    "delete_branch",
    "diff_orgs",
    "diff_revisions",
    "dirty_files",
    "fetch",
    "fork",
    "head_commit",
    "history",
    "init_repo",
    "install_merge_driver",
    "is_dirty",
    "lineage",
    "list_branches",
    "merge",
    "merge_file",
    "merge_orgs",
    "merge_text",
    "org_at_revision",
    "pending_merge",
    "pull",
    "push",
    "remote_branches",
    "repo_status",
    "resolve",
    "stage",
    "staged_files",
    "stash",
    "stash_pop",
    "stashes",
    "switch_branch",
    "unstage",
]
