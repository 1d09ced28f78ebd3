"""Runs from the caller's side: a stateless Runner that starts or resumes runs, each a RunStream of
events driven by an Engine (orgruntime/run/_engine.py), ending in a RunOutcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orgruntime._model import Budget, Org
from orgruntime.llm import prepare
from orgruntime.run._budgets import LIMITS, merge_budget
from orgruntime.run._engine import Engine, Provenance, RunConfig
from orgruntime.run._errors import RunNotResumable
from orgruntime.run._events import Event, RunFinished, RunStarted
from orgruntime.run._log import drop_torn_tail, load_events, new_run_id, read_info


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    status: str
    result: str | None
    error: str | None
    run_dir: Path | None


class RunStream:
    """The events of one run as they happen. Iterate it exactly once.

    Control (call from the thread running the event loop; each returns whether it changed anything):
    `stop()` ends the run as `stopped`; `pause()` starts no new activation or call (calls in flight finish;
    RunPaused); `resume()` goes on (RunResumed); `step()`, while paused, runs exactly one activation
    (RunResumed with step=True, then RunPaused when it ends). `pause()` before iterating starts the run paused.
    """

    def __init__(self, start: Callable[[Engine], Any], make_engine: Callable[[Callable[[Event], None]], Engine], run_id: str) -> None:
        self.run_id = run_id
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._engine = make_engine(self._queue.put_nowait)
        self._start = start
        self._task: asyncio.Task[None] | None = None
        self.outcome: RunOutcome | None = None

    @property
    def run_dir(self) -> Path | None:
        return self._engine.run_dir

    def stop(self) -> None:
        self._engine.request_stop()

    def pause(self) -> bool:
        return self._engine.request_pause()

    def resume(self) -> bool:
        return self._engine.request_resume()

    def step(self) -> bool:
        return self._engine.request_step()

    @property
    def paused(self) -> bool:
        """Whether the run holds back new work (also true while a step runs)."""
        return self._engine.pause.paused

    async def __aiter__(self) -> AsyncIterator[Event]:
        self._task = asyncio.create_task(self._run())
        try:
            while (event := await self._queue.get()) is not None:
                yield event
            await self._task
        finally:
            if not self._task.done():
                self._engine.request_stop()
                await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            await asyncio.to_thread(prepare)  # importing litellm takes seconds: never on the caller's loop
            await self._start(self._engine)
        finally:
            finished = self._engine.state.finished
            if finished is not None:
                self.outcome = RunOutcome(self.run_id, finished.status, finished.result, finished.error, self._engine.run_dir)
            self._queue.put_nowait(None)


class Runner:
    """Runs orgs. Holds configuration only: the same Runner may run any number of runs, one after another or at once."""

    def __init__(self, config: RunConfig = RunConfig()) -> None:
        self.config = config

    def stream(
        self, org: Org, task: str, *, runs_dir: Path | None = None, run_id: str | None = None, provenance: Provenance = Provenance(), org_dir: Path | None = None
    ) -> RunStream:
        """A new run of `org` on `task`; its log goes to `runs_dir/<run_id>/` when `runs_dir` is given.
        `org_dir`, the org's folder, is where its own tools (tools/<name>.py) are read from, in trusted runs."""
        run_id = run_id or new_run_id()
        run_dir = runs_dir / run_id if runs_dir is not None else None
        return RunStream(
            lambda engine: engine.start(task, run_id, provenance),
            lambda sink: Engine(org, self.config, run_dir, sink, org_dir),
            run_id,
        )

    async def run(self, org: Org, task: str, **options: Any) -> RunOutcome:
        stream = self.stream(org, task, **options)
        async for _ in stream:
            pass
        assert stream.outcome is not None
        return stream.outcome

    def resume_stream(self, org: Org, run_dir: Path, *, org_dir: Path | None = None) -> RunStream:
        """Continue a run cut short (a crash, a kill) from its log in `run_dir`."""
        loaded = load_events(run_dir)
        if not loaded.events:
            raise RunNotResumable(f"{run_dir} holds no events")
        if any(isinstance(event, RunFinished) for event in loaded.events):
            raise RunNotResumable(f"the run in {run_dir} has already finished")
        started = loaded.events[0]
        if not isinstance(started, RunStarted) or started.entry != org.entry or not set(started.models) <= set(org.agent_ids):
            raise RunNotResumable(f"the log in {run_dir} does not belong to this org")
        drop_torn_tail(run_dir, loaded)
        return RunStream(
            lambda engine: engine.resume(loaded.events),
            lambda sink: _resumed_engine(org, self.config, run_dir, sink, started.models, org_dir),
            run_dir.name,
        )

    async def resume(self, org: Org, run_dir: Path, *, org_dir: Path | None = None) -> RunOutcome:
        stream = self.resume_stream(org, run_dir, org_dir=org_dir)
        async for _ in stream:
            pass
        assert stream.outcome is not None
        return stream.outcome


def _resumed_engine(org: Org, config: RunConfig, run_dir: Path, sink: Callable[[Event], None], models: Any, org_dir: Path | None) -> Engine:
    """The resumed part runs with the models and budget the run started with, unless the config says otherwise."""
    engine = Engine(org, config, run_dir, sink, org_dir)
    if config.model is None:
        engine.models.update({agent_id: model for agent_id, model in dict(models).items() if agent_id in engine.models})
    if config.budget is None:
        saved = read_info(run_dir).get("budget") or {}
        engine.budget = merge_budget(org.budget, Budget(**{name: saved.get(name) for name in LIMITS}))
    return engine
