"""The events of a run: a closed set of frozen dataclasses, each with a `kind` tag and a stable JSON form.

Every event carries `run_id`, `seq` (its place in the run, from 1) and `ts` (Unix time in seconds).
The JSON form is a flat object: {"kind": CLASS_NAME, "run_id": ..., "seq": ..., "ts": ..., FIELDS...}.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orgruntime.llm import ToolCall


@dataclass(frozen=True, kw_only=True)
class _Event:
    run_id: str
    seq: int
    ts: float

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class RunStarted(_Event):
    """The start of a run, or (with `resumed`) the start of a resumed part of it."""

    org_name: str
    entry: str
    task: str
    models: Mapping[str, str] = field(default_factory=dict)
    resumed: bool = False


@dataclass(frozen=True, kw_only=True)
class AgentActivated(_Event):
    """The agent read its unread messages (`message_ids`) and starts working on them."""

    agent: str
    message_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class TokenDelta(_Event):
    """A piece of streamed answer text; `attempt` restarts when a failed call is retried. Not kept in the log."""

    agent: str
    text: str
    attempt: int = 1


@dataclass(frozen=True, kw_only=True)
class LLMCallFinished(_Event):
    """A finished model call. `parse_error` marks an answer that could not be read as actions."""

    agent: str
    model: str
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    attempts: int = 1
    parse_error: str | None = None


@dataclass(frozen=True, kw_only=True)
class MessageSent(_Event):
    """A delivered message. `call_id` names the send_message call that sent it; None for a plain reply."""

    sender: str
    recipient: str
    content: str
    message_id: str
    call_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ToolCalled(_Event):
    agent: str
    call_id: str
    name: str
    arguments: Mapping[str, Any] | None


@dataclass(frozen=True, kw_only=True)
class ToolReturned(_Event):
    """The outcome of a call. `ok` is False for tool errors and for refused actions (then `result` says why)."""

    agent: str
    call_id: str
    name: str
    ok: bool
    result: str


@dataclass(frozen=True, kw_only=True)
class HumanInputRequested(_Event):
    """A human seat is asked `question` (the message `message_id` from `sender`) and waits for a person."""

    agent: str
    sender: str
    question: str
    message_id: str

    @property
    def question_id(self) -> str:
        """Names this question among every run's: what a responder's `respond` takes."""
        return f"{self.run_id}/{self.message_id}"


@dataclass(frozen=True, kw_only=True)
class RunPaused(_Event):
    """From here no activation, model call or tool call starts until RunResumed; calls in flight finish.
    Paused time does not count against the run's max_seconds."""


@dataclass(frozen=True, kw_only=True)
class RunResumed(_Event):
    """The run goes on; with `step`, for exactly one activation, after which it is paused again."""

    step: bool = False


@dataclass(frozen=True, kw_only=True)
class BudgetExceeded(_Event):
    """`scope` is "run" or an agent id; `limit` is the Budget field that was reached."""

    scope: str
    limit: str
    used: float
    allowed: float


@dataclass(frozen=True, kw_only=True)
class AgentPlaced(_Event):
    """Where the executor runs `agent_id`'s work (a host and node), and again whenever that changes (a host
    restarted elsewhere). Only executors that run work outside the runner's process place agents."""

    agent_id: str
    where: str


@dataclass(frozen=True, kw_only=True)
class AgentFailed(_Event):
    agent: str
    error_type: str
    error: str


@dataclass(frozen=True, kw_only=True)
class RunFinished(_Event):
    """`status` is completed, stalled, budget_exceeded, stopped or failed."""

    status: str
    result: str | None = None
    error: str | None = None
    steps: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0


Event = (
    RunStarted
    | AgentActivated
    | TokenDelta
    | LLMCallFinished
    | MessageSent
    | ToolCalled
    | ToolReturned
    | HumanInputRequested
    | BudgetExceeded
    | AgentPlaced
    | AgentFailed
    | RunPaused
    | RunResumed
    | RunFinished
)

EVENT_TYPES: Mapping[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        RunStarted,
        AgentActivated,
        TokenDelta,
        LLMCallFinished,
        MessageSent,
        ToolCalled,
        ToolReturned,
        HumanInputRequested,
        BudgetExceeded,
        AgentPlaced,
        AgentFailed,
        RunPaused,
        RunResumed,
        RunFinished,
    )
}

_FIELDS: dict[type, tuple[str, ...]] = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in EVENT_TYPES.values()}


class EventFormatError(ValueError):
    pass


def event_to_json(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": type(event).__name__, **event.__dict__}
    if "tool_calls" in data:
        data["tool_calls"] = [call.to_json() for call in data["tool_calls"]]
    if "message_ids" in data:
        data["message_ids"] = list(data["message_ids"])
    for name in ("models", "arguments"):
        if isinstance(data.get(name), Mapping):
            data[name] = dict(data[name])
    return data


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def event_to_line(event: Event) -> str:
    return _ENCODER.encode(event_to_json(event))


def event_from_json(data: Any) -> Event:
    if not isinstance(data, dict):
        raise EventFormatError("an event is a JSON object")
    cls = EVENT_TYPES.get(data.get("kind"))  # type: ignore[arg-type]
    if cls is None:
        raise EventFormatError(f"unknown event kind {data.get('kind')!r}")
    values = {name: data[name] for name in _FIELDS[cls] if name in data}
    try:
        if "tool_calls" in values:
            values["tool_calls"] = tuple(ToolCall.from_json(call) for call in values["tool_calls"])
        if "message_ids" in values:
            values["message_ids"] = tuple(values["message_ids"])
        return cls(**values)
    except (TypeError, KeyError, ValueError) as error:
        raise EventFormatError(f"a {cls.__name__} event with bad fields: {error}") from None


