"""Smaller panel paths: deleting an unmerged branch asks first, a folder that is not a repository, file
conflicts edited as text, the lane graph painted, and outside git commands picked up by themselves."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from orgruntime import create_org
from orgruntime.vcs import ConflictKind, create_branch, current_branch, list_branches, merge, switch_branch
from tests.orgruntime.vcs.conftest import plain_git, write
from tests.orgruntime.vcs.repos import change, org_repo
from tests.widgets.git_panel_helpers import click, open_panel


def test_deleting_an_unmerged_branch_asks_and_cancel_keeps_it(qtbot, tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    create_branch(root, "merged")
    create_branch(root, "feature")
    switch_branch(root, "feature")
    change(root, "only here", name="Only here")
    switch_branch(root, "main")
    panel = open_panel(qtbot, root, editor=False)
    panel.tabs.setCurrentWidget(panel.branches)
    panel.branches.select("merged")
    click(qtbot, panel.branches.delete_button)  # nothing would be lost: no question
    assert list_branches(root) == ("feature", "main") and "Deleted merged" in panel.last_message
    for answer, expected in ((QMessageBox.StandardButton.Cancel, ("feature", "main")),
                             (QMessageBox.StandardButton.Yes, ("main",))):
        panel.branches.select("feature")
        click(qtbot, panel.branches.delete_button)
        box = panel.flows.dialog
        assert isinstance(box, QMessageBox) and "lose them" in box.text()
        click(qtbot, box.button(answer))
        assert list_branches(root) == expected
    assert not panel.branches.delete_button.isEnabled()  # nothing selected, and main is checked out


def test_a_folder_without_git_offers_to_make_a_repository(qtbot, tmp_path: Path) -> None:
    folder = create_org(tmp_path / "plain", "startup", git=False)
    panel = open_panel(qtbot, folder, editor=False)
    assert "not a git repository" in panel.branch_label.text() and not panel.fork_button.isEnabled()
    click(qtbot, panel.init_button)
    assert (folder / ".git").is_dir() and panel.status is not None and panel.status.branch == "main"
    assert "org.yaml" in panel.status.changed and not panel.init_button.isVisible()
    click(qtbot, panel.changes.stage_all_button)
    qtbot.waitUntil(lambda: panel.changes.commit_button.isEnabled() or bool(panel.status.staged))
    qtbot.keyClicks(panel.changes.message, "first")
    click(qtbot, panel.changes.commit_button)
    assert panel.status.head is not None and panel.status.changed == () and panel.fork_button.isEnabled()


def test_a_conflict_in_an_ordinary_file_is_edited_as_text(qtbot, tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    create_branch(root, "feature")
    write(root, "README.md", "# Tiny Startup\n\nOurs.\nLine three.\n")
    plain_git(root, "commit", "--quiet", "-am", "ours")
    switch_branch(root, "feature")
    write(root, "README.md", "# Tiny Startup\n\nTheirs.\nLine three.\n")
    plain_git(root, "commit", "--quiet", "-am", "theirs")
    switch_branch(root, "main")
    assert merge(root, "feature").conflicts
    panel = open_panel(qtbot, root, editor=False)
    click(qtbot, panel.resolve_button)
    resolver = panel.flows.resolver
    (conflict,) = resolver.conflicts()
    assert conflict.kind is ConflictKind.FILE and resolver.edited_button.isEnabled()
    assert "<<<<<<<" in resolver.view.result.toPlainText()
    click(qtbot, resolver.edited_button)  # markers left in: refused, nothing written
    assert "conflict markers" in resolver.error_label.text() and len(resolver.conflicts()) == 1
    resolver.view.result.setPlainText("# Tiny Startup\n\nBoth.\nLine three.\n")
    click(qtbot, resolver.edited_button)
    click(qtbot, resolver.commit_button)
    assert (root / "README.md").read_text() == "# Tiny Startup\n\nBoth.\nLine three.\n"
    assert plain_git(root, "show", "HEAD:README.md").stdout == "# Tiny Startup\n\nBoth.\nLine three.\n"


def test_the_lane_graph_paints_a_merge_history(qtbot, tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    create_branch(root, "feature")
    change(root, "ours", name="Ours")
    switch_branch(root, "feature")
    change(root, "theirs", description="Theirs.")
    switch_branch(root, "main")
    merge(root, "feature")
    panel = open_panel(qtbot, root, editor=False)
    panel.tabs.setCurrentWidget(panel.history)
    image = panel.history.list.viewport().grab().toImage()
    assert max(row.width for row in panel.history.rows) == 2
    first = panel.history.list.visualItemRect(panel.history.list.item(0))
    dot = image.pixelColor(3 + 7, first.center().y())  # the merge commit's dot in lane 0
    assert dot != panel.history.list.palette().base().color()


def test_a_commit_made_outside_the_app_shows_up_by_itself(qtbot, tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    panel = open_panel(qtbot, root, editor=False)
    head = panel.status.head
    write(root, "notes.txt", "from the terminal\n")
    qtbot.waitUntil(lambda: "notes.txt" in panel.status.changed, timeout=5000)
    plain_git(root, "add", "notes.txt")
    plain_git(root, "commit", "--quiet", "-m", "terminal commit")
    qtbot.waitUntil(lambda: panel.status.head != head and panel.status.changed == (), timeout=5000)
    plain_git(root, "switch", "--quiet", "-c", "elsewhere")
    qtbot.waitUntil(lambda: panel.status.branch == "elsewhere", timeout=5000)
    assert current_branch(root) == "elsewhere" and panel.history.commits[0].subject == "terminal commit"
