"""Files on disk stay the truth: Ctrl+S saves atomically, outside changes reload (asking over unsaved edits),
and quitting with unsaved edits asks."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from orgruntime import load_org
from tests.ide.helpers import button, click_in_next_modal


def type_org_name(window, text: str) -> None:
    field = window.inspector.org_name
    field.selectAll()
    QTest.keyClicks(field, text)


def press_ctrl_s(window) -> None:
    window.activateWindow()
    QTest.qWaitForWindowActive(window)
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)


def test_ctrl_s_saves_what_the_inspector_changed(make_window, org_folder: Path, qtbot) -> None:
    window = make_window(org_folder)
    type_org_name(window, "Garage Startup")
    assert window.session.dirty and "•" in window.windowTitle()
    assert load_org(org_folder).name == "Tiny Startup", "nothing is written before saving"
    press_ctrl_s(window)
    assert not window.session.dirty and "•" not in window.windowTitle()
    assert load_org(org_folder).name == "Garage Startup"
    assert not list(org_folder.glob("*.tmp*")), "the atomic write leaves no temp file"
    qtbot.wait(600)  # our own save must not look like an outside change
    assert window._disk_prompt is None and window.session.org.name == "Garage Startup"


def test_an_outside_change_reloads_the_view_when_nothing_is_unsaved(make_window, org_folder: Path, qtbot) -> None:
    window = make_window(org_folder)
    ceo = org_folder / "agents" / "ceo.md"
    ceo.write_text(ceo.read_text().replace("role:", "role: Changed in a text editor -", 1))
    qtbot.waitUntil(lambda: window.session.org.agent("ceo").role.startswith("Changed in a text editor"), timeout=5000)
    assert not window.session.dirty
    assert window.editor.scene.node("ceo").agent.role.startswith("Changed in a text editor")


def test_an_outside_change_over_unsaved_edits_asks_and_can_keep_them(make_window, org_folder: Path, qtbot) -> None:
    window = make_window(org_folder)
    type_org_name(window, "My Unsaved Name")
    text = (org_folder / "org.yaml").read_text()
    (org_folder / "org.yaml").write_text(text.replace("name: Tiny Startup", "name: Outside Name", 1))
    qtbot.waitUntil(lambda: window._disk_prompt is not None and window._disk_prompt.isVisible(), timeout=5000)
    QTest.mouseClick(button(window._disk_prompt, "keepMyEdits"), Qt.MouseButton.LeftButton)
    assert window.session.org.name == "My Unsaved Name" and window.session.dirty
    qtbot.wait(600)
    assert not window._disk_prompt.isVisible(), "the same outside change is not asked about twice"


def test_an_outside_change_over_unsaved_edits_can_reload(make_window, org_folder: Path, qtbot) -> None:
    window = make_window(org_folder)
    type_org_name(window, "My Unsaved Name")
    text = (org_folder / "org.yaml").read_text()
    (org_folder / "org.yaml").write_text(text.replace("name: Tiny Startup", "name: Outside Name", 1))
    qtbot.waitUntil(lambda: window._disk_prompt is not None and window._disk_prompt.isVisible(), timeout=5000)
    QTest.mouseClick(button(window._disk_prompt, "reloadFromDisk"), Qt.MouseButton.LeftButton)
    assert window.session.org.name == "Outside Name" and not window.session.dirty
    assert window.inspector.org_name.text() == "Outside Name"


def test_quitting_with_unsaved_edits_asks_and_cancel_keeps_the_window(make_window, org_folder: Path, qtbot) -> None:
    window = make_window(org_folder)
    type_org_name(window, "Almost Lost")
    asked = click_in_next_modal("Cancel")
    window.close()
    assert asked and "Save the changes" in asked[0]
    assert window.isVisible() and window.session is not None and window.session.dirty
    asked = click_in_next_modal("Save")
    window.close()
    assert asked and not window.isVisible()
    assert load_org(org_folder).name == "Almost Lost"
