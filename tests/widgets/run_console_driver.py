"""Drives a real run into a RunConsole and a RunOverlay the way the IDE does: the real Runner with the
scripted litellm model, on a qasync loop, wired only through the console's signals and methods."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from orgruntime import Org
from orgruntime.run import Event, HumanDesk, RunConfig, Runner, RunStarted, RunStream, list_runs, load_events, read_info


class ConsoleDriver:
    def __init__(self, console, overlay, org: Org, runs_dir: Path, *, config: RunConfig = RunConfig()) -> None:
        self.console, self.overlay, self.org, self.runs_dir, self.config = console, overlay, org, runs_dir, config
        self.desk = HumanDesk()
        self.stream: RunStream | None = None
        self.task: asyncio.Task | None = None
        self.events: list[Event] = []
        self.hooks: list[Callable[[Event], None]] = []
        console.run_requested.connect(self.start)
        console.stop_requested.connect(lambda: self.stream and self.stream.stop())
        console.pause_requested.connect(lambda: self.stream and self.stream.pause())
        console.resume_requested.connect(lambda: self.stream and self.stream.resume())
        console.step_requested.connect(lambda: self.stream and self.stream.step())
        console.human_answered.connect(self.desk.respond)
        console.replay_requested.connect(self.open_run)
        console.compare_requested.connect(self.compare)

    def start(self, task: str, model: str) -> None:
        config = RunConfig(**{**self.config.__dict__, "model": model or None, "human": self.desk})
        self.stream = Runner(config).stream(self.org, task, runs_dir=self.runs_dir)
        self.events = []
        self.console.set_running(True)
        self.task = asyncio.ensure_future(self._consume(self.stream))

    async def _consume(self, stream: RunStream) -> None:
        try:
            async for event in stream:
                if isinstance(event, RunStarted) and stream.run_dir is not None:
                    self.console.set_budget(read_info(stream.run_dir).get("budget") or {})
                self.events.append(event)
                self.console.feed(event)
                self.overlay.feed(event)
                for hook in list(self.hooks):
                    hook(event)
        finally:
            self.console.set_running(False)
            self.console.set_history(list_runs(self.runs_dir))

    def open_run(self, run_id: str) -> None:
        run_dir = self.runs_dir / run_id
        self.console.show_replay(load_events(run_dir).events, read_info(run_dir))

    def compare(self, first: str, second: str) -> None:
        runs = [(read_info(self.runs_dir / run_id), load_events(self.runs_dir / run_id).events) for run_id in (first, second)]
        self.console.show_comparison(runs[0], runs[1])
