"""Each budget limit, for the run and for one agent, stops the run with BudgetExceeded naming it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from orgruntime._model import Budget
from orgruntime.run import BudgetExceeded, LLMCallFinished, RunConfig, Runner
from tests.orgruntime.llm.fake_openai import Answer, Delay, FakeOpenAI
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, write_script

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def run(org, config: RunConfig = RunConfig()):
    async def main():
        return [event async for event in Runner(config).stream(org, "make hello")]

    return asyncio.run(main())


def exceeded(events) -> BudgetExceeded:
    found = [event for event in events if isinstance(event, BudgetExceeded)]
    assert len(found) == 1, found
    assert events[-1].status == "budget_exceeded"
    return found[0]


@pytest.mark.parametrize(
    ("run_budget", "engineer_budget", "scope", "limit"),
    [
        (Budget(max_steps=3), Budget(), "run", "max_steps"),
        (Budget(max_tokens=100), Budget(), "run", "max_tokens"),
        (Budget(), Budget(max_steps=1), "engineer", "max_steps"),
        (Budget(), Budget(max_tokens=60), "engineer", "max_tokens"),
    ],
)
def test_step_and_token_limits(tmp_path: Path, run_budget: Budget, engineer_budget: Budget, scope: str, limit: str) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT), budget=run_budget, engineer_budget=engineer_budget)
    events = run(org)
    event = exceeded(events)
    assert (event.scope, event.limit) == (scope, limit)
    allowed = getattr(run_budget if scope == "run" else engineer_budget, limit)
    assert event.allowed == allowed and event.used >= allowed
    calls = [e for e in events if isinstance(e, LLMCallFinished)]
    if limit == "max_steps":  # checked before the call: never one call too many
        assert len([c for c in calls if scope == "run" or c.agent == scope]) == allowed


def test_the_cli_override_replaces_the_orgs_limit(tmp_path: Path) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT), budget=Budget(max_steps=100))
    events = run(org, RunConfig(budget=Budget(max_steps=2)))
    assert exceeded(events).allowed == 2


@pytest.fixture
def fake_openai():
    server = FakeOpenAI().start()
    yield server
    server.stop()


def test_cost_limits_with_a_priced_model(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Answer(tool_calls=(("send_message", {"to": "engineer", "content": "go"}),), prompt_tokens=200_000, completion_tokens=100_000))
    org = chain_org("openai/gpt-4o-mini", budget=Budget(max_cost_usd=0.05))
    events = run(org, RunConfig(api_base=fake_openai.base_url, api_key="sk-fake"))
    event = exceeded(events)
    assert (event.scope, event.limit) == ("run", "max_cost_usd") and event.used > 0.05
    assert sum(isinstance(e, LLMCallFinished) for e in events) == 1  # stopped after the call that passed it
    assert fake_openai.wait_closed()


def test_agent_cost_limit(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Answer(tool_calls=(("send_message", {"to": "engineer", "content": "go"}),), prompt_tokens=10, completion_tokens=10), Answer(text="thinking", prompt_tokens=200_000, completion_tokens=100_000))
    org = chain_org("openai/gpt-4o-mini", engineer_budget=Budget(max_cost_usd=0.01))
    event = exceeded(run(org, RunConfig(api_base=fake_openai.base_url, api_key="sk-fake")))
    assert (event.scope, event.limit) == ("engineer", "max_cost_usd")


def test_seconds_limits(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Delay(3.0, Answer(text="too late")))
    org = chain_org("openai/gpt-4o-mini", budget=Budget(max_seconds=0.5))
    events = run(org, RunConfig(api_base=fake_openai.base_url, api_key="sk-fake"))
    event = exceeded(events)
    assert (event.scope, event.limit) == ("run", "max_seconds")
    assert 0.5 <= events[-1].elapsed_s < 2.5  # the call in flight was cancelled, not waited for
    assert fake_openai.wait_closed()

    fake_openai.script(Delay(0.3, Answer(tool_calls=(("send_message", {"to": "engineer", "content": "go"}),))), Delay(0.3, Answer(text="slow engineer")))
    org = chain_org("openai/gpt-4o-mini", engineer_budget=Budget(max_seconds=0.1))
    event = exceeded(run(org, RunConfig(api_base=fake_openai.base_url, api_key="sk-fake")))
    assert (event.scope, event.limit) == ("engineer", "max_seconds")
