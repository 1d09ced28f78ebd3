"""The pure parts: line merge, semantic diff, and resolving conflicts as ours, theirs or edited."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from orgruntime import Agent, AgentKind, Channel, ChannelKind, EditError, load_org
from orgruntime.vcs import ConflictKind, Edited, Side, diff_orgs, merge_orgs, merge_text

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "merge"


def sides(case: str):  # type: ignore[no-untyped-def]
    return tuple(load_org(GOLDEN / case / side) for side in ("base", "ours", "theirs"))


def test_line_merge_combines_separate_edits_and_marks_overlaps() -> None:
    base = "a\nb\nc\nd\ne"
    assert merge_text(base, "A\nb\nc\nd\ne", "a\nb\nc\nd\nE").ours == "A\nb\nc\nd\nE"
    assert merge_text(base, "a\nb\nc\nd\ne\nf", "z\na\nb\nc\nd\ne").ours == "z\na\nb\nc\nd\ne\nf"
    clash = merge_text(base, "a\nX\nc\nd\ne", "a\nY\nc\nd\nE")
    assert clash.conflicts == 1 and (clash.ours, clash.theirs) == ("a\nX\nc\nd\nE", "a\nY\nc\nd\nE")
    assert clash.marked == "a\n<<<<<<< ours\nX\n||||||| base\nb\n=======\nY\n>>>>>>> theirs\nc\nd\nE"
    assert merge_text("", "x", "").ours == "x" and merge_text("", "x", "y").conflicts == 1
    assert merge_text(base, "a\nb\nd\ne", "a\nb\nd\ne").clean  # the same deletion on both sides


def test_semantic_diff_lists_what_changed() -> None:
    base, ours, _ = sides("several-conflicts")
    diff = diff_orgs(base, ours)
    assert diff.agents_removed == ("reviewer",) and diff.agents_added == ()
    assert {c.id: c.fields for c in diff.agents_changed} == {"ceo": ("model",), "engineer": ("prompt",)}
    engineer = next(c for c in diff.agents_changed if c.id == "engineer")
    assert (engineer.lines_added, engineer.lines_removed) == (1, 1)
    assert "-Keep functions small." in engineer.prompt_diff and "+Keep functions short." in engineer.prompt_diff
    assert diff.org_changed == ("name",)
    assert {(c.source, c.target) for c in diff.channels_removed} == {("engineer", "reviewer"), ("reviewer", "ceo")}
    data = diff.as_json()
    assert data["agents"]["changed"] == {"ceo": ["model"], "engineer": ["prompt"]}
    assert "engineer: prompt +1 -1 lines" in data["summary"] and "removed agent reviewer" in data["summary"]
    assert diff_orgs(base, base).empty


def test_diff_follows_renames_and_kind_changes() -> None:
    base, ours, theirs = sides("rename-and-new-channel")
    renamed = diff_orgs(base, ours)
    assert renamed.agents_renamed == (("engineer", "developer"),) and not renamed.agents_added
    assert not renamed.agents_removed and not renamed.channels_added and not renamed.channels_removed
    changed_kind = dataclasses.replace(base, channels=(Channel(source="ceo", target="engineer", kind=ChannelKind.PEERS),
                                                       *base.channels[1:]))
    diff = diff_orgs(base, changed_kind)
    assert [(c.source, c.target, c.before, c.after) for c in diff.channels_changed] == [
        ("ceo", "engineer", ChannelKind.DELEGATES, ChannelKind.PEERS)]
    assert diff.channels_added == () and diff.channels_removed == ()


def test_each_conflict_resolves_as_ours_theirs_or_edited() -> None:
    result = merge_orgs(*sides("several-conflicts"))
    assert [c.id for c in result.conflicts] == ["org:name", "agent:engineer:prompt", "agent:reviewer"]
    name = result.conflict("org:name")
    assert (name.base, name.ours, name.theirs) == ("Tiny Startup", "Tiny Co", "Small Startup")
    as_theirs = result.resolve("org:name", Side.THEIRS)
    assert as_theirs.org.name == "Small Startup" and [c.id for c in as_theirs.conflicts] == [
        "agent:engineer:prompt", "agent:reviewer"]
    prompt = result.conflict("agent:engineer:prompt")
    assert prompt.kind is ConflictKind.TEXT and "<<<<<<< ours" in str(prompt.marked)
    edited = as_theirs.resolve("agent:engineer:prompt", Edited("Just build it."))
    assert edited.org.agent("engineer").prompt == "Just build it."
    reviewer = result.conflict("agent:reviewer")
    assert reviewer.kind is ConflictKind.DELETE_MODIFY and reviewer.ours is None and reviewer.theirs.role == "QA"
    deleted = edited.resolve("agent:reviewer", Side.OURS)
    assert not deleted.org.has_agent("reviewer") and deleted.clean
    assert not any(c.touches("reviewer") for c in deleted.org.channels)
    kept = edited.resolve("agent:reviewer", Side.THEIRS)
    assert kept.org.agent("reviewer").role == "QA"
    assert {(c.source, c.target) for c in kept.org.channels} >= {("engineer", "reviewer"), ("reviewer", "ceo")}


def test_delete_use_resolution_drops_or_keeps_the_agent_with_its_new_channel() -> None:
    result = merge_orgs(*sides("channel-to-deleted-agent"))
    (conflict,) = result.conflicts
    assert conflict.kind is ConflictKind.DELETE_USE
    dropped = result.resolve(conflict.id, Side.OURS).org
    assert not dropped.has_agent("reviewer") and not any(c.touches("reviewer") for c in dropped.channels)
    kept = result.resolve(conflict.id, Side.THEIRS).org
    assert ("ceo", "reviewer") in {(c.source, c.target) for c in kept.channels}
    entry = merge_orgs(*sides("entry-to-deleted-agent"))
    assert entry.resolve("agent:reviewer", Side.OURS).org.entry == "ceo"


def test_rename_rename_resolution_renames_everything_that_points_at_it() -> None:
    result = merge_orgs(*sides("rename-rename"))
    org = result.resolve("rename:engineer", Side.THEIRS).org
    assert org.has_agent("builder") and not org.has_agent("developer")
    assert ("ceo", "builder") in {(c.source, c.target) for c in org.channels} and org.layout.get("builder") is not None
    org = result.resolve("rename:engineer", Edited("maker")).org
    assert org.has_agent("maker")
    with pytest.raises(EditError):
        result.resolve("rename:engineer", Edited("Not An Id"))
    with pytest.raises(EditError):
        result.resolve("rename:engineer", Edited("ceo"))


def test_edited_values_are_checked() -> None:
    result = merge_orgs(*sides("budget-conflict"))
    assert result.resolve("org:budget.max_cost_usd", Edited(0.25)).org.budget.max_cost_usd == 0.25
    assert result.resolve("org:budget.max_cost_usd", Edited(None)).org.budget.max_cost_usd is None
    with pytest.raises(EditError):
        result.resolve("org:budget.max_cost_usd", Edited("cheap"))
    added = merge_orgs(*sides("add-add-different"))
    with pytest.raises(EditError):
        added.resolve("agent:analyst", Edited(Agent(id="someone-else")))
    mine = Agent(id="analyst", name="Both", kind=AgentKind.HUMAN)
    assert added.resolve("agent:analyst", Edited(mine)).org.agent("analyst") == mine
    with pytest.raises(KeyError):
        added.resolve("agent:nobody", Side.OURS)


def test_progress_lines_are_parsed() -> None:
    from orgruntime.vcs._progress import parse_progress

    assert parse_progress("Receiving objects:  45% (450/1000), 1.2 MiB | 3 MiB/s").percent == 45
    assert parse_progress("remote: Counting objects: 100% (7/7), done.").phase == "Counting objects"
    other = parse_progress("Cloning into 'x'...")
    assert (other.phase, other.percent, other.line) == ("", None, "Cloning into 'x'...")
