"""The history list: one row per commit, its lane graph drawn at the left, a page at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from orgruntime.vcs import CommitInfo

from widgets.git._lanes import LaneRow, lane_rows

LANE_ROLE = Qt.ItemDataRole.UserRole + 1
SHA_ROLE = Qt.ItemDataRole.UserRole + 2
LANE_WIDTH = 14
PAGE = 200
_LANE_COLOURS = ("#3b82f6", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899")


class _LaneDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        row: LaneRow | None = index.data(LANE_ROLE)
        if row is None:
            super().paint(painter, option, index)
            return
        graph_width = row.width * LANE_WIDTH + 6
        rect: QRect = option.rect
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, option.palette.highlight())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        top, middle, bottom = rect.top(), rect.center().y() + 0.5, rect.bottom() + 1

        def x(column: int) -> float:
            return rect.left() + 3 + column * LANE_WIDTH + LANE_WIDTH / 2

        for start, end in row.top:
            painter.setPen(QPen(QColor(_LANE_COLOURS[start % len(_LANE_COLOURS)]), 2))
            painter.drawLine(QPointF(x(start), top), QPointF(x(end), middle))
        for start, end in row.bottom:
            painter.setPen(QPen(QColor(_LANE_COLOURS[end % len(_LANE_COLOURS)]), 2))
            painter.drawLine(QPointF(x(start), middle), QPointF(x(end), bottom))
        painter.setPen(QPen(QColor("#1f2937"), 1))
        painter.setBrush(QColor(_LANE_COLOURS[row.column % len(_LANE_COLOURS)]))
        painter.drawEllipse(QPointF(x(row.column), middle), 4, 4)
        text_rect = rect.adjusted(graph_width, 0, 0, 0)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(option.palette.highlightedText().color() if selected else option.palette.text().color())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         option.fontMetrics.elidedText(index.data(Qt.ItemDataRole.DisplayRole), Qt.TextElideMode.ElideRight,
                                                       text_rect.width()))
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + 120, max(hint.height(), 22))


class HistoryView(QWidget):
    """Shows commits (newest first) with their lanes. `more_requested` asks for a longer page."""

    more_requested = Signal()
    compare_requested = Signal(str)  # a commit to compare with the working tree

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setObjectName("gitHistory")
        self.list.setItemDelegate(_LaneDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.more_button = QPushButton("Load more", self)
        self.more_button.setObjectName("gitHistoryMore")
        self.more_button.clicked.connect(self.more_requested)
        self.compare_button = QPushButton("Compare with working tree", self)
        self.compare_button.setObjectName("gitHistoryCompare")
        self.compare_button.clicked.connect(self._compare_selected)
        self.compare_button.setEnabled(False)
        self.list.itemSelectionChanged.connect(lambda: self.compare_button.setEnabled(bool(self.selected_sha())))
        self.count_label = QLabel(self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.count_label, 1)
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.more_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.rows: list[LaneRow] = []
        self.commits: tuple[CommitInfo, ...] = ()

    def show_commits(self, commits: Sequence[CommitInfo], *, complete: bool) -> None:
        if tuple(commits) == self.commits:
            return
        selected = self.selected_sha()
        self.commits = tuple(commits)
        self.rows = lane_rows(self.commits)
        self.list.clear()
        for commit, row in zip(self.commits, self.rows):
            when = dt.datetime.fromtimestamp(commit.timestamp).strftime("%Y-%m-%d %H:%M")
            item = QListWidgetItem(f"{commit.subject}  ·  {commit.author}, {when}  ·  {commit.sha[:8]}")
            item.setData(LANE_ROLE, row)
            item.setData(SHA_ROLE, commit.sha)
            item.setToolTip(f"{commit.sha}\n{commit.author}, {when}\n\n{commit.subject}")
            self.list.addItem(item)
            if commit.sha == selected:
                item.setSelected(True)
        self.more_button.setVisible(not complete)
        self.count_label.setText(f"{len(self.commits)} commit{'s' if len(self.commits) != 1 else ''}"
                                 + ("" if complete else " (more below)"))

    def selected_sha(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(SHA_ROLE) if items else None

    def _compare_selected(self) -> None:
        sha = self.selected_sha()
        if sha:
            self.compare_requested.emit(sha)
