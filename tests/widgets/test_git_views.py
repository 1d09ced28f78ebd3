"""The panel's parts on their own: lane graph, history pages, compare overlays, the resolver's conflict kinds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orgruntime import load_org, save_org
from orgruntime.vcs import Conflict, ConflictKind, commit_all, create_branch, merge, pending_merge, switch_branch
from tests.orgruntime.vcs.conftest import plain_git, write
from tests.orgruntime.vcs.repos import change_agent, org_repo
from tests.widgets.git_panel_helpers import click, open_panel
from widgets import ConflictResolver
from widgets.git._conflict_text import editable, parse_edited, value_text
from widgets.git._history_view import PAGE
from widgets.git._lanes import lane_rows


@dataclasses.dataclass(frozen=True)
class C:
    sha: str
    parents: tuple[str, ...]


def test_linear_history_stays_in_one_lane() -> None:
    rows = lane_rows([C("c", ("b",)), C("b", ("a",)), C("a", ())])
    assert [r.column for r in rows] == [0, 0, 0]
    assert rows[0].top == () and rows[1].top == ((0, 0),) and rows[2].bottom == ()


def test_a_merge_opens_a_second_lane_that_joins_at_the_fork_point() -> None:
    rows = lane_rows([C("m", ("a", "b")), C("b", ("r",)), C("a", ("r",)), C("r", ())])
    assert rows[0].bottom == ((0, 0), (0, 1))  # both parents leave the merge's dot
    assert rows[1].column == 1 and rows[2].column == 0
    assert (0, 1) in rows[2].bottom  # a's line bends into the lane waiting for r
    assert rows[3].column == 1 and rows[3].top == ((1, 1),)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=1, max_value=6), max_size=2, unique=True), min_size=1, max_size=25))
def test_every_parent_edge_reaches_the_parents_row(parent_offsets: list[list[int]]) -> None:
    """Any history (parents always older): each commit's edges leave its dot, lanes never exceed the width."""
    count = len(parent_offsets)
    commits = [C(str(i), tuple(str(i + o) for o in offsets if i + o < count)) for i, offsets in enumerate(parent_offsets)]
    rows = lane_rows(commits)
    for commit, row in zip(commits, rows):
        leaving = [edge for edge in row.bottom if edge[0] == row.column]
        assert len(leaving) >= len(commit.parents) and row.column < row.width
        assert all(max(edge) < row.width for edge in (*row.top, *row.bottom))
    for upper, lower in zip(rows, rows[1:]):  # what leaves a row's bottom arrives at the next row's top
        assert sorted({b for _a, b in upper.bottom}) == sorted({a for a, _b in lower.top})


