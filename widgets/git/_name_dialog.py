"""Asking for a new branch name, refusing unsafe or taken names as they are typed."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QLineEdit, QWidget

from orgruntime.vcs import check_branch_name

from widgets.git._checked_dialog import CheckedDialog


class BranchNameDialog(CheckedDialog):
    def __init__(self, existing: Sequence[str], title: str = "New branch", parent: QWidget | None = None) -> None:
        super().__init__(title, "Create", parent)
        self.existing = frozenset(existing)
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("gitBranchName")
        self.form.addRow("Branch name", self.name_edit)
        self.watch(self.name_edit.textChanged)
        self.check()

    @property
    def name(self) -> str:
        return self.name_edit.text()

    def problem(self) -> str | None:
        name = self.name
        if not name:
            return "Type a name for the branch."
        check_branch_name(name)
        if name in self.existing:
            return f"A branch called {name!r} already exists."
        return None
