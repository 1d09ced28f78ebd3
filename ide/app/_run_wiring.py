"""The run console and the live run on the graph, wired to the RunController for one open org.

The console asks (run, stop, pause, resume, step, answer a human seat, replay, compare); the controller
runs; every event goes to the console and the graph overlay; past runs come from the org's run logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from orgruntime.run import RunError, list_runs, load_events, read_info
from widgets.run_console import RunConsole, RunOverlay

from ide.app._errors import guarded
from ide.app._run_controller import RUNS_DIR, RunController

if TYPE_CHECKING:
    from ide.app._main_window import MainWindow


class RunWiring(QObject):
    def __init__(self, window: MainWindow, folder: Path) -> None:
        super().__init__(window)
        self.window = window
        self.runs: RunController = window.runs
        self.runs_dir = folder / RUNS_DIR
        self.console = RunConsole(window)
        self.overlay = RunOverlay(window.editor)
        models = [window.settings.default_model, "local/smollm2-135m-instruct"]
        self.console.set_models(dict.fromkeys(m for m in models if m))
        self.console.run_requested.connect(guarded(self._run_requested))
        self.console.stop_requested.connect(guarded(self.runs.stop))
        self.console.pause_requested.connect(guarded(self.runs.pause))
        self.console.resume_requested.connect(guarded(self.runs.resume))
        self.console.step_requested.connect(guarded(self.runs.step))
        self.console.human_answered.connect(guarded(self.runs.answer_human))
        self.console.replay_requested.connect(guarded(self.replay))
        self.console.compare_requested.connect(guarded(self.compare))
        self.runs.event.connect(self._event)
        self.runs.started.connect(self._started)
        self.runs.budget.connect(self.console.set_budget)
        self.runs.finished.connect(self._finished)
        self.refresh_history()

    def detach(self) -> None:
        """The org closes: stop listening to the controller (it outlives this org)."""
        for signal, slot in ((self.runs.event, self._event), (self.runs.started, self._started),
                             (self.runs.budget, self.console.set_budget), (self.runs.finished, self._finished)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        self.overlay.clear()

    def _run_requested(self, task: str, model: str) -> None:
        self.window.commands.start_run(task, model or None)

    def _event(self, event) -> None:
        self.console.feed(event)
        self.overlay.feed(event)

    def _started(self, _stream) -> None:
        self.overlay.clear()
        self.console.set_running(True)

    def _finished(self, _finished) -> None:
        self.console.set_running(False)
        self.refresh_history()

    def refresh_history(self) -> None:
        self.console.set_history(list_runs(self.runs_dir))

    def _load(self, run_id: str) -> tuple[dict, tuple]:
        run_dir = self.runs_dir / run_id
        if not run_dir.is_dir():
            raise RunError(f"no run {run_id} in {self.runs_dir}")
        info = read_info(run_dir)
        return info, load_events(run_dir).events

    def replay(self, run_id: str) -> None:
        info, events = self._load(run_id)
        self.console.show_replay(events, info)

    def compare(self, first: str, second: str) -> None:
        self.console.show_comparison(self._load(first), self._load(second))
