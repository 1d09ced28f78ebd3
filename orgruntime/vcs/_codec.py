"""JSON forms of the values that conflicts carry (agents, channels, enums, texts, bytes), and back."""

from __future__ import annotations

import base64
from enum import Enum

from orgruntime._model import Agent, AgentKind, Budget, Channel, ChannelKind


def value_to_json(value: object) -> object:
    if isinstance(value, Agent):
        return {"agent": {
            "id": value.id, "name": value.name, "role": value.role, "kind": str(value.kind), "model": value.model,
            "temperature": value.temperature, "max_tokens": value.max_tokens, "tools": list(value.tools),
            "budget": {name: getattr(value.budget, name) for name in ("max_steps", "max_tokens", "max_cost_usd", "max_seconds")},
            "prompt": value.prompt}}
    if isinstance(value, Channel):
        return {"channel": {"from": value.source, "to": value.target, "kind": str(value.kind)}}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return [value_to_json(item) for item in value]
    return value


def value_from_json(data: object) -> object:
    if isinstance(data, dict) and "agent" in data:
        fields = dict(data["agent"])
        return Agent(id=fields["id"], name=fields.get("name", ""), role=fields.get("role", ""),
                     kind=AgentKind(fields.get("kind", "llm")), model=fields.get("model"),
                     temperature=fields.get("temperature"), max_tokens=fields.get("max_tokens"),
                     tools=tuple(fields.get("tools", ())), budget=Budget(**fields.get("budget", {})),
                     prompt=fields.get("prompt", ""))
    if isinstance(data, dict) and "channel" in data:
        fields = data["channel"]
        return Channel(source=fields["from"], target=fields["to"], kind=ChannelKind(fields["kind"]))
    if isinstance(data, dict) and "bytes" in data:
        return base64.b64decode(data["bytes"])
    return data
