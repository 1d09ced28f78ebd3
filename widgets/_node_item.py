"""An agent drawn as a node: name, role, model badge, tool icons, entry marker and state badges."""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from orgruntime import Agent, Diagnostic

from widgets._geometry import NODE_HEIGHT, NODE_WIDTH
from widgets._palette import LIGHT, NO_BRUSH, NO_PEN, GraphPalette

HANDLE_RADIUS = 6.0
_NODE_FLAGS = (QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
               | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
_POSITION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
_TOOL_GLYPHS = {"read_file": "R", "write_file": "W", "list_files": "L", "run_python": "Py"}


class DiffMark(StrEnum):
    NONE = "none"
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class RunState(StrEnum):
    """What an agent is doing in a live run, as the run view reports it."""

    IDLE = "idle"
    QUEUED = "queued"
    THINKING = "thinking"
    WAITING = "waiting"  # a human seat waits for a person
    DONE = "done"
    FAILED = "failed"


class NodeItem(QGraphicsItem):
    """One agent. Its position is its centre; the model's layout stores the same point."""

    def __init__(self, agent: Agent, *, is_entry: bool, palette: GraphPalette = LIGHT) -> None:
        super().__init__()
        self.agent = agent
        self.is_entry = is_entry
        self.palette = palette
        self.edges: list = []  # EdgeItems that end here; they follow the node
        self.diagnostics: tuple[Diagnostic, ...] = ()
        self.diff_mark = DiffMark.NONE
        self.diff_fields: tuple[str, ...] = ()
        self.run_state: RunState | None = None
        self.spend_text = ""
        self.placement = ""  # where the agent runs or ran, e.g. "runs on host:node" (tooltip only)
        self.found = False
        self.hovered = False
        self.positioned = True  # False while shown at a place the layout does not store
        self.default_model: str | None = None  # the org's, shown when the agent names none
        self._bounds = self._bounding_rect()
        self.setFlags(_NODE_FLAGS)
        self.setAcceptHoverEvents(True)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)  # the tooltip is written on first hover: thousands of nodes open faster

    @property
    def agent_id(self) -> str:
        return self.agent.id

    # --- state setters (each repaints) ---
    def set_agent(self, agent: Agent, *, is_entry: bool) -> None:
        self.agent, self.is_entry = agent, is_entry
        self._refresh_tooltip()
        self.update()

    def set_default_model(self, model: str | None) -> None:
        if model != self.default_model:
            self.default_model = model
            self.update()

    def set_diagnostics(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        if diagnostics != self.diagnostics:
            self.diagnostics = diagnostics
            self._refresh_tooltip()
            self.update()

    def set_diff(self, mark: DiffMark, fields: tuple[str, ...] = ()) -> None:
        self.diff_mark, self.diff_fields = mark, fields
        self.setOpacity(0.45 if mark is DiffMark.REMOVED else 1.0)
        self._refresh_tooltip()
        self.update()

    def set_run_state(self, state: RunState | None) -> None:
        self.run_state = state
        self._refresh_tooltip()
        self.update()

    def set_placement(self, text: str) -> None:
        if text != self.placement:
            self.placement = text
            self._refresh_tooltip()

    def set_spend(self, text: str) -> None:
        if text == self.spend_text:
            return
        self.prepareGeometryChange()
        self.spend_text = text
        self._bounds = self._bounding_rect()
        self.update()

    def set_found(self, found: bool) -> None:
        if found != self.found:
            self.found = found
            self.update()

    def set_palette(self, palette: GraphPalette) -> None:
        self.palette = palette
        self.update()

    # --- geometry ---
    def body_rect(self) -> QRectF:
        return QRectF(-NODE_WIDTH / 2, -NODE_HEIGHT / 2, NODE_WIDTH, NODE_HEIGHT)

    def handle_center(self) -> QPointF:
        """The connection handle (drag from it onto another node to make a channel), bottom middle."""
        return QPointF(0, NODE_HEIGHT / 2)

    def handle_hit(self, scene_point: QPointF) -> bool:
        local = self.mapFromScene(scene_point) - self.handle_center()
        return local.x() ** 2 + local.y() ** 2 <= (HANDLE_RADIUS + 3) ** 2

    def boundingRect(self) -> QRectF:
        return self._bounds

    def _bounding_rect(self) -> QRectF:
        extra_below = 18.0 if self.spend_text else HANDLE_RADIUS
        return self.body_rect().adjusted(-8, -14, 8, extra_below + 4)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.WindingFill)  # the handle overlaps the body; both stay inside
        path.addRoundedRect(self.body_rect(), 10, 10)
        handle = self.handle_center()
        path.addEllipse(handle, HANDLE_RADIUS + 3, HANDLE_RADIUS + 3)
        return path

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):
        if change == _POSITION_CHANGED:
            for edge in self.edges:
                edge.update_geometry()
            scene = self.scene()
            if scene is not None and hasattr(scene, "geometry_changed"):
                scene.geometry_changed()
        return super().itemChange(change, value)

    def hoverEnterEvent(self, event) -> None:
        self._refresh_tooltip()
        self.hovered = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.hovered = False
        self.update()
        super().hoverLeaveEvent(event)

    # --- painting ---
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        p = self.palette
        rect = self.body_rect()
        detail = option.levelOfDetailFromTransform(painter.worldTransform())
        if detail < 0.2:
            painter.fillRect(rect, self._border_color() if self.isSelected() or self.found or
                             self.diff_mark is not DiffMark.NONE else (p.human_fill if self.agent.is_human else p.node_border))
            return  # far out: a filled box is all that can be seen
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, detail > 0.3)
        self._paint_run_halo(painter, rect)
        border = self._border_color()
        width = 2.5 if self.isSelected() or self.diff_mark is not DiffMark.NONE or self.found else 1.2
        pen = QPen(border, width)
        if self.diff_mark is DiffMark.REMOVED:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QBrush(p.human_fill if self.agent.is_human else p.node_fill))
        painter.drawRoundedRect(rect, 10, 10)
        if self.is_entry:
            painter.setPen(NO_PEN)
            painter.setBrush(QBrush(p.entry))
            painter.drawRoundedRect(QRectF(rect.left(), rect.top(), 6, rect.height()), 3, 3)
        if detail < 0.35:
            self._paint_title_only(painter, rect)
            return
        self._paint_text(painter, rect)
        self._paint_model_and_tools(painter, rect)
        if self.agent.is_human:
            self._paint_human_glyph(painter, QPointF(rect.right() - 16, rect.top() + 16))
        self._paint_badge(painter, rect)
        if self.isSelected() or self.hovered:
            painter.setPen(QPen(p.selection, 1.5))
            painter.setBrush(QBrush(p.node_fill))
            painter.drawEllipse(self.handle_center(), HANDLE_RADIUS, HANDLE_RADIUS)
        if self.spend_text:
            painter.setPen(QPen(p.muted_text))
            painter.setFont(_font(8))
            painter.drawText(QRectF(rect.left(), rect.bottom() + 4, rect.width(), 14),
                             Qt.AlignmentFlag.AlignHCenter, self.spend_text)

    def _border_color(self) -> QColor:
        p = self.palette
        if self.isSelected():
            return p.selection
        if self.found:
            return p.found
        return {DiffMark.ADDED: p.added, DiffMark.REMOVED: p.removed, DiffMark.CHANGED: p.changed}.get(
            self.diff_mark, p.node_border)

    def _paint_run_halo(self, painter: QPainter, rect: QRectF) -> None:
        if self.run_state in (None, RunState.IDLE):
            return
        color = _run_state_color(self.run_state, self.palette)
        halo = QColor(color)
        halo.setAlpha(90)
        painter.setPen(QPen(halo, 6))
        painter.setBrush(NO_BRUSH)
        painter.drawRoundedRect(rect.adjusted(-4, -4, 4, 4), 13, 13)
        painter.setPen(NO_PEN)
        painter.setBrush(QBrush(color))
        painter.drawEllipse(QPointF(rect.left() + 16, rect.top()), 5, 5)
        painter.setPen(QPen(color))
        painter.setFont(_font(7, bold=True))
        painter.drawText(QRectF(rect.left() + 24, rect.top() - 13, 90, 12), Qt.AlignmentFlag.AlignLeft,
                         str(self.run_state))

    def _paint_title_only(self, painter: QPainter, rect: QRectF) -> None:
        painter.setPen(QPen(self.palette.text))
        painter.setFont(_font(16, bold=True))
        painter.drawText(rect.adjusted(10, 0, -10, 0), Qt.AlignmentFlag.AlignCenter,
                         _elide(self.agent.display_name, _font(16, bold=True), rect.width() - 20))

    def _paint_text(self, painter: QPainter, rect: QRectF) -> None:
        p = self.palette
        title_font, small_font = _font(10, bold=True), _font(8)
        left, width = rect.left() + 14, rect.width() - 44
        painter.setPen(QPen(p.text))
        painter.setFont(title_font)
        painter.drawText(QRectF(left, rect.top() + 7, width, 16), Qt.AlignmentFlag.AlignLeft,
                         _elide(self.agent.display_name, title_font, width))
        painter.setPen(QPen(p.muted_text))
        painter.setFont(small_font)
        subtitle = self.agent.role or f"@{self.agent.id}"
        painter.drawText(QRectF(left, rect.top() + 25, rect.width() - 24, 14), Qt.AlignmentFlag.AlignLeft,
                         _elide(subtitle, small_font, rect.width() - 24))

    def _paint_model_and_tools(self, painter: QPainter, rect: QRectF) -> None:
        p = self.palette
        font = _font(7)
        painter.setFont(font)
        y = rect.bottom() - 22
        model = "human seat" if self.agent.is_human else (self.agent.model or self.default_model or "no model")
        model = model.rsplit("/", 1)[-1]
        text = _elide(model, font, 84)
        text_width = QFontMetricsF(font).horizontalAdvance(text) + 10
        badge = QRectF(rect.left() + 12, y, text_width, 14)
        painter.setPen(NO_PEN)
        painter.setBrush(QBrush(p.badge_fill))
        painter.drawRoundedRect(badge, 7, 7)
        painter.setPen(QPen(p.muted_text))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        x = rect.right() - 10
        for tool in reversed(self.agent.tools[:5]):
            glyph = _TOOL_GLYPHS.get(tool, tool[:1].upper() or "?")
            box = QRectF(x - 16, y, 16, 14)
            painter.setPen(QPen(p.node_border, 0.8))
            painter.setBrush(QBrush(p.badge_fill))
            painter.drawRoundedRect(box, 3, 3)
            painter.setPen(QPen(p.muted_text))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, glyph)
            x -= 19

    def _paint_human_glyph(self, painter: QPainter, center: QPointF) -> None:
        painter.setPen(NO_PEN)
        painter.setBrush(QBrush(self.palette.muted_text))
        painter.drawEllipse(QPointF(center.x(), center.y() - 3), 3.5, 3.5)
        painter.drawPie(QRectF(center.x() - 6, center.y() + 1, 12, 10), 0, 180 * 16)

    def _paint_badge(self, painter: QPainter, rect: QRectF) -> None:
        if not self.diagnostics:
            return
        errors = sum(1 for d in self.diagnostics if d.is_error)
        color = self.palette.error if errors else self.palette.warning
        center = QPointF(rect.right() - 2, rect.top() + 2)
        painter.setPen(QPen(self.palette.node_fill, 1.5))
        painter.setBrush(QBrush(color))
        painter.drawEllipse(center, 8, 8)
        painter.setPen(QPen(QColor("white")))
        painter.setFont(_font(8, bold=True))
        painter.drawText(QRectF(center.x() - 8, center.y() - 8, 16, 16), Qt.AlignmentFlag.AlignCenter,
                         str(errors or len(self.diagnostics)) if len(self.diagnostics) > 1 else "!")

    def _refresh_tooltip(self) -> None:
        lines = [f"{self.agent.display_name} ({self.agent.id})"]
        if self.agent.role:
            lines.append(self.agent.role)
        if self.is_entry:
            lines.append("entry agent: receives the task")
        if self.diff_mark is not DiffMark.NONE:
            detail = f": {', '.join(self.diff_fields)}" if self.diff_fields else ""
            lines.append(f"{self.diff_mark}{detail}")
        if self.run_state is not None:
            lines.append(f"run: {self.run_state}")
        if self.placement:
            lines.append(self.placement)
        lines.extend(f"{d.severity}: {d.message}" for d in self.diagnostics)
        self.setToolTip("\n".join(lines))


def _run_state_color(state: RunState, palette: GraphPalette) -> QColor:
    return {
        RunState.QUEUED: palette.muted_text,
        RunState.THINKING: palette.selection,
        RunState.WAITING: palette.warning,
        RunState.DONE: palette.added,
        RunState.FAILED: palette.error,
    }.get(state, palette.muted_text)


_FONTS: dict[tuple[int, bool], QFont] = {}


def _font(size: int, *, bold: bool = False) -> QFont:
    key = (size, bold)
    font = _FONTS.get(key)
    if font is None:
        font = QFont()
        font.setPointSize(size)
        font.setBold(bold)
        _FONTS[key] = font
    return font


_ELIDED: dict[tuple[str, int, bool, float], str] = {}


def _elide(text: str, font: QFont, width: float) -> str:
    key = (text, font.pointSize(), font.bold(), width)
    elided = _ELIDED.get(key)
    if elided is None:
        if len(_ELIDED) > 20000:
            _ELIDED.clear()
        elided = QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, width)
        _ELIDED[key] = elided
    return elided
