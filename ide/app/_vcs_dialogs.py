"""The toolbar's quick commit: save the org and commit every change with one message.

The dialog only collects the message and emits it; the window does the work through orgruntime.vcs.
Fork, merge and fine-grained commits are the git panel's (widgets.git). Opened with `open()`, never `exec()`.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget


class CommitDialog(QDialog):
    commit_requested = Signal(str)

    def __init__(self, summary: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("commitDialog")
        self.setWindowTitle("Commit")
        self.message = QLineEdit(self)
        self.message.setObjectName("commitMessage")
        self.message.setPlaceholderText("What changed and why")
        summary_label = QLabel(summary, self)
        summary_label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Commit")
        self.ok_button.setObjectName("dialogOk")
        self.ok_button.setEnabled(False)
        self.message.textChanged.connect(lambda text: self.ok_button.setEnabled(bool(text.strip())))
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow(summary_label)
        form.addRow("Message", self.message)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _accept(self) -> None:
        if self.message.text().strip():
            self.commit_requested.emit(self.message.text().strip())
            self.accept()
