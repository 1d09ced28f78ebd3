"""Two revisions compared on a graph: the newer org drawn with the diff overlay, and the summary beside it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QListWidget, QSplitter, QVBoxLayout, QWidget

from orgruntime import Org
from orgruntime.vcs import OrgDiff

from widgets._document import OrgDocument
from widgets._graph_editor import GraphEditor


class CompareWindow(QDialog):
    """Shows `new` (read in from a revision, never saved) with what changed since `old` marked on it."""

    def __init__(self, old_label: str, new_label: str, old: Org, new: Org, diff: OrgDiff,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare {old_label} → {new_label}")
        self.resize(1100, 720)
        self.document = OrgDocument(new, self)
        self.editor = GraphEditor(self.document, parent=self)
        self.editor.toolbar.setEnabled(False)  # a revision is looked at here, not edited
        self.summary = QListWidget(self)
        self.summary.setObjectName("gitCompareSummary")
        lines = diff.summary() or ["no semantic changes"]
        self.summary.addItems(lines)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.editor)
        split.addWidget(self.summary)
        split.setSizes([800, 300])
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{old_label} → {new_label}: added green, removed red, changed amber", self))
        layout.addWidget(split, 1)
        self.editor.overlays.show_diff(diff, base=old)
