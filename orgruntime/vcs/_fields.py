"""The fields of orgs and agents as dotted paths, read and replaced one at a time."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TypeVar

from orgruntime._model import Agent, Channel, Org

T = TypeVar("T")

ORG_SCALARS = (
    "name", "entry", "max_concurrency",
    "defaults.model", "defaults.temperature", "defaults.max_tokens",
    "budget.max_steps", "budget.max_tokens", "budget.max_cost_usd", "budget.max_seconds",
)
ORG_TEXTS = ("description",)
AGENT_SCALARS = (
    "name", "role", "kind", "model", "temperature", "max_tokens",
    "budget.max_steps", "budget.max_tokens", "budget.max_cost_usd", "budget.max_seconds",
)
AGENT_TEXTS = ("prompt",)
AGENT_SETS = ("tools",)
AGENT_FIELDS = (*AGENT_SCALARS, *AGENT_SETS, *AGENT_TEXTS)
ORG_FIELDS = (*ORG_SCALARS, *ORG_TEXTS)


def get_path(value: object, path: str) -> object:
    for name in path.split("."):
        value = getattr(value, name)
    return value


def set_path(value: T, path: str, new: object) -> T:
    head, _, rest = path.partition(".")
    if rest:
        new = set_path(getattr(value, head), rest, new)
    return dataclasses.replace(value, **{head: new})  # type: ignore[type-var]


def replace_agent(org: Org, agent: Agent) -> Org:
    """`org` with `agent` added, or replacing the agent that has its id."""
    return dataclasses.replace(org, agents=tuple(a for a in org.agents if a.id != agent.id) + (agent,))


def remove_agent(org: Org, agent_id: str) -> Org:
    """`org` without the agent, its channels and its layout position."""
    return dataclasses.replace(
        org,
        agents=tuple(a for a in org.agents if a.id != agent_id),
        channels=tuple(c for c in org.channels if not c.touches(agent_id)),
        layout=dataclasses.replace(org.layout, positions=tuple(p for p in org.layout.positions if p[0] != agent_id)),
    )


def rename_ids(org: Org, mapping: dict[str, str]) -> Org:
    """Rename agents as the editor's rename does: file, channels, entry and layout follow."""
    if not mapping:
        return org

    def moved(agent_id: str) -> str:
        return mapping.get(agent_id, agent_id)

    return dataclasses.replace(
        org,
        entry=moved(org.entry),
        agents=tuple(dataclasses.replace(a, id=moved(a.id)) if a.id in mapping else a for a in org.agents),
        channels=tuple(
            Channel(source=moved(c.source), target=moved(c.target), kind=c.kind) if c.source in mapping or c.target in mapping
            else c for c in org.channels
        ),
        layout=dataclasses.replace(org.layout, positions=tuple((moved(name), point) for name, point in org.layout.positions)),
    )


def insert_channels(channels: Sequence[Channel], extra: Sequence[Channel], reference: Sequence[Channel]) -> tuple[Channel, ...]:
    """`channels` with `extra` put back where `reference` (the side they come from) has them."""
    result = list(channels)
    for channel in extra:
        keys = [c.key for c in result]
        position = 0
        before = [c.key for c in reference[: next((i for i, c in enumerate(reference) if c.key == channel.key), 0)]]
        for key in reversed(before):
            if key in keys:
                position = keys.index(key) + 1
                break
        result.insert(position, channel)
    return tuple(result)
