"""Semantic three-way merge of orgs: agents by id, fields one by one, texts line by line, channels as a set.

Renames are detected first (by content similarity, as git does) and applied to the other side and the
base, so an agent renamed on one side and edited on the other merges as the renamed agent carrying
the edit. Only true conflicts remain; each is provisionally settled in the merged org (a field keeps
ours, an agent deleted on one side and changed or newly used on the other is kept), so the merged
org is always whole and loadable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from orgruntime._model import Agent, Channel, Layout, Org
from orgruntime.vcs._conflicts import Conflict, ConflictKind, MergeResult
from orgruntime.vcs._fields import AGENT_SCALARS, ORG_SCALARS, get_path, insert_channels, rename_ids, set_path
from orgruntime.vcs._renames import detect_renames
from orgruntime.vcs._text_merge import merge_text

T = TypeVar("T")


def merge_orgs(base: Org, ours: Org, theirs: Org) -> MergeResult:
    base, ours, theirs, renames, conflicts = _align_renames(base, ours, theirs)
    org, more = _merge_aligned(base, ours, theirs)
    return MergeResult(org=org, conflicts=(*conflicts, *more), renames=renames)


def _align_renames(base: Org, ours: Org, theirs: Org) -> tuple[Org, Org, Org, tuple[tuple[str, str], ...], list[Conflict]]:
    ours_renames, theirs_renames = detect_renames(base, ours), detect_renames(base, theirs)
    combined: dict[str, str] = {}
    conflicts: list[Conflict] = []
    for old in sorted(set(ours_renames) | set(theirs_renames)):
        ours_new, theirs_new = ours_renames.get(old), theirs_renames.get(old)
        if ours_new is not None and theirs_new is not None and ours_new != theirs_new:
            if theirs.has_agent(ours_new) or ours.has_agent(theirs_new):
                continue  # each side has the other's new id: left as deletes and adds, which conflict by id
            conflicts.append(Conflict(
                id=f"rename:{old}", kind=ConflictKind.RENAME_RENAME, agent=ours_new, base=old, ours=ours_new,
                theirs=theirs_new, message=f"agent {old} was renamed to {ours_new} on our side and to {theirs_new} on theirs"))
            combined[old] = ours_new
        elif ours_new is not None and (ours_new == theirs_new or not theirs.has_agent(ours_new)):
            combined[old] = ours_new
        elif theirs_new is not None and ours_new is None and not ours.has_agent(theirs_new):
            combined[old] = theirs_new
        # otherwise the other side has an agent of the new id already: no rename, so nothing is silently replaced
    if not combined:
        return base, ours, theirs, (), conflicts
    aligned_ours = rename_ids(ours, _side_mapping(ours, ours_renames, combined))
    aligned_theirs = rename_ids(theirs, _side_mapping(theirs, theirs_renames, combined))
    return rename_ids(base, combined), aligned_ours, aligned_theirs, tuple(combined.items()), conflicts


def _side_mapping(side: Org, side_renames: dict[str, str], combined: dict[str, str]) -> dict[str, str]:
    """Renames this side must still apply: the other side's, and the winner of a rename-rename conflict."""
    mapping: dict[str, str] = {}
    for old, new in combined.items():
        current = side_renames.get(old, old)
        if current != new and side.has_agent(current) and not side.has_agent(new):
            mapping[current] = new
    return mapping


def _three_way(base: T, ours: T, theirs: T) -> tuple[T, bool]:
    """The merged value and whether the two sides truly conflict (ours is kept then)."""
    if ours == theirs or theirs == base:
        return ours, False
    if ours == base:
        return theirs, False
    return ours, True


