"""Meters: steps, tokens, cost and working time, each with a bar against its budget limit when there is one."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget

from widgets.run_console._totals import LIMITS, RunTotals

BAR_STEPS = 1000
LABELS = {"max_steps": "steps", "max_tokens": "tokens", "max_cost_usd": "cost", "max_seconds": "time"}


class Meters(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.budget: dict[str, float | None] = {}
        self.values: dict[str, QLabel] = {}
        self.bars: dict[str, QProgressBar] = {}
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(8)
        for column, limit in enumerate(LIMITS):
            name = QLabel(LABELS[limit], self)
            name.setStyleSheet("font-weight: bold")
            value = QLabel("0", self)
            value.setObjectName(f"meter_{LABELS[limit]}")
            value.setMinimumWidth(90)
            bar = QProgressBar(self)
            bar.setObjectName(f"budget_{LABELS[limit]}")
            bar.setRange(0, BAR_STEPS)
            bar.setTextVisible(False)
            bar.setFixedHeight(8)
            layout.addWidget(name, 0, 2 * column)
            layout.addWidget(value, 0, 2 * column + 1)
            layout.addWidget(bar, 1, 2 * column, 1, 2)
            self.values[limit], self.bars[limit] = value, bar
        self.show_totals(RunTotals(), 0.0)

    def set_budget(self, budget: dict[str, float | None]) -> None:
        self.budget = {limit: budget.get(limit) for limit in LIMITS}

    def show_totals(self, totals: RunTotals, now: float) -> None:
        used = {"max_steps": float(totals.steps), "max_tokens": float(totals.tokens), "max_cost_usd": totals.cost_usd, "max_seconds": totals.elapsed(now)}
        shown = {
            "max_steps": f"{totals.steps}",
            "max_tokens": f"{totals.tokens:,}",
            "max_cost_usd": f"${totals.cost_usd:.4f}",
            "max_seconds": f"{used['max_seconds']:.1f} s",
        }
        for limit in LIMITS:
            allowed = self.budget.get(limit)
            text = shown[limit] + (f" / {_limit_text(limit, allowed)}" if allowed else "")
            label = self.values[limit]
            if label.text() != text:
                label.setText(text)
            bar = self.bars[limit]
            bar.setVisible(bool(allowed))
            if allowed:
                fraction = min(1.0, used[limit] / float(allowed))
                value = int(fraction * BAR_STEPS)
                if bar.value() != value:
                    bar.setValue(value)
                bar.setToolTip(f"{100 * fraction:.0f}% of the {LABELS[limit]} budget")


def _limit_text(limit: str, allowed: float) -> str:
    if limit == "max_cost_usd":
        return f"${allowed:g}"
    if limit == "max_seconds":
        return f"{allowed:g} s"
    return f"{allowed:,.0f}"
