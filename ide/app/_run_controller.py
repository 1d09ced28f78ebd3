"""Runs from the IDE: `Runner.stream` driven on the Qt loop (qasync), its events handed out as a Qt signal.

Before a run, off the UI thread: the stored API keys are given to litellm (in memory) and the local
engine is registered when a `local/` model is used. The run options (executor, Ray address, model
servers) are this machine's settings, passed in by the window; the Ray executor starts or joins its
cluster on a thread of its own, so the Qt loop does not wait for the cluster. Whether the org's own code may run comes from
the trust decision the window passes in (RunConfig.trusted; org tools are read from the org folder
only then). Human seats wait at a HumanDesk until `answer_human` (the run console's reply box).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from orgruntime import GitError, Org
from orgruntime.vcs import head_commit, is_dirty

from ide.app._errors import report
from ide.app._local_engine import LocalEngine
from ide.app._run_options import RunOptions, executor_factory
from ide.app._secrets import apply_keys

if TYPE_CHECKING:  # the run engine is imported with the first run, not at start-up
    from orgruntime.run import Event, HumanDesk, Provenance, RunFinished, RunStream

RUNS_DIR = Path(".orgide") / "runs"


class RunController(QObject):
    event = Signal(object)  # every Event of the current run, in order
    started = Signal(object)  # the RunStream
    budget = Signal(dict)  # the run's limits, from its run.json, once it started
    finished = Signal(object)  # the RunFinished event (or None when the run could not start)

    def __init__(self, engine: LocalEngine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._desk: HumanDesk | None = None
        self.stream: RunStream | None = None
        self.task: asyncio.Task[None] | None = None
        self.last_finished: RunFinished | None = None
        self.options = RunOptions()  # of the current (or last) run
        self._active = False

    @property
    def desk(self) -> HumanDesk:
        if self._desk is None:
            from orgruntime.run import HumanDesk

            self._desk = HumanDesk()
        return self._desk

    @property
    def running(self) -> bool:
        return self._active

    def start(self, org: Org, folder: Path, task: str, *, trusted: bool, model: str | None = None,
              default_model: str | None = None, options: RunOptions | None = None) -> asyncio.Task[None]:
        """Start a run on the running asyncio loop; refuses a second concurrent run."""
        if self.running:
            raise RuntimeError("a run is already going; stop it first")
        self.options = options or RunOptions()
        if model is None and default_model and any(org.model_of(a.id) is None for a in org.agents):
            model = default_model  # the org names no model for some agent: the IDE's default fills in
        self.task = asyncio.get_running_loop().create_task(self._run(org, folder, task, trusted, model), name="orgide run")
        self._active = True  # until the run's task has emitted `finished`
        return self.task

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.stop()

    def pause(self) -> bool:
        return self.stream.pause() if self.stream is not None else False

    def resume(self) -> bool:
        return self.stream.resume() if self.stream is not None else False

    def step(self) -> bool:
        return self.stream.step() if self.stream is not None else False

    def answer_human(self, question_id: str, text: str) -> bool:
        """The person's answer; an empty one means nobody answers (the agent is told so)."""
        return self.desk.respond(question_id, text) if text.strip() else self.desk.decline(question_id)

    async def _run(self, org: Org, folder: Path, task: str, trusted: bool, model: str | None) -> None:
        from orgruntime.run import RunConfig, RunError, RunFinished, Runner, RunStarted, read_info

        finished: RunFinished | None = None
        try:
            uses_local = any((model or org.model_of(a.id) or "").startswith("local/") for a in org.agents)
            options = self.options
            await asyncio.to_thread(self._prepare, uses_local)
            config = RunConfig(model=model, trusted=trusted, human=self.desk, model_servers=options.model_servers,
                               executor=executor_factory(options, uses_local_models=uses_local))
            self.stream = Runner(config).stream(org, task, runs_dir=folder / RUNS_DIR, provenance=_provenance(folder),
                                                org_dir=folder)
            self.started.emit(self.stream)
            async for event in self.stream:
                if isinstance(event, RunStarted) and self.stream.run_dir is not None:
                    try:
                        self.budget.emit(dict(read_info(self.stream.run_dir).get("budget") or {}))
                    except RunError:
                        pass
                self._emit(event)
                if isinstance(event, RunFinished):
                    finished = event
        except asyncio.CancelledError:
            if self.stream is not None:
                self.stream.stop()
            raise
        except Exception as error:  # noqa: BLE001 - a run that cannot start is shown, never a crash
            report(error, "the run")
        finally:
            self.last_finished = finished or self.last_finished
            self.stream = None
            self._active = False
            self.finished.emit(finished)

    def _emit(self, event: Event) -> None:
        try:
            self.event.emit(event)
        except Exception as error:  # noqa: BLE001 - a view failing must not end the run
            report(error, "showing a run event")

    def _prepare(self, uses_local: bool) -> None:
        apply_keys()
        if uses_local:
            self.engine.ensure_registered()


def _provenance(folder: Path) -> Provenance:
    from orgruntime.run import Provenance

    try:
        return Provenance(org_path=str(folder), commit=head_commit(folder), dirty=is_dirty(folder))
    except (GitError, OSError):
        return Provenance(org_path=str(folder))
