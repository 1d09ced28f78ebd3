"""The change list: every uncommitted file (checked: staged) with its semantic summary lines, and the commit box."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

PATH_ROLE = Qt.ItemDataRole.UserRole + 1


class ChangesView(QWidget):
    """Signals: `stage_requested(paths, staged)` when a box is ticked or cleared; `commit_requested(message)`."""

    stage_requested = Signal(list, bool)
    commit_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("gitChanges")
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.itemChanged.connect(self._item_changed)
        self.empty_label = QLabel("No uncommitted changes.", self)
        self.stage_all_button = QPushButton("Stage all", self)
        self.stage_all_button.setObjectName("gitStageAll")
        self.stage_all_button.clicked.connect(lambda: self._stage_all(True))
        self.unstage_all_button = QPushButton("Unstage all", self)
        self.unstage_all_button.setObjectName("gitUnstageAll")
        self.unstage_all_button.clicked.connect(lambda: self._stage_all(False))
        self.message = QPlainTextEdit(self)
        self.message.setObjectName("gitCommitMessage")
        self.message.setPlaceholderText("Commit message")
        self.message.setMaximumHeight(70)
        self.message.textChanged.connect(self._update_commit_button)
        self.commit_button = QPushButton("Commit", self)
        self.commit_button.setObjectName("gitCommit")
        self.commit_button.clicked.connect(self._commit)
        staging = QHBoxLayout()
        staging.addWidget(self.stage_all_button)
        staging.addWidget(self.unstage_all_button)
        staging.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.tree, 1)
        layout.addLayout(staging)
        layout.addWidget(self.message)
        layout.addWidget(self.commit_button)
        self._changed: tuple[str, ...] = ()
        self._staged: frozenset[str] = frozenset()
        self._filling = False
        self._shown: tuple | None = None
        self._update_commit_button()

    def show_changes(self, root: Path, changed: Sequence[str], staged: Sequence[str],
                     summaries: Mapping[str, Sequence[str]], problem: str | None = None) -> None:
        shown = (tuple(changed), {path: tuple(summaries.get(path, ())) for path in changed}, problem)
        self._changed, self._staged = tuple(changed), frozenset(staged)
        self._filling = True
        if shown == self._shown:  # the same files and lines: only the ticks may differ
            for path in changed:
                item = self.file_item(path)
                if item is not None:
                    item.setCheckState(0, Qt.CheckState.Checked if path in self._staged else Qt.CheckState.Unchecked)
            self._filling = False
            self._update_buttons()
            return
        self._shown = shown
        self.tree.clear()
        bold = QFont(self.tree.font())
        bold.setBold(True)
        for path in changed:
            state = "" if (root / path).exists() or (root / path).is_symlink() else "  (deleted)"
            item = QTreeWidgetItem([path + state])
            item.setData(0, PATH_ROLE, path)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if path in self._staged else Qt.CheckState.Unchecked)
            item.setToolTip(0, "Ticked: in the next commit")
            for line in summaries.get(path, ()):
                child = QTreeWidgetItem([line])
                child.setFlags(Qt.ItemFlag.ItemIsEnabled)
                item.addChild(child)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
        if problem:
            note = QTreeWidgetItem([f"semantic summary unavailable: {problem}"])
            note.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(note)
        self._filling = False
        self.empty_label.setVisible(not changed)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.stage_all_button.setEnabled(bool(set(self._changed) - self._staged))
        self.unstage_all_button.setEnabled(bool(self._staged))
        self._update_commit_button()

    def summary_lines(self) -> list[str]:
        """Every line shown, files and summaries, top to bottom (what a reader sees)."""
        lines = []
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            lines.append(item.text(0))
            lines += [item.child(c).text(0) for c in range(item.childCount())]
        return lines

    def file_item(self, path: str) -> QTreeWidgetItem | None:
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if item.data(0, PATH_ROLE) == path:
                return item
        return None

    def _item_changed(self, item: QTreeWidgetItem, _column: int) -> None:
        path = item.data(0, PATH_ROLE)
        if self._filling or path is None:
            return
        staged = item.checkState(0) == Qt.CheckState.Checked
        if staged != (path in self._staged):
            # after this signal returns: staging refreshes the list, which must not delete the item mid-signal
            QTimer.singleShot(0, lambda: self.stage_requested.emit([path], staged))

    def _stage_all(self, staged: bool) -> None:
        paths = [p for p in self._changed if (p in self._staged) != staged]
        if paths:
            self.stage_requested.emit(paths, staged)

    def _update_commit_button(self) -> None:
        self.commit_button.setEnabled(bool(self._staged) and bool(self.message.toPlainText().strip()))
        self.commit_button.setToolTip("" if self._staged else "Tick the files to commit first")

    def _commit(self) -> None:
        message = self.message.toPlainText().strip()
        if message and self._staged:
            self.commit_requested.emit(message)

    def clear_message(self) -> None:
        self.message.clear()
