"""A list view of transcript cards: the delegate paints them, a click opens or folds a tool call, and the
view keeps to the newest card while the user has not scrolled away."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from widgets.run_console._card_delegate import CardDelegate
from widgets.run_console._transcript_model import CardFilter, TranscriptModel


class TranscriptView(QListView):
    def __init__(self, model: TranscriptModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.filter = CardFilter(self)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(self.horizontalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.delegate = CardDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setModel(self.filter)
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
        self.filter.setSourceModel(model)
        model.heights_changed.connect(self._relayout)
        self._follow = True
        self.scrollToBottom()

    def _relayout(self) -> None:
        self.delegate.sizeHintChanged.emit(QModelIndex())  # the view lays its items out again, once, later

    def _clicked(self, index: QModelIndex) -> None:
        proxy: QSortFilterProxyModel = self.filter
        self.source.toggle(proxy.mapToSource(index).row())

    def _scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 4

    def _range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)
