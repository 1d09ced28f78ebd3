"""The transcript as a Qt list model of cards, with events coalesced: `feed` only queues an event, and a
timer folds the queue at most every `flush_ms`, so a thousand tokens a second cost a few updates a second."""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt, QTimer, Signal

from orgruntime.run import Event

from widgets.run_console._cards import Card, CardKind, TranscriptFold

CARD_ROLE = Qt.ItemDataRole.UserRole + 1
FLUSH_MS = 40
Index = QModelIndex | QPersistentModelIndex


class TranscriptModel(QAbstractListModel):
    """Rows are cards (the Card object under CARD_ROLE, its text under DisplayRole).

    `feed(event)` queues; `flush()` folds the queue now (the timer calls it). `heights_changed` tells the
    view that cards already shown changed size (a streamed answer closed, a tool card got its result)."""

    heights_changed = Signal()
    agents_changed = Signal(list)

    def __init__(self, parent: QObject | None = None, *, flush_ms: int = FLUSH_MS) -> None:
        super().__init__(parent)
        self._fold = TranscriptFold()
        self._count = 0
        self._pending: list[Event] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(flush_ms)
        self._timer.timeout.connect(self.flush)

    # --- feeding ---
    def feed(self, event: Event) -> None:
        self._pending.append(event)
        if not self._timer.isActive():
            self._timer.start()

    def load(self, events) -> None:
        """Show these events at once (a replay): one reset, no timer."""
        self.beginResetModel()
        self._timer.stop()
        self._pending = []
        self._fold = TranscriptFold()
        for event in events:
            self._fold.apply(event)
        self._count = len(self._fold.cards)
        self.endResetModel()
        self.agents_changed.emit(list(self._fold.agents))

    def clear(self) -> None:
        self.load(())

    def flush(self) -> None:
        if not self._pending:
            return
        events, self._pending = self._pending, []
        known_agents = len(self._fold.agents)
        changed: set[int] = set()
        resized = False
        for event in events:
            _, rows = self._fold.apply(event)
            for row in rows:
                if row < self._count:
                    changed.add(row)
        cards = self._fold.cards
        for row in changed:
            card = cards[row]
            resized = resized or card.kind is not CardKind.STREAMING  # a streaming card keeps its height
            index = self.index(row)
            self.dataChanged.emit(index, index)
        if len(cards) > self._count:
            self.beginInsertRows(QModelIndex(), self._count, len(cards) - 1)
            self._count = len(cards)
            self.endInsertRows()
        if resized:
            self.heights_changed.emit()
        if len(self._fold.agents) != known_agents:
            self.agents_changed.emit(list(self._fold.agents))

    # --- reading ---
    @property
    def cards(self) -> list[Card]:
        return self._fold.cards[: self._count]

    @property
    def agents(self) -> list[str]:
        return list(self._fold.agents)

    def card(self, row: int) -> Card:
        return self._fold.cards[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else self._count

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= self._count:
            return None
        card = self._fold.cards[index.row()]
        if role == CARD_ROLE:
            return card
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{card.title}: {card.text}"
        if role == Qt.ItemDataRole.ToolTipRole and card.kind is CardKind.TOOL:
            return "Click to open or fold the call's arguments and result"
        return None

    def toggle(self, row: int) -> bool:
        """Open or fold a card that has more to show (a tool call); True when it changed."""
        card = self._fold.cards[row]
        if not card.detail:
            return False
        card.expanded = not card.expanded
        index = self.index(row)
        self.dataChanged.emit(index, index)
        self.heights_changed.emit()
        return True


class CardFilter(QSortFilterProxyModel):
    """Only the cards of one agent (sent by it or to it) and those containing a search text."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._agent = ""
        self._needle = ""

    def set_agent(self, agent_id: str) -> None:
        if agent_id != self._agent:
            self.beginFilterChange()
            self._agent = agent_id
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_search(self, text: str) -> None:
        needle = text.strip().lower()
        if needle != self._needle:
            self.beginFilterChange()
            self._needle = needle
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    @property
    def active(self) -> bool:
        return bool(self._agent or self._needle)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._agent and not self._needle:
            return True
        card: Card = self.sourceModel().card(source_row)  # type: ignore[attr-defined]
        if self._agent and not card.involves(self._agent):
            return False
        return not self._needle or card.matches(self._needle)
