"""Fixtures for the IDE tests: private config/data folders, real orgs from templates in real git repos,
the real main window offscreen, and asyncio running on the Qt loop (qasync)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from orgruntime import TrustStore, create_org  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def private_user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings, trust, autosave and crash reports go to a temp home (the model cache stays shared)."""
    home = tmp_path / "user"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    return home


@pytest.fixture(autouse=True)
def memory_keyring():
    """No test reads or writes the real OS keyring: a real in-memory backend is selected instead."""
    import keyring

    from tests.ide.memory_keyring import MemoryKeyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def org_folder(tmp_path: Path) -> Path:
    return create_org(tmp_path / "startup", "startup")


@pytest.fixture
def qt_loop(qapp):
    """An asyncio loop that runs whenever Qt processes events (as in the IDE, where Qt's loop is the only loop)."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    executor = ThreadPoolExecutor(4, thread_name_prefix="test-loop")  # plain threads: nothing left running at exit
    loop.set_default_executor(executor)
    yield loop
    for task in asyncio.all_tasks(loop):
        task.cancel()
    executor.shutdown(wait=True, cancel_futures=True)
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def make_window(qtbot, tmp_path: Path, qt_loop):
    from PySide6.QtCore import QSettings

    from ide.app import AppSettings, MainWindow
    from ide.app._errors import reporter

    reporter().show_dialogs = False
    windows = []

    def make(folder: Path | None = None, *, settings_file: Path | None = None, theme: str = "light"):
        settings = AppSettings(QSettings(str(settings_file or tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings, trust_store=TrustStore(), theme=theme)
        window.resize(1300, 850)
        window.show()
        qtbot.waitExposed(window)
        if folder is not None:
            assert window.open_org(folder)
        windows.append(window)
        return window

    yield make
    for window in windows:
        if window.session is not None:
            window.session.document.undo_stack.setClean()
        window.close()
        window.deleteLater()
    reporter().show_dialogs = True
