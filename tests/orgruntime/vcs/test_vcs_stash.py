"""Stash and stash pop: uncommitted work is put aside and brought back byte for byte, or stays stashed."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgruntime.vcs import (
    DirtyTreeError,
    MergeStateError,
    UnsafeNameError,
    create_branch,
    is_dirty,
    list_branches,
    merge,
    repo_status,
    stash,
    stash_pop,
    stashes,
    switch_branch,
)
from tests.orgruntime.vcs.conftest import assert_no_markers, make_hostile, plain_git, write
from tests.orgruntime.vcs.repos import change, org_repo, snapshot


def _dirty_everything(root: Path) -> None:
    write(root, "README.md", "modified\n")
    write(root, "notes.txt", "untracked\n")
    write(root, "staged.txt", "staged\n")
    plain_git(root, "add", "staged.txt")
    (root / "agents" / "reviewer.md").unlink()


def test_stash_then_pop_restores_every_kind_of_change(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    assert stash(root) is None and stashes(root) == ()
    _dirty_everything(root)
    before = snapshot(root)
    entry = stash(root, "before switching")
    assert entry is not None and entry.index == 0 and "before switching" in entry.message
    assert not is_dirty(root) and (root / "agents" / "reviewer.md").exists() and not (root / "notes.txt").exists()
    assert [e.commit for e in stashes(root)] == [entry.commit]
    stash_pop(root)
    assert snapshot(root) == before
    assert repo_status(root).staged == ("staged.txt",)  # the index comes back too
    assert stashes(root) == ()


def test_stash_lets_a_switch_happen_and_pop_brings_the_work_back(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    create_branch(root, "feature")
    write(root, "notes.txt", "my notes\n")
    with pytest.raises(DirtyTreeError):
        switch_branch(root, "feature")
    stash(root)
    switch_branch(root, "feature")
    stash_pop(root)
    assert (root / "notes.txt").read_text() == "my notes\n"


def test_pop_refuses_a_dirty_tree_and_keeps_work_that_does_not_apply(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    write(root, "README.md", "stashed words\n")
    stash(root)
    write(root, "other.txt", "x\n")
    dirty = snapshot(root)
    with pytest.raises(DirtyTreeError):
        stash_pop(root)
    assert snapshot(root) == dirty
    (root / "other.txt").unlink()
    write(root, "README.md", "committed words\n")
    plain_git(root, "commit", "--quiet", "-am", "conflicting README")
    clean = snapshot(root)
    with pytest.raises(MergeStateError, match="stays stashed"):
        stash_pop(root)
    assert snapshot(root) == clean and not is_dirty(root) and len(stashes(root)) == 1
    with pytest.raises(MergeStateError, match="no stashed work number 3"):
        stash_pop(root, 3)


def test_stash_is_refused_during_a_merge_and_for_bad_messages(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    write(root, "x.txt", "x\n")
    with pytest.raises(UnsafeNameError):
        stash(root, "two\nlines")
    (root / "x.txt").unlink()
    create_branch(root, "feature")
    change(root, "ours", name="Ours")
    switch_branch(root, "feature")
    change(root, "theirs", name="Theirs")
    switch_branch(root, "main")
    assert merge(root, "feature").conflicts
    with pytest.raises(MergeStateError, match="merge is in progress"):
        stash(root)


def test_create_branch_does_not_switch_and_refuses_bad_names(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    create_branch(root, "feature")
    assert list_branches(root) == ("feature", "main") and repo_status(root).branch == "main"
    for bad in ("-f", "../x", "a\nb", "feature", "ext::sh -c touch% x", "--upload-pack=touch x"):
        with pytest.raises(UnsafeNameError):
            create_branch(root, bad)
    assert list_branches(root) == ("feature", "main")


def test_stash_on_a_hostile_repository_runs_nothing(tmp_path: Path, markers: Path) -> None:
    root = org_repo(tmp_path / "org")
    _dirty_everything(root)
    make_hostile(root, markers)
    before = snapshot(root)
    stash(root)
    stashes(root)
    stash_pop(root)
    assert snapshot(root) == before
    assert_no_markers(markers)


def test_status_reads_upstream_and_counts_from_one_call(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    create_branch(root, "feature")
    switch_branch(root, "feature")
    plain_git(root, "branch", "--quiet", "--set-upstream-to=main")
    change(root, "ahead", name="Ahead")
    status = repo_status(root)
    assert (status.branch, status.upstream, status.ahead, status.behind) == ("feature", "main", 1, 0)
    plain_git(root, "branch", "--quiet", "--delete", "--force", "main")
    assert repo_status(root).upstream is None  # an upstream that is gone is not shown as tracked
    plain_git(root, "switch", "--quiet", "--detach", "HEAD")
    detached = repo_status(root)
    assert detached.branch is None and detached.head is not None
