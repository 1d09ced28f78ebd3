"""The run console: task, model and executor, Run / Stop / Pause / Step, meters with budget bars, where the
agents ran, the live transcript with filter and search, the reply box for human seats, the run history,
replays and comparisons."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QTabWidget, QVBoxLayout, QWidget

from orgruntime.run import Event, HumanInputRequested, MessageSent, RunFinished, RunPaused, RunResumed, RunStarted

from widgets._inspector import COMMON_MODELS
from widgets.run_console._comparison import RunComparison
from widgets.run_console._executor_picker import ExecutorPicker
from widgets.run_console._history import RunHistory
from widgets.run_console._meters import Meters
from widgets.run_console._placement import Placement
from widgets.run_console._reply_box import ReplyBox
from widgets.run_console._totals import RunTotals
from widgets.run_console._transcript_model import TranscriptModel
from widgets.run_console._transcript_view import TranscriptView

ALL_AGENTS = "All agents"
ORG_MODELS = "(the org's models)"
TICK_MS = 250


class RunConsole(QWidget):
    """See the package docstring for the signals and methods."""

    run_requested = Signal(str, str)
    stop_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    step_requested = Signal()
    human_answered = Signal(str, str)
    replay_requested = Signal(str)
    compare_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runConsole")
        self.live_model = TranscriptModel(self)
        self.replay_model = TranscriptModel(self)
        self.totals = RunTotals()
        self.replay_totals: RunTotals | None = None
        self.placement = Placement()
        self.replay_placement: Placement | None = None
        self.running = False
        self._build()
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._refresh_meters)
        self._update_controls()

    # --- building ---
    def _build(self) -> None:
        self.task = QLineEdit(self)
        self.task.setObjectName("task")
        self.task.setPlaceholderText("The task for the org (sent by the user to the entry agent)")
        self.model = QComboBox(self)
        self.model.setObjectName("model")
        self.model.setEditable(True)
        self.model.setToolTip("The model for every agent of this run (litellm id, or local/NAME)")
        self.set_models(COMMON_MODELS)
        self.run_button = self._button("Run", "runButton", self._run)
        self.stop_button = self._button("Stop", "stopButton", self.stop_requested.emit)
        self.pause_button = self._button("Pause", "pauseButton", self._pause_or_resume)
        self.step_button = self._button("Step", "stepButton", self.step_requested.emit)
        self.step_button.setToolTip("Run exactly one activation, then pause again")
        self.executor_picker = ExecutorPicker(self)
        self.status = QLabel("No run yet", self)
        self.status.setObjectName("runStatus")
        self.placement_label = QLabel(self)
        self.placement_label.setObjectName("placement")
        self.placement_label.setWordWrap(True)
        self.placement_label.hide()
        self.meters = Meters(self)
        self.view = TranscriptView(self.live_model, self)
        self.agent_filter = QComboBox(self)
        self.agent_filter.setObjectName("agentFilter")
        self.agent_filter.addItem(ALL_AGENTS)
        self.search = QLineEdit(self)
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search the transcript")
        self.search.setClearButtonEnabled(True)
        self.back_to_live = self._button("Back to the live run", "backToLive", self.show_live)
        self.back_to_live.hide()
        self.earlier_button = self._button("Show earlier cards", "showEarlier", lambda: self.view.source.show_earlier())
        self.earlier_button.hide()
        self.reply_box = ReplyBox(self)
        self.history = RunHistory(self)
        self.comparison = RunComparison(self)

        top = QHBoxLayout()
        top.addWidget(self.task, 3)
        top.addWidget(self.model, 1)
        for button in (self.run_button, self.stop_button, self.pause_button, self.step_button):
            top.addWidget(button)
        filters = QHBoxLayout()
        filters.addWidget(self.agent_filter)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.back_to_live)
        transcript_tab = QWidget(self)
        transcript_layout = QVBoxLayout(transcript_tab)
        transcript_layout.setContentsMargins(0, 4, 0, 0)
        transcript_layout.addLayout(filters)
        transcript_layout.addWidget(self.earlier_button)
        transcript_layout.addWidget(self.view, 1)
        transcript_layout.addWidget(self.reply_box)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("runTabs")
        self.tabs.addTab(transcript_tab, "Transcript")
        self.tabs.addTab(self.history, "History")
        self.tabs.addTab(self.comparison, "Compare")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.executor_picker)
        layout.addWidget(self.status)
        layout.addWidget(self.placement_label)
        layout.addWidget(self.meters)
        layout.addWidget(self.tabs, 1)

        self.task.returnPressed.connect(self._run)
        self.executor_picker.validity_changed.connect(lambda _valid: self._update_controls())
        self.agent_filter.currentTextChanged.connect(lambda _text: self._apply_filter())
        self.search.textChanged.connect(lambda _text: self._apply_filter())
        self.live_model.agents_changed.connect(self._agents_changed)
        self.replay_model.agents_changed.connect(self._agents_changed)
        self.live_model.earlier_changed.connect(self._earlier_changed)
        self.replay_model.earlier_changed.connect(self._earlier_changed)
        self.reply_box.answered.connect(self.human_answered)
        self.history.open_requested.connect(self.replay_requested)
        self.history.compare_requested.connect(self.compare_requested)

    def _button(self, text: str, name: str, slot) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.clicked.connect(lambda: slot())
        return button

    # --- what the owner tells the console ---
    def feed(self, event: Event) -> None:
        """One event of the live run (orgruntime.run); cheap enough to call for every token."""
        if isinstance(event, RunStarted) and not event.resumed:
            self.live_model.flush()
            self.live_model.clear()
            self.totals = RunTotals()
            self.reply_box.withdraw()
        self.live_model.feed(event)
        self.totals.apply(event)
        if self.placement.apply(event) and self.replay_totals is None:
            self._show_placement(self.placement)
        match event:
            case RunStarted():
                self._set_status(f"Running {event.run_id}" + (" (resumed)" if event.resumed else ""))
                self._update_controls()
            case HumanInputRequested():
                self.reply_box.ask(event)
                self._set_status(f"{event.agent} waits for your reply")
            case MessageSent(sender=sender) if self.reply_box.waiting:
                self.reply_box.withdraw_seat(sender)
            case RunPaused():
                self._set_status("Paused: Step runs one activation, Resume goes on")
                self._update_controls()
            case RunResumed(step=step):
                self._set_status("Stepping: one activation" if step else f"Running {event.run_id}")
                self._update_controls()
            case RunFinished(status=status, result=result, error=error):
                self.reply_box.withdraw()
                self._set_status(f"Finished: {status}" + (f" — {result}" if result else "") + (f" ({error})" if error else ""))
                self._update_controls()
                self._refresh_meters()
            case _:
                pass

    def set_running(self, running: bool) -> None:
        """Whether a run is going (the owner started it, or it ended): enables Run or Stop/Pause/Step."""
        self.running = running
        if running:
            self.totals.status = ""  # the last run's end no longer counts
            self._tick.start()
        else:
            self._tick.stop()
            self.live_model.flush()
            self.reply_box.withdraw()
        self._update_controls()
        self._refresh_meters()

    def set_budget(self, budget: dict) -> None:
        """The run's limits, as run.json's "budget" (max_steps, max_tokens, max_cost_usd, max_seconds)."""
        self.meters.set_budget(dict(budget or {}))
        self._refresh_meters()

    def set_placement(self, info: dict) -> None:
        """The live (or just finished) run's run.json: its "executor" and "placement" complete what events said."""
        self.placement.load_info(info)
        if self.replay_totals is None:
            self._show_placement(self.placement)

    def set_history(self, infos: Sequence[dict]) -> None:
        """The logged runs, as orgruntime.run.list_runs gives them (oldest first)."""
        self.history.set_runs(list(infos))

    def set_models(self, models: Iterable[str]) -> None:
        current = self.model.currentText() if self.model.count() else ""
        self.model.clear()
        self.model.addItem(ORG_MODELS)
        self.model.addItems([model for model in models if model])
        self.model.setCurrentText(current or ORG_MODELS)

    def show_replay(self, events: Sequence[Event], info: dict | None = None) -> None:
        """Show a finished (or cut short) run from its log; the live run goes on underneath."""
        self.replay_model.load(events)
        self.replay_totals = RunTotals()
        self.replay_placement = Placement()
        for event in events:
            self.replay_totals.apply(event)
            self.replay_placement.apply(event)
        self.replay_placement.load_info(info or {})
        self._show_placement(self.replay_placement)
        self.view.set_source(self.replay_model)
        self._agents_changed(self.replay_model.agents)
        run_id = (info or {}).get("run_id") or self.replay_totals.run_id
        status = self.replay_totals.status or (info or {}).get("status") or "cut short"
        self._set_status(f"Replay of {run_id}: {status}")
        self.back_to_live.show()
        self.tabs.setCurrentIndex(0)
        self._refresh_meters()

    def show_live(self) -> None:
        self.replay_totals = self.replay_placement = None
        self._show_placement(self.placement)
        self.view.set_source(self.live_model)
        self._agents_changed(self.live_model.agents)
        self.back_to_live.hide()
        self._set_status(f"Running {self.totals.run_id}" if self.running else (f"Last run: {self.totals.status}" if self.totals.status else "No run yet"))
        self._refresh_meters()

    def show_comparison(self, first: tuple[dict, Sequence[Event]], second: tuple[dict, Sequence[Event]]) -> None:
        """Two runs side by side, each as (its run.json, its events)."""
        self.comparison.show_runs((first[0], list(first[1])), (second[0], list(second[1])))
        self.tabs.setCurrentWidget(self.comparison)

    @property
    def selected_model(self) -> str:
        """The override chosen for the next run; "" for the org's own models."""
        text = self.model.currentText().strip()
        return "" if text in ("", ORG_MODELS) else text

    @property
    def paused(self) -> bool:
        return self.totals.paused

    # --- reacting ---
    def _run(self) -> None:
        task = self.task.text().strip()
        if not task:
            self._set_status("Type a task first")
            self.task.setFocus()
            return
        if not self.executor_picker.valid:
            self._set_status(self.executor_picker.problem)
            self.executor_picker.address.setFocus()
            return
        if not self.running:
            self.run_requested.emit(task, self.selected_model)

    def _pause_or_resume(self) -> None:
        (self.resume_requested if self.totals.paused else self.pause_requested).emit()

    def _update_controls(self) -> None:
        live = self.running and not self.totals.status
        self.run_button.setEnabled(not self.running and self.executor_picker.valid)
        self.stop_button.setEnabled(live)
        self.pause_button.setEnabled(live)
        self.pause_button.setText("Resume" if live and self.totals.paused else "Pause")
        self.step_button.setEnabled(live and self.totals.paused)

    def _agents_changed(self, agents: list) -> None:
        if self.sender() not in (None, self.view.source) and self.sender() is not self:
            return  # the model not shown changed
        current = self.agent_filter.currentText()
        self.agent_filter.blockSignals(True)
        self.agent_filter.clear()
        self.agent_filter.addItems([ALL_AGENTS, *agents])
        self.agent_filter.setCurrentText(current if current in agents else ALL_AGENTS)
        self.agent_filter.blockSignals(False)
        self._apply_filter()
        self._earlier_changed()

    def _earlier_changed(self, _count: int = 0) -> None:
        count = self.view.source.earlier
        self.earlier_button.setVisible(count > 0)
        self.earlier_button.setText(f"Show earlier cards ({count:,} more)")

    def _apply_filter(self) -> None:
        agent = self.agent_filter.currentText()
        self.view.source.set_filter("" if agent in (ALL_AGENTS, "") else agent, self.search.text())

    def _refresh_meters(self) -> None:
        self.meters.show_totals(self.replay_totals or self.totals, time.time())

    def _show_placement(self, placement: Placement) -> None:
        text = placement.text()
        self.placement_label.setText(text)
        self.placement_label.setToolTip(placement.tooltip())
        self.placement_label.setVisible(bool(text))

    def _set_status(self, text: str) -> None:
        self.status.setText(text)
