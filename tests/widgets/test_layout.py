"""Auto-layout: every template and generated orgs, no overlaps, one undo step, few crossings."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orgruntime import Layout, MoveNodes, hierarchy_layers, template_names

from tests.widgets.orgs import generated_org
from widgets import auto_layout, count_crossings, free_position
from widgets._geometry import overlaps

pytestmark = pytest.mark.qt


def assert_no_overlaps(positions) -> None:
    points = sorted((p.x, p.y) for p in positions.values())
    for a, b in itertools.combinations(points, 2):
        assert not overlaps(a, b), (a, b)


@pytest.mark.parametrize("template", template_names())
def test_every_template_lays_out_without_overlaps(template, template_org):
    org, _ = template_org(template)
    positions = auto_layout(org)
    assert set(positions) == set(org.agent_ids)
    assert_no_overlaps(positions)
    assert positions[org.entry].y == min(p.y for p in positions.values())


@settings(max_examples=40)
@given(agents=st.integers(1, 40), extra=st.integers(0, 60), components=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_generated_orgs_lay_out_without_overlaps(agents, extra, components, seed):
    components = min(components, agents)
    org = generated_org(agents, min(agents - components + extra, agents * (agents - 1) // 2 // components),
                        seed=seed, components=components)
    positions = auto_layout(org)
    assert set(positions) == set(org.agent_ids)
    assert_no_overlaps(positions)
    level_of = {agent_id: depth for depth, layer in enumerate(hierarchy_layers(org)) for agent_id in layer}
    by_y = {}
    for agent_id, point in positions.items():
        by_y.setdefault(point.y, set()).add(level_of[agent_id])
    assert all(len(levels) == 1 for levels in by_y.values())  # each row is one level of the hierarchy


def test_crossing_reduction_untangles_a_crossed_tree():
    neighbours = {"top1": {"b2"}, "top2": {"b1"}, "b1": {"top2"}, "b2": {"top1"}}
    assert count_crossings([["top1", "top2"], ["b1", "b2"]], neighbours) == 1
    assert count_crossings([["top1", "top2"], ["b2", "b1"]], neighbours) == 0
    tangled = generated_org(60, 120, seed=3)
    positions = auto_layout(tangled)
    layers = {}
    for agent_id, point in sorted(positions.items(), key=lambda item: item[1].x):
        layers.setdefault(point.y, []).append(agent_id)
    ordered = [layers[y] for y in sorted(layers)]
    from widgets._autolayout import _neighbours  # the same adjacency the layout used

    as_discovered = [list(layer) for layer in hierarchy_layers(tangled)]
    assert count_crossings(ordered, _neighbours(tangled)) <= count_crossings(as_discovered, _neighbours(tangled))


def test_layout_action_is_one_undo_step_and_free_positions_avoid_nodes(make_editor, template_org):
    org, _ = template_org("support-desk")
    org = replace(org, layout=Layout())
    editor = make_editor(org)
    editor.actions_by_name["layout"].trigger()
    assert editor.document.undo_stack.count() == 1
    assert isinstance(editor.document.undo_stack.command(0).edit, MoveNodes)
    assert_no_overlaps(editor.document.org.layout.as_dict())
    for agent_id, point in editor.document.org.layout.positions:
        assert (editor.scene.node(agent_id).pos().x(), editor.scene.node(agent_id).pos().y()) == (point.x, point.y)
    occupied = [(p.x, p.y) for p in editor.document.org.layout.as_dict().values()]
    spot = free_position(occupied, occupied[0])
    assert not any(overlaps((spot.x, spot.y), other) for other in occupied)
    editor.document.undo_stack.undo()
    assert editor.document.org == org
