"""Render neutral turns into chat messages: with native tool calls, or as plain text for JSON-mode models."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from orgruntime.llm._json_actions import instructions
from orgruntime.llm._types import AssistantTurn, ChatRequest, ResultTurn, ToolCall, Turn, UserTurn


def render_messages(request: ChatRequest, *, native_tools: bool) -> list[dict[str, Any]]:
    system = request.system if native_tools else f"{request.system}\n\n{instructions(request.tools)}"
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    if native_tools:
        messages.extend(_native(request.turns))
    else:
        messages.extend(_json_mode(request.turns))
    return messages


def _native(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for turn in turns:
        match turn:
            case UserTurn(text=text):
                messages.append({"role": "user", "content": text})
            case AssistantTurn(text=text, tool_calls=calls, raw=raw):
                message: dict[str, Any] = {"role": "assistant", "content": (raw if raw is not None else text) or None}
                if calls:
                    message["tool_calls"] = [_native_call(call) for call in calls]
                elif not text:
                    message["content"] = ""
                messages.append(message)
            case ResultTurn(call_id=call_id, name=name, content=content):
                messages.append({"role": "tool", "tool_call_id": call_id, "name": name, "content": content})
    return messages


def _native_call(call: ToolCall) -> dict[str, Any]:
    arguments = call.raw_arguments or json.dumps(call.arguments or {})
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


def _json_mode(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    results: list[str] = []

    def flush_results() -> None:
        if results:
            messages.append({"role": "user", "content": "Results of your actions:\n" + "\n".join(results)})
            results.clear()

    for turn in turns:
        match turn:
            case ResultTurn(name=name, content=content):
                results.append(f"- {name}: {content}")
            case UserTurn(text=text):
                flush_results()
                messages.append({"role": "user", "content": text})
            case AssistantTurn(text=text, tool_calls=calls, raw=raw):
                flush_results()
                messages.append({"role": "assistant", "content": raw if raw is not None else _json_answer(text, calls)})
    flush_results()
    return messages


def _json_answer(text: str, calls: Sequence[ToolCall]) -> str:
    actions = [{"name": call.name, "arguments": dict(call.arguments or {})} for call in calls]
    return json.dumps({"reply": text or None, "actions": actions})
