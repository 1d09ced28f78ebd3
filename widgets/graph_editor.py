"""A small standalone editor: `python -m widgets.graph_editor PATH` opens an org; Ctrl+S saves it.

The real application is `ide`; this window wires the graph editor, the inspector and the
validation list to one org folder, which is all the widgets need to be used on their own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QMessageBox

from orgruntime import OrgError, load_org, save_org

from widgets._document import OrgDocument
from widgets._graph_editor import GraphEditor
from widgets._inspector import Inspector
from widgets._validation_panel import ValidationPanel


class EditorWindow(QMainWindow):
    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.document = OrgDocument(load_org(folder), self)
        self.editor = GraphEditor(self.document, parent=self)
        self.inspector = Inspector(self.document, parent=self)
        self.problems = ValidationPanel(self.editor.validation, self)
        self.setCentralWidget(self.editor)
        for title, widget, area in (("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea),
                                    ("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(title)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
        self.editor.selection_changed.connect(self.inspector.show_selection)
        self.problems.agent_activated.connect(self.editor.select_agent)
        self.editor.edit_failed.connect(lambda message: self.statusBar().showMessage(message, 5000))
        self.save_action = QAction("Save", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.triggered.connect(self.save)
        self.addAction(self.save_action)
        self.document.undo_stack.cleanChanged.connect(lambda _clean: self._update_title())
        self._update_title()
        self.resize(1400, 900)

    def save(self) -> bool:
        try:
            result = save_org(self.document.org, self.folder)
        except OrgError as problem:
            QMessageBox.critical(self, "Cannot save", str(problem))
            return False
        self.document.undo_stack.setClean()
        written = ", ".join(result.written + result.deleted) or "nothing changed"
        self.statusBar().showMessage(f"Saved: {written}", 5000)
        return True

    def _update_title(self) -> None:
        dirty = "" if self.document.undo_stack.isClean() else " *"
        self.setWindowTitle(f"{self.document.org.name} - {self.folder}{dirty}")

    def closeEvent(self, event) -> None:
        if self.document.undo_stack.isClean():
            event.accept()
            return
        answer = QMessageBox.question(self, "Unsaved changes", "Save the org before closing?",
                                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                                      | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Cancel or (answer == QMessageBox.StandardButton.Save and not self.save()):
            event.ignore()
        else:
            event.accept()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m widgets.graph_editor", description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="an org folder (with org.yaml)")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        window = EditorWindow(args.path)
    except OrgError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    window.show()
    window.editor.view.fit_all()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
