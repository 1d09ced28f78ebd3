"""Where each agent of a run ran, folded from AgentPlaced events (live) or read from run.json (past runs).

Runs on the local executor place nobody: they show nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from orgruntime.run import AgentPlaced, Event, RunStarted

LOCAL = "local"
NAMED_AGENTS = 6  # a host's agents are named up to this many, then counted


@dataclass
class Placement:
    executor: str = ""  # "" until known (run.json says it; a live run's AgentPlaced implies a non-local one)
    where: dict[str, str] = field(default_factory=dict)  # agent id -> host and node

    def apply(self, event: Event) -> bool:
        """Fold one event; True when what is shown changes."""
        match event:
            case RunStarted(resumed=False):
                changed = bool(self.where or self.executor)
                self.executor, self.where = "", {}
                return changed
            case AgentPlaced(agent_id=agent_id, where=where) if self.where.get(agent_id) != where:
                self.where[agent_id] = where
                return True
            case _:
                return False

    def load_info(self, info: Mapping[str, object]) -> None:
        """A run's run.json: its "executor" and "placement" (agent id -> where), when it has them."""
        executor = info.get("executor")
        placement = info.get("placement")
        self.executor = executor if isinstance(executor, str) else self.executor
        if isinstance(placement, Mapping):
            self.where.update({str(agent): where for agent, where in placement.items() if isinstance(where, str) and where})

    @property
    def shown(self) -> bool:
        return self.executor != LOCAL and bool(self.where)

    def by_host(self) -> dict[str, list[str]]:
        """where -> its agents, in order of first placement."""
        hosts: dict[str, list[str]] = {}
        for agent, where in self.where.items():
            hosts.setdefault(where, []).append(agent)
        return hosts

    def text(self) -> str:
        """One line: "On Ray: host:node — ceo, engineer · host:node2 — reviewer"; "" when nothing is shown."""
        if not self.shown:
            return ""
        parts = []
        for where, agents in self.by_host().items():
            named = ", ".join(agents[:NAMED_AGENTS]) + (f" and {len(agents) - NAMED_AGENTS} more" if len(agents) > NAMED_AGENTS else "")
            parts.append(f"{where} — {named}")
        executor = self.executor.title() if self.executor else "the cluster"
        return f"On {executor}: " + " · ".join(parts)

    def tooltip(self) -> str:
        """Every agent on its own line."""
        if not self.shown:
            return ""
        return "\n".join(f"{agent}: {where}" for agent, where in sorted(self.where.items()))
