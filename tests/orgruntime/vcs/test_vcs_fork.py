"""Fork (clone or branch), lineage, fetch and pull, on real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgruntime import load_org
from orgruntime.vcs import (
    DirtyTreeError,
    MergeStatus,
    UnsafeNameError,
    current_branch,
    fetch,
    fork,
    head_commit,
    is_dirty,
    lineage,
    pull,
)
from tests.orgruntime.vcs.conftest import plain_git, write
from tests.orgruntime.vcs.repos import change, org_repo


def test_clone_fork_has_upstream_lineage_and_is_untrusted(tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    result = fork(source, tmp_path / "mine")
    assert result.cloned and result.untrusted and result.branch == "main" and result.path == tmp_path / "mine"
    assert load_org(result.path) == load_org(source)
    line = lineage(result.path)
    assert (line.branch, line.upstream, line.upstream_url, line.ahead, line.behind) == (
        "main", "upstream/main", str(source), 0, 0)
    assert plain_git(result.path, "remote").stdout.split() == ["upstream"]
    change(result.path, "mine", name="Mine")
    change(source, "theirs", description="Upstream moved on.")
    fetch(result.path)
    line = lineage(result.path)
    assert (line.ahead, line.behind) == (1, 1)


def test_pull_fetches_and_merges_and_refuses_a_dirty_tree(tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    mine = fork(source, tmp_path / "mine").path
    upstream_commit = change(source, "upstream", name="Upstream name")
    write(mine, "README.md", "unsaved\n")
    with pytest.raises(DirtyTreeError):
        pull(mine)
    assert (mine / "README.md").read_text() == "unsaved\n"
    plain_git(mine, "checkout", "--", "README.md")
    outcome = pull(mine)
    assert outcome.status is MergeStatus.FAST_FORWARD and head_commit(mine) == upstream_commit
    assert load_org(mine).name == "Upstream name" and lineage(mine).behind == 0


def test_branch_fork_tracks_its_origin_and_keeps_local_work(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    write(root, "README.md", "work in progress\n")
    result = fork(root, branch="experiment")
    assert (result.cloned, result.untrusted, result.branch, result.source) == (False, False, "experiment", "main")
    assert current_branch(root) == "experiment" and (root / "README.md").read_text() == "work in progress\n"
    plain_git(root, "checkout", "--", "README.md")
    change(root, "experiment", name="Experiment")
    line = lineage(root)
    assert (line.upstream, line.upstream_url, line.ahead, line.behind) == ("main", None, 1, 0)
    with pytest.raises(UnsafeNameError, match="already exists"):
        fork(root, branch="main")


def test_fork_into_a_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    write(tmp_path / "busy", "keep.txt", "mine\n")
    with pytest.raises(UnsafeNameError, match="not an empty folder"):
        fork(source, tmp_path / "busy")
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine\n"


def test_failed_clone_leaves_no_half_made_folder(tmp_path: Path) -> None:
    with pytest.raises(Exception):
        fork(f"file://{tmp_path}/missing-repo", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


HOSTILE_SOURCES = [
    "ext::sh -c touch% /tmp/orgide-pwned",
    "ext::sh -c 'touch /tmp/orgide-pwned'",
    "fd::17",
    "--upload-pack=touch /tmp/orgide-pwned",
    "-uxx",
    "-",
    "https://example.com/org.git\n--upload-pack=touch",
    "https://example.com/org\x00.git",
    "ssh://-oProxyCommand=touch/x",
    "-oProxyCommand=x:org.git",
    "git@-host:org.git",
    "transport::https://example.com/x",
    "javascript://example.com/x",
    "../definitely-not-there",
    "",
]


@pytest.mark.parametrize("source", HOSTILE_SOURCES)
def test_hostile_sources_are_refused_before_git_runs(source: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafeNameError):
        fork(source, tmp_path / "dest")
    assert not (tmp_path / "dest").exists() and not Path("/tmp/orgide-pwned").exists()


@pytest.mark.parametrize("name", ["-b", "--force", "-", "../x", "a/../b", "a..b", "x\ny", "x\rY", "bad name", "x.lock",
                                  "x/", ".", "HEAD", "a@{1}", "a:b", "a~1", "a^", "\x7f", "a\\b", "a*"])
def test_hostile_branch_names_are_refused(name: str, tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    with pytest.raises(UnsafeNameError):
        fork(root, branch=name)
    assert plain_git(root, "branch", "--list").stdout.split() == ["*", "main"]


def test_hostile_remote_config_is_checked_before_fetching(tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    mine = fork(source, tmp_path / "mine").path
    plain_git(mine, "config", "remote.upstream.url", f"ext::sh -c touch% {tmp_path}/pwned")
    with pytest.raises(UnsafeNameError):
        fetch(mine)
    with pytest.raises(UnsafeNameError):
        fetch(mine, "-upstream")
    assert not (tmp_path / "pwned").exists() and not is_dirty(mine)


def test_clone_and_fetch_report_progress(tmp_path: Path) -> None:
    from orgruntime.vcs import GitProgress

    source = org_repo(tmp_path / "source")
    events: list[GitProgress] = []
    mine = fork(f"file://{source}", tmp_path / "mine", progress=events.append).path
    assert load_org(mine) == load_org(source)
    receiving = [e for e in events if e.phase == "Receiving objects"]
    assert receiving and receiving[-1].percent == 100 and all(0 <= (e.percent or 0) <= 100 for e in events)
    change(source, "more", name="More")
    events.clear()
    fetch(mine, progress=events.append)
    assert lineage(mine).behind == 1 and any(e.percent == 100 for e in events)
