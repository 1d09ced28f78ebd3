"""The live terminal view of a run: per-agent streaming text, who messages whom, tokens, cost, time, budget bars."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import assert_never

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

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

TAIL_CHARS = 70


@dataclass
class AgentRow:
    state: str = "idle"
    text: str = ""
    tokens: int = 0
    cost: float = 0.0
    steps: int = 0
    attempt: int = 0  # of the call now streaming; a retry starts its text afresh
    where: str = ""  # the host a non-local executor runs it on


@dataclass
class RunView:
    """Folds events into what the terminal shows; `lines` are the permanent transcript lines to print."""

    budget: dict[str, float | None] = field(default_factory=dict)
    agents: dict[str, AgentRow] = field(default_factory=dict)
    steps: int = 0
    tokens: int = 0
    cost: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def update(self, event: Event) -> list[str]:
        match event:
            case RunStarted(models=models, resumed=resumed):
                self.started = time.monotonic()
                for agent_id in models:
                    self.agents.setdefault(agent_id, AgentRow())
                return ["(resumed)"] if resumed else [f"task: {event.task}"]
            case AgentActivated(agent=agent):
                self._row(agent).state, self._row(agent).text = "thinking", ""
            case TokenDelta(agent=agent, text=text, attempt=attempt):
                row = self._row(agent)
                if attempt != row.attempt:
                    row.text, row.attempt = "", attempt
                row.text = (row.text + text)[-TAIL_CHARS * 2 :]
            case LLMCallFinished(agent=agent):
                row = self._row(agent)
                tokens = event.prompt_tokens + event.completion_tokens
                row.tokens, row.cost, row.steps, row.attempt = row.tokens + tokens, row.cost + event.cost_usd, row.steps + 1, 0
                self.steps, self.tokens, self.cost = self.steps + 1, self.tokens + tokens, self.cost + event.cost_usd
            case MessageSent(sender=sender, recipient=recipient, content=content):
                if sender in self.agents:
                    self._row(sender).state = "idle" if event.call_id is None else self._row(sender).state
                return [f"{sender} → {recipient}: {_one_line(content)}"]
            case ToolCalled(agent=agent, name=name):
                self._row(agent).state = f"tool {name}"
            case ToolReturned(agent=agent, name=name, ok=ok, result=result):
                self._row(agent).state = "thinking"
                return [f"  [{agent}] {name} {'✓' if ok else '✗'} {_one_line(result)}"]
            case HumanInputRequested(agent=agent):
                self._row(agent).state = "waiting for a person"
            case BudgetExceeded(scope=scope, limit=limit, used=used, allowed=allowed):
                return [f"budget: {scope} reached {limit} ({used:g} of {allowed:g})"]
            case AgentFailed(agent=agent, error_type=error_type, error=error):
                self._row(agent).state = "failed"
                return [f"[{agent}] failed: {error_type}: {error}"]
            case AgentPlaced(agent_id=agent, where=where):
                moved = bool(self._row(agent).where)
                self._row(agent).where = where
                return [f"[{agent}] moved to {where}"] if moved else []
            case RunPaused():
                return ["(paused)"]
            case RunResumed(step=step):
                return ["(one step)" if step else "(resumed)"]
            case RunFinished(status=status, result=result, error=error):
                for row in self.agents.values():
                    row.state = "done" if row.state != "failed" else row.state
                tail = f": {result}" if result else (f" ({error})" if error else "")
                return [f"finished: {status}{tail}"]
            case _:
                assert_never(event)
        return []

    def _row(self, agent_id: str) -> AgentRow:
        return self.agents.setdefault(agent_id, AgentRow())

    def render(self) -> Group:
        table = Table(expand=True, box=None, pad_edge=False)
        placed = any(row.where for row in self.agents.values())  # a local run shows no "where" column
        for column in ("agent", "state", *(("where",) if placed else ()), "steps", "tokens", "cost $", "latest text"):
            table.add_column(column, no_wrap=True, overflow="ellipsis", ratio=4 if column == "latest text" else None)
        for agent_id, row in self.agents.items():
            where = (row.where,) if placed else ()
            table.add_row(agent_id, row.state, *where, str(row.steps), str(row.tokens), f"{row.cost:.4f}", _one_line(row.text)[-TAIL_CHARS:])
        elapsed = time.monotonic() - self.started
        meters = Table.grid(padding=(0, 1))
        for label, used, limit, shown in (
            ("steps", self.steps, self.budget.get("max_steps"), f"{self.steps}"),
            ("tokens", self.tokens, self.budget.get("max_tokens"), f"{self.tokens}"),
            ("cost", self.cost, self.budget.get("max_cost_usd"), f"${self.cost:.4f}"),
            ("time", elapsed, self.budget.get("max_seconds"), f"{elapsed:.1f}s"),
        ):
            bar = ProgressBar(total=float(limit), completed=min(float(used), float(limit)), width=24) if limit else Text("(no limit)")
            meters.add_row(Text(label, style="bold"), bar, Text(shown + (f" / {limit:g}" if limit else "")))
        return Group(table, meters)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class LiveRunView:
    """A RunView on a rich Live display (or plain lines when the output is not a terminal)."""

    def __init__(self, console: Console, budget: dict[str, float | None]) -> None:
        self.view = RunView(budget=budget)
        self.console = console
        self.live = Live(self.view.render(), console=console, refresh_per_second=8, transient=False, redirect_stderr=False) if console.is_terminal else None

    def __enter__(self) -> LiveRunView:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self.view.render())
            self.live.__exit__(None, None, None)

    def show(self, event: Event) -> None:
        for line in self.view.update(event):
            self.console.print(Text(line))
        if self.live is None:
            return
        if not isinstance(event, TokenDelta) or event.seq % 8 == 0:  # redraw on every step, and now and then while streaming
            self.live.update(self.view.render())
