"""Navigation (wheel zoom at the cursor, pan, fit, zoom to selection, minimap, find) and live validation."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from orgruntime import AddAgent, Agent, SetAgentField

from tests.widgets.helpers import drag, node_center
from tests.widgets.orgs import generated_org
from widgets import ValidationPanel, auto_layout

pytestmark = pytest.mark.qt


def wheel(editor, at: QPoint, steps: int) -> None:
    event = QWheelEvent(QPointF(at), QPointF(editor.view.viewport().mapToGlobal(at)), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(editor.view.viewport(), event)


@pytest.fixture
def big_editor(make_editor):
    from dataclasses import replace

    from orgruntime import Layout

    org = generated_org(40, 70, seed=5)
    return make_editor(replace(org, layout=Layout.of(auto_layout(org))))


def test_wheel_zooms_around_the_cursor(big_editor):
    editor = big_editor
    view = editor.view
    at = QPoint(300, 200)
    under = view.mapToScene(at)
    zoom = view.zoom()
    wheel(editor, at, 2)
    assert view.zoom() == pytest.approx(zoom * 1.15 ** 2)
    after = view.mapToScene(at)
    assert abs(after.x() - under.x()) < 2 / view.zoom() + 1 and abs(after.y() - under.y()) < 2 / view.zoom() + 1
    for _ in range(40):
        wheel(editor, at, -3)
    assert view.zoom() == pytest.approx(0.03)  # clamped


def test_middle_drag_and_space_drag_pan(big_editor):
    editor = big_editor
    view = editor.view
    centre = view.mapToScene(view.viewport().rect().center())
    drag(editor, QPoint(400, 300), QPoint(300, 250), button=Qt.MouseButton.MiddleButton)
    moved = view.mapToScene(view.viewport().rect().center())
    assert moved.x() - centre.x() == pytest.approx(100 / view.zoom(), abs=2 / view.zoom())
    assert editor.document.undo_stack.count() == 0
    QTest.keyPress(view, Qt.Key.Key_Space)
    drag(editor, QPoint(300, 300), QPoint(360, 300))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    again = view.mapToScene(view.viewport().rect().center())
    assert again.x() - moved.x() == pytest.approx(-60 / view.zoom(), abs=2 / view.zoom())
    assert not editor.scene.selectedItems() and editor.document.undo_stack.count() == 0


def test_fit_all_and_zoom_to_selection(big_editor):
    editor = big_editor
    view = editor.view
    QTest.keyClick(view, Qt.Key.Key_F)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(editor.scene.nodes_rect())
    editor.select_agent("a0007")
    QTest.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ShiftModifier)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(editor.scene.node("a0007").sceneBoundingRect())
    assert visible.width() < editor.scene.nodes_rect().width()


def test_minimap_click_moves_the_view(big_editor):
    editor = big_editor
    editor.minimap.render_scene()
    target = editor.scene.node("a0039").scenePos()
    QTest.mouseClick(editor.minimap, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     editor.minimap.to_minimap(target).toPoint())
    centre = editor.view.mapToScene(editor.view.viewport().rect().center())
    scale = editor.minimap._mapping()[0]
    assert abs(centre.x() - target.x()) < 2 / scale and abs(centre.y() - target.y()) < 2 / scale
    assert editor.minimap.visible_frame().contains(editor.minimap.to_minimap(target))


def test_find_with_keyboard_navigation(big_editor):
    editor = big_editor
    QTest.keyClick(editor.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    bar = editor.find_bar
    assert bar.isVisible() and bar.field.hasFocus()
    QTest.keyClicks(bar.field, "a001")
    assert bar.matches == [f"a001{i}" for i in range(10)]
    assert editor.scene.selected_agent_ids() == ["a0010"]
    assert bar.count_label.text() == "1 of 10"
    QTest.keyClick(bar.field, Qt.Key.Key_Down)
    QTest.keyClick(bar.field, Qt.Key.Key_Return)
    assert editor.scene.selected_agent_ids() == ["a0012"]
    QTest.keyClick(bar.field, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    QTest.keyClick(bar.field, Qt.Key.Key_Up)
    QTest.keyClick(bar.field, Qt.Key.Key_Up)
    assert editor.scene.selected_agent_ids() == ["a0019"]  # wraps around
    assert editor.scene.node("a0015").found and not editor.scene.node("a0020").found
    visible = editor.view.mapToScene(editor.view.viewport().rect()).boundingRect()
    assert visible.contains(editor.scene.node("a0019").scenePos())
    QTest.keyClick(bar.field, Qt.Key.Key_Escape)
    assert not bar.isVisible() and not editor.scene.node("a0015").found
    bar.open_bar()
    bar.field.setText("nobody")
    assert bar.count_label.text() == "no match"


def test_badges_follow_edits_and_the_panel_selects_the_node(make_editor, template_org, qtbot):
    org, _ = template_org("startup")
    editor = make_editor(org)
    assert all(not node.diagnostics for node in editor.scene.nodes.values())
    editor.apply_edit(SetAgentField("engineer", "temperature", 5.0))
    badge = editor.scene.node("engineer").diagnostics
    assert [d.message for d in badge] == ["temperature must be between 0 and 2, not 5.0"]
    assert "temperature must be between 0 and 2" in editor.scene.node("engineer").toolTip()
    editor.apply_edit(AddAgent(Agent(id="loner")))
    messages = [d.message for d in editor.scene.node("loner").diagnostics]
    assert any("no prompt" in m for m in messages) and any("cannot be reached" in m for m in messages)

    panel = ValidationPanel(editor.validation)
    qtbot.addWidget(panel)
    assert panel.count() == 3
    row = next(i for i in range(panel.count()) if "loner" in panel.item(i).text())
    panel.agent_activated.connect(editor.select_agent)
    panel.itemClicked.emit(panel.item(row))
    assert editor.scene.selected_agent_ids() == ["loner"]

    editor.document.undo_stack.undo()
    editor.document.undo_stack.undo()
    assert not editor.scene.node("engineer").diagnostics
    assert panel.count() == 1 and panel.item(0).text() == "No problems"


def test_moving_nodes_does_not_revalidate(make_editor, template_org):
    org, _ = template_org("startup")
    editor = make_editor(org)
    editor.view.fit_all()
    emitted = []
    editor.validation.changed.connect(emitted.append)
    start = node_center(editor, "ceo")
    drag(editor, start, start + QPoint(30, 0))
    assert editor.document.undo_stack.count() == 1 and emitted == []


def test_a_curve_segment_follows_the_curve():
    from PySide6.QtCore import QPointF

    from widgets._edge_item import _quad_segment

    a, c, b = QPointF(0, 0), QPointF(500, 900), QPointF(1000, 0)

    def on_curve(t: float) -> QPointF:
        u = 1 - t
        return a * (u * u) + c * (2 * u * t) + b * (t * t)

    segment = _quad_segment(a, c, b, 0.25, 0.75)
    start, end = segment.pointAtPercent(0.0), segment.pointAtPercent(1.0)
    for got, expected in ((start, on_curve(0.25)), (end, on_curve(0.75))):
        assert abs(got.x() - expected.x()) < 1e-6 and abs(got.y() - expected.y()) < 1e-6
    # this curve is symmetric about t = 0.5, so the segment's halfway point (by length) is the curve at t = 0.5
    middle, expected = segment.pointAtPercent(0.5), on_curve(0.5)
    assert abs(middle.x() - expected.x()) < 2 and abs(middle.y() - expected.y()) < 2


def test_far_out_the_org_is_drawn_as_one_picture_and_stays_selectable(big_editor, qtbot):
    from PySide6.QtWidgets import QGraphicsItem

    from widgets._far_view import FAR_ZOOM

    editor = big_editor
    view = editor.view
    view.zoom_by(0.05 / view.zoom())
    view.viewport().repaint()
    assert view.far.active and view.zoom() < FAR_ZOOM
    node = editor.scene.node("a0003")
    assert node.flags() & QGraphicsItem.GraphicsItemFlag.ItemHasNoContents
    image_before = view.viewport().grab().toImage()
    click_point = view.mapFromScene(node.scenePos())
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, click_point)
    assert editor.scene.selected_agent_ids() == ["a0003"]
    view.viewport().repaint()
    assert view.viewport().grab().toImage() != image_before  # the selected node is drawn in the selection colour
    view.zoom_by(1.0 / view.zoom())
    view.viewport().repaint()
    assert not view.far.active
    assert not node.flags() & QGraphicsItem.GraphicsItemFlag.ItemHasNoContents


def test_large_orgs_are_revalidated_after_the_last_keystroke(make_editor, qtbot):
    from widgets._validation import SYNC_LIMIT

    org = generated_org(SYNC_LIMIT + 10, SYNC_LIMIT + 20, seed=2)
    editor = make_editor(org)
    seen = []
    editor.validation.changed.connect(seen.append)
    for text in ("", "a", ""):
        editor.apply_edit(SetAgentField("a0005", "prompt", text))
    assert editor.validation.pending and seen == []
    qtbot.waitUntil(lambda: not editor.validation.pending, timeout=2000)
    assert len(seen) == 1 and any("a0005" in d.message for d in seen[0])
    assert editor.scene.node("a0005").diagnostics


def test_a_long_edge_crossing_the_view_without_a_sample_inside_is_still_drawn():
    from PySide6.QtCore import QPointF, QRectF

    from orgruntime import Agent, Channel, ChannelKind

    from widgets import EdgeItem, NodeItem

    left, right = NodeItem(Agent(id="left"), is_entry=False), NodeItem(Agent(id="right"), is_entry=False)
    left.setPos(-100_000, 0)
    right.setPos(100_000, 0)
    edge = EdgeItem(Channel(source="left", target="right", kind=ChannelKind.PEERS), left, right)
    crossing = edge._path.pointAtPercent(0.52)  # between two of the 24 samples
    view = QRectF(crossing.x() - 50, crossing.y() - 50, 100, 100)  # far smaller than the gap between samples
    part = edge._visible_part(view)
    assert not part.isEmpty()
    assert part.length() < edge._path.length() / 5
    assert edge._visible_part(QRectF(0, 50_000, 100, 100)).isEmpty()
    assert edge._visible_part(QRectF(QPointF(-200_000, -200_000), QPointF(200_000, 200_000))) is edge._path


def test_single_letter_shortcuts_never_fire_while_typing(big_editor):
    editor = big_editor
    QTest.keyClick(editor.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(editor.find_bar.field, "fl")
    assert editor.find_bar.field.text() == "fl"
    assert editor.document.undo_stack.count() == 0  # "l" did not lay out
    editor.find_bar.close_bar()
    editor.select_agent("a0001")
    QTest.keyClick(editor.view, Qt.Key.Key_F2)
    QTest.keyClicks(editor.rename_editor, "lf")
    assert editor.rename_editor.text().endswith("lf") and editor.document.undo_stack.count() == 0


def test_after_a_fit_no_node_hides_behind_the_minimap(template_org, make_editor):
    org, _folder = template_org("startup")
    editor = make_editor(org, size=(640, 420))  # a main window's centre, with docks around it
    view, minimap = editor.view, editor.minimap
    view.fit_all()
    view.place_corner_widget()
    covered = minimap.geometry()
    for agent_id in editor.scene.nodes:
        box = view.mapFromScene(editor.scene.node(agent_id).sceneBoundingRect()).boundingRect()
        assert not box.intersects(covered), agent_id


def test_the_minimap_follows_a_palette_change(big_editor):
    from widgets import DARK, LIGHT

    editor = big_editor
    editor.scene.set_palette(LIGHT)
    light = editor.minimap._picture.toImage().pixelColor(1, 1)
    editor.scene.set_palette(DARK)
    dark = editor.minimap._picture.toImage().pixelColor(1, 1)
    assert light == LIGHT.background and dark == DARK.background
