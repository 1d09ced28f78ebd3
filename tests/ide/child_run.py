"""The IDE as `orgide open` runs it (asyncio.Runner with qasync's loop), driven by timers: open ORG, run a
scripted task, print the outcome, close the window; the process exits with run_ide's code."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(folder: str, model: str) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ide.app import make_application, run_ide

    make_application()

    def window():
        return next(w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow")

    def finished(event) -> None:
        print(f"FINISHED {event.status} {event.result}", flush=True)
        QTimer.singleShot(200, window().close)

    def start() -> None:
        window().runs.finished.connect(finished)
        window().run_wiring.console.model.setCurrentText(model)
        window().run_wiring.console.task.setText("go")
        window().commands.registry["run"].trigger()

    QTimer.singleShot(500, start)
    return run_ide(Path(folder), "dark")


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
