"""Graph queries: contacts, reachability, cycles and layers for the hierarchical layout."""

from __future__ import annotations

from pathlib import Path

from orgruntime import (
    Agent,
    Channel,
    ChannelKind,
    Org,
    contacts,
    cycles,
    hierarchy_layers,
    load_org,
    may_message,
    reachable_from_entry,
    unreachable_agents,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"


def org_of(*channels: tuple[str, str, str], agents: str = "a b c d e", entry: str = "a") -> Org:
    return Org(
        name="T",
        entry=entry,
        agents=tuple(Agent(id=i, prompt="p") for i in agents.split()),
        channels=tuple(Channel(source=s, target=t, kind=ChannelKind(k)) for s, t, k in channels),
    )


def test_contacts_follow_channel_direction_and_peers_go_both_ways():
    org = org_of(("a", "b", "delegates"), ("b", "c", "peers"), ("d", "a", "reports"))
    assert contacts(org, "a") == ("b",)
    assert contacts(org, "b") == ("c",)
    assert contacts(org, "c") == ("b",)
    assert contacts(org, "d") == ("a",)
    assert contacts(org, "ghost") == ()
    assert may_message(org, "c", "b") and not may_message(org, "b", "a")


def test_reachability_from_the_entry():
    org = org_of(("a", "b", "delegates"), ("b", "c", "peers"), ("d", "a", "reports"))
    assert reachable_from_entry(org) == {"a", "b", "c"}
    assert unreachable_agents(org) == ("d", "e")
    assert reachable_from_entry(org_of(entry="ghost")) == frozenset()


def test_cycles_ignore_peers():
    org = org_of(("a", "b", "delegates"), ("b", "c", "reviews"), ("c", "a", "reports"), ("d", "e", "peers"))
    assert [sorted(c) for c in cycles(org)] == [["a", "b", "c"]]
    assert cycles(org_of(("a", "b", "peers"))) == ()


def test_layers_put_leads_above_reports():
    org = org_of(("a", "b", "delegates"), ("a", "c", "delegates"), ("c", "b", "delegates"), ("d", "c", "reports"), ("b", "e", "peers"))
    assert hierarchy_layers(org) == (("a",), ("c",), ("b", "d", "e"))


def test_layers_survive_cycles_and_place_disconnected_agents():
    org = org_of(("a", "b", "delegates"), ("b", "c", "delegates"), ("c", "a", "delegates"), ("d", "e", "delegates"))
    layers = hierarchy_layers(org)
    assert layers[0][0] == "a"
    assert sorted(agent for layer in layers for agent in layer) == ["a", "b", "c", "d", "e"]
    level = {agent: index for index, layer in enumerate(layers) for agent in layer}
    assert level["a"] < level["b"] < level["c"] and level["d"] < level["e"]


def test_research_lab_peers_share_a_level():
    assert hierarchy_layers(load_org(TEMPLATES / "research-lab")) == (("lead",), ("critic", "proponent", "skeptic"))


def test_template_layers():
    assert hierarchy_layers(load_org(TEMPLATES / "startup")) == (("ceo",), ("engineer",), ("reviewer",))
    assert hierarchy_layers(load_org(TEMPLATES / "support-desk")) == (("triage",), ("first-line",), ("specialist",), ("supervisor",))
