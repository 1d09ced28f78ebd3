"""A strip across the top of the editor: a message and a few buttons (restricted mode, recovered edits)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ide.app._errors import guarded


class Banner(QFrame):
    def __init__(self, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.label = QLabel(self)
        self.label.setObjectName(f"{object_name}Text")
        self.label.setWordWrap(True)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 6, 10, 6)
        self._layout.addWidget(self.label, 1)
        self.buttons: dict[str, QPushButton] = {}
        self.hide()

    def show_message(self, text: str, buttons: list[tuple[str, str, Callable[[], object]]]) -> None:
        """Show `text` with buttons given as (object name, label, slot)."""
        for button in self.buttons.values():
            button.deleteLater()
        self.buttons = {}
        self.label.setText(text)
        for name, label, slot in buttons:
            button = QPushButton(label, self)
            button.setObjectName(name)
            button.clicked.connect(lambda _=False, run=guarded(slot): run())
            self._layout.addWidget(button)
            self.buttons[name] = button
        self.show()
