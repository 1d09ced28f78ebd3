"""Two runs side by side: outcome, cost, tokens, steps, time, commit, and both transcripts."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from widgets.run_console._totals import RunTotals
from widgets.run_console._transcript_model import TranscriptModel
from widgets.run_console._transcript_view import TranscriptView

ROWS = ("run", "commit", "task", "status", "result", "cost $", "tokens", "steps", "time", "messages")
DIFFERENT = QColor(245, 158, 11, 60)


class RunComparison(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QTableWidget(len(ROWS), 2, self)
        self.summary.setObjectName("comparisonSummary")
        self.summary.setVerticalHeaderLabels(list(ROWS))
        self.summary.setHorizontalHeaderLabels(["first run", "second run"])
        self.summary.horizontalHeader().setStretchLastSection(True)
        self.summary.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.models = (TranscriptModel(self), TranscriptModel(self))
        self.views = (TranscriptView(self.models[0], self), TranscriptView(self.models[1], self))
        self.titles = (QLabel(self), QLabel(self))
        splitter = QSplitter(self)
        for title, view in zip(self.titles, self.views):
            column = QWidget(splitter)
            layout = QVBoxLayout(column)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addWidget(title)
            layout.addWidget(view, 1)
            splitter.addWidget(column)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.summary)
        layout.addLayout(top, 2)
        layout.addWidget(splitter, 5)

    def show_runs(self, first: tuple[dict, list], second: tuple[dict, list]) -> None:
        """Each run as (its run.json, its events)."""
        columns = []
        for position, (info, events) in enumerate((first, second)):
            model = self.models[position]
            model.load(events)
            totals = RunTotals()
            for event in events:
                totals.apply(event)
            columns.append(_summary(info, totals, model))
            self.titles[position].setText(f"<b>{info.get('run_id', '?')}</b> — {totals.status or info.get('status', '?')}")
        bold = QFont(self.font())
        bold.setBold(True)
        for row in range(len(ROWS)):
            differ = columns[0][row] != columns[1][row]
            for column in (0, 1):
                item = QTableWidgetItem(columns[column][row])
                item.setToolTip(columns[column][row])
                if differ and ROWS[row] != "run":
                    item.setBackground(DIFFERENT)
                    item.setFont(bold)
                self.summary.setItem(row, column, item)
        self.summary.resizeColumnsToContents()

    def value(self, row_name: str, column: int) -> str:
        item = self.summary.item(ROWS.index(row_name), column)
        return item.text() if item is not None else ""


def _summary(info: dict, totals: RunTotals, model: TranscriptModel) -> list[str]:
    commit = str(info.get("commit") or "-")[:10] + (" +dirty" if info.get("dirty") else "")
    messages = sum(1 for card in model.cards if card.kind.value in ("message", "result"))
    return [
        str(info.get("run_id", "")),
        commit,
        " ".join(str(info.get("task") or totals.task).split()),
        totals.status or str(info.get("status", "")),
        totals.result or totals.error or "",
        f"{totals.cost_usd:.4f}",
        f"{totals.tokens:,}",
        str(totals.steps),
        f"{totals.elapsed(0.0):.1f} s",
        str(messages),
    ]
