"""A small form dialog that checks its input as it is typed: OK stays disabled and the reason is shown."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from orgruntime import OrgError


class CheckedDialog(QDialog):
    """Subclasses add rows to `form`, call `watch(signal)` for each input and implement `problem()`."""

    def __init__(self, title: str, ok_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.error_label = QLabel(self)
        self.error_label.setObjectName("gitDialogError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #dc2626;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.cancel_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def watch(self, signal) -> None:  # type: ignore[no-untyped-def]
        signal.connect(lambda *_: self.check())

    def problem(self) -> str | None:
        """Why the input cannot be used, or None."""
        raise NotImplementedError

    def check(self) -> bool:
        try:
            problem = self.problem()
        except OrgError as refused:  # the core's name checks say why
            problem = str(refused)
        self.error_label.setText(problem or "")
        self.error_label.setVisible(bool(problem))
        self.ok_button.setEnabled(problem is None)
        return problem is None

    def _accept_if_valid(self) -> None:
        if self.check():
            self.accept()
