"""A channel drawn as a curved arrow between two agent nodes; colour and dash by kind."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from orgruntime import Channel, ChannelKind

from widgets._geometry import NODE_HEIGHT, NODE_WIDTH
from widgets._node_item import DiffMark, NodeItem, _font
from widgets._palette import EDGE_DASH, LIGHT, NO_BRUSH, NO_PEN, GraphPalette

_ARROW = 11.0
_EDGE_FLAGS = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
_BEND = 0.12  # control point offset, as a share of the edge length


class EdgeItem(QGraphicsItem):
    """One channel. It follows its end nodes; `peers` has a head at both ends."""

    def __init__(self, channel: Channel, source: NodeItem, target: NodeItem, palette: GraphPalette = LIGHT) -> None:
        super().__init__()
        self.channel = channel
        self.source_node = source
        self.target_node = target
        self.palette = palette
        self.diff_mark = DiffMark.NONE
        self.diff_note = ""
        self.pulse = 0.0  # 0 = none; otherwise the travelling dot's share of the way (0..1]
        self.hovered = False
        self._path = QPainterPath()
        self._bounds = QRectF()
        self._start = self._end = self._control = QPointF()
        self.setFlags(_EDGE_FLAGS | QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.setAcceptHoverEvents(True)
        source.edges.append(self)
        target.edges.append(self)
        self.update_geometry()  # the tooltip is written on first hover

    def detach(self) -> None:
        for node in (self.source_node, self.target_node):
            if self in node.edges:
                node.edges.remove(self)

    def set_channel(self, channel: Channel) -> None:
        self.channel = channel
        self._refresh_tooltip()
        self.update()

    def set_diff(self, mark: DiffMark, note: str = "") -> None:
        self.diff_mark, self.diff_note = mark, note
        self.setOpacity(0.5 if mark is DiffMark.REMOVED else 1.0)
        self._refresh_tooltip()
        self.update()

    def set_pulse(self, share: float) -> None:
        self.pulse = share
        self.update()

    def set_palette(self, palette: GraphPalette) -> None:
        self.palette = palette
        self.update()

    # --- geometry ---
    def endpoints(self) -> tuple[QPointF, QPointF]:
        return self._start, self._end

    def update_geometry(self) -> None:
        a, b = self.source_node.pos(), self.target_node.pos()
        dx, dy = b.x() - a.x(), b.y() - a.y()
        length = math.hypot(dx, dy) or 1.0
        normal = QPointF(-dy / length, dx / length)
        mid = QPointF((a.x() + b.x()) / 2, (a.y() + b.y()) / 2)
        # Two channels between the same pair bend to opposite sides of the straight line.
        control = mid + normal * (length * _BEND)
        start = _border_point(a, control)
        end = _border_point(b, control)
        self.prepareGeometryChange()
        self._start, self._end, self._control = start, end, control
        path = QPainterPath(start)
        path.quadTo(control, end)
        self._path = path
        self._bounds = path.boundingRect().adjusted(-_ARROW - 4, -_ARROW - 4, _ARROW + 4, _ARROW + 4)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        return stroker.createStroke(self._path)

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
    def _visible_part(self, exposed: QRectF) -> QPainterPath:
        """The stretch of the curve inside `exposed`: a long edge is dashed and stroked only where it shows."""
        if exposed.isEmpty() or exposed.contains(self._bounds):
            return self._path
        box = exposed.adjusted(-20, -20, 20, 20)
        a, c, b = self._start, self._control, self._end
        ax, ay, cx, cy, bx, by = a.x(), a.y(), c.x(), c.y(), b.x(), b.y()
        left, top, right, bottom = box.left(), box.top(), box.right(), box.bottom()
        steps = 24
        first = last = -1
        px, py = ax, ay
        for i in range(1, steps + 1):
            t = i / steps
            u = 1 - t
            x = u * u * ax + 2 * u * t * cx + t * t * bx
            y = u * u * ay + 2 * u * t * cy + t * t * by
            # the chord from the previous sample may cross the box even when neither end is in it
            if min(px, x) <= right and max(px, x) >= left and min(py, y) <= bottom and max(py, y) >= top:
                if first < 0:
                    first = i - 1
                last = i
            px, py = x, y
        if first < 0:
            return QPainterPath()
        return _quad_segment(a, c, b, first / steps, last / steps)

    def color(self) -> QColor:
        p = self.palette
        return {DiffMark.ADDED: p.added, DiffMark.REMOVED: p.removed, DiffMark.CHANGED: p.changed}.get(
            self.diff_mark, p.edge_color(self.channel.kind))

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        color = self.color()
        detail = option.levelOfDetailFromTransform(painter.worldTransform())
        if detail < 0.2 and not (self.isSelected() or self.pulse):
            painter.setPen(_far_pen(color))  # far out: a hairline, no dashes or heads
            painter.drawLine(self._start, self._end)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, detail > 0.3)
        emphasis = self.isSelected() or self.hovered or self.pulse
        pen = QPen(color, 2.5 if emphasis else 1.0, EDGE_DASH.get(self.channel.kind, Qt.PenStyle.SolidLine))
        # Up to a little past 100% a one-pixel cosmetic pen (the raster engine's hairline path, about 5x
        # faster than a wider stroke); closer in, few edges show and they thicken with the nodes.
        pen.setCosmetic(detail < 0.5 or (not emphasis and detail <= 1.25))
        if not emphasis and detail > 1.25:
            pen.setWidthF(1.3)
        visible = self._visible_part(option.exposedRect)
        if visible.isEmpty() and not emphasis:
            return  # only the bounding box reaches into view; the curve and its heads do not
        painter.setPen(pen)
        painter.setBrush(NO_BRUSH)
        painter.drawPath(visible)
        painter.setPen(NO_PEN)
        painter.setBrush(QBrush(color))
        painter.drawPolygon(_arrow_head(self._end, self._control))
        if self.channel.kind is ChannelKind.PEERS:
            painter.drawPolygon(_arrow_head(self._start, self._control))
        if self.isSelected():
            painter.setBrush(QBrush(self.palette.node_fill))
            painter.setPen(QPen(color, 1.5))
            for point in (self._start, self._end):
                painter.drawEllipse(point, 4.5, 4.5)
        if self.pulse:
            painter.setPen(NO_PEN)
            painter.setBrush(QBrush(self.palette.selection))
            painter.drawEllipse(self._path.pointAtPercent(min(self.pulse, 1.0)), 6, 6)
        if (self.hovered or self.isSelected()) and detail > 0.35:
            self._paint_label(painter, color)

    def _paint_label(self, painter: QPainter, color: QColor) -> None:
        font = _font(8, bold=True)
        painter.setFont(font)
        label = str(self.channel.kind)
        center = self._path.pointAtPercent(0.5)
        box = QRectF(center.x() - 34, center.y() - 9, 68, 18)
        painter.setPen(QPen(color, 1))
        painter.setBrush(QBrush(self.palette.background))
        painter.drawRoundedRect(box, 9, 9)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)

    def _refresh_tooltip(self) -> None:
        c = self.channel
        arrow = "<->" if c.kind is ChannelKind.PEERS else "->"
        text = f"{c.source} {arrow} {c.target} ({c.kind})"
        if self.diff_mark is not DiffMark.NONE:
            text += f"\n{self.diff_mark}{': ' + self.diff_note if self.diff_note else ''}"
        self.setToolTip(text)


_FAR_PENS: dict[int, QPen] = {}


def _far_pen(color: QColor) -> QPen:
    pen = _FAR_PENS.get(color.rgba())
    if pen is None:
        pen = QPen(color, 0)
        pen.setCosmetic(True)
        _FAR_PENS[color.rgba()] = pen
    return pen


def _border_point(center: QPointF, toward: QPointF) -> QPointF:
    """Where the ray from a node's centre toward `toward` leaves the node's rectangle."""
    dx, dy = toward.x() - center.x(), toward.y() - center.y()
    if dx == 0 and dy == 0:
        return QPointF(center)
    half_w, half_h = NODE_WIDTH / 2 + 2, NODE_HEIGHT / 2 + 2
    scale = min(half_w / abs(dx) if dx else math.inf, half_h / abs(dy) if dy else math.inf)
    scale = min(scale, 1.0)
    return QPointF(center.x() + dx * scale, center.y() + dy * scale)


def _quad_segment(a: QPointF, c: QPointF, b: QPointF, t0: float, t1: float) -> QPainterPath:
    """The part of the quadratic curve a-c-b between t0 and t1, as a quadratic curve of its own."""
    def point(t: float) -> QPointF:
        u = 1 - t
        return a * (u * u) + c * (2 * u * t) + b * (t * t)

    start, end = point(t0), point(t1)
    # the blossom B(t0, t1) of the curve is the control point of its t0..t1 segment
    u0, u1 = 1 - t0, 1 - t1
    control = (a * (u0 * u1) + c * (u0 * t1 + t0 * u1) + b * (t0 * t1))
    path = QPainterPath(start)
    path.quadTo(control, end)
    return path


def _arrow_head(tip: QPointF, toward: QPointF) -> QPolygonF:
    dx, dy = toward.x() - tip.x(), toward.y() - tip.y()
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    base = QPointF(tip.x() + ux * _ARROW, tip.y() + uy * _ARROW)
    side = QPointF(-uy * _ARROW * 0.45, ux * _ARROW * 0.45)
    return QPolygonF([tip, base + side, base - side])
