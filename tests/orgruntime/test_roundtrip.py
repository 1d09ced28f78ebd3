"""Saving and loading: round trips, byte-identical unchanged saves, minimal edits on disk."""

from __future__ import annotations

import dataclasses
import difflib
import re
import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from orgruntime import Budget, load_org, save_org
from tests.orgruntime.strategies import AGENT_FIELDS, ORG_SCALAR_FIELDS, orgs


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class _Folder:
    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="orgide-rt-"))
        return self.path / "org"

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@settings(max_examples=60)
@given(orgs())
def test_a_saved_org_loads_back_equal(org):
    with _Folder() as root:
        save_org(org, root)
        assert load_org(root) == org


@settings(max_examples=40)
@given(orgs())
def test_saving_an_unchanged_org_leaves_every_file_byte_identical(org):
    with _Folder() as root:
        save_org(org, root)
        before = _snapshot(root)
        result = save_org(load_org(root), root)
        assert not result.changed
        assert _snapshot(root) == before


def _changed_lines(before: str, after: str) -> list[str]:
    old, new = before.splitlines(), after.splitlines()
    changed = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            changed += old[i1:i2] + new[j1:j2]
    return changed


@settings(max_examples=60)
@given(orgs(), st.data())
def test_a_one_field_org_edit_rewrites_only_that_fields_lines(org, data):
    field = data.draw(st.sampled_from(sorted(ORG_SCALAR_FIELDS)))
    value = data.draw(ORG_SCALAR_FIELDS[field])
    with _Folder() as root:
        save_org(org, root)
        before = _snapshot(root)
        edited = dataclasses.replace(org, **{field: value})
        save_org(edited, root)
        after = _snapshot(root)
        assert load_org(root) == edited
        for name in before:
            if name != "org.yaml":
                assert after[name] == before[name], name
        for line in _changed_lines(before["org.yaml"].decode(), after["org.yaml"].decode()):
            assert line.startswith(f"{field}:"), (field, line)


@settings(max_examples=60)
@given(orgs(), st.data())
def test_a_one_field_agent_edit_rewrites_only_that_fields_lines(org, data):
    agent = data.draw(st.sampled_from(org.agents))
    field = data.draw(st.sampled_from(sorted(AGENT_FIELDS)))
    value = data.draw(AGENT_FIELDS[field])
    with _Folder() as root:
        save_org(org, root)
        before = _snapshot(root)
        changed_agent = dataclasses.replace(agent, **{field: value})
        edited = dataclasses.replace(org, agents=tuple(changed_agent if a.id == agent.id else a for a in org.agents))
        save_org(edited, root)
        after = _snapshot(root)
        assert load_org(root) == edited
        file = f"agents/{agent.id}.md"
        for name in before:
            if name != file:
                assert after[name] == before[name], name
        old_text, new_text = before[file].decode(), after[file].decode()
        if field == "prompt":
            old_front, new_front = old_text.split("\n---\n", 1)[0], new_text.split("\n---\n", 1)[0]
            assert old_front == new_front
        else:
            for line in _changed_lines(old_text, new_text):
                assert line.startswith(f"{field}:"), (field, line)


def test_a_changed_budget_field_rewrites_only_its_line_and_keeps_comments(tmp_path):
    root = tmp_path / "org"
    (root / "agents").mkdir(parents=True)
    (root / "org.yaml").write_text(
        "# the org\nname: Shop   # shown in the IDE\nentry: a\nbudget:\n  max_steps: 40   # calls\n  max_cost_usd: 0.50\nchannels: []\n"
    )
    (root / "agents" / "a.md").write_text("---\n# who\nname: A\ntools: [read_file]  # tools\n---\n\nDo it.\n")
    org = load_org(root)
    edited = dataclasses.replace(org, budget=Budget(max_steps=41, max_cost_usd=0.5))
    assert save_org(edited, root).written == ("org.yaml",)
    assert (root / "org.yaml").read_text() == (
        "# the org\nname: Shop   # shown in the IDE\nentry: a\nbudget:\n  max_steps: 41   # calls\n  max_cost_usd: 0.50\nchannels: []\n"
    )
    agent = dataclasses.replace(org.agent("a"), tools=("read_file", "write_file"), role="Builds")
    save_org(dataclasses.replace(edited, agents=(agent,)), root)
    assert (root / "agents" / "a.md").read_text() == (
        "---\n# who\nname: A\nrole: Builds\ntools: [read_file, write_file] # tools\n---\n\nDo it.\n"
    )


