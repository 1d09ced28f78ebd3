"""Fixtures for the graph editor tests: real orgs from the templates, the real widget, shown offscreen."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from orgruntime import Agent, Org, create_org, load_org  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def template_org(tmp_path):
    def make(name: str = "startup") -> tuple[Org, Path]:
        folder = create_org(tmp_path / name, name, git=False)
        return load_org(folder), folder

    return make


@pytest.fixture
def solo_org() -> Org:
    return Org(name="Solo", entry="ceo", agents=(Agent(id="ceo", name="CEO", prompt="Lead."),))


@pytest.fixture
def make_editor(qtbot):
    from PySide6.QtTest import QTest

    from widgets import GraphEditor, OrgDocument

    def make(org: Org, *, size=(1100, 750)) -> GraphEditor:
        editor = GraphEditor(OrgDocument(org))
        qtbot.addWidget(editor)
        editor.resize(*size)
        editor.show()
        qtbot.waitExposed(editor)
        editor.activateWindow()
        QTest.qWaitForWindowActive(editor)  # shortcuts only reach an active window
        editor.view.setFocus()
        return editor

    return make


@pytest.fixture
def loop(qapp):
    """A qasync loop: the Qt loop is the asyncio loop, as in the app."""
    import asyncio

    import qasync

    event_loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.close()  # ends the threads of asyncio.to_thread
    asyncio.set_event_loop(None)


@pytest.fixture
def setup(qtbot, tmp_path, loop):
    """`make(org, **run_config)` -> (RunConsole, GraphEditor, ConsoleDriver): a shown console and an editor with
    the live run overlay, driven by real runs under tmp_path/runs."""
    from orgruntime.run import RunConfig
    from tests.widgets.run_console_driver import ConsoleDriver
    from widgets import GraphEditor, OrgDocument
    from widgets.run_console import RunConsole, RunOverlay

    def make(org, **config):
        console = RunConsole()
        qtbot.addWidget(console)
        console.resize(1000, 700)
        console.show()
        editor = GraphEditor(OrgDocument(org))
        qtbot.addWidget(editor)
        overlay = RunOverlay(editor)
        return console, editor, ConsoleDriver(console, overlay, org, tmp_path / "runs", config=RunConfig(**config))

    return make
