"""The list of validation problems; clicking one selects the agent it is about."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from orgruntime import Diagnostic

from widgets._palette import palette_for_application
from widgets._scene import agent_of
from widgets._validation import LiveValidation


class ValidationPanel(QListWidget):
    agent_activated = Signal(str)

    def __init__(self, validation: LiveValidation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("validationPanel")
        self._validation = validation
        validation.changed.connect(self._show)
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)
        self._show(validation.diagnostics)

    def _show(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        palette = palette_for_application()
        self.clear()
        for diagnostic in diagnostics:
            item = QListWidgetItem(f"{diagnostic.severity}: {diagnostic.message}")
            item.setToolTip(str(diagnostic))
            item.setForeground(QBrush(palette.error if diagnostic.is_error else palette.warning))
            item.setData(Qt.ItemDataRole.UserRole, agent_of(diagnostic))
            self.addItem(item)
        if not diagnostics:
            self.addItem(QListWidgetItem("No problems"))

    def _clicked(self, item: QListWidgetItem) -> None:
        agent_id = item.data(Qt.ItemDataRole.UserRole)
        if agent_id:
            self.agent_activated.emit(agent_id)
