"""The executor seam: every model and tool call of a run goes through the run's executor, the default is the
local one, run.json says which executor ran each agent, and an executor that cannot start fails the run cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orgruntime.llm import ChatRequest, ChatResult, RetryPolicy
from orgruntime.run import Executor, LLMCallFinished, LocalExecutor, RunConfig, Runner, ToolCalled, read_info, render_transcript
from orgruntime.run._tools import ToolContext
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, write_script


class CountingExecutor(LocalExecutor):
    """The local executor, keeping a ledger of what went through it."""

    name = "counting"

    def __init__(self) -> None:
        super().__init__()
        self.chats: list[str] = []
        self.tools: list[tuple[str, str]] = []
        self.opened: tuple[str, ...] = ()
        self.closed = False

    async def open(self, agent_ids: tuple[str, ...], tool_context: ToolContext) -> None:
        self.opened = agent_ids
        await super().open(agent_ids, tool_context)

    async def chat(self, agent_id: str, request: ChatRequest, on_delta: Any, policy: RetryPolicy) -> ChatResult:
        self.chats.append(agent_id)
        return await super().chat(agent_id, request, on_delta, policy)

    async def call_tool(self, agent_id: str, name: str, arguments: Mapping[str, Any]) -> str:
        self.tools.append((agent_id, name))
        return await super().call_tool(agent_id, name, arguments)

    def placement(self, agent_id: str) -> str:
        return f"slot-{agent_id}"

    async def close(self) -> None:
        self.closed = True
        await super().close()


class UnreachableCluster(LocalExecutor):
    name = "unreachable"

    async def open(self, agent_ids: tuple[str, ...], tool_context: ToolContext) -> None:
        raise ConnectionError("no cluster at 10.0.0.1:6379")


def run(org, config: RunConfig, runs_dir: Path):
    async def main():
        stream = Runner(config).stream(org, "make hello", runs_dir=runs_dir)
        return stream, [event async for event in stream]

    return asyncio.run(asyncio.wait_for(main(), 60))


def test_the_default_executor_is_local_and_run_json_names_it(tmp_path: Path) -> None:
    assert isinstance(RunConfig().executor(), LocalExecutor)
    assert isinstance(LocalExecutor(), Executor)
    stream, _ = run(chain_org(write_script(tmp_path, CHAIN_SCRIPT)), RunConfig(), tmp_path / "runs")
    info = read_info(tmp_path / "runs" / stream.run_id)
    assert info["status"] == "completed"
    assert info["executor"] == "local"
    assert info["placement"] == {"ceo": "local", "engineer": "local", "reviewer": "local"}


def test_every_model_and_tool_call_goes_through_the_executor_and_the_transcript_is_unchanged(tmp_path: Path) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))
    _, local_events = run(org, RunConfig(), tmp_path / "local")
    executors: list[CountingExecutor] = []

    def make() -> CountingExecutor:
        executors.append(CountingExecutor())
        return executors[-1]

    stream, events = run(org, RunConfig(executor=make), tmp_path / "counted")
    [executor] = executors  # one executor per run
    assert render_transcript(events) == render_transcript(local_events)
    assert executor.opened == ("ceo", "engineer", "reviewer") and executor.closed
    assert executor.chats == [event.agent for event in events if isinstance(event, LLMCallFinished)]
    assert executor.tools == [(event.agent, event.name) for event in events if isinstance(event, ToolCalled)]
    assert executor.tools == [("engineer", "write_file"), ("reviewer", "read_file")]
    info = read_info(tmp_path / "counted" / stream.run_id)
    assert info["executor"] == "counting" and info["placement"]["reviewer"] == "slot-reviewer"


def test_an_executor_that_cannot_start_fails_the_run_with_the_reason(tmp_path: Path) -> None:
    stream, events = run(chain_org(write_script(tmp_path, CHAIN_SCRIPT)), RunConfig(executor=UnreachableCluster), tmp_path / "runs")
    assert stream.outcome is not None and stream.outcome.status == "failed"
    assert "unreachable executor could not start" in (stream.outcome.error or "")
    assert "no cluster at 10.0.0.1:6379" in (stream.outcome.error or "")
    assert not any(isinstance(event, LLMCallFinished) for event in events)
    assert read_info(tmp_path / "runs" / stream.run_id)["status"] == "failed"


def test_the_cli_refuses_a_ray_address_with_the_local_executor_and_unknown_executors(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from orgruntime import create_org

    root = create_org(tmp_path / "startup", "startup", git=False)
    env = {**os.environ, "ORGIDE_BLOCK_NETWORK_MODELS": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    repo = Path(__file__).resolve().parents[3]

    def orgide(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ide", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=120)

    mixed = orgide("run", str(root), "--task", "t", "--executor", "local", "--ray-address", "10.0.0.5:6379")
    assert mixed.returncode == 2 and "--ray-address needs --executor ray" in mixed.stderr
    unknown = orgide("run", str(root), "--task", "t", "--executor", "dask")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
    assert not (root / ".orgide" / "runs").exists() or not any((root / ".orgide" / "runs").iterdir())
