"""The window's commands: menus, toolbar, shortcuts and the command palette, and what each one does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QFileDialog, QMessageBox

from orgruntime import OrgError
from orgruntime.vcs import commit_all, dirty_files

from ide.app._actions import ActionRegistry
from ide.app._command_palette import CommandPalette
from ide.app._errors import crash_dir
from ide.app._settings_dialog import SettingsDialog
from ide.app._vcs_dialogs import CommitDialog

if TYPE_CHECKING:
    from widgets import GraphEditor

    from ide.app._main_window import MainWindow

StandardKey = QKeySequence.StandardKey
EDITOR_ACTIONS = {  # the graph editor's own actions, listed in the menus and the palette
    "undo": "Edit", "redo": "Edit", "copy": "Edit", "paste": "Edit", "delete": "Edit", "duplicate": "Edit",
    "select_all": "Edit", "rename": "Edit", "find": "Edit", "add": "Org", "set_entry": "Org",
    "fit": "View", "zoom_selection": "View", "zoom_in": "View", "zoom_out": "View",
}
NEEDS_ORG = ("save", "reload", "close_org", "commit", "fork", "merge", "switch_branch", "run", "auto_layout",
             "trust", "distrust")


class WindowCommands:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.registry = ActionRegistry(window)
        self.palette = CommandPalette(self.registry, window)
        self.dialog = None  # the dialog opened last (kept alive while open)
        self._editor_commands: list[str] = []
        self._build()

    def _build(self) -> None:
        w, add = self.window, self.registry.add
        add("new_org", "&New org from a template…", self.show_welcome, menu="File", shortcut=StandardKey.New)
        add("open_org", "&Open org…", self.browse_open, menu="File", shortcut=StandardKey.Open)
        add("save", "&Save", w.save, menu="File", shortcut=StandardKey.Save)
        add("reload", "Reload from disk", w.reload, menu="File")
        add("close_org", "&Close org", w.close_org, menu="File", shortcut=StandardKey.Close)
        self.registry.separator("File")
        add("settings", "Settings…", self.open_settings, menu="File", shortcut="Ctrl+,")
        add("quit", "&Quit", w.close, menu="File", shortcut=StandardKey.Quit)

        add("command_palette", "Command palette…", self.palette.popup, menu="View", shortcut="Ctrl+Shift+P")
        self.theme_group = QActionGroup(w)
        for theme in ("system", "light", "dark"):
            action = add(f"theme_{theme}", f"{theme.title()} theme", lambda t=theme: w.set_theme(t), menu="View", checkable=True)
            self.theme_group.addAction(action)
        add("toggle_theme", "Toggle dark/light", lambda: w.set_theme("light" if w.resolved_theme == "dark" else "dark"),
            menu="View", shortcut="Ctrl+Shift+T")
        self.registry.separator("View")
        for dock in w.docks.all():
            self.registry.adopt(f"dock_{dock.objectName()}", dock.toggleViewAction(), "View")

        add("auto_layout", "Auto-layout", lambda: w.editor and w.editor.auto_layout(), menu="Org", toolbar=True,
            shortcut="Ctrl+Shift+L", tip="Arrange the agents from the entry agent down")
        add("trust", "Trust this org's code", w.trust.trust, menu="Org")
        add("distrust", "Stop trusting this org's code", w.trust.distrust, menu="Org")

        self.registry.separator("Run", toolbar=True)
        add("run", "&Run…", self.run, menu="Run", shortcut="F5", toolbar=True, tip="Run the org on a task")
        add("stop", "&Stop", w.runs.stop, menu="Run", shortcut="Shift+F5", toolbar=True, tip="Stop the run")
        self.registry.separator("Git", toolbar=True)
        add("commit", "&Commit…", self.commit, menu="Git", shortcut="Ctrl+Shift+K", toolbar=True, tip="Save and commit the org")
        add("fork", "&Fork…", self.fork, menu="Git", toolbar=True, tip="Fork an org as a branch or a copy in a new folder")
        add("merge", "&Merge…", self.merge, menu="Git", toolbar=True, tip="Merge a branch into this one")
        add("switch_branch", "Branches…", self.switch_branch, menu="Git")

        add("open_crash_reports", "Open the crash reports folder", self.open_crash_reports, menu="Help")
        add("lag", "Event-loop lag", lambda: w.statusBar().showMessage(w.lag.summary(), 8000), menu="Help")
        add("about", "About orgide", self.about, menu="Help")
        w.runs.started.connect(lambda _stream: self.update_enabled())

    # --- the graph editor's actions ---
    def adopt_editor(self, editor: GraphEditor) -> None:
        self.forget_editor()
        for name, menu in EDITOR_ACTIONS.items():
            action = editor.actions_by_name.get(name)
            if action is not None:
                self.registry.adopt(f"editor_{name}", action, menu)
                self._editor_commands.append(f"editor_{name}")

    def forget_editor(self) -> None:
        for name in self._editor_commands:
            command = self.registry.commands.pop(name, None)
            if command is not None:
                self.registry.menus[command.menu].removeAction(command.action)
        self._editor_commands = []

    def update_enabled(self) -> None:
        has_org = self.window.session is not None
        for name in NEEDS_ORG:
            self.registry[name].setEnabled(has_org)
        running = self.window.runs.running
        self.registry["run"].setEnabled(has_org and not running)
        self.registry["stop"].setEnabled(running)
        self.registry["trust"].setEnabled(has_org and not self.window.trust.trusted)
        self.registry["distrust"].setEnabled(has_org and self.window.trust.trusted)

    def show_theme(self, theme: str) -> None:
        action: QAction = self.registry[f"theme_{theme}"]
        action.setChecked(True)

    # --- file ---
    def show_welcome(self) -> None:
        if self.window.close_org():
            self.window.welcome.destination.setFocus()

    def browse_open(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open an org folder")
        if folder:
            self.window.open_org(Path(folder))

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.window.settings, self.window)
        dialog.applied.connect(self._settings_applied)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _settings_applied(self) -> None:
        w = self.window
        w.set_theme(w.settings.theme, remember=False)
        w.engine.apply_settings(w.settings.engine)
        if w.run_wiring is not None:
            w.run_wiring.show_options()
        w.refresh_status()

    # --- git ---
    def commit(self) -> CommitDialog:
        w = self.window
        changed = dirty_files(w.session.folder)
        summary = ("Unsaved edits are saved first. " if w.session.dirty else "") + (
            f"Changed files: {', '.join(changed)}" if changed else "No file has changed since the last commit.")
        dialog = CommitDialog(summary, w)
        dialog.commit_requested.connect(self._commit)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _commit(self, message: str) -> None:
        w = self.window
        if w.session.dirty and not w.save():
            return
        try:
            sha = commit_all(w.session.folder, message)
        except OrgError as problem:
            w._warn("Cannot commit", str(problem))
            return
        w.known_head = sha
        w.statusBar().showMessage(f"Committed {sha[:10]}: {message}", 6000)
        w.refresh_status()
        if w.git_panel is not None:
            w.git_panel.refresh()

    def fork(self) -> None:
        """The git panel's fork dialog (a branch, or a clone of this org or any other into a new folder)."""
        w = self.window
        if w.maybe_save():
            self._show_git(0)
            w.git_panel.start_fork()

    def merge(self) -> None:
        """The git panel's merge dialog; conflicts open its resolver. The view reloads when files change."""
        w = self.window
        if w.maybe_save():
            self._show_git(0)
            w.git_panel.start_merge()

    def switch_branch(self) -> None:
        if self.window.maybe_save():
            self._show_git(2)

    def _show_git(self, tab: int) -> None:
        w = self.window
        w.docks.git.show()
        w.docks.git.raise_()
        w.git_panel.tabs.setCurrentIndex(tab)

    # --- run ---
    def run(self) -> None:
        """Run the task in the run console's task box (or put the cursor there when it is empty)."""
        w = self.window
        console = w.run_wiring.console
        w.docks.run.show()
        w.docks.run.raise_()
        if console.task.text().strip() and console.run_button.isEnabled():
            console.run_button.click()
        else:
            console.task.setFocus()

    def start_run(self, task: str, model: str | None = None) -> None:
        w = self.window
        if not task.strip() or w.session is None:
            return
        w.runs.start(w.session.org, w.session.folder, task.strip(), trusted=w.trust.trusted, model=model,
                     default_model=w.settings.default_model, options=w.settings.run_options)
        self.update_enabled()

    # --- help ---
    def open_crash_reports(self) -> None:
        crash_dir().mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(crash_dir())))

    def about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About orgide",
                          "orgide: design, version and run agentic organisations kept as org code in git.",
                          QMessageBox.StandardButton.Ok, self.window)
        self.dialog = box
        box.open()