def merge_keyed(base: Sequence[T], ours: Sequence[T], theirs: Sequence[T], key: Callable[[T], Hashable]) -> tuple[T, ...]:
    """Merge ordered sets: ours' order, without what theirs removed, then what theirs added."""
    if tuple(ours) == tuple(base):
        return tuple(theirs)
    if tuple(theirs) == tuple(base) or tuple(theirs) == tuple(ours):
        return tuple(ours)
    base_keys, theirs_keys = {key(item) for item in base}, {key(item) for item in theirs}
    removed_by_theirs = base_keys - theirs_keys
    merged = [item for item in ours if key(item) not in removed_by_theirs]
    present = {key(item) for item in merged}
    for item in theirs:
        if key(item) not in base_keys and key(item) not in present:
            merged.append(item)
            present.add(key(item))
    return tuple(merged)


def _merge_fields(base: T, ours: T, theirs: T, scalars: Sequence[str], where: str, agent: str | None
                  ) -> tuple[T, list[Conflict]]:
    merged, conflicts = ours, []
    for path in scalars:
        b, o, t = get_path(base, path), get_path(ours, path), get_path(theirs, path)
        value, conflicted = _three_way(b, o, t)
        if conflicted:
            conflicts.append(Conflict(id=f"{where}:{path}", kind=ConflictKind.FIELD, agent=agent, field=path, base=b,
                                      ours=o, theirs=t, message=f"{where.replace(':', ' ')}: {path} changed on both sides"))
        if value != o:
            merged = set_path(merged, path, value)
    return merged, conflicts


def _merge_text_field(merged: T, base: T, ours: T, theirs: T, path: str, where: str, agent: str | None
                      ) -> tuple[T, list[Conflict]]:
    b, o, t = get_path(base, path), get_path(ours, path), get_path(theirs, path)
    text = merge_text(b, o, t)
    conflicts = []
    if not text.clean:
        conflicts.append(Conflict(id=f"{where}:{path}", kind=ConflictKind.TEXT, agent=agent, field=path, base=b,
                                  ours=text.ours, theirs=text.theirs, marked=text.marked,
                                  message=f"{where.replace(':', ' ')}: overlapping edits of the {path} "
                                          f"({text.conflicts} hunk{'s' if text.conflicts > 1 else ''})"))
    return (set_path(merged, path, text.ours) if text.ours != get_path(merged, path) else merged), conflicts


def merge_agent(base: Agent, ours: Agent, theirs: Agent) -> tuple[Agent, list[Conflict]]:
    if ours == theirs or theirs == base:
        return ours, []
    if ours == base:
        return theirs, []
    where = f"agent:{ours.id}"
    merged, conflicts = _merge_fields(base, ours, theirs, AGENT_SCALARS, where, ours.id)
    merged = dataclasses.replace(merged, tools=merge_keyed(base.tools, ours.tools, theirs.tools, key=lambda tool: tool))
    merged, text_conflicts = _merge_text_field(merged, base, ours, theirs, "prompt", where, ours.id)
    return merged, conflicts + text_conflicts


def _merge_layout(base: Layout, ours: Layout, theirs: Layout) -> Layout:
    """Three-way by agent id; where both moved (or one deleted) a node differently, ours wins."""
    if ours == base:
        return theirs
    if theirs == base or theirs == ours:
        return ours
    b, o, t = base.as_dict(), ours.as_dict(), theirs.as_dict()
    merged = {}
    for agent_id in {*b, *o, *t}:
        value = t.get(agent_id) if o.get(agent_id) == b.get(agent_id) else o.get(agent_id)
        if value is not None:
            merged[agent_id] = value
    return Layout.of(merged)


