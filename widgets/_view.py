"""The canvas: zoom at the cursor, pan, fit; drags that connect nodes, retarget edges and move nodes.

The view turns gestures into signals; the editor turns those into edits of the document.
"""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter, QPen, QTransform, QWheelEvent
from PySide6.QtWidgets import QGraphicsItem, QGraphicsLineItem, QGraphicsView, QWidget

from orgruntime import Channel

from widgets._edge_item import EdgeItem
from widgets._far_view import FAR_ZOOM, FarRenderer
from widgets._node_item import NodeItem
from widgets._scene import OrgScene

MIN_ZOOM, MAX_ZOOM = 0.03, 4.0
WHEEL_STEP = 1.15
_END_GRAB = 10.0  # how near (scene units) a press must be to a selected edge's end to retarget it


class GraphView(QGraphicsView):
    connect_requested = Signal(str, str)  # source id, target id
    retarget_requested = Signal(object, str, str)  # channel, "source" | "target", new agent id
    nodes_moved = Signal(dict)  # agent id -> (x, y), for every node the drag moved
    add_requested = Signal(QPointF)  # scene point of a double-click on empty canvas
    context_requested = Signal(object, QPointF, object)  # item or None, scene point, global QPoint

    def __init__(self, scene: OrgScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.org_scene = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._connect_from: NodeItem | None = None
        self._retarget: tuple[EdgeItem, str] | None = None
        self._rubber_line: QGraphicsLineItem | None = None
        self._pan_from: QPointF | None = None
        self._space_held = False
        self._press_positions: dict[str, tuple[float, float]] = {}
        self.far = FarRenderer(scene, self.viewport().update, self)
        self.corner_widget: QWidget | None = None  # kept in the bottom-right corner (the minimap)
        scene.nodes_changed.connect(self.update_scene_rect)
        self.update_scene_rect()

    # --- zoom, pan, fit ---
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Scale by `factor` keeping the scene point under `anchor` (viewport coordinates) in place."""
        target = max(MIN_ZOOM, min(MAX_ZOOM, self.zoom() * factor))
        factor = target / self.zoom()
        if abs(factor - 1.0) < 1e-9:
            return
        anchor = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        before = self.mapToScene(anchor.toPoint())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(factor, factor)
        after = self.mapToScene(anchor.toPoint())
        shift = after - before
        self.translate(shift.x(), shift.y())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the view by (dx, dy) viewport pixels."""
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(dx))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(dy))

    def fit_all(self) -> None:
        self._fit(self.org_scene.nodes_rect())

    def zoom_to_selection(self) -> None:
        ids = self.org_scene.selected_agent_ids()
        rect = self.org_scene.nodes_rect(ids)
        for item in self.org_scene.selectedItems():
            if isinstance(item, EdgeItem):
                rect = rect.united(item.sceneBoundingRect())
        self._fit(rect if not rect.isEmpty() else self.org_scene.nodes_rect())

    def center_on_agent(self, agent_id: str) -> None:
        node = self.org_scene.node(agent_id)
        if node is not None:
            self.centerOn(node)

    def _fit(self, rect: QRectF) -> None:
        if rect.isEmpty():
            return
        self.update_scene_rect()
        rect = rect.adjusted(-40, -40, 40, 40)
        # the band under the minimap is kept clear, so no node is hidden behind it after a fit
        reserved = self.corner_widget.height() + 20.0 if self.corner_widget is not None and not self.corner_widget.isHidden() else 0.0
        area = QRectF(self.viewport().rect()).adjusted(0, 0, 0, -reserved)
        if area.height() < 80:
            area, reserved = QRectF(self.viewport().rect()), 0.0
        scale = max(MIN_ZOOM, min(1.5, area.width() / rect.width(), area.height() / rect.height()))
        self.setTransform(QTransform.fromScale(scale, scale))
        self.centerOn(rect.center() + QPointF(0, reserved / 2 / scale))

    def update_scene_rect(self) -> None:
        """Room to pan well past the nodes in every direction."""
        rect = self.org_scene.nodes_rect()
        if rect.isEmpty():
            rect = QRectF(-400, -300, 800, 600)
        margin = max(rect.width(), rect.height(), 2000.0)
        self.setSceneRect(rect.adjusted(-margin, -margin, margin, margin))

    def paintEvent(self, event) -> None:
        self.far.set_active(self.zoom() < FAR_ZOOM)
        super().paintEvent(event)

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawBackground(painter, rect)
        if self.far.active:
            self.far.draw(painter, QRectF(self.viewport().rect()))

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(WHEEL_STEP ** steps, event.position())
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.place_corner_widget()

    def place_corner_widget(self) -> None:
        if self.corner_widget is not None:
            area = self.viewport().geometry()
            self.corner_widget.move(area.right() - self.corner_widget.width() - 10,
                                    area.bottom() - self.corner_widget.height() - 10)
            self.corner_widget.raise_()

    # --- keys ---
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    # --- mouse ---
    def mousePressEvent(self, event: QMouseEvent) -> None:
        scene_point = self.mapToScene(event.position().toPoint())
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton:
            retarget = self._edge_end_at(scene_point)
            if retarget is not None:
                self._retarget = retarget
                edge, end = retarget
                fixed = edge.endpoints()[0 if end == "target" else 1]
                self._start_rubber_line(fixed, scene_point)
                event.accept()
                return
            node = self.org_scene.node_at(scene_point)
            if node is not None and node.handle_hit(scene_point):
                self._connect_from = node
                self._start_rubber_line(node.mapToScene(node.handle_center()), scene_point)
                event.accept()
                return
        super().mousePressEvent(event)
        if button == Qt.MouseButton.LeftButton:
            self._press_positions = {node.agent_id: (node.pos().x(), node.pos().y())
                                     for node in self._selected_nodes()}

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.pan_by(-delta.x(), -delta.y())
            event.accept()
            return
        if self._rubber_line is not None:
            line = self._rubber_line.line()
            self._rubber_line.setLine(QLineF(line.p1(), self.mapToScene(event.position().toPoint())))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        scene_point = self.mapToScene(event.position().toPoint())
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor) if self._space_held else self.viewport().unsetCursor()
            event.accept()
            return
        if self._connect_from is not None or self._retarget is not None:
            self._finish_drag_line(scene_point)
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self._press_positions:
            moved = {}
            for agent_id, before in self._press_positions.items():
                node = self.org_scene.node(agent_id)
                if node is not None and (node.pos().x(), node.pos().y()) != before:
                    moved[agent_id] = (node.pos().x(), node.pos().y())
            self._press_positions = {}
            if moved:
                self.nodes_moved.emit(moved)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        scene_point = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and self.itemAt(event.position().toPoint()) is None:
            self.add_requested.emit(scene_point)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event) -> None:
        scene_point = self.mapToScene(event.pos())
        item = self._item_at(scene_point)
        if item is not None and not item.isSelected():
            self.org_scene.clearSelection()
            item.setSelected(True)
        self.context_requested.emit(item, scene_point, event.globalPos())
        event.accept()

    # --- helpers ---
    def _item_at(self, scene_point: QPointF) -> QGraphicsItem | None:
        for item in self.org_scene.items(scene_point):
            if isinstance(item, (NodeItem, EdgeItem)) and item.flags() & QGraphicsItem.GraphicsItemFlag.ItemIsSelectable:
                return item
        return None

    def _selected_nodes(self) -> list[NodeItem]:
        return [item for item in self.org_scene.selectedItems() if isinstance(item, NodeItem)]

    def _edge_end_at(self, scene_point: QPointF) -> tuple[EdgeItem, str] | None:
        grab = _END_GRAB / max(self.zoom(), 0.2)
        for item in self.org_scene.selectedItems():
            if isinstance(item, EdgeItem):
                start, end = item.endpoints()
                if QLineF(scene_point, end).length() <= grab:
                    return item, "target"
                if QLineF(scene_point, start).length() <= grab:
                    return item, "source"
        return None

    def _start_rubber_line(self, start: QPointF, end: QPointF) -> None:
        line = QGraphicsLineItem(QLineF(start, end))
        pen = QPen(self.org_scene.palette.selection, 2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        line.setPen(pen)
        line.setZValue(10)
        self.org_scene.addItem(line)
        self._rubber_line = line

    def _finish_drag_line(self, scene_point: QPointF) -> None:
        if self._rubber_line is not None:
            self.org_scene.removeItem(self._rubber_line)
            self._rubber_line = None
        target = self.org_scene.node_at(scene_point)
        source, retarget = self._connect_from, self._retarget
        self._connect_from, self._retarget = None, None
        if target is None:
            return
        if source is not None and target is not source:
            self.connect_requested.emit(source.agent_id, target.agent_id)
        elif retarget is not None:
            edge, end = retarget
            channel: Channel = edge.channel
            if target.agent_id != (channel.target if end == "target" else channel.source):
                self.retarget_requested.emit(channel, end, target.agent_id)
