"""Base, ours and theirs side by side (lines each side changed are tinted), and the result being written."""

from __future__ import annotations

import difflib

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontDatabase, QTextCursor, QTextFormat
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QSplitter, QTextEdit, QVBoxLayout, QWidget

from orgruntime.vcs import Conflict

from widgets.git._conflict_text import editable, initial_text, value_text

_OURS_TINT = QColor(59, 130, 246, 60)
_THEIRS_TINT = QColor(16, 185, 129, 60)


def _pane(title: str, name: str, parent: QWidget, *, read_only: bool = True) -> tuple[QWidget, QPlainTextEdit]:
    box = QWidget(parent)
    label = QLabel(title, box)
    edit = QPlainTextEdit(box)
    edit.setObjectName(name)
    edit.setReadOnly(read_only)
    edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(label)
    layout.addWidget(edit, 1)
    return box, edit


def changed_lines(base: str, side: str) -> list[int]:
    """Line numbers (0-based) of `side` that are not in `base` as a diff sees it."""
    matcher = difflib.SequenceMatcher(a=base.split("\n"), b=side.split("\n"), autojunk=False)
    lines: list[int] = []
    for tag, _a0, _a1, b0, b1 in matcher.get_opcodes():
        if tag != "equal":
            lines.extend(range(b0, b1))
    return lines


class ThreeWayView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        sides = QSplitter(Qt.Orientation.Horizontal, self)
        base_box, self.base = _pane("Base (common ancestor)", "gitBase", sides)
        ours_box, self.ours = _pane("Ours (this branch)", "gitOurs", sides)
        theirs_box, self.theirs = _pane("Theirs (being merged)", "gitTheirs", sides)
        for box in (base_box, ours_box, theirs_box):
            sides.addWidget(box)
        result_box, self.result = _pane("Result (edit it, then Use edited)", "gitResult", self, read_only=False)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(sides)
        split.addWidget(result_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def show_conflict(self, conflict: Conflict | None) -> None:
        if conflict is None:
            for edit in (self.base, self.ours, self.theirs, self.result):
                edit.clear()
            self.result.setEnabled(False)
            return
        base, ours, theirs = (value_text(v) for v in (conflict.base, conflict.ours, conflict.theirs))
        self.base.setPlainText(base)
        self.ours.setPlainText(ours)
        self.theirs.setPlainText(theirs)
        self._tint(self.ours, changed_lines(base, ours), _OURS_TINT)
        self._tint(self.theirs, changed_lines(base, theirs), _THEIRS_TINT)
        can_edit = editable(conflict)
        self.result.setEnabled(can_edit)
        self.result.setPlainText(initial_text(conflict) if can_edit else "Choose ours or theirs for a whole agent.")

    @staticmethod
    def _tint(edit: QPlainTextEdit, lines: list[int], colour: QColor) -> None:
        selections = []
        document = edit.document()
        for number in lines:
            block = document.findBlockByNumber(number)
            if not block.isValid():
                continue
            selection = QTextEdit.ExtraSelection()
            selection.format.setBackground(colour)
            selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            selection.cursor = QTextCursor(block)
            selections.append(selection)
        edit.setExtraSelections(selections)
