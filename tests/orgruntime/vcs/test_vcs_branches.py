"""Branches and history: switching never touches uncommitted work; deleting never loses unmerged commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgruntime import load_org
from orgruntime.vcs import (
    DirtyTreeError,
    MergeStateError,
    UnsafeNameError,
    current_branch,
    delete_branch,
    fork,
    history,
    list_branches,
    merge,
    switch_branch,
)
from tests.orgruntime.vcs.conftest import plain_git, write
from tests.orgruntime.vcs.repos import change, org_repo, snapshot


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = org_repo(tmp_path / "org")
    fork(root, branch="feature")
    change(root, "feature work", name="Feature")
    switch_branch(root, "main")
    return root


def test_switch_and_list(repo: Path) -> None:
    assert list_branches(repo) == ("feature", "main") and current_branch(repo) == "main"
    assert load_org(repo).name == "Tiny Startup"
    switch_branch(repo, "feature")
    assert current_branch(repo) == "feature" and load_org(repo).name == "Feature"
    switch_branch(repo, "feature")  # already there: nothing to do
    with pytest.raises(UnsafeNameError):
        switch_branch(repo, "nope")
    with pytest.raises(UnsafeNameError):
        switch_branch(repo, "--orphan")


@pytest.mark.parametrize("kind", ["modified", "staged", "untracked", "deleted"])
def test_switch_refuses_uncommitted_work_and_touches_nothing(repo: Path, kind: str) -> None:
    if kind == "modified":
        write(repo, "org.yaml", (repo / "org.yaml").read_text() + "# mine\n")
    elif kind == "staged":
        write(repo, "README.md", "staged words\n")
        plain_git(repo, "add", "README.md")
    elif kind == "untracked":
        write(repo, "agents/draft.md", "draft\n")
    else:
        (repo / "agents" / "ceo.md").unlink()
    before, index = snapshot(repo), (repo / ".git" / "index").read_bytes()
    with pytest.raises(DirtyTreeError):
        switch_branch(repo, "feature")
    assert snapshot(repo) == before and (repo / ".git" / "index").read_bytes() == index and current_branch(repo) == "main"


def test_delete_branch_keeps_unmerged_work_unless_forced(repo: Path) -> None:
    with pytest.raises(MergeStateError, match="not merged"):
        delete_branch(repo, "feature")
    with pytest.raises(MergeStateError, match="checked out"):
        delete_branch(repo, "main")
    assert merge(repo, "feature").commit is not None
    delete_branch(repo, "feature")
    assert list_branches(repo) == ("main",)
    fork(repo, branch="scratch")
    change(repo, "scratch work", description="Scratch.")
    switch_branch(repo, "main")
    delete_branch(repo, "scratch", force=True)
    assert list_branches(repo) == ("main",)


def test_history_has_parents_for_a_lane_graph(repo: Path) -> None:
    change(repo, "main work", description="Main.")
    outcome = merge(repo, "feature")
    log = history(repo)
    assert log[0].sha == outcome.commit and len(log[0].parents) == 2
    assert [c.subject for c in log][-1] == "the base org" and len(log) == 4
    assert history(repo, "feature", limit=1)[0].subject == "feature work"
    with pytest.raises(UnsafeNameError):
        history(repo, "--all")
