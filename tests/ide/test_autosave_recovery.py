"""Autosave and crash recovery: a real IDE process is killed with SIGKILL mid-edit; the next start offers the edit back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from orgruntime import load_org
from ide.app._autosave import backup_folder
from tests.ide.helpers import button

ROOT = Path(__file__).resolve().parents[2]


def run_child_until_autosaved(folder: Path, settings: Path, name: str) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-m", "tests.ide.child_app", str(folder), str(settings), name],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and "AUTOSAVED" not in line:
            line = child.stdout.readline()
            if not line and child.poll() is not None:
                raise AssertionError(f"the IDE process ended early: {child.stderr.read()}")
        assert "AUTOSAVED" in line
    finally:
        child.send_signal(signal.SIGKILL)  # a crash: no chance to clean up
        child.wait(10)
    assert child.returncode == -signal.SIGKILL


def test_an_edit_survives_a_killed_process_and_is_offered_back(make_window, org_folder: Path, tmp_path: Path, qtbot) -> None:
    settings = tmp_path / "child.ini"
    run_child_until_autosaved(org_folder, settings, "Recovered Name")
    assert load_org(org_folder).name == "Tiny Startup", "the org's own files were never touched"
    window = make_window(org_folder, settings_file=settings)
    assert window.recovery_banner.isVisible()
    assert "Restore them?" in window.recovery_banner.label.text()
    QTest.mouseClick(button(window.recovery_banner, "restoreBackup"), Qt.MouseButton.LeftButton)
    assert window.session.org.name == "Recovered Name"
    assert window.session.dirty, "recovered edits are unsaved edits"
    assert window.inspector.org_name.text() == "Recovered Name"
    assert window.save()
    assert load_org(org_folder).name == "Recovered Name"
    assert not backup_folder(org_folder).exists(), "saving removes the backup"


def test_a_discarded_backup_is_not_offered_again(make_window, org_folder: Path, tmp_path: Path, qtbot) -> None:
    settings = tmp_path / "child.ini"
    run_child_until_autosaved(org_folder, settings, "Unwanted Name")
    window = make_window(org_folder, settings_file=settings)
    QTest.mouseClick(button(window.recovery_banner, "discardBackup"), Qt.MouseButton.LeftButton)
    assert not window.recovery_banner.isVisible() and window.session.org.name == "Tiny Startup"
    window.close_org()
    window.open_org(org_folder)
    assert not window.recovery_banner.isVisible()
