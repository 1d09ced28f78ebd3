"""Find an agent by id or name (Ctrl+F); Enter / Down for the next match, Shift+Enter / Up for the previous."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from widgets._scene import OrgScene


class FindBar(QWidget):
    agent_found = Signal(str)

    def __init__(self, scene: OrgScene, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findBar")
        self._scene = scene
        self.matches: list[str] = []
        self.current = -1
        self.field = QLineEdit(self)
        self.field.setPlaceholderText("Find agent by id or name")
        self.field.setClearButtonEnabled(True)
        self.count_label = QLabel("", self)
        previous, following, close = QToolButton(self), QToolButton(self), QToolButton(self)
        previous.setText("↑")
        following.setText("↓")
        close.setText("✕")
        previous.setToolTip("Previous match (Shift+Enter)")
        following.setToolTip("Next match (Enter)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self.field, self.count_label, previous, following, close):
            layout.addWidget(widget)
        self.field.textChanged.connect(self.search)
        self.field.installEventFilter(self)
        previous.clicked.connect(lambda: self.step(-1))
        following.clicked.connect(lambda: self.step(1))
        close.clicked.connect(self.close_bar)
        scene.nodes_changed.connect(self._nodes_changed)
        self.hide()

    def _nodes_changed(self) -> None:
        if self.isVisible():
            self.search(self.field.text())

    def open_bar(self) -> None:
        self.show()
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()
        self.search(self.field.text())

    def close_bar(self) -> None:
        self._mark(set())
        self.hide()

    def search(self, text: str) -> None:
        needle = text.strip().lower()
        self.matches = []
        if needle:
            for agent_id in sorted(self._scene.nodes):
                agent = self._scene.nodes[agent_id].agent
                if needle in agent_id or needle in agent.name.lower() or needle in agent.role.lower():
                    self.matches.append(agent_id)
        self._mark(set(self.matches))
        self.current = -1
        if self.matches:
            self.step(1)
        else:
            self.count_label.setText("no match" if needle else "")

    def step(self, direction: int) -> None:
        if not self.matches:
            return
        self.current = (self.current + direction) % len(self.matches)
        self.count_label.setText(f"{self.current + 1} of {len(self.matches)}")
        self.agent_found.emit(self.matches[self.current])

    def _mark(self, found: set[str]) -> None:
        for agent_id, node in self._scene.nodes.items():
            node.set_found(agent_id in found)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.field and event.type() == QEvent.Type.KeyPress:
            key, shift = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.step(-1 if shift else 1)
                return True
            if key == Qt.Key.Key_Down:
                self.step(1)
                return True
            if key == Qt.Key.Key_Up:
                self.step(-1)
                return True
            if key == Qt.Key.Key_Escape:
                self.close_bar()
                return True
        return super().eventFilter(watched, event)
