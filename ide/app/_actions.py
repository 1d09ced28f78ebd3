"""Every command of the IDE as a named QAction, with its menu, shortcut and place in the toolbar.

The command palette lists exactly these (plus the graph editor's own actions), so a command that
exists anywhere can be found by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from ide.app._errors import guarded

MENUS = ("File", "Edit", "View", "Org", "Git", "Run", "Help")


@dataclass(frozen=True)
class Command:
    name: str
    action: QAction
    menu: str

    @property
    def label(self) -> str:
        return f"{self.menu}: {self.action.text().replace('&', '')}"


class ActionRegistry:
    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.commands: dict[str, Command] = {}
        self.menus: dict[str, QMenu] = {name: window.menuBar().addMenu(f"&{name}") for name in MENUS}
        self.toolbar = QToolBar("Main toolbar", window)
        self.toolbar.setObjectName("mainToolbar")
        window.addToolBar(self.toolbar)

    def add(self, name: str, text: str, slot: Callable[[], object], *, menu: str,
            shortcut: str | QKeySequence.StandardKey | None = None, toolbar: bool = False,
            tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(f"action_{name}")
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(QKeySequence.keyBindings(shortcut))
        elif shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.setToolTip(tip or text.replace("&", ""))
        action.setStatusTip(tip)
        guarded_slot = guarded(slot)
        action.triggered.connect(lambda _checked=False: guarded_slot())
        self.window.addAction(action)
        self.menus[menu].addAction(action)
        if toolbar:
            self.toolbar.addAction(action)
        self.commands[name] = Command(name, action, menu)
        return action

    def adopt(self, name: str, action: QAction, menu: str) -> None:
        """List an action that lives elsewhere (the graph editor's) in a menu and the palette."""
        self.menus[menu].addAction(action)
        self.commands[name] = Command(name, action, menu)

    def separator(self, menu: str, toolbar: bool = False) -> None:
        self.menus[menu].addSeparator()
        if toolbar:
            self.toolbar.addSeparator()

    def __getitem__(self, name: str) -> QAction:
        return self.commands[name].action

    def available(self) -> list[Command]:
        return [command for command in self.commands.values() if command.action.isVisible()]
