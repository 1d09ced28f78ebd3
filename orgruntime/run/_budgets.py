"""Budget checks, before and after every model call, for the whole run and for each agent."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from orgruntime._model import Budget
from orgruntime.run._state import RunState, Usage

LIMITS = ("max_steps", "max_tokens", "max_cost_usd", "max_seconds")


@dataclass(frozen=True)
class Breach:
    scope: str  # "run" or an agent id
    limit: str
    used: float
    allowed: float


def merge_budget(base: Budget, override: Budget | None) -> Budget:
    """`override`'s set fields replace `base`'s."""
    if override is None:
        return base
    changes = {f.name: getattr(override, f.name) for f in fields(Budget) if getattr(override, f.name) is not None}
    return replace(base, **changes)


def _used(usage: Usage, seconds: float) -> dict[str, float]:
    return {"max_steps": usage.steps, "max_tokens": usage.tokens, "max_cost_usd": usage.cost_usd, "max_seconds": seconds}


def _first_breach(scope: str, budget: Budget, used: dict[str, float], *, before_call: bool) -> Breach | None:
    for limit in LIMITS:
        allowed = getattr(budget, limit)
        if allowed is None:
            continue
        spent = used[limit]
        reached = spent >= allowed if before_call else spent > allowed
        if reached:
            return Breach(scope, limit, float(spent), float(allowed))
    return None


def check(state: RunState, run_budget: Budget, agent_budget: Budget, agent_id: str, now: float, *, before_call: bool) -> Breach | None:
    """The first limit reached. Before a call, a limit is reached when it is used up; after, when it is passed."""
    run_used = _used(state.usage, state.elapsed(now))
    breach = _first_breach("run", run_budget, run_used, before_call=before_call)
    if breach is not None:
        return breach
    agent = state.agents[agent_id]
    return _first_breach(agent_id, agent_budget, _used(agent.usage, agent.usage.seconds), before_call=before_call)


def seconds_left(state: RunState, run_budget: Budget, now: float) -> float | None:
    if run_budget.max_seconds is None:
        return None
    return run_budget.max_seconds - state.elapsed(now)
