"""Edits: pure functions from an org to a new org, each with its inverse.

`apply(org, edit)` returns the edited org; `inverse(org, edit)` returns the edit that takes the
result back to `org`. The IDE's undo stack holds these and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import assert_never

from orgruntime._errors import EditError
from orgruntime._model import Agent, Channel, Layout, Org, Point, is_agent_id

ORG_EDITABLE_FIELDS = ("name", "description", "entry", "defaults", "budget", "max_concurrency")
AGENT_EDITABLE_FIELDS = tuple(f.name for f in fields(Agent) if f.name != "id")


@dataclass(frozen=True)
class AddAgent:
    agent: Agent
    position: Point | None = None


@dataclass(frozen=True)
class RemoveAgent:
    """Removes the agent, its channels and its position (the entry is left as it is)."""

    agent_id: str


@dataclass(frozen=True)
class RenameAgent:
    """Changes an agent's id everywhere: its file, every channel, the entry, the layout."""

    old_id: str
    new_id: str


@dataclass(frozen=True)
class SetOrgField:
    field: str
    value: object


@dataclass(frozen=True)
class SetAgentField:
    agent_id: str
    field: str
    value: object


@dataclass(frozen=True)
class AddChannel:
    channel: Channel
    index: int | None = None  # None appends


@dataclass(frozen=True)
class RemoveChannel:
    channel: Channel


@dataclass(frozen=True)
class ReplaceChannel:
    """Retargets a channel or changes its kind, keeping its place in the list."""

    old: Channel
    new: Channel


@dataclass(frozen=True)
class MoveNodes:
    positions: tuple[tuple[str, Point | None], ...]  # None removes a stored position


@dataclass(frozen=True)
class EditBatch:
    """Several edits as one step (one undo)."""

    edits: tuple[Edit, ...]
    label: str = ""


Edit = AddAgent | RemoveAgent | RenameAgent | SetOrgField | SetAgentField | AddChannel | RemoveChannel | ReplaceChannel | MoveNodes | EditBatch


def apply(org: Org, edit: Edit) -> Org:
    match edit:
        case AddAgent(agent=agent, position=position):
            if not is_agent_id(agent.id):
                raise EditError(f"'{agent.id}' is not a valid agent id")
            if org.has_agent(agent.id):
                raise EditError(f"there is already an agent '{agent.id}'")
            layout = _moved(org.layout, ((agent.id, position),)) if position else org.layout
            return replace(org, agents=(*org.agents, agent), layout=layout)
        case RemoveAgent(agent_id=agent_id):
            _require_agent(org, agent_id)
            return replace(
                org,
                agents=tuple(a for a in org.agents if a.id != agent_id),
                channels=tuple(c for c in org.channels if not c.touches(agent_id)),
                layout=_moved(org.layout, ((agent_id, None),)),
            )
        case RenameAgent(old_id=old, new_id=new):
            _require_agent(org, old)
            if not is_agent_id(new):
                raise EditError(f"'{new}' is not a valid agent id")
            if org.has_agent(new):
                raise EditError(f"there is already an agent '{new}'")
            rename = lambda agent_id: new if agent_id == old else agent_id  # noqa: E731
            return replace(
                org,
                agents=tuple(replace(a, id=new) if a.id == old else a for a in org.agents),
                channels=tuple(replace(c, source=rename(c.source), target=rename(c.target)) for c in org.channels),
                entry=rename(org.entry),
                layout=Layout(positions=tuple((rename(i), p) for i, p in org.layout.positions)),
            )
        case SetOrgField(field=name, value=value):
            if name not in ORG_EDITABLE_FIELDS:
                raise EditError(f"'{name}' is not an editable org field")
            return replace(org, **{name: value})
        case SetAgentField(agent_id=agent_id, field=name, value=value):
            agent = _require_agent(org, agent_id)
            if name not in AGENT_EDITABLE_FIELDS:
                raise EditError(f"'{name}' is not an editable agent field")
            changed = replace(agent, **{name: value})
            return replace(org, agents=tuple(changed if a.id == agent_id else a for a in org.agents))
        case AddChannel(channel=channel, index=index):
            _check_new_channel(org, channel, ignoring=None)
            channels = list(org.channels)
            channels.insert(len(channels) if index is None else index, channel)
            return replace(org, channels=tuple(channels))
        case RemoveChannel(channel=channel):
            index = _channel_index(org, channel)
            return replace(org, channels=org.channels[:index] + org.channels[index + 1:])
        case ReplaceChannel(old=old, new=new):
            index = _channel_index(org, old)
            _check_new_channel(org, new, ignoring=index)
            return replace(org, channels=(*org.channels[:index], new, *org.channels[index + 1:]))
        case MoveNodes(positions=positions):
            for agent_id, _ in positions:
                _require_agent(org, agent_id)
            return replace(org, layout=_moved(org.layout, positions))
        case EditBatch(edits=edits):
            for step in edits:
                org = apply(org, step)
            return org
        case _:
            assert_never(edit)


