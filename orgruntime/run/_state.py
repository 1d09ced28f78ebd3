"""The state of a run, folded from its events. The engine changes state only by emitting events,
so a log read back from disk rebuilds exactly the state the run had when it was written."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import assert_never

from orgruntime._model import Org
from orgruntime.llm import AssistantTurn, ResultTurn, ToolCall, Turn, UserTurn
from orgruntime.run._events import (
    AgentActivated,
    AgentFailed,
    AgentPlaced,
    BudgetExceeded,
    Event,
    HumanInputRequested,
    LLMCallFinished,
    MessageSent,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    TokenDelta,
    ToolCalled,
    ToolReturned,
)

USER = "user"


@dataclass(frozen=True)
class Message:
    id: str
    sender: str
    recipient: str
    content: str


@dataclass
class Usage:
    steps: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


@dataclass
class AgentState:
    id: str
    turns: list[Turn] = field(default_factory=list)
    inbox: list[Message] = field(default_factory=list)
    repliable: set[str] = field(default_factory=set)  # senders it may always answer
    active: bool = False
    waker: Message | None = None
    pending: dict[str, ToolCall] = field(default_factory=dict)  # calls of the last answer without an outcome yet, in order
    started: set[str] = field(default_factory=set)  # pending tool calls already begun (ToolCalled)
    needs_model: bool = False  # a tool result or refusal came back: the model is called again
    reply: str | None = None  # a plain answer not yet delivered
    invalid_answers: int = 0
    asked_human: str | None = None  # id of the message put to a person
    awaiting: set[str] = field(default_factory=set)  # agents it sent a request to that have not answered yet
    usage: Usage = field(default_factory=Usage)
    activations: int = 0

    @property
    def has_work(self) -> bool:
        return self.active or bool(self.inbox)


@dataclass
class RunState:
    org: Org
    run_id: str = ""
    task: str = ""
    seq: int = 0
    message_count: int = 0
    usage: Usage = field(default_factory=Usage)
    started_ts: float = 0.0
    segment_started_ts: float = 0.0
    earlier_segments_s: float = 0.0
    paused_s: float = 0.0  # time spent paused in the current segment
    paused_since: float | None = None  # when the run was paused, while it is
    last_ts: float = 0.0
    result: str | None = None
    exceeded: BudgetExceeded | None = None
    failure: AgentFailed | None = None
    finished: RunFinished | None = None
    agents: dict[str, AgentState] = field(default_factory=dict)
    placement: dict[str, str] = field(default_factory=dict)  # agent id -> where it runs, as last placed
    active_ids: set[str] = field(default_factory=set)
    # (number of the oldest unread message, agent id) for idle agents with mail; stale entries are skipped
    ready: list[tuple[int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.agents = {agent.id: AgentState(agent.id) for agent in self.org.agents}

    def pop_ready(self, busy: set[str] | dict[str, object]) -> str | None:
        """The idle agent whose oldest unread message is oldest, or None."""
        while self.ready:
            number, agent_id = heapq.heappop(self.ready)
            agent = self.agents[agent_id]
            if agent_id in busy or agent.active or not agent.inbox or message_number(agent.inbox[0].id) != number:
                continue
            return agent_id
        return None

    def has_ready(self) -> bool:
        """Whether an idle agent has unread mail (without taking it off the queue)."""
        return any(not agent.active and agent.inbox for agent in self.agents.values())

    def requeue(self, agent_id: str) -> None:
        self._mark_ready(self.agents[agent_id])

    def is_waiting(self, agent_id: str) -> bool:
        """Whether an agent should let its mail wait: someone it asked is still working on its request.

        An agent that delegated to several others is then woken once, with all their answers, instead of
        once per answer (and made to answer each one)."""
        return any(self._working_for(other, agent_id) for other in self.agents[agent_id].awaiting)

    def _working_for(self, other_id: str, agent_id: str) -> bool:
        other = self.agents[other_id]
        return other.active or any(message.sender == agent_id for message in other.inbox)

    def _mark_ready(self, agent: AgentState) -> None:
        if not agent.active and agent.inbox:
            heapq.heappush(self.ready, (message_number(agent.inbox[0].id), agent.id))

    def _set_active(self, agent: AgentState, active: bool) -> None:
        agent.active = active
        if active:
            self.active_ids.add(agent.id)
        else:
            self.active_ids.discard(agent.id)
            agent.waker = None
            self._mark_ready(agent)

    @property
    def is_over(self) -> bool:
        return self.finished is not None

    @property
    def outcome_known(self) -> bool:
        """The run's end is decided (a result, a failure, a budget) even if RunFinished is not written yet."""
        return self.finished is not None or self.result is not None or self.exceeded is not None or self.failure is not None

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def elapsed(self, now: float) -> float:
        """Working time: wall time since the start, less the time spent paused."""
        return self.earlier_segments_s + self._segment_elapsed(now)

    def _segment_elapsed(self, now: float) -> float:
        paused = self.paused_s + (max(0.0, now - self.paused_since) if self.paused_since is not None else 0.0)
        return max(0.0, now - self.segment_started_ts - paused)

    def apply(self, event: Event) -> None:
        self.seq = event.seq
        match event:
            case RunStarted():
                if event.resumed:
                    self.earlier_segments_s += self._segment_elapsed(self.last_ts)
                else:
                    self.run_id, self.task, self.started_ts = event.run_id, event.task, event.ts
                self.segment_started_ts, self.paused_s, self.paused_since = event.ts, 0.0, None
            case AgentActivated():
                self._activate(event)
            case TokenDelta():
                return  # streamed text changes nothing; LLMCallFinished carries the whole answer
            case LLMCallFinished():
                self._model_answered(event)
            case MessageSent():
                self._deliver(event)
            case ToolCalled():
                self.agents[event.agent].started.add(event.call_id)
            case ToolReturned():
                agent = self.agents[event.agent]
                self._resolve(agent, ResultTurn(event.call_id, event.name, event.result), needs_model=True)
            case HumanInputRequested():
                self.agents[event.agent].asked_human = event.message_id
            case BudgetExceeded():
                self.exceeded = event
            case AgentPlaced():
                self.placement[event.agent_id] = event.where
            case AgentFailed():
                self.failure = event
                self._set_active(self.agents[event.agent], False)
            case RunPaused():
                if self.paused_since is None:
                    self.paused_since = event.ts
            case RunResumed():
                if self.paused_since is not None:
                    self.paused_s += max(0.0, event.ts - self.paused_since)
                    self.paused_since = None
            case RunFinished():
                self.finished = event
            case _:
                assert_never(event)
        self.last_ts = event.ts

    def _activate(self, event: AgentActivated) -> None:
        agent = self.agents[event.agent]
        wanted = set(event.message_ids)
        read = [message for message in agent.inbox if message.id in wanted]
        agent.inbox = [message for message in agent.inbox if message.id not in wanted]
        agent.turns.append(UserTurn(format_inbox(read)))
        self._set_active(agent, True)
        agent.waker = read[0] if read else None
        agent.pending, agent.needs_model, agent.reply, agent.invalid_answers = {}, False, None, 0
        agent.asked_human = None
        agent.activations += 1

    def _model_answered(self, event: LLMCallFinished) -> None:
        agent = self.agents[event.agent]
        tokens = event.prompt_tokens + event.completion_tokens
        for usage in (agent.usage, self.usage):
            usage.steps += 1
            usage.tokens += tokens
            usage.cost_usd += event.cost_usd
        agent.usage.seconds += event.latency_s
        agent.needs_model = False
        if event.parse_error is not None:
            agent.invalid_answers += 1
            agent.turns.append(AssistantTurn("", raw=event.text))
            agent.turns.append(UserTurn(f"Your answer could not be read: {event.parse_error}. Answer again with one JSON object as described."))
            agent.needs_model = True
            return
        agent.invalid_answers = 0
        agent.turns.append(AssistantTurn(event.text, event.tool_calls))
        if event.tool_calls:
            agent.pending = {call.id: call for call in event.tool_calls}
        else:
            agent.reply = event.text

    def _deliver(self, event: MessageSent) -> None:
        self.message_count += 1
        sender = self.agents.get(event.sender)
        if sender is not None:
            if event.call_id is not None and event.recipient in self.agents:
                sender.awaiting.add(event.recipient)
            if event.call_id is not None:
                self._resolve(sender, ResultTurn(event.call_id, "send_message", f"Delivered to {event.recipient}."), needs_model=False)
            else:
                sender.reply, sender.asked_human = None, None
                self._set_active(sender, False)
        if event.recipient == USER:
            self.result = event.content
            return
        recipient = self.agents[event.recipient]
        recipient.inbox.append(Message(event.message_id, event.sender, event.recipient, event.content))
        recipient.repliable.add(event.sender)
        recipient.awaiting.discard(event.sender)
        if len(recipient.inbox) == 1:
            self._mark_ready(recipient)

    def _resolve(self, agent: AgentState, result: ResultTurn, *, needs_model: bool) -> None:
        agent.pending.pop(result.call_id, None)
        agent.started.discard(result.call_id)
        agent.turns.append(result)
        agent.needs_model = agent.needs_model or needs_model
        if not agent.pending and not agent.needs_model:
            self._set_active(agent, False)


def message_number(message_id: str) -> int:
    return int(message_id[1:])


def format_inbox(messages: list[Message]) -> str:
    parts = []
    for message in messages:
        if message.sender == USER:
            parts.append(f"Task from the user:\n{message.content}")
        else:
            parts.append(f"Message from {message.sender}:\n{message.content}")
    return "\n\n".join(parts)
