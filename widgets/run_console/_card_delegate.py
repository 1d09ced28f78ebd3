"""Paints transcript cards (no widget per card): a header "from -> to", the text wrapped, a coloured edge
by kind; tool calls folded to one line until opened; a streamed answer in a box of fixed height showing
its newest lines, so streaming never changes the layout. Heights are cached per card and width."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from widgets._palette import NO_BRUSH, NO_PEN
from widgets.run_console._cards import Card, CardKind
from widgets.run_console._transcript_model import CARD_ROLE

MARGIN = 4
PADDING = 8
EDGE = 4
LIVE_LINES = 4
BODY_MAX_LINES = 14
OPEN_MAX_LINES = 80
LAYOUT_CHARS = 4000  # longer texts are cut for layout and painting; the card says so
LIVE_TAIL_CHARS = 600
WRAP = int(Qt.TextFlag.TextWordWrap) | int(Qt.TextFlag.TextWrapAnywhere)

ACCENTS = {
    CardKind.MESSAGE: QColor("#3b82f6"),
    CardKind.RESULT: QColor("#16a34a"),
    CardKind.STREAMING: QColor("#8b5cf6"),
    CardKind.NOTE: QColor("#64748b"),
    CardKind.TOOL: QColor("#0ea5e9"),
    CardKind.HUMAN: QColor("#d97706"),
    CardKind.ERROR: QColor("#dc2626"),
    CardKind.STATUS: QColor("#64748b"),
}
FAILED = QColor("#dc2626")


class CardDelegate(QStyledItemDelegate):
    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view)
        self._view = view
        self._font = QFont(view.font())
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        self._metrics = QFontMetrics(self._font)
        self._bold_metrics = QFontMetrics(self._bold)
        self._line = self._metrics.lineSpacing()

    def _text_width(self) -> int:
        return max(80, self._view.viewport().width() - 2 * (MARGIN + PADDING) - EDGE)

    # --- geometry ---
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        card: Card | None = index.data(CARD_ROLE)
        width = self._text_width()
        if card is None:
            return QSize(width, self._line)
        key = (width, card.expanded, len(card.text) if card.kind is not CardKind.STREAMING else -1)
        if card.size_key != key or card.height <= 0:
            card.height = self._height(card, width)
            card.size_key = key
        return QSize(width, card.height)

    def _height(self, card: Card, width: int) -> int:
        header = self._bold_metrics.height()
        if card.kind is CardKind.STREAMING:
            body = LIVE_LINES * self._line
        elif card.kind is CardKind.TOOL and not card.expanded:
            body = self._line
        else:
            body = self._wrapped_height(_shown(card.text), width, OPEN_MAX_LINES if card.expanded else BODY_MAX_LINES)
        if card.expanded and card.detail:
            body += self._line // 2 + self._wrapped_height(_shown(card.detail), width, OPEN_MAX_LINES)
        return header + body + 2 * PADDING + 2 * MARGIN

    def _wrapped_height(self, text: str, width: int, max_lines: int) -> int:
        if not text:
            return 0
        height = self._metrics.boundingRect(QRect(0, 0, width, max_lines * self._line * 4), WRAP, text).height()
        return min(max(height, self._line), max_lines * self._line)

    # --- painting ---
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        card: Card | None = index.data(CARD_ROLE)
        if card is None:
            return
        palette = option.palette  # type: ignore[attr-defined]
        rect = QRect(option.rect).adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)  # type: ignore[attr-defined]
        accent = FAILED if card.failed else ACCENTS[card.kind]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fill = QColor(palette.color(QPalette.ColorRole.Base))
        if option.state & QStyle.StateFlag.State_Selected:  # type: ignore[attr-defined]
            fill = QColor(palette.color(QPalette.ColorRole.Highlight)).lighter(170) if fill.lightness() > 128 else QColor(palette.color(QPalette.ColorRole.Highlight)).darker(200)
        tint = QColor(accent)
        tint.setAlpha(28 if card.kind in (CardKind.ERROR, CardKind.RESULT, CardKind.HUMAN) or card.failed else 12)
        painter.setPen(QPen(QColor(accent).lighter(130), 1, Qt.PenStyle.DashLine if card.kind is CardKind.STREAMING else Qt.PenStyle.SolidLine))
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(rect), 6, 6)
        painter.setPen(NO_PEN)
        painter.setBrush(tint)
        painter.drawRoundedRect(QRectF(rect), 6, 6)
        painter.setBrush(accent)
        painter.drawRect(QRect(rect.left(), rect.top() + 3, EDGE, rect.height() - 6))
        painter.setBrush(NO_BRUSH)
        inner = rect.adjusted(PADDING + EDGE, PADDING, -PADDING, -PADDING)
        text_color = palette.color(QPalette.ColorRole.Text)
        painter.setFont(self._bold)
        painter.setPen(accent if card.kind in (CardKind.ERROR, CardKind.HUMAN) or card.failed else text_color)
        header = QRect(inner.left(), inner.top(), inner.width(), self._bold_metrics.height())
        tag = _tag(card)
        tag_width = self._metrics.horizontalAdvance(tag) + 4 if tag else 0
        painter.drawText(header.adjusted(0, 0, -tag_width, 0), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), self._bold_metrics.elidedText(card.title, Qt.TextElideMode.ElideRight, header.width() - tag_width))
        if tag:
            painter.setFont(self._font)
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(header, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), tag)
        body = QRect(inner.left(), header.bottom() + 1, inner.width(), inner.bottom() - header.bottom())
        painter.setFont(self._font)
        painter.setPen(text_color)
        painter.setClipRect(body)
        if card.kind is CardKind.STREAMING:
            painter.drawText(body, WRAP | int(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft), card.text[-LIVE_TAIL_CHARS:] + "▍")
        elif card.kind is CardKind.TOOL and not card.expanded:
            painter.drawText(body, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), self._metrics.elidedText(card.text, Qt.TextElideMode.ElideRight, body.width()))
        else:
            shown = _shown(card.text)
            text_height = self._wrapped_height(shown, body.width(), OPEN_MAX_LINES if card.expanded else BODY_MAX_LINES)
            painter.drawText(QRect(body.left(), body.top(), body.width(), text_height), WRAP | int(Qt.AlignmentFlag.AlignTop), shown)
            if card.expanded and card.detail:
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                detail = QRect(body.left(), body.top() + text_height + self._line // 2, body.width(), body.bottom())
                painter.drawText(detail, WRAP | int(Qt.AlignmentFlag.AlignTop), _shown(card.detail))
        painter.restore()


def _shown(text: str) -> str:
    return text if len(text) <= LAYOUT_CHARS else text[:LAYOUT_CHARS] + f"… [{len(text) - LAYOUT_CHARS} more characters]"


def _tag(card: Card) -> str:
    if card.kind is CardKind.TOOL:
        return "▾" if card.expanded else "▸ open"
    if card.kind is CardKind.RESULT:
        return "result"
    if card.kind is CardKind.STREAMING:
        return "streaming"
    return ""
