"""The git panel as the app hosts it (beside a graph editor, reloading the document on `tree_changed`), and clicks."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QHBoxLayout, QWidget

from orgruntime import load_org
from widgets import GitPanel, GraphEditor, OrgDocument


def open_panel(qtbot, folder: Path, *, editor: bool = True) -> GitPanel:  # type: ignore[no-untyped-def]
    document = OrgDocument(load_org(folder))
    host = QWidget()
    graph = GraphEditor(document, parent=host) if editor else None
    panel = GitPanel(folder, document, graph, host)
    panel.tree_changed.connect(lambda: document.reset(load_org(folder)))
    layout = QHBoxLayout(host)
    if graph is not None:
        layout.addWidget(graph, 2)
    layout.addWidget(panel, 1)
    qtbot.addWidget(host)
    host.resize(1300, 800)
    host.show()
    qtbot.waitExposed(host)
    panel.test_host = host  # qtbot holds widgets weakly; the panel keeps its window alive
    return panel


def click(qtbot, button: QAbstractButton) -> None:  # type: ignore[no-untyped-def]
    assert button.isVisible() and button.isEnabled(), f"{button.objectName() or button.text()} cannot be clicked"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_idle(qtbot, panel: GitPanel) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not panel.busy, timeout=60_000)


def tick(qtbot, panel: GitPanel, path: str, staged: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Tick (or clear) a file's box in the change list and wait for the panel to stage it."""
    item = panel.changes.file_item(path)
    assert item is not None, f"{path} is not in the change list"
    item.setCheckState(0, Qt.CheckState.Checked if staged else Qt.CheckState.Unchecked)
    qtbot.waitUntil(lambda: (path in panel.status.staged) == staged)
