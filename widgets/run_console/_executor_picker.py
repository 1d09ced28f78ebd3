"""Where a run executes: the executor (local asyncio or Ray) and, for Ray, the cluster address.

The owner gives the executors' names, says whether Ray can be used (with the reason when not) and how to
check an address; a wrong address shows its problem inline and makes `valid` False.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

LOCAL, RAY = "local", "ray"
TITLES = {LOCAL: "Local (asyncio)", RAY: "Ray"}
ERROR_STYLE = "color: #c62828"
AddressCheck = Callable[[str], str | None]


class ExecutorPicker(QWidget):
    """`changed(executor, address)` on every edit; `valid` says whether the choice can be used for a run."""

    changed = Signal(str, str)
    validity_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, *, titles: Mapping[str, str] = TITLES) -> None:
        super().__init__(parent)
        self._check: AddressCheck = lambda _text: None
        self._valid = True
        self.executor_choice = QComboBox(self)
        self.executor_choice.setObjectName("executorChoice")
        self.executor_choice.setToolTip("Where the agents' work runs: in this process, or on a Ray cluster")
        for name, title in titles.items():
            self.executor_choice.addItem(title, name)
        self.address_label = QLabel("Ray address:", self)
        self.address = QLineEdit(self)
        self.address.setObjectName("rayAddress")
        self.address.setPlaceholderText("empty: start a local Ray instance")
        self.address.setToolTip("host:port or ray://host:port of a running Ray cluster; empty starts a local instance")
        self.address.setClearButtonEnabled(True)
        self.error = QLabel(self)
        self.error.setObjectName("rayAddressError")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Executor:", self))
        row.addWidget(self.executor_choice)
        row.addWidget(self.address_label)
        row.addWidget(self.address, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.error)
        self.executor_choice.currentIndexChanged.connect(lambda _index: self._edited())
        self.address.textChanged.connect(lambda _text: self._edited())
        self._show_address()

    # --- what the owner tells it ---
    def set_address_check(self, check: AddressCheck) -> None:
        """`check(text)` returns the problem with an address as a sentence, or None when it is fine."""
        self._check = check
        self._revalidate()

    def set_available(self, executor: str, available: bool, reason: str = "") -> None:
        """Enable or disable one choice; a disabled one says why in its tooltip (and is never left chosen)."""
        index = self.executor_choice.findData(executor)
        if index < 0:
            return
        model = self.executor_choice.model()
        if isinstance(model, QStandardItemModel):
            item = model.item(index)
            item.setEnabled(available)
            item.setToolTip("" if available else reason)
        if not available and self.executor == executor:
            self.executor_choice.setCurrentIndex(self.executor_choice.findData(LOCAL))

    def is_available(self, executor: str) -> bool:
        model = self.executor_choice.model()
        index = self.executor_choice.findData(executor)
        return index >= 0 and (not isinstance(model, QStandardItemModel) or model.item(index).isEnabled())

    def set_choice(self, executor: str, address: str = "") -> None:
        """Show a stored choice (without emitting `changed`); an unavailable executor falls back to local."""
        for child in (self.executor_choice, self.address):
            child.blockSignals(True)
        try:
            index = self.executor_choice.findData(executor if self.is_available(executor) else LOCAL)
            self.executor_choice.setCurrentIndex(max(0, index))
            self.address.setText(address)
        finally:
            for child in (self.executor_choice, self.address):
                child.blockSignals(False)
        self._show_address()
        self._revalidate()

    # --- reading ---
    @property
    def executor(self) -> str:
        return str(self.executor_choice.currentData() or LOCAL)

    @property
    def address_text(self) -> str:
        return self.address.text().strip()

    @property
    def valid(self) -> bool:
        return self._valid

    @property
    def problem(self) -> str:
        return self.error.text() if not self._valid else ""

    # --- reacting ---
    def _edited(self) -> None:
        self._show_address()
        self._revalidate()
        self.changed.emit(self.executor, self.address_text)

    def _show_address(self) -> None:
        ray = self.executor == RAY
        self.address_label.setVisible(ray)
        self.address.setVisible(ray)

    def _revalidate(self) -> None:
        problem = self._check(self.address.text()) if self.executor == RAY else None
        self.error.setText(problem or "")
        self.error.setVisible(bool(problem))
        self.address.setStyleSheet("border: 1px solid #c62828" if problem else "")
        valid = problem is None
        if valid != self._valid:
            self._valid = valid
            self.validity_changed.emit(valid)
        self.address.setToolTip(problem or "host:port or ray://host:port of a running Ray cluster; empty starts a local instance")
