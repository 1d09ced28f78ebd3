"""Drive the real graph editor with mouse and keyboard; check the org model after every step and undo/redo all of it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from orgruntime import Channel, ChannelKind

from tests.widgets.helpers import click, drag, empty_spot, node_center, node_handle

pytestmark = pytest.mark.qt


def test_create_connect_rename_move_delete_then_undo_and_redo_everything(make_editor, solo_org, qtbot):
    editor = make_editor(solo_org)
    document = editor.document
    history = [document.org]

    QTest.mouseDClick(editor.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, empty_spot(editor))
    assert document.org.agent_ids == ("agent", "ceo")
    assert document.org.layout.get("agent") is not None
    history.append(document.org)

    QTest.keyClick(editor.view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert document.org.agent_ids == ("agent", "agent-2", "ceo")
    first, second = document.org.layout.get("agent"), document.org.layout.get("agent-2")
    assert abs(first.x - second.x) >= 184 or abs(first.y - second.y) >= 76  # never on top of each other
    history.append(document.org)

    editor.view.fit_all()
    qtbot.wait(10)
    editor.channel_kind.setCurrentText("reviews")
    drag(editor, node_handle(editor, "agent"), node_center(editor, "agent-2"))
    assert document.org.channels == (Channel(source="agent", target="agent-2", kind=ChannelKind.REVIEWS),)
    assert editor.scene.edge(document.org.channels[0]) is not None
    history.append(document.org)

    click(editor, node_center(editor, "agent"))
    assert editor.scene.selected_agent_ids() == ["agent"]
    QTest.keyClick(editor.view, Qt.Key.Key_F2)
    assert editor.rename_editor.isVisible()
    editor.rename_editor.clear()
    QTest.keyClicks(editor.rename_editor, "writer")
    QTest.keyClick(editor.rename_editor, Qt.Key.Key_Return)
    assert document.org.agent_ids == ("agent-2", "ceo", "writer")
    assert document.org.channels == (Channel(source="writer", target="agent-2", kind=ChannelKind.REVIEWS),)
    history.append(document.org)

    before = document.org.layout.get("agent-2")
    start = node_center(editor, "agent-2")
    drag(editor, start, start + QPoint(90, 60))
    moved = document.org.layout.get("agent-2")
    assert (moved.x, moved.y) != (before.x, before.y)
    assert document.org.agents == history[-1].agents and document.org.channels == history[-1].channels
    history.append(document.org)

    click(editor, node_center(editor, "writer"))
    editor.view.setFocus()
    QTest.keyClick(editor.view, Qt.Key.Key_Delete)
    assert document.org.agent_ids == ("agent-2", "ceo")
    assert document.org.channels == ()
    assert editor.scene.node("writer") is None and not editor.scene.edge_items()
    history.append(document.org)

    for expected in reversed(history[:-1]):
        QTest.keyClick(editor.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert document.org == expected
        assert sorted(editor.scene.nodes) == list(expected.agent_ids)
        assert {e.channel for e in editor.scene.edge_items()} == set(expected.channels)
    assert document.org == solo_org
    for expected in history[1:]:
        QTest.keyClick(editor.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        assert document.org == expected
        for agent_id, point in expected.layout.positions:
            node = editor.scene.node(agent_id)
            assert (node.pos().x(), node.pos().y()) == (point.x, point.y)
    assert document.undo_stack.count() == len(history) - 1
