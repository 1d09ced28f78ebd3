"""The minimap: the whole org small, the visible part framed; click or drag in it to move the view."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsView, QWidget

from widgets._palette import NO_BRUSH
from widgets._scene import OrgScene


class Minimap(QWidget):
    """Draws a cached picture of the scene (refreshed shortly after it changes) and the view's frame."""

    def __init__(self, scene: OrgScene, view: QGraphicsView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("minimap")
        self.setFixedSize(200, 140)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._scene = scene
        self._view = view
        self._picture = QPixmap()
        self._source = QRectF()
        self._refresh = QTimer(self, singleShot=True, interval=250)
        self._refresh.timeout.connect(self.render_scene)
        scene.changed.connect(self._scene_changed)
        scene.palette_changed.connect(self.render_scene)
        view.horizontalScrollBar().valueChanged.connect(self.update)
        view.verticalScrollBar().valueChanged.connect(self.update)
        self.render_scene()

    def _scene_changed(self, _regions) -> None:
        self._refresh.start()

    def render_scene(self) -> None:
        rect = self._scene.nodes_rect().adjusted(-60, -60, 60, 60)
        self._source = rect
        self._picture = QPixmap(self.size() * self.devicePixelRatioF())
        self._picture.setDevicePixelRatio(self.devicePixelRatioF())
        self._picture.fill(self._scene.palette.background)
        if not rect.isEmpty():
            scale, offset = self._mapping()
            painter = QPainter(self._picture)
            self._view.far.paint_overview(
                painter, QTransform().translate(offset.x(), offset.y()).scale(scale, scale).translate(-rect.left(), -rect.top()))
            painter.end()
        self.update()

    def visible_frame(self) -> QRectF:
        """The main view's visible scene area, in minimap pixels."""
        visible = self._view.mapToScene(self._view.viewport().rect()).boundingRect()
        return QRectF(self.to_minimap(visible.topLeft()), self.to_minimap(visible.bottomRight()))

    def to_minimap(self, scene_point: QPointF) -> QPointF:
        scale, offset = self._mapping()
        return QPointF((scene_point.x() - self._source.left()) * scale + offset.x(),
                       (scene_point.y() - self._source.top()) * scale + offset.y())

    def to_scene(self, point: QPointF) -> QPointF:
        scale, offset = self._mapping()
        return QPointF((point.x() - offset.x()) / scale + self._source.left(),
                       (point.y() - offset.y()) / scale + self._source.top())

    def _target(self) -> QRectF:
        return QRectF(0, 0, self.width(), self.height())

    def _mapping(self) -> tuple[float, QPointF]:
        if self._source.isEmpty():
            return 1.0, QPointF()
        scale = min(self.width() / self._source.width(), self.height() / self._source.height())
        offset = QPointF((self.width() - self._source.width() * scale) / 2,
                         (self.height() - self._source.height() * scale) / 2)
        return scale, offset

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._picture)
        painter.setPen(QPen(self._scene.palette.node_border, 1))
        painter.setBrush(NO_BRUSH)
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        frame_color = QColor(self._scene.palette.selection)
        painter.setPen(QPen(frame_color, 1.5))
        fill = QColor(frame_color)
        fill.setAlpha(40)
        painter.setBrush(QBrush(fill))
        painter.drawRect(self.visible_frame().intersected(QRectF(self.rect())))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._view.centerOn(self.to_scene(event.position()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._view.centerOn(self.to_scene(event.position()))
        event.accept()
