"""The whole user journey of the IDE by clicking real buttons, with the scripted model for the runs:
open a template, edit in the inspector, commit in the git panel, fork, edit the fork, merge, run and see
the transcript, meters and result, answer a human seat, stop a run midway, open a past run, compare two."""

from __future__ import annotations

from pathlib import Path

import yaml
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication

from orgruntime import load_org
from orgruntime.run import list_runs
from orgruntime.vcs import history, repo_status
from tests.widgets.helpers import node_center

SCRIPT = {
    "ceo": [{"send_message": {"to": "engineer", "content": "Build hello.py"}}, {"finish": {"result": "hello.py shipped"}}],
    "engineer": [
        {"write_file": {"path": "hello.py", "content": "print('hi')"}},
        {"send_message": {"to": "reviewer", "content": "Please review hello.py"}},
        {"send_message": {"to": "ceo", "content": "hello.py is written and reviewed"}},
    ],
    "reviewer": [{"read_file": {"path": "hello.py"}}, "Looks good"],
}


def click(qtbot, button: QAbstractButton) -> None:
    assert button.isVisible() and button.isEnabled(), f"{button.objectName() or button.text()} cannot be clicked"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def toolbar_button(window, name: str) -> QAbstractButton:
    return window.commands.registry.toolbar.widgetForAction(window.commands.registry[name])


def click_node(qtbot, window, agent_id: str) -> None:
    window.editor.view.center_on_agent(agent_id)
    QTest.mouseClick(window.editor.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     node_center(window.editor, agent_id))
    qtbot.waitUntil(lambda: window.inspector.agent_id == agent_id)


def save(qtbot, window) -> None:
    window.raise_()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)  # shortcuts reach the active window only
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not window.session.dirty


def transcript(console) -> list[str]:
    console.live_model.flush()
    return [f"{card.title}: {card.text}" for card in console.view.source.cards]


def run_in_console(qtbot, window, task: str, model: str) -> None:
    console = window.run_wiring.console
    console.model.setCurrentText(model)
    console.task.clear()
    QTest.keyClicks(console.task, task)
    click(qtbot, toolbar_button(window, "run"))
    qtbot.waitUntil(lambda: window.runs.running)


def wait_finished(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.runs.running and not window.run_wiring.console.running, timeout=60_000)


