"""A view of transcript cards: the delegate paints them, a click opens or folds a tool call, and the view
keeps to the newest card while the user has not scrolled away.

It is a flat QTreeView scrolling per card, not a QListView: a QListView lays out every row (a sizeHint
call per card) whenever a row is added, which at 10,000 cards costs a third of a second per new card;
a tree view scrolling per item asks only the cards it shows for their height."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QTreeView, QWidget

from widgets.run_console._card_delegate import CardDelegate
from widgets.run_console._transcript_model import TranscriptModel


class TranscriptView(QTreeView):
    def __init__(self, model: TranscriptModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setItemsExpandable(False)
        self.setUniformRowHeights(False)
        self.setAllColumnsShowFocus(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
        self.setHorizontalScrollBarPolicy(self.horizontalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.delegate = CardDelegate(self)
        self.setItemDelegate(self.delegate)
        self._source: TranscriptModel | None = None
        self._follow = True
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.verticalScrollBar().rangeChanged.connect(self._range_changed)
        self.clicked.connect(self._clicked)
        self.set_source(model)

    @property
    def source(self) -> TranscriptModel:
        assert self._source is not None
        return self._source

    def set_source(self, model: TranscriptModel) -> None:
        if self._source is not None:
            self._source.heights_changed.disconnect(self._relayout)
        self._source = model
        self.setModel(model)
        model.heights_changed.connect(self._relayout)
        self._follow = True
        self.scrollToBottom()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._relayout()  # card heights depend on the width

    def _relayout(self) -> None:
        self.delegate.sizeHintChanged.emit(QModelIndex())  # the view lays its items out again, once, later

    def _clicked(self, index: QModelIndex) -> None:
        self.source.toggle(index.row())

    def _scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 4

    def _range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)
