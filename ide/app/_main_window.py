"""The main window: the welcome screen or one open org (graph editor, docks, banners), and its life cycle.

Opening, saving, reloading and closing an org live here; the commands (menus, toolbar, palette) are
wired in `_window_commands`, the docks in `_docks`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QStackedWidget, QVBoxLayout, QWidget

from orgruntime import OrgError, TrustStore, create_org
from orgruntime.vcs import head_commit
from widgets import DARK, LIGHT, GraphEditor, Inspector, ValidationPanel
from widgets.git import GitPanel

from ide.app._autosave import Autosaver, discard_backup, find_backup
from ide.app._banner import Banner
from ide.app._docks import Docks
from ide.app._errors import guarded, log, report
from ide.app._lag import LagMonitor
from ide.app._local_engine import LocalEngine
from ide.app._org_session import OrgSession
from ide.app._run_controller import RunController
from ide.app._run_wiring import RunWiring
from ide.app._settings import AppSettings
from ide.app._status_bar import IdeStatusBar
from ide.app._themes import apply_theme
from ide.app._trust_control import TrustController
from ide.app._welcome import WelcomeScreen
from ide.app._window_commands import WindowCommands

Button = QMessageBox.StandardButton


class MainWindow(QMainWindow):
    org_opened = Signal(Path)
    org_closed = Signal()

    def __init__(self, settings: AppSettings | None = None, *, trust_store: TrustStore | None = None,
                 theme: str | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings or AppSettings()
        self.session: OrgSession | None = None
        self.autosaver: Autosaver | None = None
        self.editor: GraphEditor | None = None
        self.inspector: Inspector | None = None
        self.git_panel: GitPanel | None = None
        self.run_wiring: RunWiring | None = None
        self.known_head: str | None = None  # HEAD when the view last matched the files
        self.theme_setting = theme or self.settings.theme
        self.resolved_theme = "light"
        self.lag = LagMonitor(self)
        self.engine = LocalEngine(self.settings.engine, self)
        self.runs = RunController(self.engine, self)

        self.pages = QStackedWidget(self)
        self.welcome = WelcomeScreen(self.settings.recent_orgs(), self)
        self.welcome.open_requested.connect(guarded(self.open_org))
        self.welcome.create_requested.connect(guarded(self.create_org))
        self.org_page = QWidget(self)
        self.org_layout = QVBoxLayout(self.org_page)
        self.org_layout.setContentsMargins(0, 0, 0, 0)
        self.org_layout.setSpacing(0)
        self.trust_banner = Banner("trustBanner", self.org_page)
        self.recovery_banner = Banner("recoveryBanner", self.org_page)
        self.org_layout.addWidget(self.trust_banner)
        self.org_layout.addWidget(self.recovery_banner)
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.org_page)
        self.setCentralWidget(self.pages)
        self.trust = TrustController(self.trust_banner, trust_store, self)

        self.docks = Docks(self)
        self.docks.files_view.file_activated.connect(guarded(self._file_activated))
        self.status = IdeStatusBar(self)
        self.setStatusBar(self.status)
        self.commands = WindowCommands(self)
        self.engine.state_changed.connect(self.status.show_engine, Qt.ConnectionType.QueuedConnection)
        self.runs.finished.connect(self._run_finished)
        self._disk_prompt: QMessageBox | None = None

        geometry, state = self.settings.window_state()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 900)
        if state is not None:
            self.restoreState(state)
        self.set_theme(self.theme_setting, remember=False)
        app = QApplication.instance()
        if app is not None:
            app.styleHints().colorSchemeChanged.connect(lambda _scheme: self._system_scheme_changed())
        self.lag.start()
        self._update_title()
        self.commands.update_enabled()

    # --- opening and closing ---
    def open_org(self, folder: Path) -> bool:
        """Show the org in `folder` (asking first about unsaved edits of the open one); False if it stays closed."""
        folder = Path(folder).expanduser().resolve()
        if self.session is not None and self.session.folder == folder:
            return True
        if not self.maybe_save():
            return False
        try:
            session = OrgSession(folder, self)
        except OrgError as problem:
            self._warn("Cannot open the org", str(problem))
            return False
        self.close_org(ask=False)
        self.session = session
        self.autosaver = Autosaver(session)
        session.disk_changed.connect(guarded(self._disk_changed))
        session.dirty_changed.connect(lambda _dirty: self._update_title())
        self._build_org_views(session)
        self.known_head = self._head()
        self.trust.open(folder, session.org)
        self._offer_backup(folder)
        self.settings.add_recent(folder)
        self.welcome.set_recent(self.settings.recent_orgs())
        self.pages.setCurrentWidget(self.org_page)
        self.refresh_status()
        self._update_title()
        self.commands.update_enabled()
        QTimer.singleShot(0, self.editor.view.fit_all)
        log.info("opened %s", folder)
        self.org_opened.emit(folder)
        return True

    def create_org(self, template: str, folder: Path) -> bool:
        try:
            created = create_org(folder, template)
        except OrgError as problem:
            self._warn("Cannot create the org", str(problem))
            return False
        self.trust.store.trust(created)  # the user made it here: its code is theirs
        return self.open_org(created)

    def close_org(self, *, ask: bool = True) -> bool:
        if self.session is None:
            return True
        if ask and not self.maybe_save():
            return False
        if self.autosaver is not None:
            self.autosaver.stop()
            if not self.session.dirty:
                self.autosaver.discard()
        if self.runs.running:
            self.runs.stop()
        self.commands.forget_editor()
        self.trust.close()
        self.recovery_banner.hide()
        if self.editor is not None:
            self.org_layout.removeWidget(self.editor)
            self.editor.deleteLater()
        if self.run_wiring is not None:
            self.run_wiring.detach()
            self.run_wiring.deleteLater()
        for dock, text in ((self.docks.inspector, "Open an org to inspect it."), (self.docks.problems, "No org open."),
                           (self.docks.git, "Open an org to see its changes and history."), (self.docks.run, "Open an org to run it.")):
            self.docks.set_content(dock, None, text)
        self.docks.files_view.show_folder(None)
        self.session.deleteLater()
        self.session = self.autosaver = self.editor = self.inspector = self.git_panel = self.run_wiring = None
        self.pages.setCurrentWidget(self.welcome)
        self.refresh_status()
        self._update_title()
        self.commands.update_enabled()
        self.org_closed.emit()
        return True

    def _build_org_views(self, session: OrgSession) -> None:
        self.editor = GraphEditor(session.document, palette=DARK if self.resolved_theme == "dark" else LIGHT, parent=self.org_page)
        self.editor.setObjectName("graphEditor")
        self.org_layout.addWidget(self.editor, 1)
        self.inspector = Inspector(session.document, parent=self)
        self.editor.selection_changed.connect(self.inspector.show_selection)
        self.editor.edit_failed.connect(lambda message: self.statusBar().showMessage(message, 6000))
        problems = ValidationPanel(self.editor.validation, self)
        problems.agent_activated.connect(self.editor.select_agent)
        self.docks.set_content(self.docks.inspector, self.inspector, "")
        self.docks.set_content(self.docks.problems, problems, "")
        self.docks.files_view.show_folder(session.folder)
        from ide.cli._vcs_commands import driver_command  # imported when needed: it pulls in the whole CLI

        self.git_panel = GitPanel(session.folder, session.document, self.editor, self, merge_driver=driver_command())
        self.git_panel.tree_changed.connect(guarded(self._disk_changed))
        self.git_panel.forked.connect(guarded(self._forked))
        self.git_panel.status_changed.connect(lambda *_: self.refresh_status())
        self.git_panel.message.connect(lambda text, _error: self.statusBar().showMessage(text, 8000))
        self.docks.set_content(self.docks.git, self.git_panel, "")
        self.run_wiring = RunWiring(self, session.folder)
        self.docks.set_content(self.docks.run, self.run_wiring.console, "")
        self.commands.adopt_editor(self.editor)

    def _file_activated(self, path: Path) -> None:
        """An agent's file selects its node; org.yaml shows the org in the inspector."""
        if self.editor is None or self.session is None:
            return
        relative = path.resolve().relative_to(self.session.folder) if path.resolve().is_relative_to(self.session.folder) else None
        if relative is not None and relative.parent.as_posix() == "agents" and relative.suffix == ".md":
            self.editor.select_agent(relative.stem)
        elif relative is not None and relative.as_posix() == "org.yaml":
            self.editor.scene.clearSelection()

    def _forked(self, folder: Path, _untrusted: bool) -> None:
        """A fork into a new folder opens in this window (restricted until trusted, when it came from elsewhere)."""
        self.open_org(Path(folder))

    # --- saving ---
    def save(self) -> bool:
        if self.session is None:
            return False
        try:
            result = self.session.save()
        except OrgError as problem:
            self._warn("Cannot save", str(problem))
            return False
        self.trust.note_saved(self.session.org)
        written = ", ".join(result.written + result.deleted) or "nothing changed"
        self.statusBar().showMessage(f"Saved: {written}", 5000)
        self.refresh_status()
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved edits; True when it is fine to go on (saved or discarded)."""
        if self.session is None or not self.session.dirty:
            return True
        answer = QMessageBox.question(self, "Unsaved changes", f"Save the changes to {self.session.org.name}?",
                                      Button.Save | Button.Discard | Button.Cancel, Button.Save)
        if answer == Button.Save:
            return self.save()
        if answer == Button.Discard:
            if self.autosaver is not None:
                self.autosaver.discard()
            self.session.document.undo_stack.setClean()
            return True
        return False

    def reload(self) -> None:
        if self.session is None:
            return
        head_before = self.known_head
        try:
            self.session.reload()
        except OrgError as problem:
            self._warn("Cannot reload the org", f"{problem}\n\nThe view keeps the last version that loaded.")
            self.session.accept_disk_state()
            return
        self.known_head = self._head()
        self.trust.check_after_reload(self.session.org, head_before)
        self.refresh_status()
        self.statusBar().showMessage("Reloaded from disk", 4000)

    def _head(self) -> str | None:
        try:
            return head_commit(self.session.folder) if self.session is not None else None
        except (OrgError, OSError):
            return None

    def _disk_changed(self) -> None:
        if self.session is None:
            return
        if not self.session.dirty:
            self.reload()
            return
        if self._disk_prompt is not None and self._disk_prompt.isVisible():
            return
        box = QMessageBox(QMessageBox.Icon.Question, "The org changed on disk",
                          "Its files were changed outside the IDE, and you have unsaved edits.\n"
                          "Reload the files (your edits are dropped) or keep your edits?", Button.NoButton, self)
        box.setObjectName("diskChangedPrompt")
        reload_button = box.addButton("Reload from disk", QMessageBox.ButtonRole.DestructiveRole)
        reload_button.setObjectName("reloadFromDisk")
        keep = box.addButton("Keep my edits", QMessageBox.ButtonRole.RejectRole)
        keep.setObjectName("keepMyEdits")
        box.buttonClicked.connect(guarded(lambda button: self.reload() if button is reload_button else self.session and self.session.accept_disk_state()))
        self._disk_prompt = box
        box.open()

    def _offer_backup(self, folder: Path) -> None:
        backup = find_backup(folder)
        if backup is None or self.session is None:
            return

        def restore() -> None:
            if self.session is not None:
                self.session.restore(backup.org)
                self.recovery_banner.hide()
                self._update_title()

        def discard() -> None:
            discard_backup(folder)
            self.recovery_banner.hide()

        self.recovery_banner.show_message(
            f"Unsaved edits to this org from {backup.saved_at} were kept when the IDE stopped. Restore them?",
            [("restoreBackup", "Restore edits", restore), ("discardBackup", "Discard", discard)])

    # --- appearance and status ---
    def set_theme(self, theme: str, *, remember: bool = True) -> str:
        app = QApplication.instance()
        self.theme_setting = theme
        if remember:
            self.settings.theme = theme
        self.resolved_theme = apply_theme(app, theme) if app is not None else "light"
        if self.editor is not None:
            self.editor.scene.set_palette(DARK if self.resolved_theme == "dark" else LIGHT)
        self.commands.show_theme(theme)
        return self.resolved_theme

    def _system_scheme_changed(self) -> None:
        if self.theme_setting == "system":
            self.set_theme("system", remember=False)

    def refresh_status(self) -> None:
        self.status.show_repository(self.session.folder if self.session else None)
        org_model = self.session.org.defaults.model if self.session is not None else None
        self.status.show_model(org_model or self.settings.default_model)

    def _run_finished(self, finished) -> None:
        if finished is not None:
            self.status.show_last_run(finished.status, finished.cost_usd, finished.tokens)
        self.commands.update_enabled()

    def _update_title(self) -> None:
        if self.session is None:
            self.setWindowTitle("orgide")
            return
        dirty = " •" if self.session.dirty else ""
        self.setWindowTitle(f"{self.session.org.name}{dirty} — {self.session.folder} — orgide")

    def _warn(self, title: str, text: str) -> None:
        log.warning("%s: %s", title, text)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, Button.Ok, self)
        box.setObjectName("warningDialog")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # --- quitting ---
    def closeEvent(self, event: QCloseEvent) -> None:
        try:
            if not self.close_org(ask=True):
                event.ignore()
                return
            self.settings.save_window_state(self.saveGeometry(), self.saveState())
            self.settings.sync()
            self.lag.stop()
        except Exception as error:  # noqa: BLE001 - closing must never crash
            report(error, "closing the window")
        event.accept()
