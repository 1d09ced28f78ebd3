"""What a model call is given and what it gives back, independent of any provider library."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """An action or tool offered to the model; `parameters` is a JSON schema object."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    def as_openai_tool(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": dict(self.parameters)},
        }


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    """A call the model asked for. `arguments` is None when the model's arguments were not a JSON object."""

    id: str
    name: str
    arguments: Mapping[str, Any] | None
    raw_arguments: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments, "raw_arguments": self.raw_arguments}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolCall:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            arguments=data.get("arguments"),
            raw_arguments=str(data.get("raw_arguments", "")),
        )


# A conversation is kept as neutral turns; each model family gets them rendered its own way.
@dataclass(frozen=True)
class UserTurn:
    text: str


@dataclass(frozen=True)
class AssistantTurn:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    raw: str | None = None  # an answer that could not be read as actions, shown back to the model verbatim


@dataclass(frozen=True)
class ResultTurn:
    call_id: str
    name: str
    content: str


Turn = UserTurn | AssistantTurn | ResultTurn


@dataclass(frozen=True, kw_only=True)
class ChatRequest:
    model: str
    system: str
    turns: tuple[Turn, ...]
    tools: tuple[ToolSpec, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    api_base: str | None = None
    api_bases: tuple[str, ...] = ()  # several servers of the same model, load-balanced; excludes api_base
    api_key: str | None = field(default=None, repr=False)
    agent_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_bases", tuple(self.api_bases))
        if self.api_base and self.api_bases:
            raise ValueError("give a request api_base (one server) or api_bases (several), not both")

    @property
    def servers(self) -> tuple[str, ...]:
        return self.api_bases or ((self.api_base,) if self.api_base else ())


@dataclass(frozen=True, kw_only=True)
class ChatResult:
    """One finished model call. `parse_error` is set when a JSON-mode answer could not be read as actions;
    `text` then holds the raw answer so that it can be shown back to the model."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    attempts: int = 1
    native_tools: bool = True
    parse_error: str | None = None
    raw: str = field(default="", repr=False)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
