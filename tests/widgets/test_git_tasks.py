"""Network work runs on a worker thread: the UI thread keeps running, and gets progress and the outcome."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from orgruntime.vcs import GitProgress, MergeStateError, fork
from tests.orgruntime.vcs.repos import change, org_repo
from tests.widgets.git_panel_helpers import click, open_panel, wait_idle
from widgets.git._tasks import TaskRunner


def test_work_runs_off_the_ui_thread_and_reports_back_on_it(qtbot) -> None:
    runner = TaskRunner()
    ui_thread = threading.get_ident()
    gate = threading.Event()
    results: list[object] = []
    progress_threads: list[int] = []
    runner.progress.connect(lambda report: progress_threads.append(threading.get_ident()))

    def work(progress) -> int:  # type: ignore[no-untyped-def]
        progress(GitProgress("Receiving objects", 40, "Receiving objects:  40%"))
        assert gate.wait(10), "the UI thread was blocked"  # only the UI thread's event loop opens the gate
        return threading.get_ident()

    runner.run("Fetching", work, results.append, results.append)
    assert runner.busy and runner.label == "Fetching"
    QTimer.singleShot(30, gate.set)
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert results and results[0] != ui_thread
    assert progress_threads == [ui_thread]


def test_a_failure_reaches_the_ui_as_an_error_and_frees_the_runner(qtbot) -> None:
    runner = TaskRunner()
    errors: list[Exception] = []

    def work(_progress) -> None:  # type: ignore[no-untyped-def]
        raise MergeStateError("this branch has no upstream to pull from")

    runner.run("Pulling", work, lambda _r: None, errors.append)
    qtbot.waitUntil(lambda: not runner.busy)
    assert isinstance(errors[0], MergeStateError)


def test_the_panel_shows_progress_and_refuses_a_second_job(qtbot, tmp_path: Path) -> None:
    panel = open_panel(qtbot, org_repo(tmp_path / "org"), editor=False)
    gate = threading.Event()
    panel.runner.run("Pushing", lambda progress: (progress(GitProgress("Writing objects", 75, "")), gate.wait(10)),
                     lambda _r: None, lambda _e: None)
    qtbot.waitUntil(lambda: panel.progress.value() == 75)
    assert panel.progress.isVisible() and not panel.fork_button.isEnabled() and not panel.tabs.isEnabled()
    with pytest.raises(RuntimeError, match="still running"):
        panel.runner.run("again", lambda _p: None, lambda _r: None, lambda _e: None)
    gate.set()
    qtbot.waitUntil(lambda: not panel.busy)
    assert not panel.progress.isVisible() and panel.fork_button.isEnabled()


def test_forking_a_url_reports_git_progress_and_the_lineage(qtbot, tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    panel = open_panel(qtbot, source, editor=False)
    reports: list[GitProgress] = []
    panel.runner.progress.connect(reports.append)
    forks: list[tuple[Path, bool]] = []
    panel.forked.connect(lambda dest, untrusted: forks.append((dest, untrusted)))
    click(qtbot, panel.fork_button)
    dialog = panel.flows.dialog
    dialog.source_edit.setText(source.as_uri())  # file:// goes through git's transport, which reports progress
    dialog.dest_edit.setText(str(tmp_path / "mine"))
    click(qtbot, dialog.ok_button)
    wait_idle(qtbot, panel)
    mine = (tmp_path / "mine").resolve()
    assert forks == [(mine, True)], panel.last_message
    assert any(r.phase == "Receiving objects" and r.percent == 100 for r in reports), [r.line for r in reports]

    fork_panel = open_panel(qtbot, mine, editor=False)
    announced: list[tuple[str, int, int]] = []
    fork_panel.status_changed.connect(lambda *state: announced.append(state))
    qtbot.waitUntil(lambda: announced == [("main", 0, 0)])  # the first state reaches a late listener
    assert f"forked from {source.as_uri()}" in fork_panel.upstream_label.text()


def test_fetch_shows_how_far_behind_the_fork_is(qtbot, tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    mine = fork(str(source), tmp_path / "mine").path
    change(source, "upstream work", description="Changed upstream.")
    panel = open_panel(qtbot, mine, editor=False)
    assert (panel.status.ahead, panel.status.behind) == (0, 0)
    statuses: list[tuple[str, int, int]] = []
    panel.status_changed.connect(lambda *state: statuses.append(state))
    click(qtbot, panel.fetch_button)
    wait_idle(qtbot, panel)
    assert panel.status.behind == 1 and "↓1 behind" in panel.upstream_label.text() and statuses[-1] == ("main", 0, 1)
    assert panel.last_message == "Fetched upstream."
