"""The main window's docks: files and git on the left, inspector on the right, run console and problems below.

Docks exist for the whole session (so the layout QSettings remembers always has them); their
contents change with the open org. With no org open a dock shows what to do.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDir, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QFileSystemModel, QLabel, QMainWindow, QTreeView, QWidget

AREA = Qt.DockWidgetArea


class _WithoutGitFolder(QSortFilterProxyModel):
    """The folder's files less `.git`, which is git's business, not the user's."""

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        files = self.sourceModel()
        return files.fileName(files.index(source_row, 0, source_parent)) != ".git"


class FilesView(QTreeView):
    """The org folder's files; activating a file asks to reveal it (agents select their node)."""

    file_activated = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filesView")
        self.model_ = QFileSystemModel(self)
        self.model_.setFilter(QDir.Filter.AllEntries | QDir.Filter.NoDotAndDotDot | QDir.Filter.Hidden)
        self.model_.setNameFilters(["*"])
        self.shown = _WithoutGitFolder(self)
        self.shown.setSourceModel(self.model_)
        self.setHeaderHidden(True)
        self.activated.connect(lambda index: self.file_activated.emit(Path(self.model_.filePath(self.shown.mapToSource(index)))))

    def index_of(self, path: Path) -> QModelIndex:
        """The view's index of `path` (invalid until the model has read that folder)."""
        return self.shown.mapFromSource(self.model_.index(str(path)))

    def show_folder(self, folder: Path | None) -> None:
        """The org's files; None shows nothing (the model is only attached while an org is open)."""
        if folder is None:
            self.setModel(None)
            return
        if self.model() is not self.shown:
            self.setModel(self.shown)
            for column in (1, 2, 3):
                self.hideColumn(column)
        self.setRootIndex(self.shown.mapFromSource(self.model_.setRootPath(str(folder))))


def _idle_label(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setEnabled(False)
    return label


class Docks:
    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.files_view = FilesView(window)
        self.files = self._dock("Files", "filesDock", self.files_view, AREA.LeftDockWidgetArea)
        self.git = self._dock("Git", "gitDock", _idle_label("Open an org to see its changes and history.", window),
                              AREA.LeftDockWidgetArea)
        self.inspector = self._dock("Inspector", "inspectorDock", _idle_label("Open an org to inspect it.", window),
                                    AREA.RightDockWidgetArea)
        self.run = self._dock("Run", "runDock", _idle_label("Open an org to run it.", window), AREA.BottomDockWidgetArea)
        self.problems = self._dock("Problems", "problemsDock", _idle_label("No org open.", window), AREA.BottomDockWidgetArea)
        window.tabifyDockWidget(self.files, self.git)
        window.tabifyDockWidget(self.run, self.problems)
        self.files.raise_()
        self.run.raise_()
        window.resizeDocks([self.files, self.inspector], [260, 360], Qt.Orientation.Horizontal)
        window.resizeDocks([self.run], [260], Qt.Orientation.Vertical)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.window.addDockWidget(area, dock)
        return dock

    def all(self) -> list[QDockWidget]:
        return [self.files, self.git, self.inspector, self.run, self.problems]

    def set_content(self, dock: QDockWidget, widget: QWidget | None, idle_text: str) -> None:
        """Put `widget` in `dock` (None: the idle text), deleting what was there."""
        old = dock.widget()
        dock.setWidget(widget if widget is not None else _idle_label(idle_text, self.window))
        if old is not None and old is not widget and old is not self.files_view:
            old.deleteLater()
