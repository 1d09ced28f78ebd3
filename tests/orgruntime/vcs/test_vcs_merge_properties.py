"""Properties of the semantic merge over generated orgs and edits."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from orgruntime import Org
from orgruntime.vcs import merge_orgs, merge_text
from orgruntime.vcs._fields import AGENT_SCALARS, ORG_SCALARS, get_path
from tests.orgruntime.vcs.org_strategies import edited, orgs

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def unordered(org: Org) -> tuple:
    """An org's meaning with channel and tool order and the layout left out."""
    return (org.name, org.entry, org.description, org.defaults, org.budget, org.max_concurrency,
            frozenset(c.key for c in org.channels),
            tuple((a.id, a.name, a.role, a.kind, a.model, a.temperature, a.max_tokens, frozenset(a.tools), a.budget, a.prompt)
                  for a in org.agents))


@SETTINGS
@given(st.data())
def test_merging_with_an_unchanged_side_gives_the_other_side(data: st.DataObject) -> None:
    base = data.draw(orgs())
    side = data.draw(edited(base))
    ours_only = merge_orgs(base, side, base)
    theirs_only = merge_orgs(base, base, side)
    assert ours_only.clean and ours_only.org == side
    assert theirs_only.clean and theirs_only.org == side


@SETTINGS
@given(st.data())
def test_merging_the_same_change_twice_gives_it_once(data: st.DataObject) -> None:
    base = data.draw(orgs())
    side = data.draw(edited(base))
    result = merge_orgs(base, side, side)
    assert result.clean and result.org == side


@SETTINGS
@given(st.data())
def test_clean_merges_are_symmetric(data: st.DataObject) -> None:
    base = data.draw(orgs())
    ours, theirs = data.draw(edited(base)), data.draw(edited(base))
    forward, backward = merge_orgs(base, ours, theirs), merge_orgs(base, theirs, ours)
    assert forward.clean == backward.clean
    assert len(forward.conflicts) == len(backward.conflicts)
    if not any(c.kind == "rename-rename" for c in forward.conflicts):  # else agents sit at each side's new id
        assert sorted(c.id for c in forward.conflicts) == sorted(c.id for c in backward.conflicts)
    if forward.clean:
        assert unordered(forward.org) == unordered(backward.org)


@SETTINGS
@given(st.data())
def test_nothing_either_side_changed_is_silently_dropped(data: st.DataObject) -> None:
    base = data.draw(orgs())
    ours, theirs = data.draw(edited(base, renames=False)), data.draw(edited(base, renames=False))
    result = merge_orgs(base, ours, theirs)
    assume(not result.renames)
    merged = result.org
    conflicted = {c.id for c in result.conflicts}
    for side, other in ((ours, theirs), (theirs, ours)):
        for path in (*ORG_SCALARS, "description"):
            if get_path(side, path) != get_path(base, path) and get_path(other, path) == get_path(base, path):
                assert get_path(merged, path) == get_path(side, path)
        for agent in side.agents:
            if not base.has_agent(agent.id) and not other.has_agent(agent.id):
                assert merged.agent(agent.id) == agent  # added by one side only
            if base.has_agent(agent.id) and other.has_agent(agent.id):
                b, o = base.agent(agent.id), other.agent(agent.id)
                for path in (*AGENT_SCALARS, "prompt"):
                    if get_path(agent, path) != get_path(b, path) and get_path(o, path) == get_path(b, path):
                        assert get_path(merged.agent(agent.id), path) == get_path(agent, path)
                for tool in set(agent.tools) - set(b.tools):
                    assert tool in merged.agent(agent.id).tools
            if base.has_agent(agent.id) and not other.has_agent(agent.id) and agent != base.agent(agent.id):
                assert f"agent:{agent.id}" in conflicted and merged.has_agent(agent.id)  # modified, deleted: kept
        merged_keys = {c.key for c in merged.channels}
        base_keys, other_keys = {c.key for c in base.channels}, {c.key for c in other.channels}
        for channel in side.channels:
            if channel.key not in base_keys and merged.has_agent(channel.source) and merged.has_agent(channel.target):
                assert channel.key in merged_keys  # a channel one side added stays while its agents do
        for key in base_keys - {c.key for c in side.channels}:
            if key in other_keys:
                assert key not in merged_keys or any(f"agent:{name}" in conflicted for name in key[:2])


@SETTINGS
@given(st.data())
def test_resolving_every_conflict_as_one_side_settles_the_merge(data: st.DataObject) -> None:
    base = data.draw(orgs())
    ours, theirs = data.draw(edited(base)), data.draw(edited(base))
    result = merge_orgs(base, ours, theirs)
    choice = data.draw(st.sampled_from(("ours", "theirs")))
    while result.conflicts:
        result = result.resolve(result.conflicts[0].id, choice)
    org = result.org
    ids = set(org.agent_ids)
    assert result.clean and len(ids) == len(org.agents)
    assert org.entry in ids
    assert all(c.source in ids and c.target in ids for c in org.channels)
    assert len({c.key for c in org.channels}) == len(org.channels)


texts = st.lists(st.sampled_from(("a", "b", "c", "d", "")), max_size=8).map("\n".join)


@SETTINGS
@given(texts, texts, texts)
def test_line_merge_properties(base: str, ours: str, theirs: str) -> None:
    assert merge_text(base, ours, base).ours == ours and merge_text(base, base, theirs).ours == theirs
    assert merge_text(base, ours, ours).ours == ours
    forward, backward = merge_text(base, ours, theirs), merge_text(base, theirs, ours)
    assert forward.clean == backward.clean and forward.conflicts == backward.conflicts
    if forward.clean:
        assert forward.ours == forward.theirs == backward.ours
    else:
        assert "<<<<<<< ours" in forward.marked and (forward.ours, forward.theirs) == (backward.theirs, backward.ours)
