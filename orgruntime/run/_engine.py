"""The Engine that drives one run (orgruntime/run/_runner.py starts and resumes runs with it).

The Engine keeps no state of its own beyond the RunState folded from the events it emits: every change
goes through `emit`, which applies the event, appends it to the log and hands it to the consumer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from orgruntime._model import Budget, Org
from orgruntime.llm import RetryPolicy
from orgruntime.run._activation import work
from orgruntime.run._budgets import LIMITS, merge_budget, seconds_left
from orgruntime.run._executor import Executor, LocalExecutor
from orgruntime.run._events import AgentFailed, AgentPlaced, BudgetExceeded, Event, MessageSent, RunFinished, RunPaused, RunResumed, RunStarted, TokenDelta
from orgruntime.run._human import HumanResponder, NoHumans
from orgruntime.run._org_tools import discover_org_tools
from orgruntime.run._pause import PauseControl
from orgruntime.run._log import WORKSPACE_DIR, EventLog, read_info, write_info
from orgruntime.run._python_tool import PythonLimits
from orgruntime.run._routing import USER
from orgruntime.run._state import RunState
from orgruntime.run._tools import ToolContext

DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """How to run: everything here is configuration; the run's state lives in the run."""

    model: str | None = None  # replaces every agent's model
    budget: Budget | None = None  # its set fields replace the org's run budget
    max_concurrency: int | None = None  # None: the org's, else DEFAULT_CONCURRENCY
    trusted: bool = False
    workspace: Path | None = None  # None: <run_dir>/workspace
    api_base: str | None = None  # the server of every model not in model_servers
    # model id -> the OpenAI-compatible servers serving it; several are load-balanced (litellm's Router)
    model_servers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)  # for api_base; never stored in the org or the log
    retry: RetryPolicy = RetryPolicy()
    python: PythonLimits = PythonLimits()
    human: HumanResponder = field(default_factory=NoHumans)
    fsync: bool = True
    executor: Callable[[], Executor] = LocalExecutor  # called once per run: where activations execute

    def __post_init__(self) -> None:
        servers = {model: tuple(bases) for model, bases in dict(self.model_servers).items()}
        for model, bases in servers.items():
            for base in bases:
                parts = urlsplit(base) if isinstance(base, str) else None
                if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                    raise ValueError(f"the server {base!r} of {model} is not an http(s) URL with a host")
        object.__setattr__(self, "model_servers", servers)


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """Where the org came from, written to run.json."""

    org_path: str | None = None
    commit: str | None = None
    dirty: bool | None = None


