"""The main window: docks, toolbar, menus, command palette, themes, remembered layout and recent orgs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget, QToolButton

from orgruntime import MoveNodes, Point
from widgets import DARK, LIGHT, GraphEditor, Inspector, ValidationPanel


def test_opens_an_org_with_every_dock_toolbar_and_status(make_window, org_folder: Path) -> None:
    window = make_window(org_folder)
    assert isinstance(window.editor, GraphEditor) and window.editor.isVisible()
    docks = {dock.objectName(): dock for dock in window.findChildren(QDockWidget)}
    assert set(docks) == {"filesDock", "gitDock", "inspectorDock", "runDock", "problemsDock"}
    assert window.dockWidgetArea(docks["inspectorDock"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert window.dockWidgetArea(docks["filesDock"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert window.dockWidgetArea(docks["gitDock"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert window.dockWidgetArea(docks["runDock"]) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert isinstance(docks["inspectorDock"].widget(), Inspector)
    assert isinstance(docks["problemsDock"].widget(), ValidationPanel)
    toolbar_texts = [action.text().replace("&", "") for action in window.commands.registry.toolbar.actions() if action.text()]
    for wanted in ("Run…", "Stop", "Commit…", "Fork…", "Merge…", "Auto-layout"):
        assert wanted in toolbar_texts
    assert window.status.branch.text().endswith("main")
    assert "local/smollm2-135m-instruct" in window.status.model.text()
    assert "Tiny Startup" in window.windowTitle() and "•" not in window.windowTitle()
    assert not window.commands.registry["stop"].isEnabled(), "nothing to stop before a run"


def test_toolbar_auto_layout_is_one_undoable_edit(make_window, org_folder: Path, qtbot) -> None:
    window = make_window(org_folder)
    window.editor.apply_edit(MoveNodes((("ceo", Point(2000, 2000)),)))
    moved = window.session.org.layout
    button = window.commands.registry.toolbar.widgetForAction(window.commands.registry["auto_layout"])
    assert isinstance(button, QToolButton)
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.session.org.layout != moved
    assert window.session.dirty and "•" in window.windowTitle()
    window.session.document.undo_stack.undo()
    assert window.session.org.layout == moved, "one undo step takes the whole layout back"


def test_command_palette_lists_every_action_and_runs_the_chosen_one(make_window, org_folder: Path, qtbot) -> None:
    window = make_window(org_folder)
    window.activateWindow()
    QTest.qWaitForWindowActive(window)
    QTest.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    palette = window.commands.palette
    qtbot.waitUntil(palette.isVisible)
    labels = palette.labels()
    for command in window.commands.registry.available():
        assert any(label.startswith(command.label) for label in labels), command.label
    assert any(label.startswith("Edit: Undo") for label in labels), "the graph editor's actions are listed too"
    QTest.keyClicks(palette.filter, "dark thm")
    assert palette.labels()[0].startswith("View: Dark theme")
    QTest.keyClick(palette.filter, Qt.Key.Key_Return)
    assert not palette.isVisible()
    assert window.resolved_theme == "dark"


def test_theme_switch_restyles_the_application_and_the_graph(make_window, org_folder: Path) -> None:
    window = make_window(org_folder)
    window.commands.registry["theme_dark"].trigger()
    app = QApplication.instance()
    assert app.palette().color(QPalette.ColorRole.Window).lightness() < 100
    assert window.editor.scene.palette is DARK
    assert window.settings.theme == "dark"
    assert "trustBanner" in app.styleSheet()
    window.commands.registry["toggle_theme"].trigger()
    assert window.resolved_theme == "light"
    assert app.palette().color(QPalette.ColorRole.Window).lightness() > 200
    assert window.editor.scene.palette is LIGHT


def test_layout_and_recent_orgs_are_remembered(make_window, org_folder: Path, tmp_path: Path) -> None:
    settings_file = tmp_path / "remembered.ini"
    first = make_window(org_folder, settings_file=settings_file)
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.docks.inspector)
    first.docks.problems.hide()
    first.close()
    second = make_window(settings_file=settings_file)
    assert second.dockWidgetArea(second.docks.inspector) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert not second.docks.problems.isVisible()
    assert second.settings.recent_orgs() == [org_folder.resolve()]
    recent = second.welcome.recent
    assert recent.count() == 1 and str(org_folder.resolve()) in recent.item(0).text()
    assert second.pages.currentWidget() is second.welcome
    recent.itemActivated.emit(recent.item(0))
    assert second.session is not None and second.session.folder == org_folder.resolve()
    assert QSettings(str(settings_file), QSettings.Format.IniFormat).value("recent/orgs") is not None


def test_welcome_screen_creates_a_trusted_org_from_a_template(make_window, tmp_path: Path, qtbot) -> None:
    window = make_window()
    welcome = window.welcome
    welcome.templates.setCurrentRow([welcome.templates.item(i).data(Qt.ItemDataRole.UserRole)
                                     for i in range(welcome.templates.count())].index("research-lab"))
    welcome.destination.clear()
    QTest.keyClicks(welcome.destination, str(tmp_path / "lab"))
    QTest.mouseClick(welcome.create_button, Qt.MouseButton.LeftButton)
    assert window.session is not None and (tmp_path / "lab" / "org.yaml").is_file()
    assert window.trust.trusted and not window.trust_banner.isVisible()
    assert (tmp_path / "lab" / ".git").is_dir()


def test_a_folder_that_is_not_an_org_is_refused_and_the_window_stays(make_window, tmp_path: Path, qtbot) -> None:
    window = make_window()
    assert not window.open_org(tmp_path)
    assert window.session is None and window.pages.currentWidget() is window.welcome
    qtbot.waitUntil(lambda: any(w.objectName() == "warningDialog" and w.isVisible() for w in QApplication.topLevelWidgets()))


def test_activating_an_agent_file_selects_its_node(make_window, org_folder: Path, qtbot) -> None:
    window = make_window(org_folder)
    view = window.docks.files_view
    qtbot.waitUntil(lambda: view.index_of(org_folder / "agents" / "reviewer.md").isValid())
    view.activated.emit(view.index_of(org_folder / "agents" / "reviewer.md"))
    assert window.editor.scene.selected_agent_ids() == ["reviewer"]
    assert window.inspector.agent_id == "reviewer"


def test_the_files_dock_hides_the_git_folder(make_window, org_folder: Path, qtbot) -> None:
    window = make_window(org_folder)
    view = window.docks.files_view

    def shown() -> set[str]:
        root = view.rootIndex()
        return {view.model().index(row, 0, root).data() for row in range(view.model().rowCount(root))}

    qtbot.waitUntil(lambda: {"org.yaml", "agents", ".gitignore"} <= shown())  # the folder is read in the background
    assert ".git" not in shown()
    assert (org_folder / ".git").is_dir()
