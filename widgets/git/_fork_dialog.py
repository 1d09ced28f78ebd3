"""Fork…: clone a folder or URL into a new folder (upstream = the source), or branch this org."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QLineEdit, QRadioButton, QWidget

from orgruntime.vcs import check_branch_name, check_clone_source

from widgets.git._checked_dialog import CheckedDialog


class ForkDialog(CheckedDialog):
    def __init__(self, folder: Path, branches: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__("Fork", "Fork", parent)
        self.branches = frozenset(branches)
        self.to_folder = QRadioButton("Into a new folder (a clone that tracks the source as upstream)", self)
        self.to_folder.setObjectName("gitForkToFolder")
        self.to_branch = QRadioButton("As a new branch of this org", self)
        self.to_branch.setObjectName("gitForkToBranch")
        self.to_folder.setChecked(True)
        self.source_edit = QLineEdit(str(folder), self)
        self.source_edit.setObjectName("gitForkSource")
        self.dest_edit = QLineEdit(str(folder.parent / f"{folder.name}-fork"), self)
        self.dest_edit.setObjectName("gitForkDest")
        self.branch_edit = QLineEdit(self)
        self.branch_edit.setObjectName("gitForkBranch")
        self.form.addRow(self.to_folder)
        self.form.addRow("Source folder or URL", self.source_edit)
        self.form.addRow("New folder", self.dest_edit)
        self.form.addRow(self.to_branch)
        self.form.addRow("Branch name", self.branch_edit)
        for signal in (self.to_folder.toggled, self.source_edit.textChanged, self.dest_edit.textChanged,
                       self.branch_edit.textChanged):
            self.watch(signal)
        self.check()

    @property
    def as_branch(self) -> bool:
        return self.to_branch.isChecked()

    @property
    def source(self) -> str:
        return self.source_edit.text().strip()

    @property
    def dest(self) -> Path:
        return Path(self.dest_edit.text().strip()).expanduser()

    @property
    def branch(self) -> str:
        return self.branch_edit.text().strip()

    def problem(self) -> str | None:
        for widget in (self.source_edit, self.dest_edit):
            widget.setEnabled(not self.as_branch)
        self.branch_edit.setEnabled(self.as_branch)
        if self.as_branch:
            if not self.branch:
                return "Type a name for the branch."
            check_branch_name(self.branch)
            return f"A branch called {self.branch!r} already exists." if self.branch in self.branches else None
        if not self.source:
            return "Type the folder or URL to fork."
        check_clone_source(self.source)
        if not self.dest_edit.text().strip():
            return "Choose the folder for the fork."
        dest = self.dest
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            return f"{dest} already exists and is not empty."
        return None
