"""Far out, the whole org is drawn from a cached picture instead of one Python paint per item.

Below FAR_ZOOM the nodes and edges stop painting themselves (ItemHasNoContents: they stay
selectable and movable) and the view draws a picture of boxes and straight lines per kind,
rendered for the current zoom over a margin around the visible area. Panning inside the margin
only moves the picture; a zoom step or a moved node shows the previous picture (scaled) at once
and renders a fresh one a moment after the last change. Selected, found, run-state and diff-marked
nodes, and the channels of selected nodes, are drawn live on top.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QPainter, QPen, QPixmap, QPolygonF, QTransform
from PySide6.QtWidgets import QGraphicsItem

from orgruntime import ChannelKind

from widgets._edge_item import EdgeItem
from widgets._geometry import NODE_HEIGHT, NODE_WIDTH
from widgets._node_item import DiffMark, NodeItem, _run_state_color
from widgets._scene import OrgScene

FAR_ZOOM = 0.2
REFRESH_MS = 120
_MAX_SIDE = 4096  # pixels; the picture covers at most this much around the view
_NO_CONTENTS = QGraphicsItem.GraphicsItemFlag.ItemHasNoContents


class FarRenderer:
    def __init__(self, scene: OrgScene, request_repaint: Callable[[], None], timer_parent: QObject) -> None:
        self._scene = scene
        self._request_repaint = request_repaint
        self.active = False
        self._geometry_cache: tuple[dict[ChannelKind, QPolygonF], list[QRectF]] | None = None
        self._picture: QPixmap | None = None
        self._picture_rect = QRectF()  # scene area the picture shows
        self._picture_scale = 0.0
        self._picture_fresh = False  # drawn from the current geometry
        self._refresh = QTimer(timer_parent, singleShot=True, interval=REFRESH_MS)
        self._refresh.timeout.connect(self._refresh_now)
        self._force = False
        scene.nodes_changed.connect(self.invalidate)
        scene.geometry_changed = self.invalidate
        scene.item_added = self.adopt

    def invalidate(self) -> None:
        self._geometry_cache = None
        self._picture_fresh = False

    def set_active(self, active: bool) -> None:
        """Switch the items between painting themselves and being drawn here."""
        if active == self.active:
            return
        self.active = active
        for item in (*self._scene.nodes.values(), *self._scene.edge_items()):
            item.setFlag(_NO_CONTENTS, active)
        if not active:
            self._picture = None

    def adopt(self, item: QGraphicsItem) -> None:
        """A node or edge added while far out joins the picture."""
        if self.active:
            item.setFlag(_NO_CONTENTS, True)

    def draw(self, painter: QPainter, device_rect: QRectF) -> None:
        transform = painter.worldTransform()
        scale = transform.m11()
        visible = transform.inverted()[0].mapRect(device_rect)
        covered = self._picture is not None and self._picture_rect.contains(visible)
        exact = covered and self._picture_fresh and abs(scale - self._picture_scale) < 1e-9
        if not exact:
            if self._picture is None or not covered or self._force:
                self._render(transform, visible)
            else:
                self._refresh.start()  # show the picture we have; a fresh one follows
        painter.save()
        target = transform.mapRect(self._picture_rect)
        painter.resetTransform()
        if abs(target.width() - self._picture.width()) < 0.5 and abs(target.height() - self._picture.height()) < 0.5:
            painter.drawPixmap(target.topLeft().toPoint(), self._picture)  # a plain copy, no scaling
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawPixmap(target, self._picture, QRectF(self._picture.rect()))
        painter.setTransform(transform)
        self._draw_live(painter)
        painter.restore()

    def _refresh_now(self) -> None:
        self._force = True
        self._picture_fresh = False
        self._request_repaint()
        QTimer.singleShot(0, self._end_force)

    def _end_force(self) -> None:
        self._force = False

    def _render(self, transform: QTransform, visible: QRectF) -> None:
        scale = transform.m11()
        margin_x = min(visible.width(), _MAX_SIDE / scale / 3)
        margin_y = min(visible.height(), _MAX_SIDE / scale / 3)
        area = visible.adjusted(-margin_x, -margin_y, margin_x, margin_y)
        width, height = max(1, min(_MAX_SIDE, round(area.width() * scale))), max(1, min(_MAX_SIDE, round(area.height() * scale)))
        picture = QPixmap(width, height)
        picture.fill(Qt.GlobalColor.transparent)
        painter = QPainter(picture)
        to_picture = QTransform().scale(width / area.width(), height / area.height()).translate(-area.left(), -area.top())
        self.paint_overview(painter, to_picture)
        painter.end()
        self._picture, self._picture_rect, self._picture_scale, self._picture_fresh = picture, area, scale, True

    def paint_overview(self, painter: QPainter, to_device: QTransform) -> None:
        """Every channel as a hairline and every node as a box, mapped by `to_device` (also the minimap's picture)."""
        palette = self._scene.palette
        lines, rects = self._geometry()
        for kind, points in lines.items():
            painter.setPen(QPen(palette.edge_color(kind), 1))
            painter.drawLines(to_device.map(points))
        painter.setPen(QPen(palette.node_border, 1))
        painter.setBrush(QBrush(palette.node_fill))
        painter.drawRects([to_device.mapRect(rect) for rect in rects])

    def _draw_live(self, painter: QPainter) -> None:
        scene = self._scene
        palette = scene.palette
        selected = scene.selectedItems()
        moving = QPolygonF()
        for item in selected:
            edges = [item] if isinstance(item, EdgeItem) else getattr(item, "edges", ())
            for edge in edges:
                moving.append(edge.source_node.pos())
                moving.append(edge.target_node.pos())
        if not moving.isEmpty():
            pen = QPen(palette.selection, 2)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLines(moving)
        special = [n for n in scene.nodes.values() if n.found or n.run_state or n.diff_mark is not DiffMark.NONE]
        special += [item for item in selected if isinstance(item, NodeItem)]
        for node in special:
            color = palette.selection if node.isSelected() else palette.found if node.found else (
                _run_state_color(node.run_state, palette) if node.run_state else node._border_color())
            painter.fillRect(node.mapRectToScene(node.body_rect()), color)

    def _geometry(self) -> tuple[dict[ChannelKind, QPolygonF], list[QRectF]]:
        """Edge end points (pairs, per kind) and node boxes in scene units; rebuilt after changes."""
        if self._geometry_cache is None:
            lines: dict[ChannelKind, QPolygonF] = {}
            for edge in self._scene.edge_items():
                points = lines.setdefault(edge.channel.kind, QPolygonF())
                points.append(edge.source_node.pos())
                points.append(edge.target_node.pos())
            half_w, half_h = NODE_WIDTH / 2, NODE_HEIGHT / 2
            rects = []
            for node in self._scene.nodes.values():
                point: QPointF = node.pos()
                rects.append(QRectF(point.x() - half_w, point.y() - half_h, NODE_WIDTH, NODE_HEIGHT))
            self._geometry_cache = (lines, rects)
        return self._geometry_cache
