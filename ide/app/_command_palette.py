"""The command palette (Ctrl+Shift+P): every action by name, fuzzy-filtered as you type; Enter runs it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ide.app._actions import ActionRegistry, Command
from ide.app._fuzzy import fuzzy_filter


class CommandPalette(QDialog):
    def __init__(self, registry: ActionRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup | Qt.WindowType.FramelessWindowHint)
        self.setObjectName("commandPalette")
        self.registry = registry
        self.filter = QLineEdit(self)
        self.filter.setObjectName("paletteFilter")
        self.filter.setPlaceholderText("Type a command…")
        self.list = QListWidget(self)
        self.list.setObjectName("paletteList")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        self._commands: list[Command] = []
        self.filter.textChanged.connect(self._refill)
        self.filter.installEventFilter(self)
        self.list.itemActivated.connect(self._run_item)
        self.resize(560, 380)

    def popup(self) -> None:
        self.filter.clear()
        self._refill("")
        parent = self.parentWidget()
        if parent is not None:
            top_left = parent.mapToGlobal(parent.rect().topLeft())
            self.move(top_left.x() + (parent.width() - self.width()) // 2, top_left.y() + 60)
        self.show()
        self.raise_()
        self.filter.setFocus()

    def labels(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    def _refill(self, query: str) -> None:
        commands = [c for c in self.registry.available()]
        texts = [self._text(c) for c in commands]
        self._commands = [commands[i] for i in fuzzy_filter(query, texts)]
        self.list.clear()
        for command in self._commands:
            item = QListWidgetItem(self._text(command), self.list)
            item.setData(Qt.ItemDataRole.UserRole, command.name)
            if not command.action.isEnabled():
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
        for row in range(self.list.count()):
            if self.list.item(row).flags() & Qt.ItemFlag.ItemIsEnabled:
                self.list.setCurrentRow(row)
                break

    @staticmethod
    def _text(command: Command) -> str:
        shortcut = command.action.shortcut().toString()
        return f"{command.label}    {shortcut}" if shortcut else command.label

    def eventFilter(self, watched, event) -> bool:
        if watched is self.filter and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if event.key() == Qt.Key.Key_Down else -1
                self.list.setCurrentRow(max(0, min(self.list.count() - 1, self.list.currentRow() + step)))
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                item = self.list.currentItem()
                if item is not None:
                    self._run_item(item)
                return True
            if event.key() == Qt.Key.Key_Escape:
                self.hide()
                return True
        return super().eventFilter(watched, event)

    def _run_item(self, item: QListWidgetItem) -> None:
        if not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            return
        name = item.data(Qt.ItemDataRole.UserRole)
        self.hide()
        self.registry.commands[name].action.trigger()
