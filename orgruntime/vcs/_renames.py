"""Rename detection as git does it: an agent gone on one side and a new one there with similar content."""

from __future__ import annotations

from difflib import SequenceMatcher

from orgruntime._model import Agent, Org
from orgruntime.vcs._fields import AGENT_SCALARS, AGENT_SETS, get_path

SIMILARITY_THRESHOLD = 0.5  # git's default for `-M`
MAX_PAIRS = 250_000  # beyond this many candidate pairs, like git's rename limit, no detection


_DEFAULT = Agent(id="x")


def similarity_lines(agent: Agent) -> list[str]:
    """What an agent's file says beyond the defaults: its set fields, then its prompt's lines."""
    fields = [f"{path}: {get_path(agent, path)!r}" for path in (*AGENT_SCALARS, *AGENT_SETS)
              if get_path(agent, path) != get_path(_DEFAULT, path)]
    return fields + ([line for line in agent.prompt.split("\n")] if agent.prompt else [])


def similarity(a: Agent, b: Agent) -> float:
    lines_a, lines_b = similarity_lines(a), similarity_lines(b)
    if not lines_a or not lines_b:
        return 0.0
    return SequenceMatcher(None, lines_a, lines_b, autojunk=False).ratio()


def detect_renames(base: Org, side: Org) -> dict[str, str]:
    """base id -> side id for each agent that `side` renamed (best matches first, each used once)."""
    gone = [a for a in base.agents if not side.has_agent(a.id)]
    new = [a for a in side.agents if not base.has_agent(a.id)]
    if not gone or not new or len(gone) * len(new) > MAX_PAIRS:
        return {}
    scored = []
    new_lines = {candidate.id: similarity_lines(candidate) for candidate in new}
    for old in gone:
        old_lines = similarity_lines(old)
        for candidate in new:
            if not old_lines or not new_lines[candidate.id]:
                continue
            matcher = SequenceMatcher(None, old_lines, new_lines[candidate.id], autojunk=False)
            if matcher.real_quick_ratio() >= SIMILARITY_THRESHOLD and matcher.quick_ratio() >= SIMILARITY_THRESHOLD:
                score = matcher.ratio()
                if score >= SIMILARITY_THRESHOLD:
                    scored.append((-score, old.id, candidate.id))
    renames: dict[str, str] = {}
    taken: set[str] = set()
    for _, old_id, new_id in sorted(scored):
        if old_id not in renames and new_id not in taken:
            renames[old_id] = new_id
            taken.add(new_id)
    return renames
