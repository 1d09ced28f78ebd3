"""Runs from the IDE: `Runner.stream` driven on the Qt loop (qasync), its events handed out as a Qt signal.

Before a run, off the UI thread: the stored API keys are given to litellm (in memory) and the local
engine is registered when a `local/` model is used. Whether the org's own code may run comes from
the trust decision the window passes in (RunConfig.trusted). Human seats are answered through
`answer_human`, which the run console's reply box calls.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from orgruntime import GitError, Org
from orgruntime.run import Event, HumanInputRequested, Provenance, RunConfig, RunFinished, Runner, RunStream
from orgruntime.vcs import head_commit, is_dirty

from ide.app._errors import report
from ide.app._local_engine import LocalEngine
from ide.app._secrets import apply_keys

RUNS_DIR = Path(".orgide") / "runs"


class QtHumans:
    """Human seats answered by the person at the IDE: each question waits for `answer(text)`."""

    def __init__(self, controller: RunController) -> None:
        self._controller = controller
        self.pending: dict[str, asyncio.Future[str | None]] = {}

    async def answer(self, request: HumanInputRequested) -> str | None:
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        key = _request_key(request)
        self.pending[key] = future
        self._controller.human_asked.emit(request)
        try:
            return await future
        finally:
            self.pending.pop(key, None)

    def reply(self, request: HumanInputRequested | None, text: str | None) -> bool:
        """Answer `request` (None: the oldest open question); False when nothing is waiting."""
        key = _request_key(request) if request is not None else next(iter(self.pending), None)
        future = self.pending.get(key) if key is not None else None
        if future is None or future.done():
            return False
        future.set_result(text)
        return True


def _request_key(request: HumanInputRequested) -> str:
    return f"{request.run_id}:{request.seq}"


class RunController(QObject):
    event = Signal(object)  # every Event of the current run, in order
    started = Signal(object)  # the RunStream
    finished = Signal(object)  # the RunFinished event (or None when the run could not start)
    human_asked = Signal(object)  # HumanInputRequested waiting for `answer_human`

    def __init__(self, engine: LocalEngine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.humans = QtHumans(self)
        self.stream: RunStream | None = None
        self.task: asyncio.Task[None] | None = None
        self.last_finished: RunFinished | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, org: Org, folder: Path, task: str, *, trusted: bool, model: str | None = None,
              default_model: str | None = None) -> asyncio.Task[None]:
        """Start a run on the running asyncio loop; refuses a second concurrent run."""
        if self.running:
            raise RuntimeError("a run is already going; stop it first")
        if model is None and default_model and any(org.model_of(a.id) is None for a in org.agents):
            model = default_model  # the org names no model for some agent: the IDE's default fills in
        self.task = asyncio.get_running_loop().create_task(self._run(org, folder, task, trusted, model), name="orgide run")
        return self.task

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.stop()
        for future in list(self.humans.pending.values()):
            if not future.done():
                future.set_result(None)

    def answer_human(self, text: str | None, request: HumanInputRequested | None = None) -> bool:
        return self.humans.reply(request, text)

    async def _run(self, org: Org, folder: Path, task: str, trusted: bool, model: str | None) -> None:
        finished: RunFinished | None = None
        try:
            uses_local = any((model or org.model_of(a.id) or "").startswith("local/") for a in org.agents)
            await asyncio.to_thread(self._prepare, uses_local)
            config = RunConfig(model=model, trusted=trusted, human=self.humans)
            self.stream = Runner(config).stream(org, task, runs_dir=folder / RUNS_DIR, provenance=_provenance(folder))
            self.started.emit(self.stream)
            async for event in self.stream:
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
    try:
        return Provenance(org_path=str(folder), commit=head_commit(folder), dirty=is_dirty(folder))
    except (GitError, OSError):
        return Provenance(org_path=str(folder))
