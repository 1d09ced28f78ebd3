"""Picking revisions: what to merge (Merge…) or which two revisions to compare (Compare…)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QComboBox, QWidget

from orgruntime.vcs import check_revision

from widgets.git._checked_dialog import CheckedDialog

WORKING_TREE = "Working tree"


def _combo(choices: Sequence[str], name: str, parent: QWidget) -> QComboBox:
    combo = QComboBox(parent)
    combo.setObjectName(name)
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.addItems(list(choices))
    return combo


class MergeDialog(CheckedDialog):
    """`ref` is what to merge into the checked-out branch."""

    def __init__(self, choices: Sequence[str], branch: str | None, parent: QWidget | None = None) -> None:
        super().__init__("Merge", "Merge", parent)
        self.ref_combo = _combo(choices, "gitMergeRef", self)
        self.form.addRow(f"Merge into {branch or 'HEAD'}", self.ref_combo)
        self.watch(self.ref_combo.editTextChanged)
        self.check()

    @property
    def ref(self) -> str:
        return self.ref_combo.currentText().strip()

    def problem(self) -> str | None:
        if not self.ref:
            return "Choose a branch or commit to merge."
        check_revision(self.ref)
        return None


class CompareDialog(CheckedDialog):
    """`old` and `new` are revisions; `new` is None for the working tree."""

    def __init__(self, choices: Sequence[str], parent: QWidget | None = None, *, old: str = "HEAD") -> None:
        super().__init__("Compare revisions", "Compare", parent)
        self.old_combo = _combo(choices, "gitCompareOld", self)
        self.old_combo.setEditText(old)
        self.new_combo = _combo([WORKING_TREE, *choices], "gitCompareNew", self)
        self.form.addRow("From", self.old_combo)
        self.form.addRow("To", self.new_combo)
        self.watch(self.old_combo.editTextChanged)
        self.watch(self.new_combo.editTextChanged)
        self.check()

    @property
    def old(self) -> str:
        return self.old_combo.currentText().strip()

    @property
    def new(self) -> str | None:
        text = self.new_combo.currentText().strip()
        return None if text == WORKING_TREE else text

    def problem(self) -> str | None:
        if not self.old or not self.new_combo.currentText().strip():
            return "Choose two revisions."
        check_revision(self.old)
        if self.new is not None:
            check_revision(self.new)
        return None
