"""Small input widgets of the inspector: optional numbers (empty = inherit) and budgets."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLineEdit, QWidget

from orgruntime import Budget

BUDGET_FIELDS = (("max_steps", int, "LLM calls"), ("max_tokens", int, "tokens"),
                 ("max_cost_usd", float, "USD"), ("max_seconds", float, "seconds"))


def parse_optional(text: str, kind: type) -> tuple[bool, int | float | None]:
    """(ok, value): empty text means None (inherit / unlimited)."""
    text = text.strip()
    if not text:
        return True, None
    try:
        return True, kind(text)
    except ValueError:
        return False, None


def show_number(value: int | float | None) -> str:
    return "" if value is None else str(value)


class OptionalNumberField(QLineEdit):
    """A number or nothing; `committed(value)` on Enter or focus out when the text parses."""

    committed = Signal(object)

    def __init__(self, kind: type, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setPlaceholderText(placeholder)
        self.editingFinished.connect(self._finish)
        self.textChanged.connect(self._check)

    def set_value(self, value: int | float | None) -> None:
        text = show_number(value)
        if text != self.text() and not (self.hasFocus() and parse_optional(self.text(), self.kind) == (True, value)):
            self.setText(text)

    def _check(self, text: str) -> None:
        ok, _ = parse_optional(text, self.kind)
        self.setStyleSheet("" if ok else "QLineEdit { border: 2px solid #d0312d; }")

    def _finish(self) -> None:
        ok, value = parse_optional(self.text(), self.kind)
        if ok:
            self.committed.emit(value)


class BudgetFields(QWidget):
    """Four optional limits; `committed(Budget)` with the one changed field replaced."""

    committed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._budget = Budget()
        self.fields: dict[str, OptionalNumberField] = {}
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        for name, kind, unit in BUDGET_FIELDS:
            field = OptionalNumberField(kind, f"unlimited ({unit})", self)
            field.setObjectName(f"budget_{name}")
            field.committed.connect(lambda value, key=name: self._commit(key, value))
            self.fields[name] = field
            form.addRow(name.replace("_", " "), field)

    def set_budget(self, budget: Budget) -> None:
        self._budget = budget
        for name, field in self.fields.items():
            field.set_value(getattr(budget, name))

    def _commit(self, key: str, value) -> None:
        if getattr(self._budget, key) != value:
            self.committed.emit(replace(self._budget, **{key: value}))
