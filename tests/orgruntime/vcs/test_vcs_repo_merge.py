"""Merging in real repositories through the API: clean, conflicted and resolved, aborted, fast-forward."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from orgruntime import Channel, ChannelKind, load_org
from orgruntime.vcs import (
    DirtyTreeError,
    Edited,
    MergeStateError,
    MergeStatus,
    Side,
    UnsafeNameError,
    abort_merge,
    commit_all,
    commit_merge,
    fork,
    head_commit,
    is_dirty,
    merge,
    pending_merge,
    resolve,
)
from tests.orgruntime.vcs.conftest import plain_git, write
from tests.orgruntime.vcs.repos import change, change_agent, org_repo, parents, snapshot, switch


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = org_repo(tmp_path / "org")
    fork(root, branch="feature")
    switch(root, "main")
    return root


def test_clean_semantic_merge_makes_a_merge_commit_with_both_parents(repo: Path) -> None:
    switch(repo, "feature")
    theirs = change_agent(repo, "engineer", "engineer: temperature", temperature=0.1)
    switch(repo, "main")
    ours = change(repo, "rename the org", name="Tiny Co")
    outcome = merge(repo, "feature")
    assert outcome.status is MergeStatus.MERGED and outcome.conflicts == ()
    assert head_commit(repo) == outcome.commit and parents(repo) == [ours, theirs]
    org = load_org(repo)
    assert org.name == "Tiny Co" and org.agent("engineer").temperature == 0.1
    assert not is_dirty(repo) and pending_merge(repo) is None
    assert not (repo / ".git" / "MERGE_HEAD").exists()


def test_textually_conflicting_but_semantically_clean_changes_merge(repo: Path) -> None:
    """Both sides append a channel at the end of org.yaml's list: git's line merge conflicts, ours does not."""
    switch(repo, "feature")
    org = load_org(repo)
    change(repo, "qa reports", channels=(*org.channels, Channel(source="reviewer", target="engineer", kind=ChannelKind.REPORTS)))
    switch(repo, "main")
    change(repo, "ceo reviews", channels=(*org.channels, Channel(source="ceo", target="reviewer", kind=ChannelKind.REVIEWS)))
    outcome = merge(repo, "feature")
    assert outcome.status is MergeStatus.MERGED
    keys = {(c.source, c.target) for c in load_org(repo).channels}
    assert {("reviewer", "engineer"), ("ceo", "reviewer")} <= keys


def test_conflicts_are_pending_then_resolved_one_by_one_and_committed(repo: Path) -> None:
    switch(repo, "feature")
    change(repo, "theirs: name", name="Small Startup")
    change_agent(repo, "engineer", "theirs: model", model="local/qwen2.5-0.5b")
    theirs = change_agent(repo, "reviewer", "theirs: role", role="QA")
    switch(repo, "main")
    change(repo, "ours: name", name="Tiny Co")
    change_agent(repo, "engineer", "ours: model", model="openai/gpt-4o")
    ours = change_agent(repo, "ceo", "ours: role", role="Boss")
    outcome = merge(repo, "feature")
    assert outcome.status is MergeStatus.CONFLICTS and outcome.commit is None
    assert [c.id for c in outcome.conflicts] == ["org:name", "agent:engineer:model"]
    assert (repo / ".git" / "MERGE_HEAD").read_text().strip() == theirs
    provisional = load_org(repo)
    assert provisional.name == "Tiny Co" and provisional.agent("reviewer").role == "QA"  # clean parts applied
    pending = pending_merge(repo)  # as if the app was closed and opened again
    assert pending is not None and [c.id for c in pending.conflicts] == ["org:name", "agent:engineer:model"]
    with pytest.raises(MergeStateError, match="unresolved"):
        commit_merge(repo)
    with pytest.raises(MergeStateError, match="no unresolved conflict"):
        resolve(repo, "org:nothing", Side.OURS)
    pending = resolve(repo, "org:name", Side.THEIRS)
    assert [c.id for c in pending.conflicts] == ["agent:engineer:model"] and load_org(repo).name == "Small Startup"
    resolve(repo, "agent:engineer:model", Edited("openai/gpt-4.1"))
    commit = commit_merge(repo)
    assert parents(repo) == [ours, theirs] and head_commit(repo) == commit
    org = load_org(repo)
    assert (org.name, org.agent("engineer").model, org.agent("ceo").role, org.agent("reviewer").role) == (
        "Small Startup", "openai/gpt-4.1", "Boss", "QA")
    assert not is_dirty(repo) and pending_merge(repo) is None


def test_abort_restores_a_byte_identical_tree(repo: Path) -> None:
    switch(repo, "feature")
    change(repo, "theirs", name="Small Startup")
    change_agent(repo, "reviewer", "theirs: delete the reviewer's prompt", prompt="")
    write(repo, "notes/new.txt", "from theirs\n")
    commit_all(repo, "theirs: notes")
    switch(repo, "main")
    change(repo, "ours", name="Tiny Co")
    before = snapshot(repo)
    head = head_commit(repo)
    outcome = merge(repo, "feature")
    assert outcome.status is MergeStatus.CONFLICTS and snapshot(repo) != before
    resolve(repo, "org:name", Side.THEIRS)
    abort_merge(repo)
    assert snapshot(repo) == before and head_commit(repo) == head
    assert not is_dirty(repo) and pending_merge(repo) is None
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    with pytest.raises(MergeStateError):
        abort_merge(repo)


def test_fast_forward_and_up_to_date(repo: Path) -> None:
    switch(repo, "feature")
    theirs = change(repo, "theirs", name="Small Startup")
    switch(repo, "main")
    outcome = merge(repo, "feature")
    assert (outcome.status, outcome.commit) == (MergeStatus.FAST_FORWARD, theirs)
    assert head_commit(repo) == theirs and load_org(repo).name == "Small Startup" and not is_dirty(repo)
    assert plain_git(repo, "rev-parse", "main").stdout.strip() == theirs
    again = merge(repo, "feature")
    assert (again.status, again.commit) == (MergeStatus.UP_TO_DATE, theirs)


@pytest.mark.parametrize("kind", ["modified", "staged", "untracked", "deleted"])
def test_dirty_trees_are_refused_and_left_untouched(repo: Path, kind: str) -> None:
    switch(repo, "feature")
    change(repo, "theirs", name="Small Startup")
    switch(repo, "main")
    change(repo, "ours", description="Ours.")
    if kind == "modified":
        write(repo, "README.md", "my unsaved words\n")
        name = "README.md"
    elif kind == "staged":
        write(repo, "org.yaml", (repo / "org.yaml").read_text() + "# staged note\n")
        plain_git(repo, "add", "org.yaml")
        name = "org.yaml"
    elif kind == "untracked":
        write(repo, "agents/draft.md", "---\nname: Draft\n---\nwork in progress\n")
        name = "agents/draft.md"
    else:
        (repo / "agents" / "reviewer.md").unlink()
        name = "agents/reviewer.md"
    before = snapshot(repo)
    index = (repo / ".git" / "index").read_bytes()
    with pytest.raises(DirtyTreeError, match=name) as refused:
        merge(repo, "feature")
    assert name in refused.value.files
    assert snapshot(repo) == before and (repo / ".git" / "index").read_bytes() == index
    assert pending_merge(repo) is None and not (repo / ".git" / "MERGE_HEAD").exists()


def test_merge_never_overwrites_an_ignored_file(repo: Path) -> None:
    switch(repo, "feature")
    write(repo, "secrets.txt", "theirs\n")
    commit_all(repo, "theirs adds secrets.txt")
    switch(repo, "main")
    write(repo, ".gitignore", "secrets.txt\n")
    commit_all(repo, "ignore secrets")
    write(repo, "secrets.txt", "my local secret\n")
    with pytest.raises(DirtyTreeError, match="secrets.txt"):
        merge(repo, "feature")
    assert (repo / "secrets.txt").read_text() == "my local secret\n" and pending_merge(repo) is None


def test_ordinary_files_merge_as_text_with_file_conflicts(repo: Path) -> None:
    switch(repo, "feature")
    write(repo, "README.md", "# Tiny Startup\n\nLine two, theirs.\nLine three.\n")
    write(repo, "tools/helper.py", "print('theirs')\n")
    commit_all(repo, "theirs")
    switch(repo, "main")
    write(repo, "README.md", "# Tiny Startup\n\nLine two, ours.\nLine three.\n")
    commit_all(repo, "ours")
    outcome = merge(repo, "feature")
    assert [c.id for c in outcome.conflicts] == ["file:README.md"]
    assert "<<<<<<< ours" in (repo / "README.md").read_text()
    assert (repo / "tools" / "helper.py").read_text() == "print('theirs')\n"
    resolve(repo, "file:README.md", Edited("# Tiny Startup\n\nLine two, both.\nLine three.\n"))
    commit_merge(repo, "merged by hand")
    assert (repo / "README.md").read_text() == "# Tiny Startup\n\nLine two, both.\nLine three.\n"
    assert plain_git(repo, "log", "-1", "--format=%s").stdout.strip() == "merged by hand"
    assert len(parents(repo)) == 2 and not is_dirty(repo)


def test_rename_on_one_side_and_edit_on_the_other_in_a_repository(repo: Path) -> None:
    switch(repo, "feature")
    change_agent(repo, "engineer", "theirs edits the engineer", role="Builds everything")
    switch(repo, "main")
    org = load_org(repo)
    renamed = dataclasses.replace(
        org, agents=tuple(dataclasses.replace(a, id="developer") if a.id == "engineer" else a for a in org.agents),
        channels=tuple(Channel(source="developer" if c.source == "engineer" else c.source,
                               target="developer" if c.target == "engineer" else c.target, kind=c.kind) for c in org.channels))
    change(repo, "ours renames the engineer", agents=renamed.agents, channels=renamed.channels)
    outcome = merge(repo, "feature")
    assert outcome.status is MergeStatus.MERGED
    merged = load_org(repo)
    assert not merged.has_agent("engineer") and merged.agent("developer").role == "Builds everything"
    assert not (repo / "agents" / "engineer.md").exists()


def test_bad_refs_and_states_are_refused(repo: Path, tmp_path: Path) -> None:
    for ref in ("-x", "--abort", "a..b", "main\nx", "../x", "HEAD@{1}", "main:org.yaml", ""):
        with pytest.raises(UnsafeNameError):
            merge(repo, ref)
    with pytest.raises(Exception, match="unknown revision"):
        merge(repo, "no-such-branch")
    other = tmp_path / "unrelated"
    org_repo(other, readme="# Another org with a history of its own\n")
    plain_git(repo, "fetch", "--quiet", str(other), "main:unrelated")
    with pytest.raises(MergeStateError, match="no history"):
        merge(repo, "unrelated")
    with pytest.raises(MergeStateError, match="no merge is in progress"):
        commit_merge(repo)


def test_a_pending_merge_finished_with_plain_git_is_forgotten(repo: Path) -> None:
    switch(repo, "feature")
    change(repo, "theirs", name="Small Startup")
    switch(repo, "main")
    change(repo, "ours", name="Tiny Co")
    before = snapshot(repo)
    assert merge(repo, "feature").status is MergeStatus.CONFLICTS
    plain_git(repo, "merge", "--abort")
    assert pending_merge(repo) is None and snapshot(repo) == before
    assert merge(repo, "feature").status is MergeStatus.CONFLICTS  # a new merge may start


def test_a_file_where_the_other_side_has_a_folder_stops_cleanly_and_aborts(repo: Path) -> None:
    switch(repo, "feature")
    write(repo, "notes/today.txt", "theirs\n")
    commit_all(repo, "theirs: notes/ is a folder")
    switch(repo, "main")
    write(repo, "notes", "ours: notes is a file\n")
    commit_all(repo, "ours: notes is a file")
    before = snapshot(repo)
    with pytest.raises(MergeStateError, match="abort"):
        merge(repo, "feature")
    abort_merge(repo)
    assert snapshot(repo) == before and not is_dirty(repo)