def test_the_whole_journey_by_clicking(make_window, tmp_path: Path, qtbot, artifacts: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump(SCRIPT, sort_keys=False))
    model = f"scripted/{script}"
    window = make_window()

    # open a template from the welcome screen
    welcome = window.welcome
    assert welcome.select_template("startup")
    welcome.destination.clear()
    QTest.keyClicks(welcome.destination, str(tmp_path / "startup"))
    click(qtbot, welcome.create_button)
    folder = (tmp_path / "startup").resolve()
    assert window.session is not None and window.session.folder == folder and window.trust.trusted
    panel = window.git_panel

    # edit in the inspector, save, commit in the git panel
    click_node(qtbot, window, "engineer")
    window.inspector.agent_role.selectAll()
    QTest.keyClicks(window.inspector.agent_role, "Builds and tests the code")
    save(qtbot, window)
    qtbot.waitUntil(lambda: panel.changes.file_item("agents/engineer.md") is not None, timeout=10_000)
    panel.changes.file_item("agents/engineer.md").setCheckState(0, Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: "agents/engineer.md" in panel.status.staged)
    QTest.keyClicks(panel.changes.message, "A testing engineer")
    click(qtbot, panel.changes.commit_button)
    assert history(folder)[0].subject == "A testing engineer"

    # fork as a branch from the toolbar (the git panel's dialog)
    click(qtbot, toolbar_button(window, "fork"))
    dialog = panel.flows.dialog
    dialog.to_branch.click()
    QTest.keyClicks(dialog.branch_edit, "experiment")
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: window.status.branch.text().endswith("experiment"))

    # edit the fork, commit it with the toolbar's Commit (saves first)
    click_node(qtbot, window, "reviewer")
    prompt = window.inspector.agent_prompt
    prompt.moveCursor(QTextCursor.MoveOperation.End)
    QTest.keyClicks(prompt, " Always run the tests.")
    assert window.session.dirty
    click(qtbot, toolbar_button(window, "commit"))
    commit_dialog = window.commands.dialog
    QTest.keyClicks(commit_dialog.message, "Reviewer runs the tests")
    click(qtbot, commit_dialog.ok_button)
    assert not window.session.dirty and repo_status(folder).changed == ()
    assert history(folder)[0].subject == "Reviewer runs the tests"

    # back to main in the git panel, and merge the fork from the toolbar
    window.docks.git.raise_()
    panel.tabs.setCurrentWidget(panel.branches)
    panel.branches.select("main")
    click(qtbot, panel.branches.switch_button)
    qtbot.waitUntil(lambda: "Always run the tests." not in window.session.org.agent("reviewer").prompt, timeout=10_000)
    click(qtbot, toolbar_button(window, "merge"))
    merge_dialog = panel.flows.dialog
    merge_dialog.ref_combo.setCurrentText("experiment")
    click(qtbot, merge_dialog.ok_button)
    qtbot.waitUntil(lambda: "Always run the tests." in window.session.org.agent("reviewer").prompt, timeout=10_000)
    assert "Always run the tests." in load_org(folder).agent("reviewer").prompt
    assert window.trust.trusted, "a fast-forward to the user's own branch keeps trust"

    # run: transcript cards, meters and the result
    console = window.run_wiring.console
    run_in_console(qtbot, window, "make hello", model)
    wait_finished(qtbot, window)
    lines = transcript(console)
    assert "user → ceo: make hello" in lines and "ceo → engineer: Build hello.py" in lines, lines
    assert "reviewer → engineer: Looks good" in lines and "ceo → user: hello.py shipped" in lines
    assert console.status.text() == "Finished: completed — hello.py shipped"
    assert console.meters.values["max_steps"].text().endswith("/ 40")
    assert "completed" in window.status.cost.text()
    assert (folder / ".orgide" / "runs").is_dir() and len(list((folder / ".orgide" / "runs").iterdir())) == 1

    # a human seat: the reviewer becomes a person, answered in the reply box
    click_node(qtbot, window, "reviewer")
    click(qtbot, window.inspector.agent_human)
    assert window.session.org.agent("reviewer").is_human
    save(qtbot, window)
    run_in_console(qtbot, window, "ship it", model)
    qtbot.waitUntil(lambda: console.reply_box.isVisible(), timeout=30_000)
    assert "Please review hello.py" in console.reply_box.question.text()
    QTest.keyClicks(console.reply_box.editor, "Looks good to me")
    click(qtbot, console.reply_box.send)
    wait_finished(qtbot, window)
    assert console.status.text() == "Finished: completed — hello.py shipped"

    # stop a run midway (it waits for the person); meanwhile, screenshots of the run in both themes
    run_in_console(qtbot, window, "ship again", model)
    qtbot.waitUntil(lambda: console.reply_box.isVisible(), timeout=30_000)
    for theme in ("light", "dark"):
        window.set_theme(theme)
        qtbot.wait(50)
        shot = artifacts / f"ide-mid-run-{theme}.png"
        assert window.grab().save(str(shot), "PNG") and shot.stat().st_size > 10_000
    click(qtbot, toolbar_button(window, "stop"))
    wait_finished(qtbot, window)
    assert console.status.text() == "Finished: stopped"

    # open a past run, then compare two
    runs = [info["run_id"] for info in list_runs(folder / ".orgide" / "runs")]  # in start order (ids of one second are not)
    assert len(runs) == 3
    console.tabs.setCurrentWidget(console.history)
    console.history.select(runs[0])
    click(qtbot, console.history.open_button)
    assert console.view.source is console.replay_model
    assert console.status.text() == f"Replay of {runs[0]}: completed"
    click(qtbot, console.back_to_live)
    console.tabs.setCurrentWidget(console.history)
    console.history.select(runs[0], runs[2])
    click(qtbot, console.history.compare_button)
    comparison = console.comparison
    assert comparison.value("task", 0) == "make hello" and comparison.value("task", 1) == "ship again"
    assert comparison.value("status", 0) == "completed" and comparison.value("status", 1) == "stopped"
