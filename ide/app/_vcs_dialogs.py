"""The toolbar's quick git dialogs: Commit, Fork (a branch or a clone) and Merge (a branch into this one).

Each dialog only collects what the user wants and emits it; the window does the work through
orgruntime.vcs and shows the outcome. Dialogs open with `open()`, never `exec()`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from orgruntime import GitError
from orgruntime.vcs import current_branch, list_branches


class _FormDialog(QDialog):
    def __init__(self, title: str, ok_text: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.ok_button.setObjectName("dialogOk")
        self.buttons.accepted.connect(lambda: self._accept())  # each dialog defines _accept
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.buttons)


class CommitDialog(_FormDialog):
    commit_requested = Signal(str)

    def __init__(self, summary: str, parent: QWidget | None = None) -> None:
        super().__init__("Commit", "Commit", parent)
        self.setObjectName("commitDialog")
        self.message = QLineEdit(self)
        self.message.setObjectName("commitMessage")
        self.message.setPlaceholderText("What changed and why")
        self.form.addRow(QLabel(summary, self))
        self.form.addRow("Message", self.message)
        self.ok_button.setEnabled(False)
        self.message.textChanged.connect(lambda text: self.ok_button.setEnabled(bool(text.strip())))

    def _accept(self) -> None:
        if self.message.text().strip():
            self.commit_requested.emit(self.message.text().strip())
            self.accept()


class ForkDialog(_FormDialog):
    branch_requested = Signal(str)
    clone_requested = Signal(Path)

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__("Fork this org", "Fork", parent)
        self.setObjectName("forkDialog")
        self.as_branch = QRadioButton("A new branch in this repository", self)
        self.as_branch.setObjectName("forkAsBranch")
        self.branch = QLineEdit(self)
        self.branch.setObjectName("forkBranch")
        self.branch.setPlaceholderText("experiment")
        self.as_clone = QRadioButton("A copy in a new folder (its upstream is this org)", self)
        self.as_clone.setObjectName("forkAsClone")
        self.destination = QLineEdit(str(folder.parent / f"{folder.name}-fork"), self)
        self.destination.setObjectName("forkFolder")
        self.as_branch.setChecked(True)
        self.form.addRow(self.as_branch)
        self.form.addRow("Branch", self.branch)
        self.form.addRow(self.as_clone)
        self.form.addRow("Folder", self.destination)

    def _accept(self) -> None:
        if self.as_branch.isChecked() and self.branch.text().strip():
            self.branch_requested.emit(self.branch.text().strip())
            self.accept()
        elif self.as_clone.isChecked() and self.destination.text().strip():
            self.clone_requested.emit(Path(self.destination.text().strip()).expanduser())
            self.accept()


class MergeDialog(_FormDialog):
    merge_requested = Signal(str)

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__("Merge into this branch", "Merge", parent)
        self.setObjectName("mergeDialog")
        self.ref = QComboBox(self)
        self.ref.setObjectName("mergeRef")
        self.ref.setEditable(True)
        try:
            here = current_branch(folder)
            self.ref.addItems([b for b in list_branches(folder) if b != here])
        except GitError:
            here = None
        self.form.addRow(QLabel(f"Merge a branch into {here or 'HEAD'}:", self))
        self.form.addRow("Branch or revision", self.ref)

    def _accept(self) -> None:
        if self.ref.currentText().strip():
            self.merge_requested.emit(self.ref.currentText().strip())
            self.accept()
