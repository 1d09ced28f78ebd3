"""A hostile repository (config commands, hooks, filters) runs none of them during any panel action,
and hostile names typed into the panel's dialogs are refused with a clear message before git sees them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from orgruntime.vcs import create_branch, current_branch, fork, list_branches, stashes, switch_branch
from tests.orgruntime.vcs.conftest import assert_no_markers, make_hostile, markers, plain_git, write  # noqa: F401
from tests.orgruntime.vcs.repos import change, change_agent, org_repo
from tests.widgets.git_panel_helpers import click, open_panel, tick, wait_idle

HOSTILE_NAMES = ("-f", "--upload-pack=touch pwned", "-uevil", "../x", "a\nb", "ext::sh -c touch% pwned",
                 "x/../../y", "main..feature", "@{-1}", "name\rinjected")
HOSTILE_SOURCES = ("ext::sh -c touch% pwned", "--upload-pack=touch pwned", "-u touch pwned", "fd::17",
                   "ssh://-oProxyCommand=touch%20pwned/x", "a\nb", "file:///tmp/x\n--upload-pack=touch")


@pytest.fixture
def hostile(tmp_path: Path, markers: Path) -> tuple[Path, Path]:
    source = org_repo(tmp_path / "source")
    shared = tmp_path / "shared.git"
    plain_git(tmp_path, "clone", "--quiet", "--bare", str(source), str(shared))
    mine = fork(str(shared), tmp_path / "mine").path
    create_branch(mine, "feature")
    switch_branch(mine, "feature")
    change_agent(mine, "reviewer", "feature reviewer", prompt="You review code.\nBe lax about tests.\nBe kind about style.")
    switch_branch(mine, "main")
    change_agent(mine, "reviewer", "main reviewer", prompt="You review code.\nBe harsh about tests.\nBe kind about style.")
    change(source, "upstream work", description="Changed upstream.")
    plain_git(source, "push", "--quiet", str(shared), "main")
    make_hostile(mine, markers)
    return shared, mine


def test_every_panel_action_on_a_hostile_repository_runs_nothing(qtbot, hostile, markers: Path, tmp_path: Path) -> None:
    shared, mine = hostile
    panel = open_panel(qtbot, mine)
    errors: list[str] = []
    panel.message.connect(lambda text, is_error: errors.append(text) if is_error else None)

    # stage and commit
    write(mine, "README.md", "hostile but harmless\n")
    panel.refresh()
    tick(qtbot, panel, "README.md")
    tick(qtbot, panel, "README.md", staged=False)
    tick(qtbot, panel, "README.md")
    qtbot.keyClicks(panel.changes.message, "readme")
    click(qtbot, panel.changes.commit_button)
    panel.tabs.setCurrentWidget(panel.history)
    panel.history.list.setCurrentRow(0)
    click(qtbot, panel.history.compare_button)
    # branches: new, switch there and back, delete
    panel.tabs.setCurrentWidget(panel.branches)
    click(qtbot, panel.branches.new_button)
    panel.flows.dialog.name_edit.setText("side")
    click(qtbot, panel.flows.dialog.ok_button)
    for name in ("side", "main"):
        panel.branches.select(name)
        click(qtbot, panel.branches.switch_button)
    panel.branches.select("side")
    click(qtbot, panel.branches.delete_button)
    assert "side" not in list_branches(mine)
    # switching over uncommitted work: stash, then restore
    write(mine, "scratch.txt", "scratch\n")
    panel.refresh()
    panel.branches.select("feature")
    click(qtbot, panel.branches.switch_button)
    click(qtbot, panel.flows.dialog.stash_button)
    panel.branches.select("main")
    click(qtbot, panel.branches.switch_button)
    click(qtbot, panel.branches.pop_button)
    assert (mine / "scratch.txt").exists() and stashes(mine) == ()
    (mine / "scratch.txt").unlink()
    # compare, on the graph and in a window
    for new in ("Working tree", "feature"):
        click(qtbot, panel.compare_button)
        panel.flows.dialog.old_combo.setEditText("HEAD~1")
        panel.flows.dialog.new_combo.setEditText(new)
        click(qtbot, panel.flows.dialog.ok_button)
    assert panel.compare_bar.isVisible() and panel.flows.compare_window.isVisible()
    panel.flows.compare_window.close()
    # merge with conflicts: abort once, then resolve and commit
    for finish in ("abort", "commit"):
        click(qtbot, panel.merge_button)
        panel.flows.dialog.ref_combo.setEditText("feature")
        click(qtbot, panel.flows.dialog.ok_button)
        wait_idle(qtbot, panel)
        resolver = panel.flows.resolver
        assert resolver.conflicts(), panel.last_message
        if finish == "abort":
            click(qtbot, resolver.abort_button)
            continue
        for conflict in resolver.conflicts():
            resolver.select_conflict(conflict.id)
            click(qtbot, resolver.ours_button)
        click(qtbot, resolver.commit_button)
    # fetch, pull and push over the network path, on the worker thread
    click(qtbot, panel.fetch_button)
    wait_idle(qtbot, panel)
    click(qtbot, panel.pull_button)
    wait_idle(qtbot, panel)
    click(qtbot, panel.push_button)
    wait_idle(qtbot, panel)
    assert "Pushed." in panel.last_message and panel.status.ahead == 0
    assert plain_git(shared, "rev-parse", "main").stdout.strip() == panel.status.head
    # fork as a branch, and into a new folder
    for as_branch in (True, False):
        click(qtbot, panel.fork_button)
        dialog = panel.flows.dialog
        if as_branch:
            dialog.to_branch.setChecked(True)
            dialog.branch_edit.setText("forked")
        else:
            dialog.dest_edit.setText(str(tmp_path / "copy"))
        click(qtbot, dialog.ok_button)
        wait_idle(qtbot, panel)
    assert current_branch(mine) == "forked" and (tmp_path / "copy" / "org.yaml").exists()
    assert errors == []
    assert_no_markers(markers)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_branch_and_revision_names_are_refused_in_the_dialogs(qtbot, tmp_path: Path, name: str) -> None:
    root = org_repo(tmp_path / "org")
    create_branch(root, "feature")
    panel = open_panel(qtbot, root, editor=False)
    before = list_branches(root)
    panel.tabs.setCurrentWidget(panel.branches)
    click(qtbot, panel.branches.new_button)
    dialog = panel.flows.dialog
    dialog.name_edit.setText(name)
    assert not dialog.ok_button.isEnabled() and dialog.error_label.text(), name
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)  # Enter does not get past the check either
    assert dialog.isVisible() and list_branches(root) == before
    click(qtbot, dialog.cancel_button)

    click(qtbot, panel.fork_button)
    fork_dialog = panel.flows.dialog
    fork_dialog.to_branch.setChecked(True)
    fork_dialog.branch_edit.setText(name)
    assert not fork_dialog.ok_button.isEnabled() and fork_dialog.error_label.text()
    click(qtbot, fork_dialog.cancel_button)

    click(qtbot, panel.merge_button)
    merge_dialog = panel.flows.dialog
    merge_dialog.ref_combo.setEditText(name)
    assert not merge_dialog.ok_button.isEnabled() and merge_dialog.error_label.text()
    click(qtbot, merge_dialog.cancel_button)

    click(qtbot, panel.compare_button)
    compare_dialog = panel.flows.dialog
    compare_dialog.new_combo.setEditText(name)
    assert not compare_dialog.ok_button.isEnabled() and compare_dialog.error_label.text()
    click(qtbot, compare_dialog.cancel_button)
    assert list_branches(root) == before and current_branch(root) == "main"


@pytest.mark.parametrize("source", HOSTILE_SOURCES)
def test_hostile_fork_sources_are_refused_with_a_message(qtbot, tmp_path: Path, source: str) -> None:
    root = org_repo(tmp_path / "org")
    panel = open_panel(qtbot, root, editor=False)
    click(qtbot, panel.fork_button)
    dialog = panel.flows.dialog
    dialog.source_edit.setText(source)
    dialog.dest_edit.setText(str(tmp_path / "dest"))
    assert not dialog.ok_button.isEnabled()
    assert "source" in dialog.error_label.text().lower() or "url" in dialog.error_label.text().lower()
    qtbot.keyClick(dialog.source_edit, Qt.Key.Key_Return)
    assert not panel.busy and not (tmp_path / "dest").exists() and not (tmp_path / "pwned").exists()


def test_the_error_message_names_the_problem(qtbot, tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    panel = open_panel(qtbot, root, editor=False)
    panel.tabs.setCurrentWidget(panel.branches)
    click(qtbot, panel.branches.new_button)
    dialog = panel.flows.dialog
    dialog.name_edit.setText("-delete-everything")
    assert "starts with '-'" in dialog.error_label.text()
    dialog.name_edit.setText("../escape")
    assert ".." in dialog.error_label.text()
    dialog.name_edit.setText("main")
    assert "already exists" in dialog.error_label.text()
    dialog.name_edit.setText("good-name")
    assert dialog.ok_button.isEnabled() and not dialog.error_label.isVisible()
