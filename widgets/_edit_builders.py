"""Edits the graph editor builds from what the user did: pure functions over the core model (no Qt)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

from orgruntime import (
    AddAgent,
    AddChannel,
    Agent,
    AgentKind,
    Budget,
    Channel,
    ChannelKind,
    Edit,
    EditBatch,
    Org,
    Point,
    RemoveAgent,
    RemoveChannel,
    is_agent_id,
)

from widgets._autolayout import free_position

CLIPBOARD_MIME = "application/x-orgide-agents+json"
_CLIPBOARD_VERSION = 1


def unique_id(base: str, taken: set[str] | frozenset[str]) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is free (and still a valid agent id)."""
    stem = base if is_agent_id(base) else "agent"
    stem = stem[:56]
    if stem not in taken:
        return stem
    root = stem
    if "-" in stem and stem.rsplit("-", 1)[1].isdigit():
        root = stem.rsplit("-", 1)[0]
    number = 2
    while f"{root}-{number}" in taken:
        number += 1
    return f"{root}-{number}"


def add_agent_edit(org: Org, near: tuple[float, float], occupied: list[tuple[float, float]]) -> AddAgent:
    agent_id = unique_id("agent", set(org.agent_ids))
    return AddAgent(Agent(id=agent_id, name=agent_id.replace("-", " ").title()), free_position(occupied, near))


def delete_edit(org: Org, agent_ids: list[str], channels: list[Channel]) -> Edit | None:
    """Removes the agents (with their channels) and the other selected channels, as one step."""
    doomed = set(agent_ids)
    steps: list[Edit] = [RemoveChannel(c) for c in dict.fromkeys(channels) if not (c.source in doomed or c.target in doomed)]
    steps += [RemoveAgent(agent_id) for agent_id in agent_ids if org.has_agent(agent_id)]
    if not steps:
        return None
    label = f"Delete {len(steps)} items"
    return steps[0] if len(steps) == 1 else EditBatch(tuple(steps), label=label)


def copy_payload(org: Org, agent_ids: list[str], positions: dict[str, tuple[float, float]]) -> str:
    """The selection as clipboard text: the agents, the channels among them, and their positions."""
    chosen = [org.agent(agent_id) for agent_id in agent_ids if org.has_agent(agent_id)]
    ids = {agent.id for agent in chosen}
    payload = {
        "orgide": _CLIPBOARD_VERSION,
        "agents": [_agent_json(agent) for agent in chosen],
        "channels": [{"from": c.source, "to": c.target, "kind": str(c.kind)}
                     for c in org.channels if c.source in ids and c.target in ids],
        "positions": {agent.id: list(positions.get(agent.id, (0.0, 0.0))) for agent in chosen},
    }
    return json.dumps(payload, indent=1)


def paste_edit(org: Org, text: str, anchor: tuple[float, float] | None,
               occupied: list[tuple[float, float]]) -> tuple[EditBatch, list[str]] | None:
    """Agents from clipboard text as new agents (fresh ids where taken); None if the text is not ours."""
    try:
        payload = json.loads(text)
        if not isinstance(payload, dict) or payload.get("orgide") != _CLIPBOARD_VERSION:
            return None
        agents = [_agent_from_json(item) for item in payload["agents"]]
        channels = [(c["from"], c["to"], ChannelKind(c["kind"])) for c in payload.get("channels", [])]
        positions = {k: (float(v[0]), float(v[1])) for k, v in payload.get("positions", {}).items()}
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None
    if not agents:
        return None
    return _copies(org, agents, channels, positions, anchor, occupied, label="Paste")


def duplicate_edit(org: Org, agent_ids: list[str], positions: dict[str, tuple[float, float]],
                   occupied: list[tuple[float, float]]) -> tuple[EditBatch, list[str]] | None:
    agents = [org.agent(agent_id) for agent_id in agent_ids if org.has_agent(agent_id)]
    if not agents:
        return None
    ids = {agent.id for agent in agents}
    channels = [(c.source, c.target, c.kind) for c in org.channels if c.source in ids and c.target in ids]
    return _copies(org, agents, channels, positions, None, occupied, label="Duplicate")


def _copies(org: Org, agents: list[Agent], channels: list[tuple[str, str, ChannelKind]],
            positions: dict[str, tuple[float, float]], anchor: tuple[float, float] | None,
            occupied: list[tuple[float, float]], *, label: str) -> tuple[EditBatch, list[str]]:
    taken = set(org.agent_ids)
    new_ids: dict[str, str] = {}
    for agent in agents:
        new_ids[agent.id] = unique_id(agent.id, taken)
        taken.add(new_ids[agent.id])
    known = [positions[a.id] for a in agents if a.id in positions]
    centre = (sum(p[0] for p in known) / len(known), sum(p[1] for p in known) / len(known)) if known else (0.0, 0.0)
    target = anchor if anchor is not None else (centre[0] + 60.0, centre[1] + 60.0)
    busy = list(occupied)
    steps: list[Edit] = []
    for agent in agents:
        offset = positions.get(agent.id, centre)
        wanted = (target[0] + offset[0] - centre[0], target[1] + offset[1] - centre[1])
        spot = free_position(busy, wanted)
        busy.append((spot.x, spot.y))
        steps.append(AddAgent(replace(agent, id=new_ids[agent.id]), spot))
    for source, target_id, kind in channels:
        if source in new_ids and target_id in new_ids:
            steps.append(AddChannel(Channel(source=new_ids[source], target=new_ids[target_id], kind=kind)))
    count = len(agents)
    return EditBatch(tuple(steps), label=f"{label} {count} agent{'s' if count != 1 else ''}"), list(new_ids.values())


def _agent_json(agent: Agent) -> dict:
    data = asdict(agent)
    data["kind"] = str(agent.kind)
    data["tools"] = list(agent.tools)
    return data


def _agent_from_json(data: dict) -> Agent:
    budget = Budget(**data.get("budget", {}))
    return Agent(
        id=str(data["id"]), name=str(data.get("name", "")), role=str(data.get("role", "")),
        kind=AgentKind(data.get("kind", "llm")), model=data.get("model"), temperature=data.get("temperature"),
        max_tokens=data.get("max_tokens"), tools=tuple(str(t) for t in data.get("tools", ())),
        budget=budget, prompt=str(data.get("prompt", "")),
    )


def point_tuple(point: Point) -> tuple[float, float]:
    return (point.x, point.y)
