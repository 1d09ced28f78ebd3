"""Settings: provider API keys (OS keyring), default model, model folders, the local engine, run options
(executor, Ray address, model servers), the theme."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ide.app._errors import guarded
from ide.app._pull_dialog import PullDialog
from ide.app._run_options_page import RunOptionsPage
from ide.app._secrets import PROVIDERS, SecretError, get_key, set_key
from ide.app._settings import AppSettings, EngineSettings
from ide.app._themes import THEMES

SUGGESTED_MODELS = ("local/smollm2-135m-instruct", "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest",
                    "groq/llama-3.1-8b-instant", "ollama/llama3.2")
KEY_UNCHANGED = ""


class SettingsDialog(QDialog):
    applied = Signal()

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.settings = settings
        self.error = QLabel(self)
        self.error.setObjectName("settingsError")
        self.error.setWordWrap(True)
        self.error.hide()
        tabs = QTabWidget(self)
        tabs.addTab(self._providers_page(), "Providers")
        tabs.addTab(self._models_page(), "Models")
        tabs.addTab(self._engine_page(), "Local engine")
        self.runs_page = RunOptionsPage(settings.run_options, self)
        tabs.addTab(self.runs_page, "Runs")
        tabs.addTab(self._appearance_page(), "Appearance")
        self.tabs = tabs
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.Apply, self)
        buttons.setObjectName("settingsButtons")
        buttons.accepted.connect(guarded(self._ok))
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(guarded(self.apply))
        self.buttons = buttons
        self.runs_page.validity_changed.connect(self._runs_validity)
        self._runs_validity(self.runs_page.valid)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.pull_dialog: PullDialog | None = None
        self.resize(620, 460)

    # --- pages ---
    def _providers_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        form.addRow(QLabel("Keys are kept in the OS keyring, never in the org or the settings file.\n"
                           "Leave a field empty to keep the stored key; press Clear to remove it.", page))
        self.key_fields: dict[str, QLineEdit] = {}
        self.key_states: dict[str, QLabel] = {}
        for provider in PROVIDERS:
            field = QLineEdit(page)
            field.setObjectName(f"key_{provider.name}")
            field.setEchoMode(QLineEdit.EchoMode.Password)
            state = QLabel(page)
            state.setObjectName(f"keyState_{provider.name}")
            clear = QPushButton("Clear", page)
            clear.setObjectName(f"clearKey_{provider.name}")
            clear.clicked.connect(lambda _=False, name=provider.name: self._clear_key(name))
            row = QHBoxLayout()
            row.addWidget(field, 1)
            row.addWidget(state)
            row.addWidget(clear)
            form.addRow(provider.title, row)
            self.key_fields[provider.name], self.key_states[provider.name] = field, state
        self._show_key_states()
        return page

    def _models_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.default_model = QComboBox(page)
        self.default_model.setObjectName("defaultModel")
        self.default_model.setEditable(True)
        self.default_model.addItems(SUGGESTED_MODELS)
        self.default_model.setCurrentText(self.settings.default_model)
        form.addRow("Default model", self.default_model)
        self.folders = QListWidget(page)
        self.folders.setObjectName("modelFolders")
        self._show_folders()
        add_folder = QPushButton("Add folder…", page)
        add_folder.setObjectName("addModelFolder")
        add_folder.clicked.connect(guarded(self._browse_folder))
        form.addRow("Model folders\n(GGUF files)", self.folders)
        form.addRow("", add_folder)
        self.pull_button = QPushButton("Pull the default local model", page)
        self.pull_button.setObjectName("pullModel")
        self.pull_button.clicked.connect(guarded(lambda: self.pull()))
        form.addRow("", self.pull_button)
        return page

    def _engine_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        engine = self.settings.engine
        self.threads = QSpinBox(page)
        self.threads.setObjectName("engineThreads")
        self.threads.setRange(0, os.cpu_count() or 1)
        self.threads.setSpecialValueText("all cores")
        self.threads.setValue(engine.threads)
        self.context = QSpinBox(page)
        self.context.setObjectName("engineContext")
        self.context.setRange(256, 131072)
        self.context.setSingleStep(256)
        self.context.setValue(engine.context_size)
        form.addRow("Threads", self.threads)
        form.addRow("Context size (tokens)", self.context)
        form.addRow(QLabel("The engine runs in the IDE's process, on worker threads; new settings apply to models loaded after them.", page))
        return page

    def _appearance_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.theme = QComboBox(page)
        self.theme.setObjectName("themeChoice")
        self.theme.addItems(THEMES)
        self.theme.setCurrentText(self.settings.theme)
        form.addRow("Theme", self.theme)
        return page

    # --- actions ---
    def apply(self) -> bool:
        """Store everything; False (with the message shown) when the keyring refuses."""
        self.error.hide()
        if not self.runs_page.valid:
            self.tabs.setCurrentWidget(self.runs_page)
            self._show_error("Fix the run options first:\n" + "\n".join(self.runs_page.problems()))
            return False
        try:
            for name, field in self.key_fields.items():
                if field.text().strip():
                    set_key(name, field.text())
                    field.clear()
        except SecretError as problem:
            self._show_error(str(problem))
            return False
        finally:
            self._show_key_states()
        self.settings.default_model = self.default_model.currentText()
        self.settings.engine = EngineSettings(threads=self.threads.value(), context_size=self.context.value())
        self.settings.theme = self.theme.currentText()
        self.settings.run_options = self.runs_page.options()
        self.settings.sync()
        self.applied.emit()
        return True

    def _ok(self) -> None:
        if self.apply():
            self.accept()

    def _runs_validity(self, valid: bool) -> None:
        for button in (QDialogButtonBox.StandardButton.Ok, QDialogButtonBox.StandardButton.Apply):
            self.buttons.button(button).setEnabled(valid)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setToolTip("" if valid else "Fix the run options (Runs page) first")

    def _clear_key(self, name: str) -> None:
        try:
            set_key(name, None)
        except SecretError as problem:
            self._show_error(str(problem))
        self.key_fields[name].clear()
        self._show_key_states()

    def _show_key_states(self) -> None:
        for name, label in self.key_states.items():
            try:
                label.setText("stored" if get_key(name) else "not set")
            except SecretError:
                label.setText("keyring unavailable")

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _show_folders(self) -> None:
        from kernels import user_folders

        self.folders.clear()
        self.folders.addItems([str(folder) for folder in user_folders()])

    def add_model_folder(self, folder: Path) -> None:
        from kernels import KernelsError, add_user_folder

        try:
            add_user_folder(folder)
        except KernelsError as problem:
            self._show_error(str(problem))
        self._show_folders()

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder with GGUF model files")
        if folder:
            self.add_model_folder(Path(folder))

    def pull(self, **pull_options) -> PullDialog:
        from kernels import DEFAULT_MODEL

        model = self.default_model.currentText()
        name = model.removeprefix("local/") if model.startswith("local/") else DEFAULT_MODEL
        self.pull_dialog = PullDialog(name, self, **pull_options)
        self.pull_dialog.start()
        return self.pull_dialog