def test_history_pages_and_compare_with_the_working_tree_on_the_graph(qtbot, tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    for index in range(5):
        write(root, "README.md", f"version {index}\n")
        commit_all(root, f"readme {index}")
    panel = open_panel(qtbot, root)
    panel.history_limit = 3
    panel.refresh()
    panel.tabs.setCurrentWidget(panel.history)
    assert len(panel.history.commits) == 3 and panel.history.more_button.isVisible()
    click(qtbot, panel.history.more_button)
    assert len(panel.history.commits) == 6 and not panel.history.more_button.isVisible()  # 3 + PAGE asked
    assert panel.history_limit == 3 + PAGE

    org = load_org(root)
    save_org(dataclasses.replace(org, agents=tuple(a for a in org.agents if a.id != "engineer"), channels=tuple(
        c for c in org.channels if "engineer" not in (c.source, c.target))), root)
    panel.tree_changed.emit()  # the app reloads the document
    panel.history.list.setCurrentRow(0)
    click(qtbot, panel.history.compare_button)
    overlays = panel.editor.overlays
    assert "engineer" in overlays.ghost_nodes and panel.compare_bar.isVisible()
    assert "removed agent engineer" in panel.compare_label.text()
    click(qtbot, panel.clear_compare_button)
    assert overlays.ghost_nodes == {} and not panel.compare_bar.isVisible()


def test_compare_two_revisions_opens_a_graph_of_the_newer_one(qtbot, tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    change_agent(root, "reviewer", "new role", role="Checks everything")
    panel = open_panel(qtbot, root, editor=False)
    click(qtbot, panel.compare_button)
    dialog = panel.flows.dialog
    dialog.old_combo.setEditText("HEAD~1")
    dialog.new_combo.setEditText("HEAD")
    click(qtbot, dialog.ok_button)
    window = panel.flows.compare_window
    assert window.isVisible() and window.document.org.agent("reviewer").role == "Checks everything"
    assert window.editor.scene.node("reviewer").diff_mark == "changed"
    assert [window.summary.item(i).text() for i in range(window.summary.count())] == ["reviewer: role"]


def _conflicted(tmp_path: Path) -> Path:
    root = org_repo(tmp_path / "org")
    create_branch(root, "feature")
    org = load_org(root)
    save_org(dataclasses.replace(org, agents=tuple(a for a in org.agents if a.id != "engineer"), channels=tuple(
        c for c in org.channels if "engineer" not in (c.source, c.target))), root)
    commit_all(root, "no engineer")
    change_agent(root, "reviewer", "ours", temperature=0.3)
    switch_branch(root, "feature")
    change_agent(root, "engineer", "theirs engineer", role="Builds faster")
    change_agent(root, "reviewer", "theirs", temperature=0.9)
    switch_branch(root, "main")
    assert merge(root, "feature").conflicts
    return root


def test_the_resolver_handles_agent_and_field_conflicts_and_refuses_bad_edits(qtbot, tmp_path: Path) -> None:
    root = _conflicted(tmp_path)
    resolver = ConflictResolver(root)
    qtbot.addWidget(resolver)
    resolver.open()
    kinds = {c.kind: c for c in resolver.conflicts()}
    assert set(kinds) == {ConflictKind.DELETE_MODIFY, ConflictKind.FIELD}
    resolver.select_conflict(kinds[ConflictKind.DELETE_MODIFY].id)
    assert resolver.view.ours.toPlainText() == "(deleted)" and "role: Builds faster" in resolver.view.theirs.toPlainText()
    assert not resolver.edited_button.isEnabled()  # a whole agent is taken from one side
    click(qtbot, resolver.theirs_button)
    assert load_org(root).agent("engineer").role == "Builds faster"
    field = kinds[ConflictKind.FIELD]
    resolver.select_conflict(field.id)
    assert resolver.view.result.toPlainText() == "0.3"
    resolver.view.result.setPlainText("warm")
    click(qtbot, resolver.edited_button)
    assert "takes a number" in resolver.error_label.text() and len(resolver.conflicts()) == 1
    resolver.view.result.setPlainText("0.5")
    click(qtbot, resolver.edited_button)
    assert resolver.conflicts() == () and resolver.commit_button.isEnabled()
    click(qtbot, resolver.commit_button)
    assert pending_merge(root) is None and load_org(root).agent("reviewer").temperature == 0.5
    assert len(plain_git(root, "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()) == 3


def test_the_panel_reopens_a_pending_merge_and_aborts_it_exactly(qtbot, tmp_path: Path) -> None:
    root = _conflicted(tmp_path)
    panel = open_panel(qtbot, root)
    assert panel.merge_bar.isVisible() and "2 conflict(s)" in panel.merge_label.text()
    click(qtbot, panel.resolve_button)
    assert panel.flows.resolver.isVisible() and panel.flows.resolver.highlighted_agents() == ("engineer", "reviewer")
    panel.flows.resolver.close()
    assert panel.editor.overlays.ghost_nodes == {}
    click(qtbot, panel.abort_merge_button)
    assert not panel.merge_bar.isVisible() and pending_merge(root) is None
    assert plain_git(root, "status", "--porcelain", "--untracked-files=all").stdout == ""  # the tree is HEAD's again


@pytest.mark.parametrize(("kind", "samples", "typed", "expected"), [
    (ConflictKind.FIELD, (3, 4, 5), "7", 7),
    (ConflictKind.FIELD, (0.2, 0.3, None), "", None),
    (ConflictKind.FIELD, ("a", "b", "c"), "  model-x ", "model-x"),
    (ConflictKind.TEXT, ("a\n", "b\n", "c\n"), "edited", "edited\n"),
    (ConflictKind.RENAME_RENAME, ("x", "y", "z"), " w ", "w"),
])
def test_parse_edited_values(kind: ConflictKind, samples: tuple, typed: str, expected: object) -> None:
    conflict = Conflict(id="c1", kind=kind, message="m", base=samples[0], ours=samples[1], theirs=samples[2], field="f")
    assert editable(conflict) and parse_edited(conflict, typed) == expected


def test_value_text_of_plain_values() -> None:
    assert value_text(None) == "(deleted)" and value_text(True) == "true" and value_text(b"x\n") == "x\n"
    assert value_text(("read_file", "write_file")) == "read_file, write_file"
