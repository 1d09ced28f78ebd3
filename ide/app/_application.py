"""Starting the IDE: the QApplication, error routing, asyncio on the Qt loop (qasync), the main window.

`run_ide` runs until the window closes. `render_screenshot` shows the window with an org, lets it
paint, saves a PNG and returns (works with QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ide.app import _errors
from ide.app._main_window import MainWindow


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and os.environ.get("QT_QPA_PLATFORM") != "offscreen"


def make_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        app = QApplication(argv or sys.argv[:1])
        app.setOrganizationName("orgide")
        app.setApplicationName("orgide")
        app.setApplicationDisplayName("orgide")
    _errors.install()
    return app  # type: ignore[return-value]


def run_ide(folder: Path | None = None, theme: str | None = None) -> int:
    """The desktop IDE until its window closes; exit code 0."""
    import qasync

    app = make_application()
    app.setQuitOnLastWindowClosed(False)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_errors.loop_exception_handler)
        closed = asyncio.Event()
        window = MainWindow(theme=theme)
        window.destroyed.connect(lambda *_: closed.set())
        app.lastWindowClosed.connect(closed.set)
        window.show()
        if folder is not None:
            window.open_org(folder)
        await closed.wait()
        return 0

    with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
        return runner.run(main())


def render_screenshot(folder: Path | None, output: Path, theme: str | None = None, *, size=(1400, 900)) -> Path:
    """Render the main window (with `folder` open) to the PNG `output`."""
    app = make_application()
    _errors.reporter().show_dialogs = False
    window = MainWindow(theme=theme)
    window.resize(*size)
    window.show()
    if folder is not None and not window.open_org(folder):
        raise RuntimeError(f"cannot open the org at {folder}")
    for _ in range(3):  # layout, first paint, fit-to-view from a zero-delay timer
        app.processEvents()
        QTimer.singleShot(30, lambda: None)
        app.processEvents()
    if window.editor is not None:
        window.editor.view.fit_all()
    app.processEvents()
    output.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(output), "PNG"):
        raise OSError(f"cannot write {output}")
    window.session and window.session.document.undo_stack.setClean()
    window.close()
    return output