def _merge_aligned(base: Org, ours: Org, theirs: Org) -> tuple[Org, list[Conflict]]:
    merged, conflicts = _merge_fields(base, ours, theirs, ORG_SCALARS, "org", None)
    merged, text_conflicts = _merge_text_field(merged, base, ours, theirs, "description", "org", None)
    conflicts += text_conflicts
    agents: dict[str, Agent] = {}
    kept: list[tuple[Conflict, Org]] = []  # agent conflicts settled by keeping the agent as one side has it
    for agent_id in sorted({*base.agent_ids, *ours.agent_ids, *theirs.agent_ids}):
        b, o, t = (side.agents_by_id.get(agent_id) for side in (base, ours, theirs))
        if b is None:
            if o is not None and t is not None and o != t:
                conflicts.append(Conflict(id=f"agent:{agent_id}", kind=ConflictKind.ADD_ADD, agent=agent_id, base=None,
                                          ours=o, theirs=t, message=f"agent {agent_id} was added differently on both sides"))
            agents[agent_id] = o or t  # type: ignore[assignment]
        elif o is None or t is None:
            keeper, keeper_org, deleter_org = (t, theirs, ours) if o is None else (o, ours, theirs)
            if keeper is not None and keeper != b:
                conflict = _deletion_conflict(ConflictKind.DELETE_MODIFY, b, o, t, keeper_org, deleter_org)
                conflicts.append(conflict)
                kept.append((conflict, keeper_org))
                agents[agent_id] = keeper
        else:
            agents[agent_id], agent_conflicts = merge_agent(b, o, t)
            conflicts += agent_conflicts
    channels = merge_keyed(base.channels, ours.channels, theirs.channels, key=lambda channel: channel.key)
    for agent_id in sorted(set(base.agent_ids) - set(agents)):
        use = _deletion_in_use(agent_id, base, ours, theirs)
        if use is not None:
            conflicts.append(use[0])
            kept.append(use)
            agents[agent_id] = use[1].agent(agent_id)
    merged = dataclasses.replace(merged, agents=tuple(agents.values()), channels=channels,
                                 layout=_merge_layout(base.layout, ours.layout, theirs.layout))
    for conflict, keeper_org in kept:
        merged = restore_links(merged, str(conflict.agent), keeper_org)
    return merged, conflicts


def _deletion_conflict(kind: ConflictKind, base: Agent, ours: Agent | None, theirs: Agent | None,
                       keeper_org: Org, deleter_org: Org) -> Conflict:
    deleter = "our" if ours is None else "their"
    keeper = "their" if ours is None else "our"
    reason = "changed it" if kind is ConflictKind.DELETE_MODIFY else "points at it (a new channel or the entry)"
    return Conflict(
        id=f"agent:{base.id}", kind=kind, agent=base.id, base=base, ours=ours, theirs=theirs,
        channels=keeper_org.channels,
        fallback_entry=deleter_org.entry,
        message=f"agent {base.id} was deleted on {deleter} side, and {keeper} side {reason}")


def _deletion_in_use(agent_id: str, base: Org, ours: Org, theirs: Org) -> tuple[Conflict, Org] | None:
    """A conflict if one side deleted the agent while the other newly points at it."""
    keeper_org, deleter_org = (theirs, ours) if theirs.has_agent(agent_id) else (ours, theirs)
    if not keeper_org.has_agent(agent_id):
        return None
    base_keys = {channel.key for channel in base.channels}
    new_channel = any(c.touches(agent_id) and c.key not in base_keys for c in keeper_org.channels)
    new_entry = keeper_org.entry == agent_id != base.entry
    if not (new_channel or new_entry):
        return None
    b = base.agent(agent_id)
    ours_value = ours.agents_by_id.get(agent_id)
    theirs_value = theirs.agents_by_id.get(agent_id)
    return _deletion_conflict(ConflictKind.DELETE_USE, b, ours_value, theirs_value, keeper_org, deleter_org), keeper_org


def restore_links(org: Org, agent_id: str, keeper_org: Org) -> Org:
    """Give a kept agent back the channels and the layout position it has on the side that kept it."""
    present = {agent.id for agent in org.agents}
    have = {channel.key for channel in org.channels}
    extra: list[Channel] = [c for c in keeper_org.channels if c.touches(agent_id) and c.key not in have
                            and c.source in present and c.target in present]
    positions = org.layout.as_dict()
    point = keeper_org.layout.get(agent_id)
    if point is not None and agent_id not in positions:
        positions[agent_id] = point
    return dataclasses.replace(org, channels=insert_channels(org.channels, extra, keeper_org.channels),
                               layout=Layout.of(positions))
