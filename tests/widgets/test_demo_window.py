"""`python -m widgets.graph_editor PATH`: opens an org, edits it, Ctrl+S writes only what changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from orgruntime import LAYOUT_FILE, load_org

from tests.widgets.helpers import drag, node_center

pytestmark = pytest.mark.qt


def test_edit_and_save_with_ctrl_s(template_org, qtbot):
    from widgets.graph_editor import EditorWindow

    _, folder = template_org("startup")
    window = EditorWindow(folder)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    QTest.qWaitForWindowActive(window)
    window.editor.view.fit_all()
    window.editor.view.setFocus()
    start = node_center(window.editor, "reviewer")
    drag(window.editor, start, start + QPoint(50, 30))
    assert window.windowTitle().endswith("*")
    QTest.keyClick(window.editor.view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not window.windowTitle().endswith("*")
    assert LAYOUT_FILE in window.statusBar().currentMessage()
    assert load_org(folder).layout == window.document.org.layout

    window.editor.select_agent("reviewer")
    window.inspector.agent_role.setText("Checks everything")
    window.inspector.agent_role.textEdited.emit("Checks everything")
    assert window.save()
    assert load_org(folder).agent("reviewer").role == "Checks everything"


def test_a_folder_that_is_not_an_org_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "widgets.graph_editor", str(tmp_path / "missing")],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "missing" in result.stderr
