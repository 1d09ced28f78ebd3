"""The branch list with New…, Switch, Delete, and bringing stashed work back."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from orgruntime.vcs import StashEntry

BRANCH_ROLE = Qt.ItemDataRole.UserRole + 1


class BranchesView(QWidget):
    new_requested = Signal()
    switch_requested = Signal(str)
    delete_requested = Signal(str)
    pop_stash_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setObjectName("gitBranches")
        self.list.itemDoubleClicked.connect(lambda item: self.switch_requested.emit(item.data(BRANCH_ROLE)))
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.new_button = QPushButton("New…", self)
        self.new_button.setObjectName("gitNewBranch")
        self.new_button.clicked.connect(self.new_requested)
        self.switch_button = QPushButton("Switch", self)
        self.switch_button.setObjectName("gitSwitchBranch")
        self.switch_button.clicked.connect(lambda: self._emit_selected(self.switch_requested))
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setObjectName("gitDeleteBranch")
        self.delete_button.clicked.connect(lambda: self._emit_selected(self.delete_requested))
        self.pop_button = QPushButton("Restore stashed work", self)
        self.pop_button.setObjectName("gitPopStash")
        self.pop_button.clicked.connect(self.pop_stash_requested)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.switch_button, self.delete_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.pop_button)
        self.current: str | None = None
        self.branches: tuple[str, ...] = ()
        self._update_buttons()

    def show_branches(self, branches: Sequence[str], current: str | None, stashed: Sequence[StashEntry]) -> None:
        if (tuple(branches), current) != (self.branches, self.current):
            selected = self.selected()
            self.branches, self.current = tuple(branches), current
            self.list.clear()
            for name in self.branches:
                item = QListWidgetItem(("● " if name == current else "   ") + name)
                item.setData(BRANCH_ROLE, name)
                if name == current:
                    font = QFont(self.list.font())
                    font.setBold(True)
                    item.setFont(font)
                    item.setToolTip("checked out")
                self.list.addItem(item)
                if name == selected:
                    item.setSelected(True)
        self.pop_button.setVisible(bool(stashed))
        if stashed:
            self.pop_button.setText(f"Restore stashed work ({len(stashed)})")
            self.pop_button.setToolTip(stashed[0].message)
        self._update_buttons()

    def select(self, name: str) -> None:
        for index in range(self.list.count()):
            item = self.list.item(index)
            item.setSelected(item.data(BRANCH_ROLE) == name)

    def selected(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(BRANCH_ROLE) if items else None

    def _emit_selected(self, signal) -> None:  # type: ignore[no-untyped-def]
        name = self.selected()
        if name:
            signal.emit(name)

    def _update_buttons(self) -> None:
        name = self.selected()
        self.switch_button.setEnabled(name is not None and name != self.current)
        self.delete_button.setEnabled(name is not None and name != self.current)
