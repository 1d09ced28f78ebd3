"""The transcript as a Qt list model of cards, with events coalesced: `feed` only queues an event, and a
timer folds the queue at most every `flush_ms`, so a thousand tokens a second cost a few updates a second."""

from __future__ import annotations

from bisect import bisect_left

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal

from orgruntime.run import Event

from widgets.run_console._cards import Card, CardKind, TranscriptFold

CARD_ROLE = Qt.ItemDataRole.UserRole + 1
FLUSH_MS = 40
WINDOW = 1000  # rows shown at most while new cards arrive: the view lays out every row when one is added
Index = QModelIndex | QPersistentModelIndex


class TranscriptModel(QAbstractListModel):
    """Rows are the cards that pass the filter (the Card object under CARD_ROLE, its text under DisplayRole).

    `feed(event)` queues; `flush()` folds the queue now (the timer calls it). `heights_changed` tells the
    view that cards already shown changed size (a streamed answer closed, a tool card got its result).
    The filter lives here, not in a proxy model: a proxy makes the view ask Python about every row
    whenever one is added. A card is filtered when it arrives; a card whose text grows afterwards (a
    streamed answer) is filtered again when the filter next changes.

    Rows are the newest `window` matching cards: a view lays out all its rows whenever one is added, so
    the cost of a new card stays bounded however long the run. `earlier` counts the matching cards
    left out above; `show_earlier()` brings them in (`earlier_changed` tells)."""

    heights_changed = Signal()
    agents_changed = Signal(list)
    earlier_changed = Signal(int)

    def __init__(self, parent: QObject | None = None, *, flush_ms: int = FLUSH_MS, window: int = WINDOW) -> None:
        super().__init__(parent)
        self.window = window
        self.earlier = 0
        self._fold = TranscriptFold()
        self._known = 0  # cards folded and announced to views
        self._visible: list[int] = []  # indexes into the cards of the rows shown
        self._agent = ""
        self._needle = ""
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
        self._known = len(self._fold.cards)
        self._show_newest(self._matching(0))
        self.endResetModel()
        self.agents_changed.emit(list(self._fold.agents))
        self.earlier_changed.emit(self.earlier)

    def clear(self) -> None:
        self.load(())

    def flush(self) -> None:
        if not self._pending:
            return
        events, self._pending = self._pending, []
        known_agents = len(self._fold.agents)
        changed: set[int] = set()
        for event in events:
            _, indexes = self._fold.apply(event)
            changed.update(index for index in indexes if index < self._known)
        resized = False
        for index in sorted(changed):
            row = self._row_of(index)
            if row is None:
                continue
            resized = resized or self._fold.cards[index].kind is not CardKind.STREAMING  # a streaming card keeps its height
            model_index = self.index(row)
            self.dataChanged.emit(model_index, model_index)
        arrived = self._matching(self._known)
        self._known = len(self._fold.cards)
        if arrived:
            self.beginInsertRows(QModelIndex(), len(self._visible), len(self._visible) + len(arrived) - 1)
            self._visible.extend(arrived)
            self.endInsertRows()
            excess = len(self._visible) - self.window
            if excess > self.window // 4:  # trimmed in steps, not one row per new card
                self.beginRemoveRows(QModelIndex(), 0, excess - 1)
                del self._visible[:excess]
                self.earlier += excess
                self.endRemoveRows()
                self.earlier_changed.emit(self.earlier)
        if resized:
            self.heights_changed.emit()
        if len(self._fold.agents) != known_agents:
            self.agents_changed.emit(list(self._fold.agents))

    # --- filtering ---
    def set_filter(self, agent_id: str = "", search: str = "") -> None:
        """Only the cards of `agent_id` (sent by it or to it) that contain `search` ("" for no limit)."""
        needle = search.strip().lower()
        if (agent_id, needle) == (self._agent, self._needle):
            return
        self.beginResetModel()
        self._agent, self._needle = agent_id, needle
        self._show_newest(self._matching(0))
        self.endResetModel()
        self.earlier_changed.emit(self.earlier)

    def show_earlier(self, count: int | None = None) -> None:
        """Bring `count` more of the earlier cards in (default: another window's worth)."""
        if not self.earlier:
            return
        self.beginResetModel()
        self.window += count or self.window
        self._show_newest(self._matching(0))
        self.endResetModel()
        self.earlier_changed.emit(self.earlier)

    def _show_newest(self, matching: list[int]) -> None:
        self._visible = matching[-self.window :] if len(matching) > self.window else matching
        self.earlier = len(matching) - len(self._visible)

    @property
    def filtered(self) -> bool:
        return bool(self._agent or self._needle)

    def _matching(self, start: int) -> list[int]:
        cards = self._fold.cards
        end = len(cards)
        if not self._agent and not self._needle:
            return list(range(start, end))
        agent, needle = self._agent, self._needle
        return [
            index for index in range(start, end)
            if (not agent or cards[index].involves(agent)) and (not needle or cards[index].matches(needle))
        ]

    def _row_of(self, index: int) -> int | None:
        row = bisect_left(self._visible, index)
        return row if row < len(self._visible) and self._visible[row] == index else None

    # --- reading ---
    @property
    def cards(self) -> list[Card]:
        """Every card folded so far (shown or filtered out)."""
        return self._fold.cards[: self._known]

    @property
    def shown(self) -> list[Card]:
        """The cards of the rows, in order."""
        return [self._fold.cards[index] for index in self._visible]

    @property
    def agents(self) -> list[str]:
        return list(self._fold.agents)

    def card(self, row: int) -> Card:
        return self._fold.cards[self._visible[row]]

    def row_of_card(self, card: Card) -> int | None:
        return next((row for row, index in enumerate(self._visible) if self._fold.cards[index] is card), None)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._visible)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._visible):
            return None
        card = self._fold.cards[self._visible[index.row()]]
        if role == CARD_ROLE:
            return card
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{card.title}: {card.text}"
        if role == Qt.ItemDataRole.ToolTipRole and card.kind is CardKind.TOOL:
            return "Click to open or fold the call's arguments and result"
        return None

    def toggle(self, row: int) -> bool:
        """Open or fold a card that has more to show (a tool call); True when it changed."""
        card = self.card(row)
        if not card.detail:
            return False
        card.expanded = not card.expanded
        index = self.index(row)
        self.dataChanged.emit(index, index)
        self.heights_changed.emit()
        return True
