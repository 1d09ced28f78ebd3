"""A real IDE process for the crash test: opens ORG, types a new org name in the inspector, and prints
AUTOSAVED once the autosave backup holds it; then keeps running until it is killed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(folder: str, settings_file: str, name: str) -> int:
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtTest import QTest

    from ide.app import AppSettings, MainWindow, make_application
    from ide.app._autosave import backup_folder

    app = make_application()
    window = MainWindow(AppSettings(QSettings(settings_file, QSettings.Format.IniFormat)), theme="light")
    window.show()
    assert window.open_org(Path(folder))

    def edit() -> None:
        window.inspector.org_name.selectAll()
        QTest.keyClicks(window.inspector.org_name, name)

    def check() -> None:
        org_yaml = backup_folder(Path(folder)) / "org.yaml"
        if org_yaml.is_file() and name in org_yaml.read_text(encoding="utf-8"):
            print("AUTOSAVED", flush=True)
            return
        QTimer.singleShot(100, check)

    QTimer.singleShot(100, edit)
    QTimer.singleShot(200, check)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
