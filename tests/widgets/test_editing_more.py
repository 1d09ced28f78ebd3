"""The rest of the editing gestures: multi-select and move, retarget, kinds, duplicate, copy/paste, entry."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from orgruntime import Channel, ChannelKind

from tests.widgets.helpers import click, drag, empty_spot, node_center, node_handle, viewport_point

pytestmark = pytest.mark.qt

CEO_ENGINEER = Channel(source="ceo", target="engineer", kind=ChannelKind.DELEGATES)


@pytest.fixture
def startup_editor(make_editor, template_org, qtbot):
    editor = make_editor(template_org("startup")[0])
    editor.view.fit_all()
    qtbot.wait(10)
    return editor


def test_ctrl_click_then_drag_moves_both_as_one_step(startup_editor):
    editor = startup_editor
    before = editor.document.org.layout.as_dict()
    click(editor, node_center(editor, "engineer"))
    click(editor, node_center(editor, "reviewer"), Qt.KeyboardModifier.ControlModifier)
    assert editor.scene.selected_agent_ids() == ["engineer", "reviewer"]
    start = node_center(editor, "engineer")
    drag(editor, start, start + QPoint(40, 80))
    after = editor.document.org.layout.as_dict()
    assert editor.document.undo_stack.count() == 1
    for agent_id in ("engineer", "reviewer"):
        assert after[agent_id].y - before[agent_id].y == pytest.approx(after["engineer"].y - before["engineer"].y)
        assert after[agent_id] != before[agent_id]
    assert after["ceo"] == before["ceo"]
    editor.document.undo_stack.undo()
    assert editor.document.org.layout.as_dict() == before


def test_rubber_band_selects_every_node_it_touches(startup_editor):
    editor = startup_editor
    rect = editor.scene.nodes_rect()
    top_left = viewport_point(editor, rect.topLeft()) - QPoint(20, 20)
    bottom_right = viewport_point(editor, rect.bottomRight()) + QPoint(20, 20)
    drag(editor, top_left, bottom_right)
    assert editor.scene.selected_agent_ids() == ["ceo", "engineer", "reviewer"]
    assert editor.document.undo_stack.count() == 0


def test_drag_an_edge_end_onto_another_node_retargets_it(startup_editor, qtbot):
    editor = startup_editor
    editor.select_channel(CEO_ENGINEER)
    edge = editor.scene.edge(CEO_ENGINEER)
    _, end = edge.endpoints()
    drag(editor, viewport_point(editor, end), node_center(editor, "reviewer"))
    assert CEO_ENGINEER not in editor.document.org.channels
    assert editor.document.org.channels[0] == Channel(source="ceo", target="reviewer", kind=ChannelKind.DELEGATES)
    editor.document.undo_stack.undo()
    assert editor.document.org.channels[0] == CEO_ENGINEER


def test_dropping_a_connection_on_empty_canvas_or_a_duplicate_changes_nothing(startup_editor):
    editor = startup_editor
    org = editor.document.org
    failures = []
    editor.edit_failed.connect(failures.append)
    drag(editor, node_handle(editor, "ceo"), empty_spot(editor))
    assert editor.document.org == org
    drag(editor, node_handle(editor, "ceo"), node_center(editor, "engineer"))  # ceo -> engineer delegates exists
    assert editor.document.org == org
    assert failures and "already" in failures[0]


def test_context_menu_changes_kind_and_reverses(startup_editor):
    editor = startup_editor
    menu = editor.context_menu(editor.scene.edge(CEO_ENGINEER), editor.scene.edge(CEO_ENGINEER).scenePos())
    kinds = next(action.menu() for action in menu.actions() if action.text() == "Kind")
    next(action for action in kinds.actions() if action.text() == "reviews").trigger()
    changed = Channel(source="ceo", target="engineer", kind=ChannelKind.REVIEWS)
    assert editor.document.org.channels[0] == changed
    menu = editor.context_menu(editor.scene.edge(changed), editor.scene.edge(changed).scenePos())
    next(action for action in menu.actions() if action.text() == "Reverse direction").trigger()
    assert editor.document.org.channels[0] == Channel(source="engineer", target="ceo", kind=ChannelKind.REVIEWS)
    assert editor.document.undo_stack.count() == 2


def test_duplicate_copy_paste_between_two_editors_and_entry(startup_editor, make_editor, solo_org):
    editor = startup_editor
    click(editor, node_center(editor, "engineer"))
    click(editor, node_center(editor, "reviewer"), Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(editor.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    org = editor.document.org
    assert {"engineer-2", "reviewer-2"} <= set(org.agent_ids)
    assert Channel(source="engineer-2", target="reviewer-2", kind=ChannelKind.REVIEWS) in org.channels
    assert org.agent("engineer-2").prompt == org.agent("engineer").prompt
    assert editor.scene.selected_agent_ids() == ["engineer-2", "reviewer-2"]
    positions = org.layout.as_dict()
    from widgets._geometry import overlaps

    for new in ("engineer-2", "reviewer-2"):
        for other in org.agent_ids:
            if other != new:
                assert not overlaps((positions[new].x, positions[new].y), (positions[other].x, positions[other].y))
    assert editor.document.undo_stack.count() == 1

    QTest.keyClick(editor.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    other = make_editor(solo_org)
    QTest.keyClick(other.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    pasted = other.document.org
    assert set(pasted.agent_ids) == {"ceo", "engineer-2", "reviewer-2"}
    assert Channel(source="engineer-2", target="reviewer-2", kind=ChannelKind.REVIEWS) in pasted.channels
    QTest.keyClick(other.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert set(other.document.org.agent_ids) == {"ceo", "engineer-2", "reviewer-2", "engineer-3", "reviewer-3"}

    other.select_agent("engineer-2")
    QTest.keyClick(other.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert other.document.org.entry == "engineer-2"
    assert other.scene.node("engineer-2").is_entry and not other.scene.node("ceo").is_entry


def test_paste_of_foreign_text_does_nothing_and_bad_ids_get_fresh_ones(startup_editor):
    from PySide6.QtGui import QGuiApplication

    editor = startup_editor
    for text in ("not an org", "[1, 2]", '{"orgide": 1, "agents": "x"}', '{"orgide": 2, "agents": [{"id": "x"}]}'):
        QGuiApplication.clipboard().setText(text)
        assert editor.paste() == []
    assert editor.document.undo_stack.count() == 0
    QGuiApplication.clipboard().setText('{"orgide": 1, "agents": [{"id": "Bad Id!", "prompt": "p"}]}')
    assert editor.paste() == ["agent"]
    assert editor.document.org.agent("agent").prompt == "p"


def test_rename_rejects_bad_ids_and_escape_cancels(startup_editor):
    editor = startup_editor
    editor.select_agent("engineer")
    QTest.keyClick(editor.view, Qt.Key.Key_F2)
    editor.rename_editor.clear()
    QTest.keyClicks(editor.rename_editor, "Not Valid")
    QTest.keyClick(editor.rename_editor, Qt.Key.Key_Return)
    assert editor.rename_editor.isVisible() and editor.document.undo_stack.count() == 0
    QTest.keyClick(editor.rename_editor, Qt.Key.Key_Escape)
    assert not editor.rename_editor.isVisible()
    assert editor.document.org.has_agent("engineer")


def test_rapid_prompt_edits_merge_into_one_step_but_other_fields_do_not(startup_editor):
    from orgruntime import SetAgentField

    editor = startup_editor
    original = editor.document.org
    for text in ("A", "AB", "ABC"):
        editor.apply_edit(SetAgentField("engineer", "prompt", text))
    editor.apply_edit(SetAgentField("engineer", "temperature", 0.5))
    editor.apply_edit(SetAgentField("engineer", "temperature", 0.6))
    assert editor.document.undo_stack.count() == 3
    editor.document.undo_stack.undo()
    editor.document.undo_stack.undo()
    assert editor.document.org.agent("engineer").prompt == "ABC"
    editor.document.undo_stack.undo()
    assert editor.document.org == original


def test_node_and_canvas_context_menus(startup_editor):
    from PySide6.QtCore import QPointF

    from orgruntime import AgentKind

    editor = startup_editor
    editor.select_agent("reviewer")
    node = editor.scene.node("reviewer")
    menu = editor.context_menu(node, node.scenePos())
    texts = [action.text() for action in menu.actions()]
    assert {"Rename", "Duplicate", "Copy", "Delete", "Make entry agent", "Human seat"} <= set(texts)
    next(a for a in menu.actions() if a.text() == "Human seat").trigger()
    assert editor.document.org.agent("reviewer").kind is AgentKind.HUMAN
    next(a for a in menu.actions() if a.text() == "Make entry agent").trigger()
    assert editor.document.org.entry == "reviewer"
    canvas = editor.context_menu(None, QPointF(5000, 5000))
    next(a for a in canvas.actions() if a.text() == "Add agent here").trigger()
    added = editor.document.org.layout.get("agent")
    assert (added.x, added.y) == (5000, 5000)
    assert editor.document.undo_stack.count() == 3


def test_hovering_an_edge_shows_its_kind(startup_editor):
    editor = startup_editor
    edge = editor.scene.edge(CEO_ENGINEER)
    middle = viewport_point(editor, edge._path.pointAtPercent(0.5))
    QTest.mouseMove(editor.view.viewport(), middle)
    assert edge.hovered
    assert edge.toolTip() == "ceo -> engineer (delegates)"
    node = editor.scene.node("ceo")
    QTest.mouseMove(editor.view.viewport(), node_center(editor, "ceo"))
    assert not edge.hovered and node.hovered
    assert "entry agent" in node.toolTip()


def test_an_invalid_org_opens_and_heals_as_it_is_edited(make_editor):
    from orgruntime import AddAgent, Agent, Org

    broken = Org(name="", entry="boss", agents=(Agent(id="solo", prompt="p"),),
                 channels=(Channel(source="solo", target="helper", kind=ChannelKind.DELEGATES),
                           Channel(source="solo", target="solo", kind=ChannelKind.PEERS)))
    editor = make_editor(broken)
    editor.view.fit_all()
    assert not editor.scene.edge_items()  # channels to unknown agents, or to itself, are not drawn
    assert editor.validation.diagnostics  # and are reported
    editor.apply_edit(AddAgent(Agent(id="helper", prompt="p")))
    assert [e.channel.target for e in editor.scene.edge_items()] == ["helper"]
    editor.document.undo_stack.undo()
    assert not editor.scene.edge_items()


def test_an_org_without_agents_shows_an_empty_canvas(make_editor, qtbot):
    from orgruntime import Org

    editor = make_editor(Org(name="Empty", entry="nobody"))
    editor.view.fit_all()
    editor.actions_by_name["layout"].trigger()
    editor.minimap.render_scene()
    assert editor.document.undo_stack.count() == 0
    assert editor.add_agent() == "agent"
    assert editor.scene.selected_agent_ids() == ["agent"]


def test_drag_an_edge_source_end_onto_another_node(startup_editor):
    editor = startup_editor
    editor.select_channel(CEO_ENGINEER)
    start, _ = editor.scene.edge(CEO_ENGINEER).endpoints()
    drag(editor, viewport_point(editor, start), node_center(editor, "reviewer"))
    assert editor.document.org.channels[0] == Channel(source="reviewer", target="engineer", kind=ChannelKind.DELEGATES)
    assert editor.scene.selected_channels() == [editor.document.org.channels[0]]
