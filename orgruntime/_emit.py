"""The canonical text of org files, written fast and in the exact style the round-trip writer keeps.

New files are written from here; files that exist are edited in place by `_roundtrip` so that
the user's comments and key order survive. Both agree on every scalar's form, so a file written
here and later edited there changes only the lines that carry the edit.
"""

from __future__ import annotations

import json
import math
import re

from orgruntime._frontmatter import join_front_matter
from orgruntime._model import Agent, AgentKind, Budget, Layout, ModelDefaults, Org
from orgruntime._yamlsource import resolve_plain

_PLAIN_BLOCK = re.compile(r"[A-Za-z_][A-Za-z0-9_ .,/()'+!?-]*[A-Za-z0-9_.)'!?]|[A-Za-z_]")
_PLAIN_FLOW = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
# The same escapes as ruamel's double-quoted writer, so both write a string identically.
_ESCAPES = {
    "\0": "0", "\x07": "a", "\x08": "b", "\x09": "t", "\x0a": "n", "\x0b": "v", "\x0c": "f",
    "\x0d": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\u2028": "L", "\u2029": "P",
}


def org_yaml_data(org: Org) -> dict[str, object]:
    """org.yaml as plain data, keys in canonical order, empty values left out."""
    data: dict[str, object] = {"name": org.name}
    if org.description:
        data["description"] = org.description
    data["entry"] = org.entry
    if org.max_concurrency is not None:
        data["max_concurrency"] = org.max_concurrency
    defaults = _defaults_data(org.defaults)
    if defaults:
        data["defaults"] = defaults
    budget = budget_data(org.budget)
    if budget:
        data["budget"] = budget
    data["channels"] = [{"from": c.source, "to": c.target, "kind": str(c.kind)} for c in org.channels]
    return data


def agent_front_matter_data(agent: Agent) -> dict[str, object]:
    data: dict[str, object] = {}
    if agent.name:
        data["name"] = agent.name
    if agent.role:
        data["role"] = agent.role
    if agent.kind is not AgentKind.LLM:
        data["kind"] = str(agent.kind)
    for key in ("model", "temperature", "max_tokens"):
        value = getattr(agent, key)
        if value is not None:
            data[key] = value
    if agent.tools:
        data["tools"] = list(agent.tools)
    budget = budget_data(agent.budget)
    if budget:
        data["budget"] = budget
    return data


def budget_data(budget: Budget) -> dict[str, object]:
    return {key: getattr(budget, key) for key in ("max_steps", "max_tokens", "max_cost_usd", "max_seconds") if getattr(budget, key) is not None}


def _defaults_data(defaults: ModelDefaults) -> dict[str, object]:
    return {key: getattr(defaults, key) for key in ("model", "temperature", "max_tokens") if getattr(defaults, key) is not None}


def org_yaml_text(org: Org) -> str:
    lines = []
    for key, value in org_yaml_data(org).items():
        if key == "channels":
            if not value:
                lines.append("channels: []")
                continue
            lines.append("channels:")
            lines.extend(f"  - {_flow_mapping(channel)}" for channel in value)  # type: ignore[union-attr]
        elif isinstance(value, dict):
            lines.append(f"{key}:")
            lines.extend(f"  {sub}: {scalar(item)}" for sub, item in value.items())
        else:
            lines.append(f"{key}: {scalar(value)}")
    return "\n".join(lines) + "\n"


def agent_front_matter_text(agent: Agent) -> str:
    lines = []
    for key, value in agent_front_matter_data(agent).items():
        if isinstance(value, list):
            lines.append(f"{key}: [{', '.join(scalar(item, flow=True) for item in value)}]")
        elif isinstance(value, dict):
            lines.append(f"{key}: {_flow_mapping(value)}")
        else:
            lines.append(f"{key}: {scalar(value)}")
    return "".join(line + "\n" for line in lines)


def agent_file_text(agent: Agent) -> str:
    return join_front_matter(agent_front_matter_text(agent), agent.prompt)


def layout_text(layout: Layout) -> str:
    nodes = {agent_id: {"x": _json_number(p.x), "y": _json_number(p.y)} for agent_id, p in layout.positions}
    return json.dumps({"version": 1, "nodes": nodes}, indent=2, sort_keys=True) + "\n"


def _json_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def _flow_mapping(mapping: dict) -> str:
    return "{" + ", ".join(f"{key}: {scalar(value, flow=True)}" for key, value in mapping.items()) + "}"


def scalar(value: object, *, flow: bool = False) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        return text if "." in text or "e" in text else text + ".0"
    text = str(value)
    pattern = _PLAIN_FLOW if flow else _PLAIN_BLOCK
    if pattern.fullmatch(text) and isinstance(resolve_plain(text), str):
        return text
    return _double_quoted(text)


def _double_quoted(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append("\\" + _ESCAPES[ch])
        elif "\x20" <= ch <= "\x7e" or ("\xa0" <= ch <= "\ud7ff") or ("\ue000" <= ch <= "\ufffd" and ch != "\ufeff") or ("\U00010000" <= ch < "\U0010ffff"):
            out.append(ch)
        elif ch <= "\xff":
            out.append(f"\\x{ord(ch):02X}")
        elif ch <= "\uffff":
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    out.append('"')
    return "".join(out)
