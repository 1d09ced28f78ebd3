"""The run console and the live run on the graph, wired to the RunController for one open org.

The console asks (run, stop, pause, resume, step, answer a human seat, replay, compare); the controller
runs; every event goes to the console and the graph overlay; past runs come from the org's run logs.
The console's executor picker shows this machine's run options and stores every valid edit of them;
a finished run's run.json completes where its agents ran.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from orgruntime.run import RunError, RunStarted, list_runs, load_events, read_info
from widgets.run_console import RunConsole, RunOverlay

from ide.app._errors import guarded
from ide.app._run_controller import RUNS_DIR, RunController
from ide.app._run_options import RAY, RAY_INSTALL_HINT, ray_address_problem, ray_available

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
        picker = self.console.executor_picker
        picker.set_address_check(ray_address_problem)
        picker.set_available(RAY, ray_available(), RAY_INSTALL_HINT)
        self.show_options()
        picker.changed.connect(guarded(self._options_edited))
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

    def show_options(self) -> None:
        """The stored executor and Ray address (after Settings changed them)."""
        options = self.window.settings.run_options
        self.console.executor_picker.set_choice(options.executor, options.ray_address)

    def _options_edited(self, executor: str, address: str) -> None:
        if self.console.executor_picker.valid:
            settings = self.window.settings
            settings.run_options = replace(settings.run_options, executor=executor, ray_address=address)

    def _run_requested(self, task: str, model: str) -> None:
        self._options_edited(self.console.executor_picker.executor, self.console.executor_picker.address_text)
        self.window.commands.start_run(task, model or None)

    def _event(self, event) -> None:
        self.console.feed(event)
        if isinstance(event, RunStarted) and not event.resumed:
            self.console.set_placement({"executor": self.runs.options.executor})
        self.overlay.feed(event)

    def _started(self, _stream) -> None:
        self.overlay.clear()
        self.console.set_running(True)

    def _finished(self, finished) -> None:
        self.console.set_running(False)
        if finished is not None:
            try:
                self.console.set_placement(read_info(self.runs_dir / finished.run_id))
            except RunError:
                pass  # a run without its run.json shows what its events said
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