def test_removing_an_agent_deletes_only_its_file(tmp_path):
    root = tmp_path / "org"
    org = load_org(Path(__file__).resolve().parents[2] / "resources" / "templates" / "startup")
    save_org(org, root)
    (root / "agents" / "notes.txt").write_text("mine")
    without = dataclasses.replace(org, agents=tuple(a for a in org.agents if a.id != "reviewer"))
    result = save_org(without, root)
    assert result.deleted == ("agents/reviewer.md",)
    assert sorted(p.name for p in (root / "agents").iterdir()) == ["ceo.md", "engineer.md", "notes.txt"]


def test_writes_leave_no_temporary_files(tmp_path):
    org = load_org(Path(__file__).resolve().parents[2] / "resources" / "templates" / "research-lab")
    save_org(org, tmp_path / "org")
    leftovers = [p for p in (tmp_path / "org").rglob("*") if re.search(r"\.tmp$", p.name)]
    assert leftovers == []


def test_channel_edits_keep_every_other_channel_line_and_its_comment(tmp_path):
    root = tmp_path / "org"
    org = load_org(Path(__file__).resolve().parents[2] / "resources" / "templates" / "startup")
    save_org(org, root)
    text = (root / "org.yaml").read_text()
    text = text.replace("kind: reviews}", "kind: reviews}   # code review")
    text = text.replace("channels:\n", "channels:   # who talks to whom\n")
    (root / "org.yaml").write_text(text)
    org = load_org(root)
    from orgruntime import AddChannel, Channel, ChannelKind, RemoveChannel, SetOrgField, apply

    edited = apply(org, AddChannel(Channel(source="ceo", target="reviewer", kind=ChannelKind.PEERS), 1))
    edited = apply(edited, RemoveChannel(org.channels[2]))
    edited = apply(edited, SetOrgField("description", "Changed too"))
    save_org(edited, root)
    assert load_org(root) == edited
    after = (root / "org.yaml").read_text()
    assert "channels:   # who talks to whom\n  - {from: ceo, to: engineer, kind: delegates}\n  - {from: ceo, to: reviewer, kind: peers}\n  - {from: engineer, to: reviewer, kind: reviews}   # code review\n" in after
    assert "description: Changed too\n" in after
    old_description = next(line for line in text.splitlines() if line.startswith("description:"))
    assert sorted(_changed_lines(text, after)) == sorted([
        old_description, "description: Changed too",
        "  - {from: ceo, to: reviewer, kind: peers}", "  - {from: reviewer, to: ceo, kind: reports}",
    ])


def test_saving_keeps_keys_it_does_not_know_and_block_style_channels(tmp_path):
    root = tmp_path / "org"
    (root / "agents").mkdir(parents=True)
    (root / "org.yaml").write_text(
        "name: Shop\nentry: a\nx-owner: ops-team   # a key from a newer orgide\nchannels:\n"
        "  - from: a\n    to: b\n    kind: delegates\n"
    )
    (root / "agents" / "a.md").write_text("---\nname: A\n---\nLead.\n")
    (root / "agents" / "b.md").write_text("---\nname: B\n---\nWork.\n")
    from orgruntime import AddChannel, Channel, ChannelKind, SetOrgField, apply, check_org

    org = load_org(root)
    edited = apply(apply(org, SetOrgField("name", "Big Shop")), AddChannel(Channel(source="b", target="a", kind=ChannelKind.REPORTS)))
    save_org(edited, root)
    assert load_org(root) == edited
    text = (root / "org.yaml").read_text()
    assert "x-owner: ops-team   # a key from a newer orgide\n" in text
    assert "  - from: a\n    to: b\n    kind: delegates\n" in text
    _, problems = check_org(root)
    assert [str(p) for p in problems] == ["org.yaml:3:1: error: unknown key 'x-owner' (expected one of: name, description, entry, defaults, budget, max_concurrency, channels)"]


def test_a_rewritten_file_keeps_its_permissions(tmp_path):
    import dataclasses as dc
    import os
    import stat

    root = tmp_path / "org"
    org = load_org(Path(__file__).resolve().parents[2] / "resources" / "templates" / "startup")
    save_org(org, root)
    os.chmod(root / "org.yaml", 0o600)
    save_org(dc.replace(org, name="Renamed"), root)
    assert stat.S_IMODE(os.stat(root / "org.yaml").st_mode) == 0o600
    assert load_org(root).name == "Renamed"
