"""Errors anywhere in the IDE: a dialog, a log entry and a crash report; the application stays alive.

`install(app)` routes `sys.excepthook` and the asyncio loop's exception handler here; `guarded(fn)`
wraps one slot so that its error is reported instead of escaping into Qt. Reports are written to
`<user data>/orgide/crash-reports/`, the log to `<user data>/orgide/orgide.log`.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

log = logging.getLogger("orgide")
F = TypeVar("F", bound=Callable[..., Any])


def data_dir() -> Path:
    return platformdirs.user_data_path("orgide")


def crash_dir() -> Path:
    return data_dir() / "crash-reports"


def setup_logging() -> Path:
    path = data_dir() / "orgide.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in [h for h in log.handlers if isinstance(h, logging.FileHandler)]:
        if old.baseFilename == str(path):
            return path
        log.removeHandler(old)  # one log file at a time (the data folder moved)
        old.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return path


def write_crash_report(error: BaseException, where: str) -> Path:
    """A text file with the traceback and the versions; never raises (a report must not crash the app)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    folder = crash_dir()
    path = folder / f"crash-{stamp}-{os.getpid()}-{time.monotonic_ns() % 1_000_000}.txt"
    text = "".join([
        f"orgide crash report ({where})\n",
        f"time: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n",
        f"python: {sys.version.split()[0]} on {platform.platform()}\n\n",
        *traceback.format_exception(type(error), error, error.__traceback__),
    ])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError:
        log.exception("could not write the crash report %s", path)
    return path


class ErrorReporter(QObject):
    """Shows errors; the last report's path and message are kept for tests and the status bar."""

    reported = Signal(str, str)  # message, report path

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.last_report: Path | None = None
        self.last_message = ""
        self.show_dialogs = True
        self._open_boxes: list[QMessageBox] = []

    def report(self, error: BaseException, where: str = "the IDE") -> None:
        log.error("error in %s", where, exc_info=(type(error), error, error.__traceback__))
        self.last_report = write_crash_report(error, where)
        self.last_message = f"{type(error).__name__}: {error}"
        self.reported.emit(self.last_message, str(self.last_report))
        if self.show_dialogs and QApplication.instance() is not None:
            self._dialog(where)

    def _dialog(self, where: str) -> None:
        parent = QApplication.activeWindow()
        box = QMessageBox(QMessageBox.Icon.Critical, "Something went wrong",
                          f"An error in {where}:\n\n{self.last_message}\n\nThe IDE keeps running. "
                          f"A report was written to:\n{self.last_report}",
                          QMessageBox.StandardButton.Ok, parent if isinstance(parent, QWidget) else None)
        box.setObjectName("errorDialog")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._open_boxes = [b for b in self._open_boxes if _alive(b)][-4:] + [box]
        box.open()  # never exec(): errors can come from inside a coroutine


def _alive(box: QMessageBox) -> bool:
    try:
        return box.isVisible()
    except RuntimeError:
        return False


REPORTER: ErrorReporter | None = None


def reporter() -> ErrorReporter:
    global REPORTER
    if REPORTER is None:
        REPORTER = ErrorReporter()
    return REPORTER


def report(error: BaseException, where: str = "the IDE") -> None:
    reporter().report(error, where)


def guarded(fn: F) -> F:
    """A slot whose errors are reported (dialog, log, crash report) instead of escaping into Qt."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the point of the guard
            report(error, getattr(fn, "__qualname__", "a slot"))
            return None

    return wrapper  # type: ignore[return-value]


def excepthook(kind: type[BaseException], error: BaseException, tb: Any) -> None:
    """sys.excepthook of the IDE: an error escaping a Qt slot is reported; the application goes on."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    report(error.with_traceback(tb), "the IDE")


def install() -> None:
    """Route uncaught errors (Qt slots, the asyncio loop) to the reporter."""
    setup_logging()
    sys.excepthook = excepthook


def loop_exception_handler(_loop: Any, context: dict[str, Any]) -> None:
    error = context.get("exception")
    if isinstance(error, Exception):
        report(error, str(context.get("message") or "a background task"))
    else:
        log.error("asyncio: %s", context.get("message"))
