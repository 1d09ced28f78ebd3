"""Applying one conflict's resolution (ours, theirs or an edited value) to an org: a pure function."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from enum import Enum

from orgruntime._errors import EditError
from orgruntime._model import Agent, Channel, Org, is_agent_id
from orgruntime.vcs._conflicts import Choice, Conflict, ConflictKind
from orgruntime.vcs._fields import (
    AGENT_TEXTS,
    ORG_TEXTS,
    get_path,
    insert_channels,
    remove_agent,
    rename_ids,
    replace_agent,
    set_path,
)


def apply_resolution(org: Org, conflict: Conflict, choice: Choice) -> Org:
    """`org` (a merge result, possibly edited since) with `conflict` settled as `choice` says."""
    value = conflict.value(choice)
    kind = conflict.kind
    if kind in (ConflictKind.FIELD, ConflictKind.TEXT):
        return _set_field(org, conflict, value)
    if kind is ConflictKind.ADD_ADD:
        return replace_agent(org, _agent_value(conflict, value, allow_none=False))
    if kind in (ConflictKind.DELETE_MODIFY, ConflictKind.DELETE_USE):
        return _keep_or_delete(org, conflict, value)
    if kind is ConflictKind.RENAME_RENAME:
        return _rename(org, str(conflict.agent), value)
    raise EditError(f"conflict {conflict.id} concerns a file, not the org; resolve it in the repository")


def _set_field(org: Org, conflict: Conflict, value: object) -> Org:
    path = str(conflict.field)
    value = _coerce(conflict, value, text=path in (*ORG_TEXTS, *AGENT_TEXTS))
    if conflict.agent is None:
        return set_path(org, path, value)
    agent = org.agents_by_id.get(conflict.agent)
    if agent is None:
        raise EditError(f"conflict {conflict.id}: agent {conflict.agent} is no longer in the org")
    return replace_agent(org, set_path(agent, path, value))


def _coerce(conflict: Conflict, value: object, *, text: bool) -> object:
    if text:
        if not isinstance(value, str):
            raise EditError(f"conflict {conflict.id}: the edited value must be text")
        return value
    known = [v for v in (conflict.base, conflict.ours, conflict.theirs) if v is not None]
    if value is None:
        return None
    for sample in known:
        if isinstance(sample, Enum) and isinstance(value, str):
            try:
                return type(sample)(value)
            except ValueError:
                raise EditError(f"conflict {conflict.id}: {value!r} is not a valid {conflict.field}") from None
        if isinstance(sample, bool) or isinstance(value, bool):
            continue
        if isinstance(sample, (int, float)) and isinstance(value, (int, float)):
            return value
        if isinstance(sample, str) and isinstance(value, str):
            return value
    if not known:
        return value
    raise EditError(f"conflict {conflict.id}: {value!r} has the wrong type for {conflict.field}")


def _agent_value(conflict: Conflict, value: object, *, allow_none: bool) -> Agent:
    if value is None and allow_none:
        return None  # type: ignore[return-value]
    if not isinstance(value, Agent) or value.id != conflict.agent:
        raise EditError(f"conflict {conflict.id}: the value must be an agent with id {conflict.agent}")
    return value


def _keep_or_delete(org: Org, conflict: Conflict, value: object) -> Org:
    agent_id = str(conflict.agent)
    agent = _agent_value(conflict, value, allow_none=True)
    if agent is None:
        org = remove_agent(org, agent_id)
        if org.entry == agent_id and conflict.fallback_entry is not None:
            org = dataclasses.replace(org, entry=conflict.fallback_entry)
        return org
    org = replace_agent(org, agent)
    return _add_channels(org, agent_id, conflict.channels)


def _add_channels(org: Org, agent_id: str, channels: Sequence[Channel]) -> Org:
    """Give a kept agent the channels it has on the side that kept it, where they sit there."""
    present = set(org.agent_ids)
    have = {channel.key for channel in org.channels}
    extra = []
    for channel in channels:
        if channel.touches(agent_id) and channel.key not in have and channel.source in present and channel.target in present:
            extra.append(channel)
            have.add(channel.key)
    return dataclasses.replace(org, channels=insert_channels(org.channels, extra, channels)) if extra else org


def _rename(org: Org, current: str, value: object) -> Org:
    new = str(value)
    if not is_agent_id(new):
        raise EditError(f"{new!r} is not a valid agent id")
    if new == current:
        return org
    if org.has_agent(new):
        raise EditError(f"cannot rename {current} to {new}: that agent already exists")
    if not org.has_agent(current):
        raise EditError(f"agent {current} is no longer in the org")
    return rename_ids(org, {current: new})


def rekey_after_rename(conflicts: Sequence[Conflict], old: str, new: str) -> tuple[Conflict, ...]:
    """The other conflicts, with the renamed agent's id (in ids, values and channels) updated."""
    if old == new:
        return tuple(conflicts)
    prefix = f"agent:{old}"

    def moved(channel: Channel) -> Channel:
        return Channel(source=new if channel.source == old else channel.source,
                       target=new if channel.target == old else channel.target, kind=channel.kind)

    def agent_value(value: object) -> object:
        return dataclasses.replace(value, id=new) if isinstance(value, Agent) and value.id == old else value

    result = []
    for conflict in conflicts:
        if conflict.agent == old:
            conflict = dataclasses.replace(
                conflict, agent=new,
                id=f"agent:{new}{conflict.id[len(prefix):]}" if conflict.id.startswith(prefix) else conflict.id,
                base=agent_value(conflict.base), ours=agent_value(conflict.ours), theirs=agent_value(conflict.theirs))
        result.append(dataclasses.replace(conflict, channels=tuple(moved(c) for c in conflict.channels)))
    return tuple(result)


def field_value(org: Org, conflict: Conflict) -> object:
    """What the org now says where the conflict is (for showing the current state)."""
    if conflict.agent is None:
        return get_path(org, str(conflict.field)) if conflict.field else None
    agent = org.agents_by_id.get(conflict.agent)
    return get_path(agent, str(conflict.field)) if agent is not None and conflict.field else agent
