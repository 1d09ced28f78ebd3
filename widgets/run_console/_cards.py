"""The transcript as cards, folded from run events: pure Python, no Qt, so a replay and a live run agree.

A card is one thing a person reads: a message (from -> to), an answer still streaming, a tool call with
its result (folded to one line until opened), a person asked, an error, how the run ended.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import assert_never

from orgruntime.run import (
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
MAX_SUMMARY_CHARS = 160


class CardKind(Enum):
    MESSAGE = "message"
    RESULT = "result"  # the entry agent's answer to the user
    STREAMING = "streaming"  # an answer arriving token by token
    NOTE = "note"  # what an agent said beside its tool calls
    TOOL = "tool"
    HUMAN = "human"  # a human seat is asked
    ERROR = "error"
    STATUS = "status"


@dataclass(slots=True, eq=False)
class Card:
    kind: CardKind
    sender: str
    recipient: str = ""
    text: str = ""
    detail: str = ""  # shown when the card is opened (a tool call's arguments and result)
    failed: bool = False
    seq: int = 0
    call_id: str = ""
    tool: str = ""
    expanded: bool = False
    attempt: int = 1
    # the delegate's cached layout: (width, expanded, text length) -> height
    size_key: tuple[int, bool, int] | None = None
    height: int = 0

    @property
    def title(self) -> str:
        if self.kind in (CardKind.MESSAGE, CardKind.RESULT):
            return f"{self.sender} → {self.recipient}"
        if self.kind is CardKind.STREAMING:
            return f"{self.sender} is answering…"
        if self.kind is CardKind.TOOL:
            return f"{self.sender} ▸ {self.tool}"
        if self.kind is CardKind.HUMAN:
            return f"{self.recipient} (a person) is asked by {self.sender}"
        return self.sender

    def involves(self, agent_id: str) -> bool:
        return agent_id in (self.sender, self.recipient)

    def matches(self, needle: str) -> bool:
        """Case-insensitive search over what the card shows (`needle` already lower-case)."""
        return needle in self.text.lower() or needle in self.title.lower() or needle in self.detail.lower()


class TranscriptFold:
    """Folds events into `cards`; `apply` returns (first appended row or None, rows changed in place)."""

    def __init__(self) -> None:
        self.cards: list[Card] = []
        self.agents: list[str] = []  # in order of appearance, for the filter
        self._streaming: dict[str, Card] = {}  # agent -> its card being streamed
        self._tools: dict[tuple[str, str], Card] = {}  # (agent, call id) -> tool card
        self._row_of: dict[int, int] = {}  # id(card) -> row, for changed rows
        self._where: dict[str, str] = {}  # agent -> where it runs (a non-local executor placed it)

    def apply(self, event: Event) -> tuple[int | None, list[int]]:
        before = len(self.cards)
        changed: list[Card] = []
        match event:
            case RunStarted(resumed=resumed, org_name=org_name):
                for agent_id in event.models:
                    self._see(agent_id)
                self._add(Card(CardKind.STATUS, "run", text=("resumed" if resumed else f"started: {org_name}"), seq=event.seq))
            case TokenDelta(agent=agent, text=text, attempt=attempt):
                card = self._streaming.get(agent)
                if card is None:
                    card = self._streaming[agent] = self._add(Card(CardKind.STREAMING, agent, seq=event.seq, attempt=attempt))
                elif card.attempt != attempt:  # a retried call starts its text afresh
                    card.text, card.attempt = "", attempt
                card.text += text
                changed.append(card)
            case LLMCallFinished(agent=agent):
                card = self._streaming.pop(agent, None)
                if card is not None:
                    self._close_streaming(card, event)
                    changed.append(card)
            case MessageSent(sender=sender, recipient=recipient, content=content):
                self._see(sender)
                self._see(recipient)
                kind = CardKind.RESULT if recipient == USER else CardKind.MESSAGE
                reused = self._reply_card(sender, content) if event.call_id is None else None
                if reused is not None:  # the streamed answer was this reply: it becomes the message
                    reused.kind, reused.recipient, reused.seq = kind, recipient, event.seq
                    changed.append(reused)
                else:
                    self._add(Card(kind, sender, recipient, content, seq=event.seq))
            case ToolCalled(agent=agent, call_id=call_id, name=name, arguments=arguments):
                summary = f"{name}({_arguments_summary(arguments)})"
                card = self._add(Card(CardKind.TOOL, agent, text=summary, detail=f"arguments: {_json(arguments)}", seq=event.seq, call_id=call_id, tool=name))
                self._tools[(agent, call_id)] = card
            case ToolReturned(agent=agent, call_id=call_id, name=name, ok=ok, result=result):
                card = self._tools.pop((agent, call_id), None)
                if card is None:  # refused before it ran: no ToolCalled came
                    self._add(Card(CardKind.TOOL, agent, text=f"{name} ✗ {_one_line(result)}", detail=result, failed=not ok, seq=event.seq, call_id=call_id, tool=name))
                else:
                    card.text = f"{card.text} {'✓' if ok else '✗'} {_one_line(result)}"
                    card.detail = f"{card.detail}\nresult: {result}"
                    card.failed = not ok
                    changed.append(card)
            case HumanInputRequested(agent=agent, sender=sender, question=question):
                self._add(Card(CardKind.HUMAN, sender, agent, question, seq=event.seq))
            case BudgetExceeded(scope=scope, limit=limit, used=used, allowed=allowed):
                self._add(Card(CardKind.ERROR, "budget", text=f"{scope} reached {limit} ({used:g} of {allowed:g})", failed=True, seq=event.seq))
            case AgentFailed(agent=agent, error_type=error_type, error=error):
                card = self._streaming.pop(agent, None)
                if card is not None and not card.text:
                    card.kind, card.text = CardKind.ERROR, f"failed: {error_type}: {error}"
                    card.failed = True
                    changed.append(card)
                else:
                    self._add(Card(CardKind.ERROR, agent, text=f"failed: {error_type}: {error}", failed=True, seq=event.seq))
            case RunFinished(status=status, result=result, error=error):
                for card in self._streaming.values():
                    card.kind = CardKind.NOTE
                    changed.append(card)
                self._streaming.clear()
                text = status + (f": {error}" if error else "") + (f" — {result}" if result and status != "completed" else "")
                self._add(Card(CardKind.STATUS, "run", text=text, failed=status not in ("completed", "stopped"), seq=event.seq))
            case AgentPlaced(agent_id=agent, where=where):
                before_move = self._where.get(agent)
                self._where[agent] = where
                if before_move is not None and before_move != where:  # the first placement shows above the transcript
                    self._add(Card(CardKind.STATUS, agent, text=f"now runs on {where} (was {before_move})", seq=event.seq))
            case RunPaused() | RunResumed() | AgentActivated():
                pass
            case _:
                assert_never(event)
        appended = before if len(self.cards) > before else None
        return appended, [self._row_of[id(card)] for card in changed if self._row_of.get(id(card), before) < before]

    def _add(self, card: Card) -> Card:
        self._row_of[id(card)] = len(self.cards)
        self.cards.append(card)
        return card

    def _see(self, agent_id: str) -> None:
        if agent_id != USER and agent_id not in self.agents:
            self.agents.append(agent_id)

    def _close_streaming(self, card: Card, event: LLMCallFinished) -> None:
        card.text = event.text if event.parse_error is None else card.text
        if event.parse_error is not None:
            card.kind, card.failed = CardKind.ERROR, True
            card.text = f"unreadable answer: {event.parse_error}"
            card.detail = event.text
        else:
            card.kind = CardKind.NOTE  # a plain answer stays one until its MessageSent makes it the reply
        if not card.text and card.kind is CardKind.NOTE:
            card.text = "(calls " + ", ".join(call.name for call in event.tool_calls) + ")"

    def _reply_card(self, sender: str, content: str) -> Card | None:
        """The sender's last card, when it is its answer that is now being delivered as a reply."""
        for card in reversed(self.cards[-8:]):
            if card.sender == sender:
                return card if card.kind is CardKind.NOTE and card.text == content else None
        return None


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_SUMMARY_CHARS else flat[: MAX_SUMMARY_CHARS - 1] + "…"


def _arguments_summary(arguments: object) -> str:
    if not isinstance(arguments, dict):
        return ""
    parts = []
    for name, value in arguments.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{name}={_one_line(str(shown))[:40]!r}" if isinstance(value, str) else f"{name}={_one_line(str(shown))[:40]}")
    return _one_line(", ".join(parts))
