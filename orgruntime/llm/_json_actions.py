"""Actions as a JSON schema, for models without native tool calling, and reading their answers back.

An answer is one JSON object: {"reply": TEXT or null, "actions": [{"name": NAME, "arguments": {...}}, ...]}.
A plain reply has no actions; an answer with actions ignores its reply.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from orgruntime.llm._types import ToolCall, ToolSpec

JSON_SCHEMA_NAME = "agent_answer"


def actions_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    choices = [
        {
            "type": "object",
            "properties": {"name": {"const": tool.name}, "arguments": dict(tool.parameters)},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    actions: dict[str, Any] = {"type": "array", "items": {"anyOf": choices}} if choices else {"type": "array", "maxItems": 0}
    return {
        "type": "object",
        "properties": {"reply": {"type": ["string", "null"]}, "actions": actions},
        "required": ["reply", "actions"],
        "additionalProperties": False,
    }


def response_format(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": JSON_SCHEMA_NAME, "schema": actions_schema(tools), "strict": False}}


def instructions(tools: Sequence[ToolSpec]) -> str:
    lines = [
        "Answer with exactly one JSON object and nothing else:",
        '{"reply": "<text or null>", "actions": [{"name": "<action>", "arguments": {...}}]}',
        "Use an empty actions list to answer in plain text. Available actions:",
    ]
    for tool in tools:
        lines.append(f"- {tool.name}: {tool.description} Arguments schema: {json.dumps(tool.parameters, sort_keys=True)}")
    return "\n".join(lines)


class ActionParseError(ValueError):
    pass


def parse_answer(text: str, tools: Sequence[ToolSpec], call_id_prefix: str) -> tuple[str, tuple[ToolCall, ...]]:
    """(reply text, actions) from a JSON-mode answer; ActionParseError says what is wrong with it."""
    candidate = _strip_code_fence(text.strip())
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError as error:
        data = _first_object(candidate)
        if data is None:
            raise ActionParseError(f"the answer is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    if not isinstance(data, dict):
        raise ActionParseError("the answer must be a JSON object with the keys reply and actions")
    reply = data.get("reply")
    if reply is not None and not isinstance(reply, str):
        raise ActionParseError("reply must be a string or null")
    actions = data.get("actions", [])
    if not isinstance(actions, list):
        raise ActionParseError("actions must be a list")
    known = {tool.name for tool in tools}
    calls = []
    for index, action in enumerate(actions):
        if not isinstance(action, dict) or not isinstance(action.get("name"), str):
            raise ActionParseError(f"actions[{index}] must be an object with a string name")
        name = action["name"]
        if name not in known:
            raise ActionParseError(f"actions[{index}] names an unknown action {name!r}; choose from {sorted(known)}")
        arguments = action.get("arguments", {})
        if not isinstance(arguments, dict):
            raise ActionParseError(f"actions[{index}].arguments must be an object")
        calls.append(ToolCall(id=f"{call_id_prefix}{index}", name=name, arguments=arguments, raw_arguments=json.dumps(arguments)))
    if not calls and not (reply or "").strip():
        raise ActionParseError("the answer has neither a reply nor any action")
    return reply or "", tuple(calls)


def _first_object(text: str) -> object | None:
    """The first JSON object in `text`, for models that wrap their answer in prose."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _strip_code_fence(text: str) -> str:
    if text.startswith("```") and text.endswith("```"):
        inner = text[3:-3]
        first_newline = inner.find("\n")
        return inner[first_newline + 1 :] if first_newline >= 0 else inner
    return text
