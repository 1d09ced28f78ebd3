"""What the meters show, folded from run events: steps, tokens, cost, working time, spend per agent."""

from __future__ import annotations

from dataclasses import dataclass, field

from orgruntime.run import Event, LLMCallFinished, RunFinished, RunPaused, RunResumed, RunStarted

LIMITS = ("max_steps", "max_tokens", "max_cost_usd", "max_seconds")


@dataclass(slots=True)
class Spend:
    steps: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class RunTotals:
    run_id: str = ""
    task: str = ""
    steps: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    status: str = ""  # "" until the run finishes
    result: str | None = None
    error: str | None = None
    started_ts: float | None = None  # of the current segment of the run
    earlier_s: float = 0.0  # working time of the segments before a resume
    paused_s: float = 0.0
    paused_since: float | None = None
    finished_elapsed_s: float | None = None
    per_agent: dict[str, Spend] = field(default_factory=dict)

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def apply(self, event: Event) -> None:
        match event:
            case RunStarted(resumed=resumed):
                if not resumed:
                    self.run_id, self.task = event.run_id, event.task
                elif self.started_ts is not None:
                    self.earlier_s = self.elapsed(event.ts)
                self.started_ts, self.paused_s, self.paused_since = event.ts, 0.0, None
            case LLMCallFinished(agent=agent):
                tokens = event.prompt_tokens + event.completion_tokens
                spend = self.per_agent.setdefault(agent, Spend())
                spend.steps, spend.tokens, spend.cost_usd = spend.steps + 1, spend.tokens + tokens, spend.cost_usd + event.cost_usd
                self.steps, self.tokens, self.cost_usd = self.steps + 1, self.tokens + tokens, self.cost_usd + event.cost_usd
            case RunPaused():
                self.paused_since = self.paused_since if self.paused_since is not None else event.ts
            case RunResumed():
                if self.paused_since is not None:
                    self.paused_s += max(0.0, event.ts - self.paused_since)
                    self.paused_since = None
            case RunFinished():
                self.status, self.result, self.error = event.status, event.result, event.error
                self.steps, self.tokens, self.cost_usd = event.steps, event.tokens, event.cost_usd
                self.finished_elapsed_s = event.elapsed_s
                self.paused_since = None
            case _:
                pass

    def elapsed(self, now: float) -> float:
        """Working time: paused time is left out, as the engine leaves it out of max_seconds."""
        if self.finished_elapsed_s is not None:
            return self.finished_elapsed_s
        if self.started_ts is None:
            return 0.0
        paused = self.paused_s + (max(0.0, now - self.paused_since) if self.paused_since is not None else 0.0)
        return self.earlier_s + max(0.0, now - self.started_ts - paused)


def spend_text(spend: Spend) -> str:
    """Short, for under a graph node: "1.2k tok · $0.003"."""
    tokens = f"{spend.tokens / 1000:.1f}k" if spend.tokens >= 1000 else str(spend.tokens)
    return f"{tokens} tok · ${spend.cost_usd:.3f}"
