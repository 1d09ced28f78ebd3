"""The run history: every logged run with its status, commit, cost, duration and executor (blank for the
local one); open one, compare two."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

COLUMNS = ("started", "status", "commit", "cost $", "duration", "steps", "tokens", "executor", "task")
EXECUTOR_COLUMN = COLUMNS.index("executor")


class RunHistory(QWidget):
    """`open_requested(run_id)`, `compare_requested(first_run_id, second_run_id)`."""

    open_requested = Signal(str)
    compare_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("runHistory")
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.open_button = QPushButton("Open as replay", self)
        self.open_button.setObjectName("openRun")
        self.compare_button = QPushButton("Compare two runs", self)
        self.compare_button.setObjectName("compareRuns")
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self.open_button.clicked.connect(self._open)
        self.compare_button.clicked.connect(self._compare)
        self.tree.itemDoubleClicked.connect(lambda item, _column: self.open_requested.emit(item.data(0, Qt.ItemDataRole.UserRole)))
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self._update_buttons()

    def set_runs(self, infos: list[dict]) -> None:
        """run.json objects (orgruntime.run.list_runs), shown newest first."""
        self.tree.clear()
        items = [_item(info) for info in reversed(infos) if info.get("run_id")]
        self.tree.addTopLevelItems(items)
        for column in range(len(COLUMNS) - 1):
            self.tree.resizeColumnToContents(column)
        self._update_buttons()

    def select(self, *run_ids: str) -> None:
        self.tree.clearSelection()
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if item.data(0, Qt.ItemDataRole.UserRole) in run_ids:
                item.setSelected(True)

    def selected_run_ids(self) -> list[str]:
        return [item.data(0, Qt.ItemDataRole.UserRole) for item in self.tree.selectedItems()]

    def _open(self) -> None:
        selected = self.selected_run_ids()
        if len(selected) == 1:
            self.open_requested.emit(selected[0])

    def _compare(self) -> None:
        items = self.tree.selectedItems()
        if len(items) == 2:  # the list shows the newest first
            newer, older = sorted(items, key=self.tree.indexOfTopLevelItem)
            self.compare_requested.emit(older.data(0, Qt.ItemDataRole.UserRole), newer.data(0, Qt.ItemDataRole.UserRole))

    def _update_buttons(self) -> None:
        count = len(self.tree.selectedItems())
        self.open_button.setEnabled(count == 1)
        self.compare_button.setEnabled(count == 2)


def _item(info: dict) -> QTreeWidgetItem:
    totals = info.get("totals") or {}
    commit = (str(info.get("commit") or "-"))[:10] + (" +dirty" if info.get("dirty") else "")
    cost = totals.get("cost_usd")
    values = (
        _when(info.get("started_at")),
        str(info.get("status", "?")),
        commit,
        f"{cost:.4f}" if isinstance(cost, (int, float)) else "",
        _duration(totals.get("elapsed_s")),
        str(totals.get("steps", "")),
        str(totals.get("tokens", "")),
        _executor(info.get("executor")),
        " ".join(str(info.get("task", "")).split())[:80],
    )
    item = QTreeWidgetItem(list(values))
    item.setData(0, Qt.ItemDataRole.UserRole, str(info["run_id"]))
    item.setToolTip(0, f"run {info['run_id']}")
    item.setToolTip(len(COLUMNS) - 1, str(info.get("task", "")))
    if info.get("error"):
        item.setToolTip(1, str(info["error"]))
    placement = info.get("placement")
    if values[EXECUTOR_COLUMN] and isinstance(placement, dict):
        item.setToolTip(EXECUTOR_COLUMN, "\n".join(f"{agent}: {where}" for agent, where in sorted(placement.items()) if where))
    return item


def _executor(name: object) -> str:
    """The executor's name; blank for the local one (the default: no clutter) and for runs from before executors."""
    return name if isinstance(name, str) and name != "local" else ""


def _when(stamp: object) -> str:
    try:
        return datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ").strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(stamp or "")


def _duration(seconds: object) -> str:
    if not isinstance(seconds, (int, float)):
        return ""
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
