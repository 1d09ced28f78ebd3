"""The scripted model `scripted/<path-to-script.yaml>`: deterministic answers for tests and demos.

The script maps each agent id to the list of its successive answers. An answer is
- a string: a plain text answer;
- a one-key mapping `{name: {args}}`: a call of the action or tool `name`;
- a list of such mappings: several calls in one answer;
- `{_raw: TEXT}`: TEXT sent verbatim (to show what a model that ignores the format does).
An optional `_settings: {native_tools: false}` makes the model answer in JSON mode, like a small local model.

The answer given is chosen by how many answers the agent has already given in the conversation, so the
model keeps no state of its own: a resumed run gets the same answers as an uninterrupted one. When the
environment names a file in ORGIDE_SCRIPTED_CALL_LOG, each call appends "agent index" to it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orgruntime._model import is_agent_id
from orgruntime.llm._errors import ScriptError

PROVIDER = "scripted"
CALL_LOG_ENV = "ORGIDE_SCRIPTED_CALL_LOG"
CHUNKS_PER_TEXT = 3


@dataclass(frozen=True)
class ScriptedCall:
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class ScriptedAnswer:
    text: str = ""
    calls: tuple[ScriptedCall, ...] = ()
    raw: str | None = None


@dataclass(frozen=True)
class Script:
    answers: Mapping[str, tuple[ScriptedAnswer, ...]]
    native_tools: bool = True


_cache: dict[str, tuple[int, Script]] = {}


def load_script(path: str | os.PathLike[str]) -> Script:
    """The script at `path`, read again only when the file changes."""
    key = os.fspath(path)
    script_path = Path(key).expanduser()
    try:
        mtime = os.stat(script_path).st_mtime_ns
        cached = _cache.get(key)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        text = script_path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScriptError(f"cannot read the model script {script_path}: {error.strerror or error}") from None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise ScriptError(f"{script_path}: invalid YAML: {error}") from None
    script = _parse_script(data, str(script_path))
    _cache[key] = (mtime, script)
    return script


def _parse_script(data: Any, where: str) -> Script:
    if not isinstance(data, dict):
        raise ScriptError(f"{where}: a model script is a mapping from agent ids to lists of answers")
    settings = data.get("_settings") or {}
    if not isinstance(settings, dict) or set(settings) - {"native_tools"}:
        raise ScriptError(f"{where}: _settings may only hold native_tools")
    answers = {}
    for agent_id, entries in data.items():
        if agent_id == "_settings":
            continue
        if not isinstance(agent_id, str) or not is_agent_id(agent_id):
            raise ScriptError(f"{where}: {agent_id!r} is not an agent id")
        if not isinstance(entries, list):
            raise ScriptError(f"{where}: the answers of {agent_id} must be a list")
        answers[agent_id] = tuple(_parse_answer(entry, f"{where}: {agent_id}[{index}]") for index, entry in enumerate(entries))
    return Script(answers=answers, native_tools=bool(settings.get("native_tools", True)))


def _parse_answer(entry: Any, where: str) -> ScriptedAnswer:
    if isinstance(entry, str):
        return ScriptedAnswer(text=entry)
    if isinstance(entry, dict) and set(entry) == {"_raw"} and isinstance(entry["_raw"], str):
        return ScriptedAnswer(raw=entry["_raw"])
    calls = entry if isinstance(entry, list) else [entry]
    if not calls:
        raise ScriptError(f"{where}: an empty list of calls")
    return ScriptedAnswer(calls=tuple(_parse_call(call, where) for call in calls))


def _parse_call(call: Any, where: str) -> ScriptedCall:
    if not isinstance(call, dict) or len(call) != 1:
        raise ScriptError(f"{where}: a call is a one-key mapping {{name: {{arguments}}}}")
    ((name, arguments),) = call.items()
    if arguments is None:
        arguments = {}
    if not isinstance(name, str) or not isinstance(arguments, dict):
        raise ScriptError(f"{where}: a call is a one-key mapping {{name: {{arguments}}}}")
    return ScriptedCall(name=name, arguments=arguments)


def script_uses_native_tools(model_path: str) -> bool:
    return load_script(model_path).native_tools


def answer_for(script: Script, agent_id: str, messages: Sequence[Mapping[str, Any]], where: str) -> tuple[int, ScriptedAnswer]:
    if agent_id not in script.answers:
        raise ScriptError(f"{where}: the script has no answers for agent {agent_id!r}")
    index = sum(1 for message in messages if message.get("role") == "assistant")
    answers = script.answers[agent_id]
    if index >= len(answers):
        raise ScriptError(f"{where}: the script of agent {agent_id!r} is exhausted after {len(answers)} answers")
    return index, answers[index]


async def stream_script(
    model_path: str, messages: Sequence[Mapping[str, Any]], optional_params: Mapping[str, Any], agent_id: str
) -> AsyncIterator[dict[str, Any]]:
    """The answer as litellm GenericStreamingChunk dicts: text in several chunks, then any tool calls."""
    script = load_script(model_path)
    index, answer = answer_for(script, agent_id, messages, model_path)
    _log_call(agent_id, index)
    native = bool(optional_params.get("tools"))
    text, calls = _render(answer, native, index)
    prompt_tokens = _estimate_tokens(json.dumps(list(messages)))
    completion_tokens = _estimate_tokens(text + "".join(json.dumps(c["function"]) for c in calls))
    pieces = _split(text, CHUNKS_PER_TEXT)
    for piece in pieces:
        yield _chunk(text=piece)
        await asyncio.sleep(0)
    for position, call in enumerate(calls):
        yield _chunk(tool_use={**call, "index": position})
    yield _chunk(
        finished=True,
        finish_reason="tool_calls" if calls else "stop",
        usage={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
    )


def _render(answer: ScriptedAnswer, native: bool, index: int) -> tuple[str, list[dict[str, Any]]]:
    if answer.raw is not None:
        return answer.raw, []
    if not native:
        actions = [{"name": call.name, "arguments": dict(call.arguments)} for call in answer.calls]
        return json.dumps({"reply": answer.text or None, "actions": actions}), []
    calls = [
        {"id": f"call_{index}_{position}", "type": "function", "function": {"name": call.name, "arguments": json.dumps(dict(call.arguments))}}
        for position, call in enumerate(answer.calls)
    ]
    return answer.text, calls


def _chunk(*, text: str = "", tool_use: dict[str, Any] | None = None, finished: bool = False, finish_reason: str = "", usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {"text": text, "tool_use": tool_use, "is_finished": finished, "finish_reason": finish_reason, "usage": usage, "index": 0}


def _split(text: str, parts: int) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[start : start + size] for start in range(0, len(text), size)]


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _log_call(agent_id: str, index: int) -> None:
    log_path = os.environ.get(CALL_LOG_ENV)
    if log_path:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{agent_id} {index}\n")
