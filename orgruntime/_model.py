"""The org model: frozen, keyword-only dataclasses for an org, its agents and its channels."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Mapping

AGENT_ID_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,63}")
BUILTIN_TOOLS = ("list_files", "read_file", "run_python", "write_file")


def is_agent_id(text: str) -> bool:
    return AGENT_ID_PATTERN.fullmatch(text) is not None


class ChannelKind(StrEnum):
    DELEGATES = "delegates"
    REPORTS = "reports"
    REVIEWS = "reviews"
    PEERS = "peers"  # both directions


class AgentKind(StrEnum):
    LLM = "llm"
    HUMAN = "human"  # a seat for a person: messages to it wait for an answer


@dataclass(frozen=True, kw_only=True)
class Budget:
    """Limits for a whole run or one agent; None means unlimited."""

    max_steps: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    max_seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class ModelDefaults:
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, kw_only=True)
class Agent:
    id: str
    name: str = ""
    role: str = ""
    kind: AgentKind = AgentKind.LLM
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    tools: tuple[str, ...] = ()
    budget: Budget = Budget()
    prompt: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tools", tuple(self.tools))
        object.__setattr__(self, "prompt", normalize_prompt(self.prompt))

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def is_human(self) -> bool:
        return self.kind is AgentKind.HUMAN


def normalize_prompt(text: str) -> str:
    """Prompts carry no leading or trailing blank lines; the file layout adds its own."""
    return text.strip("\r\n")


@dataclass(frozen=True, kw_only=True)
class Channel:
    """Lets `source` start a conversation with `target` (and, for peers, the reverse)."""

    source: str
    target: str
    kind: ChannelKind

    @property
    def key(self) -> tuple[str, str, ChannelKind]:
        """Identity of a channel: peers are the same channel whichever way round they are written."""
        if self.kind is ChannelKind.PEERS and self.target < self.source:
            return (self.target, self.source, self.kind)
        return (self.source, self.target, self.kind)

    def touches(self, agent_id: str) -> bool:
        return agent_id in (self.source, self.target)


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Node positions only (`.orgide/layout.json`); never affects meaning."""

    positions: tuple[tuple[str, Point], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", tuple(sorted(self.positions, key=lambda item: item[0])))

    @classmethod
    def of(cls, positions: Mapping[str, Point]) -> Layout:
        return cls(positions=tuple(positions.items()))

    def as_dict(self) -> dict[str, Point]:
        """A new dict of the positions (the caller may change it)."""
        return dict(self.positions)

    @cached_property
    def _by_id(self) -> Mapping[str, Point]:
        return dict(self.positions)

    def get(self, agent_id: str) -> Point | None:
        return self._by_id.get(agent_id)


@dataclass(frozen=True, kw_only=True)
class Org:
    """An org as its files describe it. Agents are kept sorted by id; channels keep file order."""

    name: str
    entry: str
    description: str = ""
    defaults: ModelDefaults = ModelDefaults()
    budget: Budget = Budget()
    max_concurrency: int | None = None
    channels: tuple[Channel, ...] = ()
    agents: tuple[Agent, ...] = ()
    layout: Layout = Layout()
    _cache: dict = field(default_factory=dict, init=False, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "agents", tuple(sorted(self.agents, key=lambda agent: agent.id)))

    @cached_property
    def agents_by_id(self) -> Mapping[str, Agent]:
        return {agent.id: agent for agent in self.agents}

    @property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(agent.id for agent in self.agents)

    def agent(self, agent_id: str) -> Agent:
        """The agent with this id; KeyError if there is none."""
        return self.agents_by_id[agent_id]

    def has_agent(self, agent_id: str) -> bool:
        return agent_id in self.agents_by_id

    def model_of(self, agent_id: str) -> str | None:
        return self.agent(agent_id).model or self.defaults.model