class Engine:
    def __init__(self, org: Org, config: RunConfig, run_dir: Path | None, sink: Callable[[Event], None], org_dir: Path | None = None) -> None:
        self.org, self.config, self.run_dir = org, config, run_dir
        self.state = RunState(org)
        self.budget = merge_budget(org.budget, config.budget)
        self.models = {agent.id: config.model or org.model_of(agent.id) or "" for agent in org.agents}
        workspace = config.workspace or (run_dir / WORKSPACE_DIR if run_dir is not None else None)
        if workspace is not None:
            workspace.mkdir(parents=True, exist_ok=True)
        org_tools = discover_org_tools(org_dir) if org_dir is not None and config.trusted else {}  # untrusted: not even read
        self.tool_context = ToolContext(workspace=workspace, python=config.python, org_tools=org_tools)
        self.executor = config.executor()
        self.concurrency = max(1, config.max_concurrency or org.max_concurrency or DEFAULT_CONCURRENCY)
        self.log = EventLog(run_dir, fsync=config.fsync) if run_dir is not None else None
        self._sink = sink
        self._wake = asyncio.Event()
        self._stop_requested = False
        self.pause = PauseControl()
        self.info: dict[str, Any] = {}
        self._executor_error: str | None = None
        self._placed_epoch: int | None = None  # the executor's placement_epoch last announced; None: not yet

    def emit(self, kind: type[Any], **fields: Any) -> Any:
        run_id = fields.pop("run_id", None) or self.state.run_id
        event = kind(run_id=run_id, seq=self.state.seq + 1, ts=time.time(), **fields)
        self.state.apply(event)
        if self.log is not None:
            self.log.append(event)
        self._sink(event)
        if not isinstance(event, TokenDelta):
            self._wake.set()
        return event

    def next_message_id(self) -> str:
        return f"m{self.state.message_count + 1}"

    def request_stop(self) -> None:
        self._stop_requested = True
        self._wake.set()

    def request_pause(self) -> bool:
        if self.state.is_over or not self.pause.pause():
            return False
        if self.state.run_id:  # before the start, RunPaused follows RunStarted
            self.emit(RunPaused)
        return True

    def request_resume(self) -> bool:
        if self.state.is_over or not self.pause.resume():
            return False
        if self.state.run_id:
            self.emit(RunResumed)
        return True

    def request_step(self) -> bool:
        if self.state.is_over or not self.pause.want_step():
            return False
        self._wake.set()
        return True

    def _announce_pause(self) -> None:
        if self.pause.paused:
            self.emit(RunPaused)

    async def start(self, task: str, run_id: str, provenance: Provenance) -> None:
        self.info = {
            "run_id": run_id,
            "org_name": self.org.name,
            "org_path": provenance.org_path,
            "commit": provenance.commit,
            "dirty": provenance.dirty,
            "task": task,
            "models": self.models,
            "budget": {name: getattr(self.budget, name) for name in LIMITS},
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "started_ts": time.time(),  # orders runs started within the same second
            "status": "running",
        }
        self._write_info()
        self.emit(RunStarted, run_id=run_id, org_name=self.org.name, entry=self.org.entry, task=task, models=dict(self.models))
        self.emit(MessageSent, sender=USER, recipient=self.org.entry, content=task, message_id=self.next_message_id())
        self._announce_pause()
        await self._drive()

    async def resume(self, events: tuple[Event, ...]) -> None:
        for event in events:
            self.state.apply(event)
        self.info = read_info(self.run_dir) if self.run_dir is not None else {}
        self.info["status"] = "running"
        self.info["resumed"] = int(self.info.get("resumed", 0)) + 1
        self._write_info()
        self.emit(RunStarted, org_name=self.org.name, entry=self.org.entry, task=self.state.task, models=dict(self.models), resumed=True)
        if self.state.message_count == 0:  # cut short before the task was handed over
            self.emit(MessageSent, sender=USER, recipient=self.org.entry, content=self.state.task, message_id=self.next_message_id())
        self._announce_pause()
        await self._drive()

    async def _drive(self) -> None:
        workers: dict[str, asyncio.Task[None]] = {}
        try:
            try:
                await self.executor.open(tuple(agent.id for agent in self.org.agents), self.tool_context)
            except Exception as error:  # the executor cannot start (no cluster, ...): the run fails with the reason
                self._executor_error = f"the {self.executor.name} executor could not start: {type(error).__name__}: {error}"
                return
            self._announce_placement()
            while not self.state.outcome_known and not self._stop_requested:
                self._start_workers(workers)
                if not workers and not (self.pause.paused and self.state.has_ready()):
                    break  # nobody has work (a paused run with mail waits for resume, step or stop)
                await self._wait(workers)
        except asyncio.CancelledError:
            self._stop_requested = True  # the task running the run was cancelled: that is a stop
            raise
        finally:
            for task in workers.values():
                task.cancel()
            if workers:
                await asyncio.gather(*workers.values(), return_exceptions=True)
            if self._placed_epoch is not None and not self.state.is_over:
                self._announce_placement()
            self.info["executor"] = self.executor.name
            self.info["placement"] = {agent.id: self.executor.placement(agent.id) for agent in self.org.agents if not agent.is_human}
            try:
                await asyncio.shield(self.executor.close())
            finally:
                self._finish()

    def _start_workers(self, workers: dict[str, asyncio.Task[None]]) -> None:
        """Agents mid-activation first (after a resume), then idle agents by their oldest unread message;
        an agent whose requests are still being worked on waits, unless nobody else is working.
        Paused, only a step starts anything: it lets one held activation go on, or starts one."""
        for agent_id in sorted(self.state.active_ids - workers.keys()):
            self._start(workers, agent_id)
        if not self.pause.paused:
            self._start_ready(workers, self.concurrency)
        elif self.pause.step_wanted:
            chosen = next(iter(workers), None) or self._start_ready(workers, 1)
            if chosen is None:
                self.pause.step_wanted = False  # nothing to step through
                return
            self.pause.let_through(chosen)
            self.emit(RunResumed, step=True)

    def _start_ready(self, workers: dict[str, asyncio.Task[None]], capacity: int) -> str | None:
        """Start idle agents with mail until `capacity` work at once; the first one started, if any."""
        first: str | None = None
        waiting: list[str] = []
        while len(workers) < capacity and (agent_id := self.state.pop_ready(workers)) is not None:
            if self.state.is_waiting(agent_id):
                waiting.append(agent_id)
            else:
                self._start(workers, agent_id)
                first = first or agent_id
        if waiting and not workers:  # nobody would ever answer: waiting must not become a deadlock
            first = waiting.pop(0)
            self._start(workers, first)
        for agent_id in waiting:
            self.state.requeue(agent_id)
        return first

    def _start(self, workers: dict[str, asyncio.Task[None]], agent_id: str) -> None:
        workers[agent_id] = asyncio.create_task(work(self, agent_id), name=f"agent {agent_id}")

    async def _wait(self, workers: dict[str, asyncio.Task[None]]) -> None:
        self._wake.clear()
        waker = asyncio.create_task(self._wake.wait())
        left = seconds_left(self.state, self.budget, time.time()) if not self.pause.holding else None  # paused time is free
        try:
            done, _ = await asyncio.wait([waker, *workers.values()], timeout=max(0.0, left) if left is not None else None, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
        for agent_id, task in list(workers.items()):
            if task.done():
                del workers[agent_id]
                error = task.exception() if not task.cancelled() else None
                if error is not None:
                    self.emit(AgentFailed, agent=agent_id, error_type=type(error).__name__, error=str(error) or repr(error))
                if self.pause.step_ended(agent_id) and not self.state.outcome_known:
                    self.emit(RunPaused)
        self._announce_placement()
        left = seconds_left(self.state, self.budget, time.time())
        if left is not None and left <= 0 and not self.state.outcome_known:
            self.emit(BudgetExceeded, scope="run", limit="max_seconds", used=self.state.elapsed(time.time()), allowed=float(self.budget.max_seconds or 0))

    def _announce_placement(self) -> None:
        """AgentPlaced for each agent whose placement is new or changed. The local executor places nobody
        (its runs' logs stay as they were); others are asked again only when their placement_epoch moves."""
        epoch = self.executor.placement_epoch
        if isinstance(self.executor, LocalExecutor) or epoch == self._placed_epoch:
            return
        self._placed_epoch = epoch
        for agent in self.org.agents:
            where = "" if agent.is_human else self.executor.placement(agent.id)
            if where and self.state.placement.get(agent.id) != where:
                self.emit(AgentPlaced, agent_id=agent.id, where=where)

    def _finish(self) -> None:
        if self.state.finished is None:
            status, result, error = self._outcome()
            usage = self.state.usage
            self.emit(
                RunFinished,
                status=status,
                result=result,
                error=error,
                steps=usage.steps,
                tokens=usage.tokens,
                cost_usd=usage.cost_usd,
                elapsed_s=self.state.elapsed(time.time()),
            )
        finished = self.state.finished
        assert finished is not None
        self.info.update(
            status=finished.status,
            result=finished.result,
            error=finished.error,
            totals={"steps": finished.steps, "tokens": finished.tokens, "cost_usd": finished.cost_usd, "elapsed_s": finished.elapsed_s, "events": finished.seq},
            finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        self._write_info()
        if self.log is not None:
            self.log.close()

    def _outcome(self) -> tuple[str, str | None, str | None]:
        state = self.state
        if state.result is not None:
            return "completed", state.result, None
        if state.failure is not None:
            return "failed", None, f"{state.failure.agent}: {state.failure.error}"
        if self._executor_error is not None:
            return "failed", None, self._executor_error
        if state.exceeded is not None:
            exceeded = state.exceeded
            return "budget_exceeded", None, f"{exceeded.scope} reached {exceeded.limit} ({exceeded.used:g} of {exceeded.allowed:g})"
        if self._stop_requested:
            return "stopped", None, None
        return "stalled", None, "no agent has work left and the entry agent has not finished"

    def _write_info(self) -> None:
        if self.run_dir is not None:
            write_info(self.run_dir, self.info)
