"""The Settings dialog's "Runs" page: the executor, the Ray address and the model servers of this machine.

Every problem is shown where it is (the address under its field, bad server rows marked and listed);
`valid` is False while any remains, and the dialog then refuses to store anything.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from widgets.run_console import ExecutorPicker

from ide.app._run_options import EXECUTOR_TITLES, RAY, RAY_INSTALL_HINT, RunOptions, parse_server_rows, ray_address_problem, ray_available

BAD_ROW = QColor(198, 40, 40, 60)
MODEL_COLUMN, URLS_COLUMN = 0, 1


class RunOptionsPage(QWidget):
    validity_changed = Signal(bool)

    def __init__(self, options: RunOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runOptionsPage")
        self.picker = ExecutorPicker(self, titles=EXECUTOR_TITLES)
        self.picker.set_address_check(ray_address_problem)
        self.picker.set_available(RAY, ray_available(), RAY_INSTALL_HINT)
        self.picker.set_choice(options.executor, options.ray_address)
        self.servers = QTableWidget(0, 2, self)
        self.servers.setObjectName("modelServers")
        self.servers.setHorizontalHeaderLabels(["Model (litellm id)", "Server URLs (several are load-balanced)"])
        self.servers.horizontalHeader().setSectionResizeMode(URLS_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.servers.horizontalHeader().setSectionResizeMode(MODEL_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        self.servers.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.add_button = QPushButton("Add server", self)
        self.add_button.setObjectName("addModelServer")
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setObjectName("removeModelServer")
        self.servers_error = QLabel(self)
        self.servers_error.setObjectName("modelServersError")
        self.servers_error.setStyleSheet("color: #c62828")
        self.servers_error.setWordWrap(True)
        self.servers_error.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Where runs execute on this machine (not part of the org: never committed).", self))
        layout.addWidget(self.picker)
        layout.addSpacing(8)
        layout.addWidget(QLabel("Model servers: OpenAI-compatible servers (vLLM, SGLang, orgide serve) for a model id.\n"
                                "Separate several URLs of one model with spaces; runs spread their calls over them.", self))
        layout.addWidget(self.servers, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.servers_error)
        self._valid = True
        self._servers: dict[str, tuple[str, ...]] = {}
        self.set_servers(options.model_servers)
        self.add_button.clicked.connect(lambda: self.add_row())
        self.remove_button.clicked.connect(self._remove_selected)
        self.servers.itemChanged.connect(lambda _item: self._revalidate())
        self.picker.validity_changed.connect(lambda _valid: self._revalidate())

    # --- servers table ---
    def set_servers(self, servers: Mapping[str, tuple[str, ...]]) -> None:
        self.servers.blockSignals(True)
        self.servers.setRowCount(0)
        for model, urls in servers.items():
            self._append(model, " ".join(urls))
        self.servers.blockSignals(False)
        self._revalidate()

    def add_row(self, model: str = "", urls: str = "") -> int:
        """A new row (filled with `model` and `urls` when given); its index."""
        self.servers.blockSignals(True)
        row = self._append(model, urls)
        self.servers.blockSignals(False)
        self._revalidate()
        if not model:
            self.servers.setCurrentCell(row, MODEL_COLUMN)
            self.servers.editItem(self.servers.item(row, MODEL_COLUMN))
        return row

    def _append(self, model: str, urls: str) -> int:
        row = self.servers.rowCount()
        self.servers.insertRow(row)
        self.servers.setItem(row, MODEL_COLUMN, QTableWidgetItem(model))
        self.servers.setItem(row, URLS_COLUMN, QTableWidgetItem(urls))
        return row

    def _remove_selected(self) -> None:
        for row in sorted({index.row() for index in self.servers.selectedIndexes()}, reverse=True):
            self.servers.removeRow(row)
        self._revalidate()

    def rows(self) -> list[tuple[str, str]]:
        return [tuple(self._cell(row, column) for column in (MODEL_COLUMN, URLS_COLUMN)) for row in range(self.servers.rowCount())]  # type: ignore[misc]

    def _cell(self, row: int, column: int) -> str:
        item = self.servers.item(row, column)
        return item.text() if item is not None else ""

    # --- validity ---
    @property
    def valid(self) -> bool:
        return self._valid

    def problems(self) -> list[str]:
        """Every problem on the page, as shown."""
        return [text for text in (self.picker.problem, self.servers_error.text()) if text]

    def options(self) -> RunOptions:
        """What the page shows; only meaningful while `valid`."""
        return RunOptions(executor=self.picker.executor, ray_address=self.picker.address_text, model_servers=dict(self._servers))

    def _revalidate(self) -> None:
        servers, problems = parse_server_rows(self.rows())
        self._servers = servers
        bad_rows = {number - 1 for number, _ in problems}
        self.servers.blockSignals(True)
        for row in range(self.servers.rowCount()):
            for column in (MODEL_COLUMN, URLS_COLUMN):
                item = self.servers.item(row, column)
                if item is not None:
                    item.setBackground(QBrush(BAD_ROW) if row in bad_rows else QBrush())
                    item.setToolTip(next((text for number, text in problems if number - 1 == row), ""))
        self.servers.blockSignals(False)
        self.servers_error.setText("\n".join(f"Model servers, row {number}: {text}" for number, text in problems))
        self.servers_error.setVisible(bool(problems))
        valid = self.picker.valid and not problems
        if valid != self._valid:
            self._valid = valid
            self.validity_changed.emit(valid)
