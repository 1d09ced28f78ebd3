"""Uncommitted work is never touched by the panel's switch, merge or pull: it asks, and Cancel changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgruntime.vcs import create_branch, current_branch, fork, head_commit, stashes, switch_branch
from tests.orgruntime.vcs.conftest import plain_git, write
from tests.orgruntime.vcs.repos import change, org_repo, snapshot
from tests.widgets.git_panel_helpers import click, open_panel, wait_idle

KINDS = ("modified", "staged", "untracked", "deleted")


def _make_dirty(root: Path, kind: str) -> None:
    if kind == "modified":
        write(root, "agents/reviewer.md", (root / "agents" / "reviewer.md").read_text() + "\nOne more line.\n")
    elif kind == "staged":
        write(root, "README.md", "staged words\n")
        plain_git(root, "add", "README.md")
    elif kind == "untracked":
        write(root, "notes/todo.txt", "buy milk\n")
    else:
        (root / "agents" / "engineer.md").unlink()


@pytest.fixture
def forked(tmp_path: Path) -> tuple[Path, Path]:
    source = org_repo(tmp_path / "source")
    mine = fork(str(source), tmp_path / "mine").path
    create_branch(mine, "feature")
    switch_branch(mine, "feature")
    change(mine, "feature work", name="Feature")
    switch_branch(mine, "main")
    change(source, "upstream work", description="Changed upstream.")
    return source, mine


def _index(root: Path) -> str:
    return plain_git(root, "diff", "--cached", "--name-status").stdout


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_leaves_dirty_work_byte_identical_for_switch_merge_and_pull(qtbot, forked, kind: str) -> None:
    _source, mine = forked
    _make_dirty(mine, kind)
    before, index, head = snapshot(mine), _index(mine), head_commit(mine)
    panel = open_panel(qtbot, mine, editor=False)

    panel.tabs.setCurrentWidget(panel.branches)
    panel.branches.select("feature")
    click(qtbot, panel.branches.switch_button)
    click(qtbot, panel.flows.dialog.cancel_button)
    assert "nothing was changed" in panel.last_message

    click(qtbot, panel.merge_button)
    panel.flows.dialog.ref_combo.setEditText("feature")
    click(qtbot, panel.flows.dialog.ok_button)
    click(qtbot, panel.flows.dialog.cancel_button)

    click(qtbot, panel.pull_button)
    click(qtbot, panel.flows.dialog.cancel_button)
    wait_idle(qtbot, panel)

    assert snapshot(mine) == before and _index(mine) == index
    assert head_commit(mine) == head and current_branch(mine) == "main" and stashes(mine) == ()


@pytest.mark.parametrize("kind", KINDS)
def test_stash_then_switch_and_back_restores_the_work(qtbot, forked, kind: str) -> None:
    _source, mine = forked
    _make_dirty(mine, kind)
    before, index = snapshot(mine), _index(mine)
    panel = open_panel(qtbot, mine, editor=False)
    panel.tabs.setCurrentWidget(panel.branches)
    panel.branches.select("feature")
    click(qtbot, panel.branches.switch_button)
    click(qtbot, panel.flows.dialog.stash_button)
    assert current_branch(mine) == "feature", panel.last_message
    assert panel.document.org.name == "Feature"  # the app reloaded the document on tree_changed
    panel.branches.select("main")
    click(qtbot, panel.branches.switch_button)
    assert current_branch(mine) == "main"
    click(qtbot, panel.branches.pop_button)
    assert snapshot(mine) == before and _index(mine) == index and stashes(mine) == ()


def test_commit_choice_commits_the_work_then_merges(qtbot, forked) -> None:
    _source, mine = forked
    _make_dirty(mine, "untracked")
    panel = open_panel(qtbot, mine, editor=False)
    click(qtbot, panel.merge_button)
    panel.flows.dialog.ref_combo.setEditText("feature")
    click(qtbot, panel.flows.dialog.ok_button)
    dialog = panel.flows.dialog
    dialog.message_edit.setText("my notes")
    click(qtbot, dialog.commit_button)
    wait_idle(qtbot, panel)  # the merge runs on the worker thread
    assert (mine / "notes" / "todo.txt").read_text() == "buy milk\n"
    assert panel.document.org.name == "Feature" and "Merged" in panel.last_message
    subjects = plain_git(mine, "log", "--format=%s", "-3").stdout.splitlines()
    assert subjects[0].startswith("Merge feature") and "my notes" in subjects


def test_a_refusal_from_the_core_is_shown_and_nothing_moves(qtbot, forked) -> None:
    _source, mine = forked
    panel = open_panel(qtbot, mine, editor=False)
    before = snapshot(mine)
    panel.flows.merge("no-such-branch")
    wait_idle(qtbot, panel)
    assert "unknown revision" in panel.last_message and snapshot(mine) == before
