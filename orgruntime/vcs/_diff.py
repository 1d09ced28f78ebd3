"""Semantic diff of two orgs: agents, channels and org fields added, removed or changed."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from orgruntime._model import Agent, Channel, ChannelKind, Org
from orgruntime._read import ORG_FILE, agent_file
from orgruntime.vcs._fields import AGENT_FIELDS, ORG_FIELDS, get_path, rename_ids
from orgruntime.vcs._renames import detect_renames


@dataclass(frozen=True, kw_only=True)
class AgentChange:
    id: str  # the id in the newer org
    fields: tuple[str, ...]  # dotted field paths that differ
    prompt_diff: tuple[str, ...] = ()  # unified diff lines of the prompt (without the ---/+++ header)
    lines_added: int = 0
    lines_removed: int = 0


@dataclass(frozen=True, kw_only=True)
class ChannelChange:
    source: str
    target: str
    before: ChannelKind
    after: ChannelKind


@dataclass(frozen=True, kw_only=True)
class OrgDiff:
    agents_added: tuple[str, ...] = ()
    agents_removed: tuple[str, ...] = ()
    agents_renamed: tuple[tuple[str, str], ...] = ()  # (old id, new id); their edits are in agents_changed
    # Agents and channels are named by their ids in the newer org (a renamed agent by its new id).
    agents_changed: tuple[AgentChange, ...] = ()
    channels_added: tuple[Channel, ...] = ()
    channels_removed: tuple[Channel, ...] = ()
    channels_changed: tuple[ChannelChange, ...] = ()  # same endpoints, another kind
    org_changed: tuple[str, ...] = ()  # dotted org field paths
    layout_moved: tuple[str, ...] = ()  # agents whose node position changed (never affects meaning)

    @property
    def empty(self) -> bool:
        return not (self.agents_added or self.agents_removed or self.agents_renamed or self.agents_changed
                    or self.channels_added or self.channels_removed or self.channels_changed or self.org_changed)

    def summary(self) -> list[str]:
        """One human line per change: "reviewer: prompt +3 -1 lines", "new channel ceo -> analyst", ..."""
        return [line for _path, line in self._summary_lines()]

    def summary_by_file(self) -> dict[str, tuple[str, ...]]:
        """The summary lines grouped by the file they concern (`agents/<id>.md`, `org.yaml`), for a change list."""
        grouped: dict[str, list[str]] = {}
        for path, line in self._summary_lines():
            grouped.setdefault(path, []).append(line)
        return {path: tuple(lines) for path, lines in grouped.items()}

    def _summary_lines(self) -> list[tuple[str, str]]:
        lines = [(agent_file(agent_id), f"new agent {agent_id}") for agent_id in self.agents_added]
        lines += [(agent_file(agent_id), f"removed agent {agent_id}") for agent_id in self.agents_removed]
        lines += [(agent_file(new), f"agent {old} renamed to {new}") for old, new in self.agents_renamed]
        for change in self.agents_changed:
            parts = [name for name in change.fields if name != "prompt"]
            if "prompt" in change.fields:
                parts.append(f"prompt +{change.lines_added} -{change.lines_removed} lines")
            lines.append((agent_file(change.id), f"{change.id}: {', '.join(parts)}"))
        lines += [(ORG_FILE, f"new channel {c.source} -> {c.target} ({c.kind})") for c in self.channels_added]
        lines += [(ORG_FILE, f"removed channel {c.source} -> {c.target} ({c.kind})") for c in self.channels_removed]
        lines += [(ORG_FILE, f"channel {c.source} -> {c.target}: {c.before} -> {c.after}") for c in self.channels_changed]
        if self.org_changed:
            lines.append((ORG_FILE, f"org: {', '.join(self.org_changed)} changed"))
        return lines

    def as_json(self) -> dict[str, object]:
        def channel(c: Channel) -> dict[str, str]:
            return {"from": c.source, "to": c.target, "kind": str(c.kind)}

        return {
            "agents": {
                "added": list(self.agents_added),
                "removed": list(self.agents_removed),
                "renamed": {old: new for old, new in self.agents_renamed},
                "changed": {change.id: list(change.fields) for change in self.agents_changed},
                "prompts": {change.id: list(change.prompt_diff) for change in self.agents_changed if change.prompt_diff},
            },
            "channels": {
                "added": [channel(c) for c in self.channels_added],
                "removed": [channel(c) for c in self.channels_removed],
                "changed": [{"from": c.source, "to": c.target, "before": str(c.before), "after": str(c.after)}
                            for c in self.channels_changed],
            },
            "org": {"changed": list(self.org_changed)},
            "layout": {"moved": list(self.layout_moved)},
            "summary": self.summary(),
        }


def diff_orgs(old: Org, new: Org) -> OrgDiff:
    renames = detect_renames(old, new)
    aligned = rename_ids(old, renames)
    old_ids, new_ids = set(aligned.agent_ids), set(new.agent_ids)
    changed = tuple(
        change for agent_id in sorted(old_ids & new_ids)
        if (change := _agent_change(aligned.agent(agent_id), new.agent(agent_id))) is not None
    )
    added, removed, kind_changes = _channel_changes(aligned.channels, new.channels)
    old_layout, new_layout = aligned.layout.as_dict(), new.layout.as_dict()
    return OrgDiff(
        agents_added=tuple(sorted(new_ids - old_ids)),
        agents_removed=tuple(sorted(old_ids - new_ids)),
        agents_renamed=tuple(sorted(renames.items())),
        agents_changed=changed,
        channels_added=added,
        channels_removed=removed,
        channels_changed=kind_changes,
        org_changed=tuple(path for path in ORG_FIELDS if get_path(old, path) != get_path(new, path)
                          and not (path == "entry" and renames.get(old.entry) == new.entry)),
        layout_moved=tuple(sorted(agent_id for agent_id in {*old_layout, *new_layout}
                                  if old_layout.get(agent_id) != new_layout.get(agent_id))),
    )


def _agent_change(old: Agent, new: Agent) -> AgentChange | None:
    if old == new:
        return None
    fields = tuple(path for path in AGENT_FIELDS if get_path(old, path) != get_path(new, path))
    if "prompt" not in fields:
        return AgentChange(id=new.id, fields=fields)
    diff = tuple(difflib.unified_diff(old.prompt.split("\n"), new.prompt.split("\n"), lineterm="", n=2))[2:]
    added = sum(1 for line in diff if line.startswith("+"))
    removed = sum(1 for line in diff if line.startswith("-"))
    return AgentChange(id=new.id, fields=fields, prompt_diff=diff, lines_added=added, lines_removed=removed)


def _channel_changes(old: tuple[Channel, ...], new: tuple[Channel, ...]
                     ) -> tuple[tuple[Channel, ...], tuple[Channel, ...], tuple[ChannelChange, ...]]:
    old_keys, new_keys = {c.key for c in old}, {c.key for c in new}
    added = [c for c in new if c.key not in old_keys]
    removed = [c for c in old if c.key not in new_keys]
    changes = []
    for gone in list(removed):
        match = next((c for c in added if (c.source, c.target) == (gone.source, gone.target)), None)
        if match is not None:
            changes.append(ChannelChange(source=gone.source, target=gone.target, before=gone.kind, after=match.kind))
            added.remove(match)
            removed.remove(gone)
    return tuple(added), tuple(removed), tuple(changes)
