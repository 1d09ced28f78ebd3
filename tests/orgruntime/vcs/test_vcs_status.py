"""The panel's status in one call; staging, unstaging, committing what is staged, pushing."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgruntime.vcs import (
    MergeStateError,
    commit_staged,
    fork,
    head_commit,
    lineage,
    merge,
    push,
    repo_status,
    stage,
    staged_files,
    unstage,
)
from tests.orgruntime.vcs.conftest import plain_git, write
from tests.orgruntime.vcs.repos import change, org_repo, switch


def test_status_stage_unstage_and_commit_staged(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    status = repo_status(root)
    assert (status.branch, status.upstream, status.changed, status.staged, status.merging) == ("main", None, (), (), False)
    write(root, "README.md", "new words\n")
    write(root, "notes.txt", "a note\n")
    (root / "agents" / "reviewer.md").unlink()
    assert repo_status(root).changed == ("README.md", "agents/reviewer.md", "notes.txt")
    with pytest.raises(MergeStateError, match="nothing is staged"):
        commit_staged(root, "nothing")
    stage(root, ["README.md", "agents/reviewer.md", "notes.txt"])
    unstage(root, ["notes.txt"])
    assert staged_files(root) == ("README.md", "agents/reviewer.md")
    assert (root / "notes.txt").read_text() == "a note\n"
    sha = commit_staged(root, "README and no reviewer")
    assert head_commit(root) == sha and repo_status(root).changed == ("notes.txt",)
    assert plain_git(root, "show", "--name-status", "--format=", "HEAD").stdout.split() == [
        "M", "README.md", "D", "agents/reviewer.md"]


def test_status_during_a_pending_merge(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    plain_git(root, "branch", "feature")
    change(root, "ours", name="Ours")
    switch(root, "feature")
    change(root, "theirs", name="Theirs", description="Theirs too.")
    switch(root, "main")
    merge(root, "feature")
    status = repo_status(root)
    assert status.merging and status.conflicts == 1 and "org.yaml" in status.changed
    stage(root, ["org.yaml"])
    with pytest.raises(MergeStateError, match="merge is pending"):
        commit_staged(root, "sneaky")


def test_push_to_the_upstream_it_was_forked_from(tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    plain_git(tmp_path, "clone", "--quiet", "--bare", str(source), str(tmp_path / "shared.git"))
    mine = fork(str(tmp_path / "shared.git"), tmp_path / "mine").path
    sha = change(mine, "my change", name="Mine")
    assert lineage(mine).ahead == 1
    push(mine)
    assert plain_git(tmp_path / "shared.git", "rev-parse", "main").stdout.strip() == sha
    assert (lineage(mine).ahead, lineage(mine).behind) == (0, 0)
    plain_git(mine, "config", "remote.upstream.url", "ext::sh -c touch% pwned")
    with pytest.raises(Exception):
        push(mine)
    assert not (mine / "pwned").exists()
