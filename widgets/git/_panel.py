"""The git panel: branch and lineage, changes with semantic summaries, history, branches, and every git action."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QTabWidget, QVBoxLayout, QWidget

from orgruntime import Org, OrgError, load_org
from orgruntime.vcs import (
    GitProgress,
    MergeOutcome,
    MergeStatus,
    NotARepositoryError,
    RepoStatus,
    diff_orgs,
    diff_revisions,
    history,
    init_repo,
    lineage,
    list_branches,
    org_at_revision,
    repo_status,
    stashes,
)

from widgets._document import OrgDocument
from widgets._graph_editor import GraphEditor
from widgets.git._actions import PanelActions
from widgets.git._branches_view import BranchesView
from widgets.git._changes_view import ChangesView
from widgets.git._history_view import PAGE, HistoryView
from widgets.git._tasks import TaskRunner


class GitPanel(QWidget):
    """The git side of one org folder. Git actions change files on disk, never `document` directly:
    after `tree_changed()` the application reloads the document from `folder`.

    Signals: `tree_changed()`; `forked(Path dest, bool untrusted)` when a fork into a new folder is made;
    `status_changed(branch, ahead, behind)` when any of them changes, and once on the first event-loop turn
    after construction (branch "" when detached or unborn); `status` holds the last `RepoStatus` read;
    `message(text, is_error)` for what the panel also shows in its message line.
    Slots: `refresh()` (also run by itself, debounced, when the document changes or files in the folder,
    `agents/`, `.git` or its branches change); the actions `start_fork()`, `start_merge()`, `fetch()`, `pull()`, `push()`,
    `start_compare()`, `compare(old, new=None)`, `resolve_conflicts()`, `clear_comparison()`, `focus_commit()`.
    `merge_driver`: the command line git runs as the merge driver, installed into forks (the CLI's
    `driver_command()`); None installs none.
    """

    tree_changed = Signal()
    forked = Signal(object, bool)
    status_changed = Signal(str, int, int)
    message = Signal(str, bool)

    def __init__(self, folder: Path, document: OrgDocument, editor: GraphEditor | None = None,
                 parent: QWidget | None = None, *, merge_driver: Sequence[str] | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder).expanduser().resolve()
        self.document = document
        self.editor = editor
        self.status: RepoStatus | None = None
        self.runner = TaskRunner(self)
        self.last_message = ""
        self.comparing = False  # a comparison is drawn on the editor's graph
        self.history_limit = PAGE
        self._emitted: tuple[str, int, int] | None = None
        self._page_key: tuple[str | None, int] | None = None  # the history page shown: (HEAD, length)
        self._head_org: tuple[str, Org] | None = None  # HEAD's org, read once per commit for the summaries
        self._lineage_key: tuple[str | None, str | None] | None = None
        self._upstream_where: str | None = None
        self._build()
        self.tree_changed.connect(self.clear_comparison)  # first: the marks belong to the org about to be replaced
        self.flows = PanelActions(self, merge_driver)
        self.runner.started.connect(self._task_started)
        self.runner.progress.connect(self._task_progress)
        self.runner.ended.connect(lambda _label: self._task_ended())
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(400)
        self._refresh_timer.timeout.connect(self.refresh)
        document.changed.connect(lambda *_: self._refresh_timer.start())
        self._watcher = QFileSystemWatcher(self)  # saves (temp file + rename), git's index, HEAD and branch updates
        self._watcher.directoryChanged.connect(lambda _path: self._refresh_timer.start())
        self.refresh()
        QTimer.singleShot(0, self._announce)  # a listener connected after the constructor hears the first state too

    # --- building ---
    def _button(self, text: str, name: str, slot: Callable[[], None], tip: str = "") -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _build(self) -> None:
        self.branch_label = QLabel(self)
        self.branch_label.setObjectName("gitBranch")
        self.branch_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.upstream_label = QLabel(self)
        self.upstream_label.setObjectName("gitUpstream")
        self.fork_button = self._button("Fork…", "gitFork", lambda: self.start_fork(),
                                        "Clone this org or another into a new folder, or branch it")
        self.merge_button = self._button("Merge…", "gitMerge", lambda: self.start_merge(), "Merge a branch into this one")
        self.fetch_button = self._button("Fetch", "gitFetch", lambda: self.fetch(),
                                         "Fetch the upstream's new commits (shows how far behind this branch is)")
        self.pull_button = self._button("Pull", "gitPull", lambda: self.pull(), "Fetch the upstream and merge it")
        self.push_button = self._button("Push", "gitPush", lambda: self.push(),
                                        "Send this branch's commits to its upstream")
        self.compare_button = self._button("Compare…", "gitCompare", lambda: self.start_compare(),
                                           "Show what changed between two revisions on the graph")
        self.refresh_button = self._button("↻", "gitRefresh", self.refresh, "Refresh")
        self.init_button = self._button("Make this folder a git repository", "gitInit", self._init_repository)
        self.resolve_button = self._button("Resolve conflicts…", "gitResolve", lambda: self.resolve_conflicts())
        self.abort_merge_button = self._button("Abort merge", "gitAbort", lambda: self.flows.abort_merge())
        self.merge_label = QLabel(self)
        self.clear_compare_button = self._button("Clear comparison", "gitClearCompare", lambda: self.clear_comparison())
        self.compare_label = QLabel(self)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("gitProgress")
        self.progress.setTextVisible(True)
        self.message_label = QLabel(self)
        self.message_label.setObjectName("gitMessage")
        self.message_label.setWordWrap(True)
        self.message_label.hide()
        self.changes = ChangesView(self)
        self.history = HistoryView(self)
        self.branches = BranchesView(self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.changes, "Changes")
        self.tabs.addTab(self.history, "History")
        self.tabs.addTab(self.branches, "Branches")
        actions = QGridLayout()  # two rows: the panel lives in a narrow dock
        for column, button in enumerate((self.fork_button, self.merge_button, self.compare_button, self.refresh_button)):
            actions.addWidget(button, 0, column)
        for column, button in enumerate((self.fetch_button, self.pull_button, self.push_button)):
            actions.addWidget(button, 1, column)
        self.merge_bar = self._bar(self.merge_label, self.resolve_button, self.abort_merge_button)
        self.compare_bar = self._bar(self.compare_label, self.clear_compare_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.branch_label)
        layout.addWidget(self.upstream_label)
        layout.addLayout(actions)
        layout.addWidget(self.init_button)
        layout.addWidget(self.merge_bar)
        layout.addWidget(self.compare_bar)
        layout.addWidget(self.progress)
        layout.addWidget(self.message_label)
        layout.addWidget(self.tabs, 1)
        self.progress.hide()
        self.compare_bar.hide()
        self.history.more_requested.connect(self._more_history)
        self.history.compare_requested.connect(lambda sha: self.compare(sha, None))

    def _bar(self, label: QLabel, *buttons: QPushButton) -> QWidget:
        label.setWordWrap(True)
        bar = QWidget(self)
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(label, 1)
        for button in buttons:
            row.addWidget(button)
        return bar

    # --- state ---
    @property
    def busy(self) -> bool:
        return self.runner.busy

    @Slot()
    def refresh(self) -> None:
        """Read the repository again: status, changes and their summaries, branches, history."""
        self._refresh_timer.stop()
        if self.busy:
            return  # the job's end refreshes; meanwhile the worker owns the repository
        try:
            status = repo_status(self.folder)
        except NotARepositoryError:
            self._show_not_a_repository()
            return
        except OrgError as problem:
            self.report(str(problem), error=True)
            return
        self.status = status
        self._watch()
        self.init_button.hide()
        self.tabs.setEnabled(True)
        self._show_status(status)
        self.changes.show_changes(self.folder, status.changed, status.staged, *self._summaries(status))
        try:
            page_key = (status.head, self.history_limit)
            if page_key != self._page_key:  # a commit never changes: the page only moves with HEAD
                commits = history(self.folder, limit=self.history_limit + 1)
                self.history.show_commits(commits[: self.history_limit], complete=len(commits) <= self.history_limit)
                self._page_key = page_key
            self.branches.show_branches(list_branches(self.folder), status.branch, stashes(self.folder))
        except OrgError as problem:
            self.report(str(problem), error=True)
        self._update_enabled()
        if (status.branch or "", status.ahead, status.behind) != self._emitted:
            self._announce()

    def _announce(self) -> None:
        if self.status is not None:
            self._emitted = (self.status.branch or "", self.status.ahead, self.status.behind)
            self.status_changed.emit(*self._emitted)

    def _watch(self) -> None:
        wanted = [self.folder / name for name in ("", "agents", ".git", ".git/refs/heads")]
        missing = [str(path) for path in wanted if path.is_dir() and str(path) not in self._watcher.directories()]
        if missing:
            self._watcher.addPaths(missing)

    def _summaries(self, status: RepoStatus) -> tuple[dict[str, tuple[str, ...]], str | None]:
        if not any(path == "org.yaml" or path.startswith(("agents/", ".orgide/")) for path in status.changed):
            return {}, None
        try:
            if status.head is None:
                return diff_revisions(self.folder).summary_by_file(), None
            if self._head_org is None or self._head_org[0] != status.head:
                self._head_org = (status.head, org_at_revision(self.folder, status.head))
            return diff_orgs(self._head_org[1], load_org(self.folder)).summary_by_file(), None
        except OrgError as problem:
            return {}, str(problem).splitlines()[0]

    def _show_status(self, status: RepoStatus) -> None:
        branch = status.branch or (f"detached at {status.head[:8]}" if status.head else "no commits yet")
        self.branch_label.setText(f"Branch: <b>{branch}</b>")
        if status.upstream:
            where = self._upstream_url(status)
            self.upstream_label.setText(f"Upstream: {status.upstream}  ↑{status.ahead} ahead ↓{status.behind} behind"
                                        + (f"\nforked from {where}" if where else ""))
        else:
            self.upstream_label.setText("No upstream")
        self.merge_bar.setVisible(status.merging)
        self.merge_label.setText(f"Merge in progress: {status.conflicts} conflict(s) unresolved")

    def _upstream_url(self, status: RepoStatus) -> str | None:
        """Where the upstream lives (read again only when the branch or its upstream changes)."""
        key = (status.branch, status.upstream)
        if self._lineage_key != key:
            try:
                self._upstream_where = lineage(self.folder).upstream_url
            except OrgError:
                self._upstream_where = None
            self._lineage_key = key
        return self._upstream_where

    def _show_not_a_repository(self) -> None:
        self.status = None
        self.branch_label.setText(f"{self.folder.name} is not a git repository")
        self.upstream_label.setText("")
        self.init_button.show()
        self.merge_bar.hide()
        self.tabs.setEnabled(False)
        self._update_enabled()

    def _update_enabled(self) -> None:
        status, idle = self.status, not self.busy
        has_commit = status is not None and status.head is not None
        merging = status is not None and status.merging
        tracked = status is not None and status.upstream is not None
        self.fork_button.setEnabled(idle and has_commit and not merging)
        self.merge_button.setEnabled(idle and has_commit and not merging)
        self.pull_button.setEnabled(idle and tracked and not merging)
        self.fetch_button.setEnabled(idle and tracked and "/" in (status.upstream or ""))  # type: ignore[union-attr]
        self.push_button.setEnabled(idle and tracked and not merging and status.ahead > 0)  # type: ignore[union-attr]
        self.compare_button.setEnabled(idle and has_commit)
        self.tabs.setEnabled(idle and status is not None)
        self.resolve_button.setEnabled(idle)
        self.abort_merge_button.setEnabled(idle)

    def report(self, text: str, *, error: bool = False) -> None:
        self.last_message = text
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))
        self.message_label.setStyleSheet("color: #dc2626;" if error else "")
        self.message.emit(text, error)

    def _more_history(self) -> None:
        self.history_limit += PAGE
        self.refresh()

    def _init_repository(self) -> None:
        try:
            init_repo(self.folder)
        except OrgError as problem:
            self.report(str(problem), error=True)
        self.refresh()

    # --- background work ---
    def _task_started(self, label: str) -> None:
        self.progress.setRange(0, 0)
        self.progress.setFormat(label)
        self.progress.show()
        self._update_enabled()

    def _task_progress(self, report: GitProgress) -> None:
        if report.percent is None:
            return
        self.progress.setRange(0, 100)
        self.progress.setValue(report.percent)
        self.progress.setFormat(f"{report.phase} %p%")

    def _task_ended(self) -> None:
        self.progress.hide()
        self.refresh()

    # --- actions (the flows live in PanelActions) ---
    def start_fork(self) -> None:
        self.flows.start_fork()

    def start_merge(self) -> None:
        self.flows.start_merge()

    def fetch(self) -> None:
        self.flows.fetch()

    def pull(self) -> None:
        self.flows.pull()

    def push(self) -> None:
        self.flows.push()

    def start_compare(self) -> None:
        self.flows.start_compare()

    def compare(self, old: str, new: str | None = None) -> None:
        self.flows.compare(old, new)

    def focus_commit(self) -> None:
        """Show the change list with the cursor in the commit message (for the app's Commit action)."""
        self.tabs.setCurrentWidget(self.changes)
        self.changes.message.setFocus()

    def clear_comparison(self) -> None:
        """Take the comparison's marks off the graph (conflict marks of an open resolver stay)."""
        if self.comparing and self.editor is not None:
            self.editor.overlays.clear_diff()
        self.comparing = False
        self.compare_bar.hide()

    def resolve_conflicts(self) -> None:
        self.flows.resolve_conflicts()

    def after_merge(self, outcome: MergeOutcome) -> None:
        match outcome.status:
            case MergeStatus.UP_TO_DATE:
                self.report(f"Already up to date with {outcome.theirs[:8]}.")
            case MergeStatus.FAST_FORWARD:
                self.report(f"Fast-forwarded to {outcome.theirs[:8]}.")
                self.tree_changed.emit()
            case MergeStatus.MERGED:
                self.report(f"Merged: commit {(outcome.commit or '')[:8]} has both parents.")
                self.tree_changed.emit()
            case MergeStatus.CONFLICTS:
                self.report(f"{len(outcome.conflicts)} conflict(s) to resolve.")
                self.tree_changed.emit()
                self.refresh()
                self.resolve_conflicts()
        self.refresh()
