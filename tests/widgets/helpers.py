"""Mouse and keyboard helpers that drive the editor's viewport like a person would."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest


def viewport_point(editor, scene_point: QPointF) -> QPoint:
    return editor.view.mapFromScene(scene_point)


def node_center(editor, agent_id: str) -> QPoint:
    node = editor.scene.node(agent_id)
    return viewport_point(editor, node.scenePos())


def node_handle(editor, agent_id: str) -> QPoint:
    node = editor.scene.node(agent_id)
    return viewport_point(editor, node.mapToScene(node.handle_center()))


def drag(editor, start: QPoint, end: QPoint, *, steps: int = 6,
         modifiers=Qt.KeyboardModifier.NoModifier, button=Qt.MouseButton.LeftButton) -> None:
    viewport = editor.view.viewport()
    QTest.mouseMove(viewport, start)
    QTest.mousePress(viewport, button, modifiers, start)
    for index in range(1, steps + 1):
        point = start + (end - start) * index / steps
        QTest.mouseMove(viewport, point)
    QTest.mouseRelease(viewport, button, modifiers, end)


def click(editor, point: QPoint, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.mouseClick(editor.view.viewport(), Qt.MouseButton.LeftButton, modifiers, point)


def empty_spot(editor) -> QPoint:
    """A viewport point with no item under it."""
    rect = editor.view.viewport().rect()
    for y in range(40, rect.height() - 40, 37):
        for x in range(40, rect.width() - 260, 41):
            point = QPoint(x, y)
            if editor.view.itemAt(point) is None:
                return point
    raise AssertionError("no empty spot in the view")
