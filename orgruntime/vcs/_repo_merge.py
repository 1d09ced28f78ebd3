"""Merging a branch or commit into the checked-out org: clean, conflicted (pending), fast-forward, abort.

Nothing uncommitted is ever touched: a dirty tree is refused before anything is written, and every
path a merge writes is recorded so that abort puts back exactly what HEAD has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from orgruntime._load import load_org
from orgruntime._save import save_org
from orgruntime.vcs import _git
from orgruntime.vcs._conflicts import Choice, Conflict, ConflictKind
from orgruntime.vcs._errors import DirtyTreeError, MergeStateError
from orgruntime.vcs._pending import PendingMerge, clear_pending, load_pending, mark_git_merge, save_pending
from orgruntime.vcs._repo import (
    commit_index,
    current_branch,
    dirty_files,
    git_path,
    head_commit,
    is_ancestor,
    list_tree,
    merge_bases,
    read_blobs,
    repo_root,
    resolve_commit,
    stage_paths,
)
from orgruntime.vcs._resolve import apply_resolution, rekey_after_rename
from orgruntime.vcs._snapshot import is_org_path
from orgruntime.vcs._tree_merge import TreeMerge, merge_commits
from orgruntime.vcs._worktree import read_file, remove_file, write_file


class MergeStatus(StrEnum):
    MERGED = "merged"
    CONFLICTS = "conflicts"
    UP_TO_DATE = "up-to-date"
    FAST_FORWARD = "fast-forward"


@dataclass(frozen=True, kw_only=True)
class MergeOutcome:
    status: MergeStatus
    commit: str | None  # the new HEAD (merged, fast-forward, up-to-date); None while conflicts are pending
    theirs: str
    base: str | None = None
    conflicts: tuple[Conflict, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {"status": str(self.status), "commit": self.commit, "theirs": self.theirs, "base": self.base,
                "conflicts": [c.as_json() for c in self.conflicts]}


def merge(path: str | os.PathLike[str], ref: str, *, message: str | None = None) -> MergeOutcome:
    """Merge `ref` into the checked-out branch. Refuses a dirty tree or a merge already in progress."""
    root = repo_root(path)
    _refuse_merge_in_progress(root)
    dirty = dirty_files(root)
    if dirty:
        raise DirtyTreeError("merge", dirty)
    ours = head_commit(root)
    if ours is None:
        raise MergeStateError("nothing to merge into: this repository has no commit yet")
    theirs = resolve_commit(root, ref)
    if is_ancestor(root, theirs, ours):
        return MergeOutcome(status=MergeStatus.UP_TO_DATE, commit=ours, theirs=theirs)
    if is_ancestor(root, ours, theirs):
        _git.run(root, "read-tree", "-u", "-m", ours, theirs)
        _git.run(root, "update-ref", "-m", f"orgide: fast-forward to {ref}", "HEAD", theirs, ours)
        return MergeOutcome(status=MergeStatus.FAST_FORWARD, commit=theirs, theirs=theirs, base=ours)
    bases = merge_bases(root, ours, theirs)
    if not bases:
        raise MergeStateError(f"{ref} shares no history with HEAD; refusing to merge unrelated orgs")
    base = bases[0]
    plan = merge_commits(root, base, ours, theirs)
    _refuse_overwriting_untracked(root, ours, plan)
    text = message or _default_message(root, ref)
    pending = PendingMerge(ref=ref, base=base, ours=ours, theirs=theirs, message=text, conflicts=plan.all_conflicts,
                           touched=_planned_paths(root, ours, plan))
    mark_git_merge(root, theirs, text)
    save_pending(root, pending)  # recorded before any file is written, so abort always knows the way back
    try:
        touched = _write_plan(root, plan)
    except OSError as problem:
        raise MergeStateError(f"the merge stopped half-way: cannot write {problem.filename or ''}: "
                              f"{problem.strerror or problem}; `orgide merge PATH --abort` restores the tree") from problem
    pending = pending.with_touched(touched)
    save_pending(root, pending)
    if pending.conflicts:
        return MergeOutcome(status=MergeStatus.CONFLICTS, commit=None, theirs=theirs, base=base, conflicts=pending.conflicts)
    commit = _commit(root, pending)
    return MergeOutcome(status=MergeStatus.MERGED, commit=commit, theirs=theirs, base=base)


def pending_merge(path: str | os.PathLike[str]) -> PendingMerge | None:
    """The merge in progress in this repository (made by orgide), if any."""
    return _live_pending(repo_root(path))


def _live_pending(root: Path) -> PendingMerge | None:
    """The recorded merge, unless git finished or aborted it meanwhile (`git commit`, `git merge --abort`)."""
    pending = load_pending(root)
    if pending is not None and not git_path(root, "MERGE_HEAD").exists():
        clear_pending(root)
        return None
    return pending


def resolve(path: str | os.PathLike[str], conflict_id: str, choice: Choice) -> PendingMerge:
    """Settle one conflict of the pending merge in the work tree; returns what is still pending."""
    root = repo_root(path)
    pending = _require_pending(root)
    conflict = next((c for c in pending.conflicts if c.id == conflict_id), None)
    if conflict is None:
        known = ", ".join(c.id for c in pending.conflicts) or "none"
        raise MergeStateError(f"no unresolved conflict {conflict_id!r} (unresolved: {known})")
    if conflict.kind is ConflictKind.FILE:
        touched = [_resolve_file(root, conflict, choice)]
    else:
        saved = save_org(apply_resolution(load_org(root), conflict, choice), root)
        touched = [*saved.written, *saved.deleted]
    rest = tuple(c for c in pending.conflicts if c.id != conflict_id)
    if conflict.kind is ConflictKind.RENAME_RENAME:
        rest = rekey_after_rename(rest, str(conflict.agent), str(conflict.value(choice)))
    pending = replace(pending.with_touched(touched), conflicts=rest, resolved=(*pending.resolved, conflict_id))
    save_pending(root, pending)
    return pending


def commit_merge(path: str | os.PathLike[str], message: str | None = None) -> str:
    """Commit the pending merge (every conflict resolved) as a merge commit with both parents."""
    root = repo_root(path)
    pending = _require_pending(root)
    if pending.conflicts:
        raise MergeStateError(f"{len(pending.conflicts)} conflict(s) are unresolved: "
                              + ", ".join(c.id for c in pending.conflicts))
    if message:
        pending = replace(pending, message=message)
    return _commit(root, pending)


def abort_merge(path: str | os.PathLike[str]) -> None:
    """Put every file the pending merge touched back as HEAD has it and forget the merge."""
    root = repo_root(path)
    pending = _require_pending(root)
    if head_commit(root) != pending.ours:
        raise MergeStateError("HEAD moved since the merge started; restore it with git, then abort again")
    tree = list_tree(root, pending.ours)
    blobs = read_blobs(root, (tree[p].sha for p in pending.touched if p in tree and tree[p].mode != "160000"))
    for relative in pending.touched:
        entry = tree.get(relative)
        if entry is None:
            remove_file(root, relative)
        else:
            write_file(root, relative, blobs[entry.sha], entry.mode)
    if pending.touched:
        _git.run(root, "reset", "--quiet", pending.ours, "--", *pending.touched, check=False)
    clear_pending(root)


def _require_pending(root: Path) -> PendingMerge:
    pending = _live_pending(root)
    if pending is None:
        raise MergeStateError("no merge is in progress")
    return pending


def _refuse_merge_in_progress(root: Path) -> None:
    if _live_pending(root) is not None:
        raise MergeStateError("a merge is already in progress: resolve and commit it, or abort it")
    for name in ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply"):
        if git_path(root, name).exists():
            raise MergeStateError(f"git has an operation in progress ({name}); finish or abort it first")


def _refuse_overwriting_untracked(root: Path, ours: str, plan: TreeMerge) -> None:
    """Ignored files are not 'dirty', but a merge must not overwrite them either."""
    in_ours = list_tree(root, ours)
    wanted = set(plan.writes)
    if plan.org is not None:
        wanted |= {f"agents/{agent_id}.md" for agent_id in plan.org.org.agent_ids}
        wanted.add(".orgide/layout.json")
    blocked = sorted(p for p in wanted if p not in in_ours and read_file(root, p) is not None)
    if blocked:
        raise DirtyTreeError("merge (it would overwrite untracked or ignored files)", blocked)


def _planned_paths(root: Path, ours: str, plan: TreeMerge) -> tuple[str, ...]:
    """Every path the merge may write or delete (org files are written by `save_org`, which decides itself)."""
    planned = set(plan.writes)
    if plan.org is not None:
        planned |= {path for path in list_tree(root, ours) if is_org_path(path)}
        planned |= {f"agents/{agent_id}.md" for agent_id in plan.org.org.agent_ids}
        planned |= {"org.yaml", ".orgide/layout.json"}
    return tuple(sorted(planned))


def _write_plan(root: Path, plan: TreeMerge) -> list[str]:
    touched = []
    for relative, change in plan.writes.items():
        if change.data is None:
            remove_file(root, relative)
        else:
            write_file(root, relative, change.data, change.mode)
        touched.append(relative)
    if plan.org is not None:
        saved = save_org(plan.org.org, root)
        touched += [*saved.written, *saved.deleted]
    return touched


def _resolve_file(root: Path, conflict: Conflict, choice: Choice) -> str:
    relative = str(conflict.field)
    value = conflict.value(choice)
    if isinstance(value, str):
        value = value.encode("utf-8")
    if value is not None and not isinstance(value, bytes):
        raise MergeStateError(f"conflict {conflict.id}: the edited value must be text or bytes")
    if value is None:
        remove_file(root, relative)
    else:
        current = root / relative
        mode = "100755" if current.exists() and os.access(current, os.X_OK) else "100644"
        write_file(root, relative, value, mode)
    return relative


def _commit(root: Path, pending: PendingMerge) -> str:
    if head_commit(root) != pending.ours:
        raise MergeStateError("HEAD moved since the merge started; abort the merge and start again")
    mark_git_merge(root, pending.theirs, pending.message)
    stage_paths(root, pending.touched)
    commit = commit_index(root, pending.message)
    clear_pending(root)
    return commit


def _default_message(root: Path, ref: str) -> str:
    branch = current_branch(root)
    return f"Merge {ref}" + (f" into {branch}" if branch else "")

