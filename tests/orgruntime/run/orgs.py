"""Small orgs and model scripts for the run tests, built directly as org models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from orgruntime._model import Agent, AgentKind, Budget, Channel, ChannelKind, ModelDefaults, Org


def write_script(folder: Path, script: dict[str, Any], name: str = "script.yaml") -> str:
    path = folder / name
    path.write_text(yaml.safe_dump(script, sort_keys=False), encoding="utf-8")
    return f"scripted/{path}"


def chain_org(model: str, *, budget: Budget = Budget(), engineer_budget: Budget = Budget(), tools: tuple[str, ...] = ("write_file",)) -> Org:
    """ceo delegates to engineer, engineer has the reviewer review."""
    return Org(
        name="Tiny Startup",
        entry="ceo",
        defaults=ModelDefaults(model=model),
        budget=budget,
        channels=(
            Channel(source="ceo", target="engineer", kind=ChannelKind.DELEGATES),
            Channel(source="engineer", target="reviewer", kind=ChannelKind.REVIEWS),
        ),
        agents=(
            Agent(id="ceo", name="CEO", role="Runs the company", prompt="You are the CEO."),
            Agent(id="engineer", name="Engineer", role="Writes code", tools=tools, budget=engineer_budget, prompt="You are the engineer."),
            Agent(id="reviewer", name="Reviewer", role="Reviews code", tools=("read_file",), prompt="You review code."),
        ),
    )


CHAIN_SCRIPT: dict[str, Any] = {
    "ceo": [
        {"send_message": {"to": "engineer", "content": "Build hello.py"}},
        {"finish": {"result": "hello.py shipped"}},
    ],
    "engineer": [
        {"write_file": {"path": "hello.py", "content": "print('hi')"}},
        {"send_message": {"to": "reviewer", "content": "Please review hello.py"}},
        {"send_message": {"to": "ceo", "content": "hello.py is written and reviewed"}},
    ],
    "reviewer": [
        {"read_file": {"path": "hello.py"}},
        "Looks good",
    ],
}


def human_org(model: str) -> Org:
    return Org(
        name="Desk",
        entry="agent",
        defaults=ModelDefaults(model=model),
        channels=(Channel(source="agent", target="boss", kind=ChannelKind.REPORTS),),
        agents=(Agent(id="agent", prompt="You help."), Agent(id="boss", kind=AgentKind.HUMAN)),
    )
