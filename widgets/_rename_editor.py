"""In-place rename (F2): a line edit over the node; Enter renames the agent's id, Escape cancels."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QGraphicsView, QLineEdit

from orgruntime import is_agent_id

from widgets._node_item import NodeItem


class RenameEditor(QLineEdit):
    rename_requested = Signal(str, str)  # old id, new id

    def __init__(self, view: QGraphicsView) -> None:
        super().__init__(view.viewport())
        self.setObjectName("renameEditor")
        self._view = view
        self._agent_id = ""
        self.hide()
        self.returnPressed.connect(self._commit)
        self.textChanged.connect(self._check)
        self.installEventFilter(self)

    @property
    def agent_id(self) -> str:
        return self._agent_id

    def start(self, node: NodeItem) -> None:
        self._agent_id = node.agent_id
        top_left = self._view.mapFromScene(node.mapToScene(node.body_rect().topLeft()))
        bottom_right = self._view.mapFromScene(node.mapToScene(node.body_rect().topRight()))
        width = max(140, bottom_right.x() - top_left.x())
        self.setGeometry(top_left.x(), top_left.y() + 2, width, self.sizeHint().height())
        self.setText(node.agent_id)
        self.selectAll()
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def cancel(self) -> None:
        self.hide()
        self._view.setFocus()

    def _check(self, text: str) -> None:
        valid = is_agent_id(text)
        self.setStyleSheet("" if valid else "QLineEdit { border: 2px solid #d0312d; }")
        self.setToolTip("" if valid else "An agent id is lower case: a letter, then letters, digits, '-' or '_' (64 at most)")

    def _commit(self) -> None:
        new_id = self.text().strip()
        if not is_agent_id(new_id):
            return  # stays open, marked red, until the id is valid or the user presses Escape
        self.hide()
        self._view.setFocus()
        if new_id != self._agent_id:
            self.rename_requested.emit(self._agent_id, new_id)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self and event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.cancel()
            return True
        if watched is self and event.type() == QEvent.Type.FocusOut and self.isVisible():
            self.hide()
        return super().eventFilter(watched, event)
