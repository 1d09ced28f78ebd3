"""A conflict's values as text for the resolver's panes, and an edited text back as a value the core accepts."""

from __future__ import annotations

import dataclasses
from enum import Enum

from orgruntime import Agent, Channel
from orgruntime.vcs import Conflict, ConflictKind

DELETED = "(deleted)"
_MARKERS = ("<<<<<<<", "|||||||", "=======", ">>>>>>>")
_TEXT_KINDS = (ConflictKind.TEXT, ConflictKind.FILE, ConflictKind.RENAME_RENAME)


def value_text(value: object) -> str:
    match value:
        case None:
            return DELETED
        case Agent():
            return _agent_text(value)
        case Channel():
            return f"{value.source} -> {value.target} ({value.kind})"
        case bytes():
            return value.decode("utf-8", "replace")
        case Enum():
            return str(value.value)
        case tuple():
            return ", ".join(value_text(item) for item in value)
        case bool():
            return "true" if value else "false"
    return str(value)


def _agent_text(agent: Agent) -> str:
    lines = [f"id: {agent.id}", f"name: {agent.name}", f"role: {agent.role}", f"kind: {agent.kind}"]
    for name in ("model", "temperature", "max_tokens"):
        if getattr(agent, name) is not None:
            lines.append(f"{name}: {getattr(agent, name)}")
    if agent.tools:
        lines.append(f"tools: {', '.join(agent.tools)}")
    budget = {f.name: getattr(agent.budget, f.name) for f in dataclasses.fields(agent.budget)
              if getattr(agent.budget, f.name) is not None}
    if budget:
        lines.append("budget: " + ", ".join(f"{k}={v}" for k, v in budget.items()))
    return "\n".join(lines) + "\n---\n" + agent.prompt


def _samples(conflict: Conflict) -> list[object]:
    return [v for v in (conflict.base, conflict.ours, conflict.theirs) if v is not None]


def editable(conflict: Conflict) -> bool:
    """Whether an edited value can be typed: texts, ids and plain field values (not whole agents or lists)."""
    if conflict.kind in _TEXT_KINDS:
        return all(isinstance(v, (str, bytes)) for v in _samples(conflict))
    if conflict.kind is ConflictKind.FIELD:
        return all(isinstance(v, (str, int, float, Enum)) for v in _samples(conflict))
    return False


def initial_text(conflict: Conflict) -> str:
    """What the result pane starts with: the text with both sides' hunks marked, else our value."""
    if conflict.marked is not None:
        return conflict.marked
    return "" if conflict.ours is None else value_text(conflict.ours)


def parse_edited(conflict: Conflict, text: str) -> object:
    """The typed text as the kind of value the conflict holds; ValueError with a reason if it is not one."""
    if conflict.kind in _TEXT_KINDS:
        if any(line.startswith(_MARKERS) for line in text.split("\n")):
            raise ValueError("the result still has conflict markers (<<<<<<<, =======, >>>>>>>): settle each hunk first")
        if conflict.kind is ConflictKind.TEXT and not text.endswith("\n") and any(
                isinstance(v, str) and v.endswith("\n") for v in _samples(conflict)):
            text += "\n"
        return text.strip() if conflict.kind is ConflictKind.RENAME_RENAME else text
    samples = _samples(conflict)
    stripped = text.strip()
    if not stripped or stripped == DELETED:
        return None
    if any(isinstance(v, bool) for v in samples):
        if stripped.lower() not in ("true", "false"):
            raise ValueError(f"{conflict.field} takes true or false")
        return stripped.lower() == "true"
    if samples and all(isinstance(v, int) for v in samples):
        try:
            return int(stripped)
        except ValueError:
            raise ValueError(f"{conflict.field} takes a whole number, not {stripped!r}") from None
    if samples and all(isinstance(v, (int, float)) for v in samples):
        try:
            return float(stripped)
        except ValueError:
            raise ValueError(f"{conflict.field} takes a number, not {stripped!r}") from None
    return stripped
