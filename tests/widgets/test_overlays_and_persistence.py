"""Overlays change what is drawn (item state and a screenshot); saving after moves writes only the layout file."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint

from orgruntime import (
    AddAgent,
    AddChannel,
    Agent,
    Channel,
    ChannelKind,
    LAYOUT_FILE,
    RemoveAgent,
    SetAgentField,
    apply,
    load_org,
    save_org,
)
from orgruntime.vcs import diff_orgs

from tests.widgets.helpers import drag, node_center
from widgets import DiffMark, RunState

pytestmark = pytest.mark.qt


def test_diff_overlay_marks_added_changed_and_ghosts_removed(make_editor, template_org, artifacts, qtbot):
    base, _ = template_org("startup")
    base = apply(base, AddChannel(Channel(source="ceo", target="reviewer", kind=ChannelKind.DELEGATES)))
    edited = apply(base, AddAgent(Agent(id="analyst", name="Analyst", prompt="Analyse."), None))
    edited = apply(edited, SetAgentField("engineer", "role", "Builds everything"))
    edited = apply(edited, RemoveAgent("reviewer"))
    edited = apply(edited, AddChannel(Channel(source="ceo", target="analyst", kind=ChannelKind.REVIEWS)))
    editor = make_editor(edited)
    editor.view.fit_all()
    before = editor.grab().toImage()

    editor.show_diff(diff_orgs(base, edited), base)
    qtbot.wait(20)
    assert editor.scene.node("analyst").diff_mark is DiffMark.ADDED
    assert editor.scene.node("engineer").diff_mark is DiffMark.CHANGED
    assert "role" in editor.scene.node("engineer").toolTip()
    assert editor.scene.node("ceo").diff_mark is DiffMark.NONE
    ghost = editor.overlays.ghost_nodes["reviewer"]
    assert ghost.diff_mark is DiffMark.REMOVED and ghost.opacity() < 1
    assert {e.channel.target for e in editor.overlays.ghost_edges} >= {"reviewer"}
    assert editor.scene.edge(Channel(source="ceo", target="analyst", kind=ChannelKind.REVIEWS)).diff_mark is DiffMark.ADDED
    editor.view.fit_all()
    shot = editor.grab()
    shot.save(str(artifacts / "graph_editor_diff.png"))
    assert shot.toImage() != before

    editor.clear_diff()
    assert not editor.overlays.ghost_nodes and not editor.overlays.ghost_edges
    assert all(node.diff_mark is DiffMark.NONE for node in editor.scene.nodes.values())
    assert all(edge.diff_mark is DiffMark.NONE for edge in editor.scene.edge_items())
    assert editor.scene.node("reviewer") is None


def test_run_overlay_states_pulses_and_spend_then_clear(make_editor, template_org, artifacts, qtbot):
    org, _ = template_org("startup")
    editor = make_editor(org)
    editor.view.fit_all()
    editor.show_run_state("ceo", "thinking")
    editor.show_run_state("engineer", RunState.DONE)
    editor.set_spend("ceo", "1.2k tok · $0.003")
    assert editor.pulse_channel("ceo", "engineer")
    assert not editor.pulse_channel("ceo", "nobody")
    edge = editor.scene.edge(Channel(source="ceo", target="engineer", kind=ChannelKind.DELEGATES))
    assert edge.pulse > 0
    assert editor.scene.node("ceo").run_state is RunState.THINKING
    assert editor.scene.node("ceo").spend_text == "1.2k tok · $0.003"
    editor.grab().save(str(artifacts / "graph_editor_run.png"))
    qtbot.waitUntil(lambda: edge.pulse == 0, timeout=3000)  # the dot arrives and goes

    editor.apply_edit(SetAgentField("ceo", "role", "Still leads"))
    assert editor.scene.node("ceo").run_state is RunState.THINKING  # an edit keeps the overlay
    editor.clear_run()
    assert editor.scene.node("ceo").run_state is None and editor.scene.node("ceo").spend_text == ""
    with pytest.raises(ValueError):
        editor.show_run_state("ceo", "dancing")


def test_saving_after_moving_nodes_changes_only_the_layout_file(make_editor, template_org, qtbot):
    org, folder = template_org("startup")
    semantic = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file() and ".orgide" not in path.parts}
    editor = make_editor(org)
    editor.view.fit_all()
    start = node_center(editor, "engineer")
    drag(editor, start, start + QPoint(70, 40))
    assert editor.document.undo_stack.count() == 1
    result = save_org(editor.document.org, folder)
    assert result.written == (LAYOUT_FILE,) and result.deleted == ()
    assert {path: path.read_bytes() for path in semantic} == semantic
    reloaded = load_org(folder)
    assert reloaded.layout == editor.document.org.layout
    assert replace(reloaded, layout=org.layout) == org


def test_a_long_paint_never_frees_none(make_editor, template_org):
    import sys

    from PySide6.QtGui import QPen

    make_editor(template_org("startup")[0])
    before = sys.getrefcount(None)
    pen = QPen()
    for _ in range(200_000):
        pen.setWidth(1)  # a void call; PySide6 6.12 on Python 3.11 drops a reference to None each time
    assert sys.getrefcount(None) > 1_000_000 or sys.getrefcount(None) >= before - 10


def test_reset_from_disk_reconciles_the_canvas_and_clears_history(make_editor, template_org):
    from orgruntime import RenameAgent

    org, folder = template_org("startup")
    editor = make_editor(org)
    editor.apply_edit(SetAgentField("ceo", "role", "Leads"))
    outside = apply(apply(org, RenameAgent("reviewer", "checker")), AddAgent(Agent(id="intern", prompt="Help."), None))
    editor.document.reset(outside)
    assert editor.document.undo_stack.count() == 0
    assert sorted(editor.scene.nodes) == ["ceo", "checker", "engineer", "intern"]
    assert {e.channel for e in editor.scene.edge_items()} == set(outside.channels)
    assert editor.scene.node("ceo").agent.role == org.agent("ceo").role
    assert any("cannot be reached" in d.message for d in editor.scene.node("intern").diagnostics)


def test_dark_palette_and_default_model_badge(make_editor, template_org, artifacts):
    from orgruntime import ModelDefaults, SetOrgField

    from widgets import DARK, LIGHT

    org, _ = template_org("startup")
    editor = make_editor(org)
    editor.view.fit_all()
    assert editor.scene.node("ceo").default_model == "local/smollm2-135m-instruct"
    editor.apply_edit(SetOrgField("defaults", ModelDefaults(model="openai/gpt-4o-mini")))
    assert editor.scene.node("ceo").default_model == "openai/gpt-4o-mini"
    light = editor.grab().toImage()
    editor.scene.set_palette(DARK)
    assert editor.scene.node("ceo").palette is DARK and editor.scene.edge_items()[0].palette is DARK
    shot = editor.grab()
    shot.save(str(artifacts / "graph_editor_dark.png"))
    assert shot.toImage() != light
    centre = editor.view.viewport().rect().topLeft() + QPoint(5, 5)
    assert shot.toImage().pixelColor(editor.view.mapTo(editor, centre)).lightness() < 100  # a dark canvas
    editor.scene.set_palette(LIGHT)


def test_show_diff_takes_any_object_with_the_diff_fields_and_places_ghosts_apart(make_editor, template_org):
    from types import SimpleNamespace

    from widgets._geometry import overlaps

    org, _ = template_org("startup")
    editor = make_editor(org)
    diff = SimpleNamespace(agents_added=(), agents_removed=("gone",), agents_changed=(), agents_renamed=(),
                           channels_added=(), channels_changed=(),
                           channels_removed=(Channel(source="ceo", target="gone", kind=ChannelKind.DELEGATES),))
    editor.show_diff(diff)
    ghost = editor.overlays.ghost_nodes["gone"]
    spot = (ghost.pos().x(), ghost.pos().y())
    assert not any(overlaps(spot, (n.pos().x(), n.pos().y())) for n in editor.scene.nodes.values())
    assert editor.overlays.ghost_edges[0].target_node is ghost
    assert not ghost.flags() & ghost.GraphicsItemFlag.ItemIsSelectable
    editor.show_diff(diff)  # showing again replaces, never stacks
    assert len(editor.overlays.ghost_nodes) == 1 and len(editor.overlays.ghost_edges) == 1
    editor.clear_diff()
    assert ghost.scene() is None
