"""Clicking through dialogs the way a person would."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QDialog, QWidget


def click_in_next_modal(button_text: str, *, attempts: int = 200) -> list[str]:
    """Click the button labelled `button_text` in the next modal dialog (e.g. one shown with exec()).
    Returns a list that receives the dialog's text once clicked."""
    seen: list[str] = []

    def poll(left: int = attempts) -> None:
        modal = QApplication.activeModalWidget()
        if modal is not None:
            for button in modal.findChildren(QAbstractButton):
                if button.text().replace("&", "") == button_text:
                    seen.append(getattr(modal, "text", lambda: "")())
                    button.click()
                    return
        if left > 0:
            QTimer.singleShot(20, lambda: poll(left - 1))

    QTimer.singleShot(0, poll)
    return seen


def visible_dialog(object_name: str) -> QDialog | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QDialog) and widget.objectName() == object_name and widget.isVisible():
            return widget
    return None


def button(parent: QWidget, object_name: str) -> QAbstractButton:
    found = parent.findChild(QAbstractButton, object_name)
    assert found is not None, f"no button {object_name!r}"
    return found
