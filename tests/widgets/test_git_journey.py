"""The whole journey by clicking the panel's real buttons: fork, edit, commit, pull with a conflict, resolve, commit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from orgruntime import load_org, save_org
from orgruntime.vcs import ConflictKind, history, lineage, repo_status
from tests.orgruntime.vcs.conftest import plain_git
from tests.orgruntime.vcs.repos import change_agent, org_repo
from tests.widgets.git_panel_helpers import click, open_panel, tick, wait_idle

def test_fork_edit_merge_with_a_conflict_resolve_and_commit(qtbot, tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    source_panel = open_panel(qtbot, source, editor=False)
    forks = []
    source_panel.forked.connect(lambda dest, untrusted: forks.append((dest, untrusted)))

    # Fork… into a new folder, on the worker thread, with progress shown
    click(qtbot, source_panel.fork_button)
    dialog = source_panel.flows.dialog
    dialog.dest_edit.setText(str(tmp_path / "mine"))
    click(qtbot, dialog.ok_button)
    assert source_panel.busy and source_panel.progress.isVisible()
    wait_idle(qtbot, source_panel)
    mine = (tmp_path / "mine").resolve()
    assert forks == [(mine, True)], source_panel.last_message
    assert lineage(mine).upstream == "upstream/main"

    panel = open_panel(qtbot, mine)
    statuses = []
    panel.status_changed.connect(lambda *args: statuses.append(args))
    assert "upstream/main" in panel.upstream_label.text()

    # edit the reviewer in the graph's document, save as the app does, and see the semantic summary
    document = panel.document
    document.reset(dataclasses.replace(document.org, agents=tuple(
        dataclasses.replace(a, prompt="You review code.\nBe strict about every test.\nBe kind about style.\nSign off.")
        if a.id == "reviewer" else a for a in document.org.agents)))
    save_org(document.org, mine)
    panel.refresh()
    assert "reviewer: prompt +2 -1 lines" in panel.changes.summary_lines()
    tick(qtbot, panel, "agents/reviewer.md")  # ticking the box stages the file
    assert repo_status(mine).staged == ("agents/reviewer.md",)
    qtbot.keyClicks(panel.changes.message, "Stricter reviewer")
    click(qtbot, panel.changes.commit_button)
    assert history(mine)[0].subject == "Stricter reviewer" and repo_status(mine).changed == ()
    assert statuses[-1] == ("main", 1, 0)

    # meanwhile the source changes the same line differently
    change_agent(source, "reviewer", "Gentler reviewer", prompt="You review code.\nBe gentle about tests.\nBe kind about style.",
                 role="Reviews gently")

    # Pull: fetch on the worker thread, merge, conflicts open the resolver
    click(qtbot, panel.pull_button)
    wait_idle(qtbot, panel)
    resolver = panel.flows.resolver
    assert resolver is not None and resolver.isVisible(), panel.last_message
    kinds = {c.kind for c in resolver.conflicts()}
    assert ConflictKind.TEXT in kinds
    assert resolver.highlighted_agents() == ("reviewer",)  # the conflicted agent is marked on the graph
    assert panel.merge_bar.isVisible() and not panel.merge_button.isEnabled()

    text = next(c for c in resolver.conflicts() if c.kind is ConflictKind.TEXT)
    resolver.select_conflict(text.id)
    assert "Be strict about every test." in resolver.view.ours.toPlainText()
    assert "Be gentle about tests." in resolver.view.theirs.toPlainText()
    assert "Be strict about tests." in resolver.view.base.toPlainText()
    assert not resolver.commit_button.isEnabled()
    resolver.view.result.setPlainText("You review code.\nBe strict but gentle about every test.\nBe kind about style.\nSign off.")
    click(qtbot, resolver.edited_button)
    for conflict in resolver.conflicts():  # anything else: take theirs
        resolver.select_conflict(conflict.id)
        click(qtbot, resolver.theirs_button)
    assert resolver.conflicts() == () and resolver.highlighted_agents() == ()
    assert document.org.agent("reviewer").prompt.startswith("You review code.\nBe strict but gentle")  # reloaded
    click(qtbot, resolver.commit_button)
    assert not resolver.isVisible()

    merged = load_org(mine).agent("reviewer")
    assert merged.prompt == "You review code.\nBe strict but gentle about every test.\nBe kind about style.\nSign off."
    assert merged.role == "Reviews gently"  # the clean part of their change came along
    assert len(plain_git(mine, "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()) == 3
    status = repo_status(mine)
    assert (status.merging, status.changed, status.ahead, status.behind) == (False, (), 2, 0)
    assert not panel.merge_bar.isVisible() and "Merge committed" in panel.last_message
    assert statuses[-1] == ("main", 2, 0)
    assert panel.history.rows[0].bottom and len(panel.history.rows[0].bottom) >= 2  # the merge draws two lanes
