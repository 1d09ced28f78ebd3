"""Asked before switching, merging or pulling over uncommitted work: commit it, stash it, or cancel."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget


class UncommittedWorkDialog(QDialog):
    """After it closes, `choice` is "commit" (with `message`), "stash" or "cancel"."""

    def __init__(self, action: str, files: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Uncommitted work")
        self.choice = "cancel"
        listed = "\n".join(f"  {name}" for name in files[:12])
        if len(files) > 12:
            listed += f"\n  … and {len(files) - 12} more"
        text = QLabel(f"Before you {action}, your uncommitted work has to be kept safe:\n{listed}", self)
        text.setWordWrap(True)
        self.message_edit = QLineEdit(f"Work in progress before {action}", self)
        self.message_edit.setObjectName("gitWipMessage")
        self.commit_button = QPushButton("Commit it", self)
        self.commit_button.setObjectName("gitWipCommit")
        self.stash_button = QPushButton("Stash it", self)
        self.stash_button.setObjectName("gitWipStash")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("gitWipCancel")
        self.commit_button.clicked.connect(lambda: self._choose("commit"))
        self.stash_button.clicked.connect(lambda: self._choose("stash"))
        self.cancel_button.clicked.connect(self.reject)
        self.message_edit.textChanged.connect(lambda text: self.commit_button.setEnabled(bool(text.strip())))
        buttons = QHBoxLayout()
        buttons.addWidget(self.commit_button)
        buttons.addWidget(self.stash_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(QLabel("Commit message:", self))
        layout.addWidget(self.message_edit)
        layout.addLayout(buttons)

    @property
    def message(self) -> str:
        return self.message_edit.text().strip()

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()