def inverse(org: Org, edit: Edit) -> Edit:
    """The edit that undoes `edit` once it has been applied to `org`."""
    match edit:
        case AddAgent(agent=agent):
            return RemoveAgent(agent.id)
        case RemoveAgent(agent_id=agent_id):
            restore: list[Edit] = [AddAgent(org.agent(agent_id), org.layout.get(agent_id))]
            restore.extend(AddChannel(c, i) for i, c in enumerate(org.channels) if c.touches(agent_id))
            return EditBatch(tuple(restore), label=f"restore agent '{agent_id}'")
        case RenameAgent(old_id=old, new_id=new):
            return RenameAgent(new, old)
        case SetOrgField(field=name):
            return SetOrgField(name, getattr(org, name))
        case SetAgentField(agent_id=agent_id, field=name):
            return SetAgentField(agent_id, name, getattr(org.agent(agent_id), name))
        case AddChannel(channel=channel):
            return RemoveChannel(channel)
        case RemoveChannel(channel=channel):
            return AddChannel(channel, _channel_index(org, channel))
        case ReplaceChannel(old=old, new=new):
            return ReplaceChannel(new, old)
        case MoveNodes(positions=positions):
            return MoveNodes(tuple((agent_id, org.layout.get(agent_id)) for agent_id, _ in reversed(positions)))
        case EditBatch(edits=edits, label=label):
            undo: list[Edit] = []
            for step in edits:
                undo.append(inverse(org, step))
                org = apply(org, step)
            return EditBatch(tuple(reversed(undo)), label=label)
        case _:
            assert_never(edit)


def apply_with_inverse(org: Org, edit: Edit) -> tuple[Org, Edit]:
    return apply(org, edit), inverse(org, edit)


def describe(edit: Edit) -> str:
    """A short label for menus and the undo history."""
    match edit:
        case AddAgent(agent=agent):
            return f"Add agent '{agent.id}'"
        case RemoveAgent(agent_id=agent_id):
            return f"Delete agent '{agent_id}'"
        case RenameAgent(old_id=old, new_id=new):
            return f"Rename '{old}' to '{new}'"
        case SetOrgField(field=name):
            return f"Change org {name.replace('_', ' ')}"
        case SetAgentField(agent_id=agent_id, field=name):
            return f"Change {name.replace('_', ' ')} of '{agent_id}'"
        case AddChannel(channel=c):
            return f"Add channel {c.source} -> {c.target}"
        case RemoveChannel(channel=c):
            return f"Delete channel {c.source} -> {c.target}"
        case ReplaceChannel(new=c):
            return f"Change channel to {c.source} -> {c.target} ({c.kind})"
        case MoveNodes(positions=positions):
            return f"Move {len(positions)} agent{'s' if len(positions) != 1 else ''}"
        case EditBatch(edits=edits, label=label):
            return label or f"{len(edits)} edits"
        case _:
            assert_never(edit)


def _require_agent(org: Org, agent_id: str) -> Agent:
    if not org.has_agent(agent_id):
        raise EditError(f"there is no agent '{agent_id}'")
    return org.agent(agent_id)


def _channel_index(org: Org, channel: Channel) -> int:
    try:
        return org.channels.index(channel)
    except ValueError:
        raise EditError(f"there is no channel {channel.source} -> {channel.target} ({channel.kind})") from None


def _check_new_channel(org: Org, channel: Channel, *, ignoring: int | None) -> None:
    for agent_id in (channel.source, channel.target):
        _require_agent(org, agent_id)
    if channel.source == channel.target:
        raise EditError("an agent cannot have a channel to itself")
    if any(i != ignoring and c.key == channel.key for i, c in enumerate(org.channels)):
        raise EditError(f"there is already a channel {channel.source} -> {channel.target} ({channel.kind})")


def _moved(layout: Layout, moves: tuple[tuple[str, Point | None], ...]) -> Layout:
    positions = layout.as_dict()
    for agent_id, point in moves:
        if point is None:
            positions.pop(agent_id, None)
        else:
            positions[agent_id] = point
    return Layout.of(positions)
