"""A repository whose config and hooks try to run code: no orgide operation may run any of it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orgruntime import load_org
from orgruntime.vcs import (
    GitCommandFailed,
    MergeStatus,
    Side,
    abort_merge,
    commit_all,
    commit_merge,
    diff_revisions,
    dirty_files,
    fetch,
    fork,
    head_commit,
    history,
    install_merge_driver,
    lineage,
    merge,
    pending_merge,
    pull,
    resolve,
)
from tests.orgruntime.vcs.conftest import assert_no_markers, make_hostile, plain_git, write
from tests.orgruntime.vcs.repos import change, change_agent, org_repo, switch


def test_every_operation_on_a_hostile_repository_runs_nothing(tmp_path: Path, markers: Path) -> None:
    root = org_repo(tmp_path / "org")
    fork(root, branch="feature")
    change(root, "theirs: name", name="Small Startup")
    change_agent(root, "engineer", "theirs: prompt", prompt="You build.")
    write(root, "bin/tool.sh", "echo theirs\n")
    commit_all(root, "theirs: a script")
    switch(root, "main")
    make_hostile(root, markers)
    change(root, "ours: name", name="Tiny Co")
    assert dirty_files(root) == ()
    assert "org" in diff_revisions(root, "main", "feature").as_json()
    outcome = merge(root, "feature")
    assert outcome.status is MergeStatus.CONFLICTS
    resolve(root, "org:name", Side.THEIRS)
    abort_merge(root)
    outcome = merge(root, "feature")
    resolve(root, "org:name", Side.OURS)
    commit_merge(root)
    assert load_org(root).name == "Tiny Co" and load_org(root).agent("engineer").prompt == "You build."
    fork(root, branch="later")
    change(root, "on later", description="Later.")
    assert merge(root, "main").status is MergeStatus.UP_TO_DATE
    install_merge_driver(root, ["orgide-merge-driver"])
    lineage(root)
    assert head_commit(root)
    assert_no_markers(markers)


def test_cloning_from_and_pulling_a_hostile_repository_runs_nothing(tmp_path: Path, markers: Path) -> None:
    source = org_repo(tmp_path / "source")
    make_hostile(source, markers)
    mine = fork(source, tmp_path / "mine").path
    make_hostile(mine, markers)
    change(source, "upstream moves", name="Moved")
    fetch(mine)
    assert pull(mine).status is MergeStatus.FAST_FORWARD and pending_merge(mine) is None
    assert load_org(mine).name == "Moved"
    assert_no_markers(markers)


def test_a_hostile_ssh_command_is_not_used_for_fetching(tmp_path: Path, markers: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GIT_SSH_COMMAND", raising=False)
    monkeypatch.delenv("GIT_SSH", raising=False)
    source = org_repo(tmp_path / "source")
    mine = fork(source, tmp_path / "mine").path
    make_hostile(mine, markers)
    plain_git(mine, "config", "remote.upstream.url", "ssh://127.0.0.1:1/org.git")
    with pytest.raises(GitCommandFailed):
        fetch(mine)
    assert_no_markers(markers)


def test_reading_history_never_verifies_signatures_with_a_hostile_program(tmp_path: Path, markers: Path) -> None:
    root = org_repo(tmp_path / "org")
    head = plain_git(root, "rev-parse", "HEAD").stdout.strip()
    tree = plain_git(root, "rev-parse", "HEAD^{tree}").stdout.strip()
    signature = "-----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----"
    body = (f"tree {tree}\nparent {head}\nauthor A <a@x> 1700000000 +0000\ncommitter A <a@x> 1700000000 +0000\n"
            f"gpgsig {signature}\n\nsigned\n")
    signed = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=root, input=body,
                            capture_output=True, text=True, check=True).stdout.strip()
    plain_git(root, "update-ref", "refs/heads/signed", signed)
    make_hostile(root, markers)
    assert [c.subject for c in history(root, "signed")][:1] == ["signed"]
    assert_no_markers(markers)
    plain_git(root, "--work-tree", str(root), "log", "-1", "signed", check=False)  # plain git does run it
    assert (markers / "gpg").exists()


def test_an_insteadof_rewrite_to_a_command_transport_is_blocked(tmp_path: Path, markers: Path) -> None:
    source = org_repo(tmp_path / "source")
    mine = fork(source, tmp_path / "mine").path
    plain_git(mine, "config", f"url.ext::sh -c touch% {markers}/ext.insteadOf", "https://example.invalid/")
    plain_git(mine, "config", "remote.upstream.url", "https://example.invalid/org.git")
    plain_git(mine, "config", "protocol.ext.allow", "always")
    with pytest.raises(GitCommandFailed):
        fetch(mine)
    assert_no_markers(markers)
