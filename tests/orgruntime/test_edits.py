"""Edits are pure, and every edit followed by its inverse gives back the original org."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from orgruntime import (
    AddAgent,
    AddChannel,
    Agent,
    Channel,
    ChannelKind,
    EditBatch,
    EditError,
    MoveNodes,
    Point,
    RemoveAgent,
    RemoveChannel,
    RenameAgent,
    ReplaceChannel,
    SetAgentField,
    SetOrgField,
    apply,
    apply_with_inverse,
    describe,
    inverse,
    load_org,
)
from tests.orgruntime.strategies import org_and_edits

STARTUP = Path(__file__).resolve().parents[2] / "resources" / "templates" / "startup"


@settings(max_examples=300)
@given(org_and_edits())
def test_every_edit_followed_by_its_inverse_gives_back_the_original(case):
    org, edit = case
    edited, undo = apply_with_inverse(org, edit)
    assert apply(edited, undo) == org
    redo = inverse(edited, undo)
    assert apply(org, redo) == edited


@settings(max_examples=100)
@given(org_and_edits())
def test_edits_never_change_the_org_they_are_given(case):
    org, edit = case
    snapshot = repr(org)
    apply(org, edit)
    assert repr(org) == snapshot


def test_rename_updates_every_channel_the_entry_and_the_layout():
    org = load_org(STARTUP)
    renamed = apply(org, RenameAgent("ceo", "chief"))
    assert renamed.entry == "chief"
    assert renamed.agent_ids == ("chief", "engineer", "reviewer")
    assert [(c.source, c.target) for c in renamed.channels] == [("chief", "engineer"), ("engineer", "reviewer"), ("reviewer", "chief")]
    assert renamed.layout.get("chief") == org.layout.get("ceo")
    assert renamed.layout.get("ceo") is None


def test_removing_an_agent_removes_its_channels_and_position_and_undo_restores_their_order():
    org = load_org(STARTUP)
    removed, undo = apply_with_inverse(org, RemoveAgent("engineer"))
    assert removed.agent_ids == ("ceo", "reviewer")
    assert removed.channels == (Channel(source="reviewer", target="ceo", kind=ChannelKind.REPORTS),)
    assert removed.layout.get("engineer") is None
    assert apply(removed, undo) == org


def test_replace_channel_keeps_its_place():
    org = load_org(STARTUP)
    old = org.channels[1]
    new = Channel(source="engineer", target="ceo", kind=ChannelKind.REPORTS)
    assert apply(org, ReplaceChannel(old, new)).channels[1] == new


def test_a_batch_is_one_step():
    org = load_org(STARTUP)
    batch = EditBatch((
        AddAgent(Agent(id="qa", name="QA", prompt="Test it."), Point(10, 20)),
        AddChannel(Channel(source="reviewer", target="qa", kind=ChannelKind.DELEGATES)),
        SetOrgField("entry", "qa"),
    ), label="Add QA")
    edited, undo = apply_with_inverse(org, batch)
    assert edited.entry == "qa" and edited.has_agent("qa") and edited.layout.get("qa") == Point(10, 20)
    assert apply(edited, undo) == org
    assert describe(batch) == "Add QA"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (AddAgent(Agent(id="ceo", prompt="x")), "already an agent 'ceo'"),
        (AddAgent(Agent(id="Bad Id", prompt="x")), "not a valid agent id"),
        (RemoveAgent("ghost"), "no agent 'ghost'"),
        (RenameAgent("ceo", "engineer"), "already an agent 'engineer'"),
        (RenameAgent("ceo", "-x"), "not a valid agent id"),
        (SetAgentField("ceo", "id", "x"), "not an editable agent field"),
        (SetOrgField("channels", ()), "not an editable org field"),
        (AddChannel(Channel(source="ceo", target="engineer", kind=ChannelKind.DELEGATES)), "already a channel"),
        (AddChannel(Channel(source="ceo", target="ceo", kind=ChannelKind.PEERS)), "to itself"),
        (AddChannel(Channel(source="ceo", target="ghost", kind=ChannelKind.PEERS)), "no agent 'ghost'"),
        (RemoveChannel(Channel(source="ceo", target="reviewer", kind=ChannelKind.PEERS)), "no channel"),
        (MoveNodes((("ghost", Point(0, 0)),)), "no agent 'ghost'"),
    ],
)
def test_edits_that_do_not_apply_raise_a_clear_error(edit, message):
    with pytest.raises(EditError, match=message):
        apply(load_org(STARTUP), edit)


def test_descriptions_name_what_changed():
    assert describe(RenameAgent("a", "b")) == "Rename 'a' to 'b'"
    assert describe(SetAgentField("a", "max_tokens", 3)) == "Change max tokens of 'a'"
    assert describe(MoveNodes((("a", Point(1, 2)), ("b", None)))) == "Move 2 agents"
