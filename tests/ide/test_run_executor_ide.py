"""Run options in the IDE: the executor, the Ray address and the model servers are this machine's settings
(checked as typed, refused with the reason shown), they reach the run engine, and a run on a local Ray
instance, started by picking Ray in the run console, gives the asyncio run's transcript and shows where
each agent ran."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit

from ide.app import AppSettings
from ide.app._run_options import RAY_INSTALL_HINT, RunOptions, parse_server_rows, ray_address_problem, server_url_problem
from orgruntime.run import RAY_DRIVER_SETTINGS, RunFinished, load_events, read_info, render_transcript
from tests.orgruntime.llm.fake_openai import Answer, FakeOpenAI

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "runs" / "startup"
RAY_RUN_TIMEOUT_MS = 240_000
CHILD_TIMEOUT_S = 360
CHILD_ENV = "ORGIDE_TEST_RAY_JOURNEY_CHILD"
ROOT = Path(__file__).resolve().parents[2]
OK, APPLY = QDialogButtonBox.StandardButton.Ok, QDialogButtonBox.StandardButton.Apply


# --- the checks ---
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("address", ["", "  ", "10.0.0.5:6379", "head-node:6379", "ray://head.example.org:10001",
                                     "[::1]:6379", "localhost:65535", " head:1 "])
def test_good_ray_addresses_pass(address: str) -> None:
    assert ray_address_problem(address) is None


@pytest.mark.parametrize(("address", "says"), [
    ("10.0.0.5", "needs a host and a port"),
    ("head node:6379", "is not a host name"),
    ("http://head:6379", "only ray://"),
    (":6379", "needs a host and a port"),
    ("::1:6379", "in brackets"),
    ("head:0", "from 1 to 65535"),
    ("head:65536", "from 1 to 65535"),
    ("head:port", "from 1 to 65535"),
    ("head:６３７９", "from 1 to 65535"),
    ("ray://", "needs a host and a port"),
])
def test_bad_ray_addresses_say_what_is_wrong(address: str, says: str) -> None:
    problem = ray_address_problem(address)
    assert problem is not None and says in problem


@given(st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z][a-z0-9]{0,9}){0,3}", fullmatch=True),
       st.integers(1, 65535), st.booleans())
def test_every_host_and_port_passes_and_a_missing_port_never_does(host: str, port: int, scheme: bool) -> None:
    prefix = "ray://" if scheme else ""
    assert ray_address_problem(f"{prefix}{host}:{port}") is None
    assert ray_address_problem(f"{prefix}{host}") is not None


def test_server_rows_keep_good_ones_and_name_every_bad_one() -> None:
    servers, problems = parse_server_rows([
        ("openai/gpt-4o", "http://10.0.0.7:8000/v1, https://b.example/v1 http://10.0.0.7:8000/v1"),
        ("", ""),  # an empty row is no row
        ("hosted_vllm/llama", "ftp://files/v1"),
        ("", "http://x:1/v1"),
        ("openai/gpt-4o", "http://c:1/v1"),
        ("my model", "http://c:1/v1"),
        ("local-model", ""),
        ("m2", "http://host:99999/v1"),
        ("m3", "http:///v1"),
    ])
    assert servers == {"openai/gpt-4o": ("http://10.0.0.7:8000/v1", "https://b.example/v1")}
    assert [number for number, _ in problems] == [3, 4, 5, 6, 7, 8, 9]
    text = dict(problems)
    assert "not an http:// or https:// URL" in text[3] and "name the model" in text[4]
    assert "already listed" in text[5] and "contains spaces" in text[6] and "at least one server URL" in text[7]
    assert "not a valid URL" in text[8] and "has no host" in text[9]
    assert server_url_problem("https://gpu-box:8000/v1") is None


def test_run_options_survive_a_restart_and_a_hand_edited_file_falls_back(tmp_path: Path, qapp) -> None:
    path = str(tmp_path / "settings.ini")
    options = RunOptions(executor="ray", ray_address="ray://head:10001",
                         model_servers={"openai/gpt-4o": ("http://a:8000/v1", "http://b:8000/v1"), "hosted_vllm/x": ("http://c/v1",)})
    first = AppSettings(QSettings(path, QSettings.Format.IniFormat))
    assert first.run_options == RunOptions()
    first.run_options = options
    first.sync()
    assert AppSettings(QSettings(path, QSettings.Format.IniFormat)).run_options == options

    raw = QSettings(path, QSettings.Format.IniFormat)
    raw.setValue("runs/executor", "spark")
    raw.setValue("runs/model_servers", "{not json")
    raw.sync()
    read_back = AppSettings(QSettings(path, QSettings.Format.IniFormat)).run_options
    assert read_back == RunOptions(executor="local", ray_address="ray://head:10001")


# --- the Settings dialog's Runs page and the run console ---
def open_runs_page(window, qtbot):
    window.activateWindow()
    QTest.qWaitForWindowActive(window)
    QTest.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    dialog = window.commands.dialog
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible())
    dialog.tabs.setCurrentWidget(dialog.runs_page)
    return dialog, dialog.runs_page


def editors(table) -> list[QLineEdit]:
    return [widget for widget in table.viewport().findChildren(QLineEdit) if widget.isVisible()]


def type_into_cell(qtbot, table, row: int, column: int, text: str) -> None:
    """Double-click the cell, replace its text, press Return."""
    if editors(table):  # a cell being edited is left first
        qtbot.keyClick(editors(table)[0], Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not editors(table))
    center = table.visualItemRect(table.item(row, column)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    qtbot.waitUntil(lambda: bool(editors(table)))
    editor = editors(table)[0]
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not editors(table))


def test_the_runs_page_refuses_a_bad_address_and_a_bad_url_with_the_reason_shown(make_window, org_folder: Path, qtbot) -> None:
    window = make_window(org_folder)
    dialog, page = open_runs_page(window, qtbot)
    picker = page.picker
    picker.executor_choice.setCurrentIndex(picker.executor_choice.findData("ray"))
    qtbot.keyClicks(picker.address, "head-node")
    assert picker.error.isVisible() and "needs a host and a port" in picker.error.text()
    assert not dialog.buttons.button(OK).isEnabled() and not dialog.buttons.button(APPLY).isEnabled()
    qtbot.keyClicks(picker.address, ":6379")
    assert not picker.error.isVisible() and dialog.buttons.button(OK).isEnabled()

    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    type_into_cell(qtbot, page.servers, 0, 0, "openai/gpt-4o")
    type_into_cell(qtbot, page.servers, 0, 1, "gpu-box:8000/v1")
    assert page.servers_error.isVisible() and "row 1" in page.servers_error.text() and "http://" in page.servers_error.text()
    assert not dialog.buttons.button(OK).isEnabled()
    assert page.servers.item(0, 1).text() == "gpu-box:8000/v1", "what was typed is kept to be fixed"
    dialog.apply()  # even asked directly, nothing is stored while a row is bad
    assert dialog.error.isVisible() and "row 1" in dialog.error.text()
    assert window.settings.run_options == RunOptions()
    type_into_cell(qtbot, page.servers, 0, 1, "http://gpu-box:8000/v1 http://gpu-box-2:8000/v1")
    assert not page.servers_error.isVisible() and dialog.buttons.button(OK).isEnabled()
    qtbot.mouseClick(dialog.buttons.button(OK), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert window.settings.run_options == RunOptions(executor="ray", ray_address="head-node:6379",
                                                     model_servers={"openai/gpt-4o": ("http://gpu-box:8000/v1", "http://gpu-box-2:8000/v1")})
    console_picker = window.run_wiring.console.executor_picker
    assert console_picker.executor == "ray" and console_picker.address.text() == "head-node:6379"

    console_picker.address.clear()  # the run console edits the same settings
    qtbot.keyClicks(console_picker.address, "ray://other:10001")
    assert window.settings.run_options.ray_address == "ray://other:10001"
    dialog, page = open_runs_page(window, qtbot)
    assert page.picker.address.text() == "ray://other:10001" and page.rows() == [("openai/gpt-4o", "http://gpu-box:8000/v1 http://gpu-box-2:8000/v1")]
    page.servers.selectRow(0)
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.buttons.button(OK), Qt.MouseButton.LeftButton)
    assert window.settings.run_options.model_servers == {}


def test_without_ray_the_ray_choice_is_disabled_and_says_how_to_install_it(make_window, org_folder: Path, qtbot,
                                                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as on a machine without the cluster extra
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.run_options = RunOptions(executor="ray")  # chosen on a machine that had it
    settings.sync()
    window = make_window(org_folder)
    for picker in (window.run_wiring.console.executor_picker, open_runs_page(window, qtbot)[1].picker):
        index = picker.executor_choice.findData("ray")
        item = picker.executor_choice.model().item(index)
        assert not item.isEnabled() and item.toolTip() == RAY_INSTALL_HINT and "orgide[cluster]" in RAY_INSTALL_HINT
        assert picker.executor == "local"


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:Items .* on TypedDict class:UserWarning")  # litellm's Router types
def test_model_servers_from_the_settings_serve_the_runs_models(make_window, org_folder: Path, qtbot, memory_keyring) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    server = FakeOpenAI().start()
    try:
        server.script(Answer(tool_calls=(("finish", {"result": "served from the settings' server"}),)))
        memory_keyring.set_password("orgide", "api-key:openai", "sk-fake")
        window = make_window(org_folder)
        window.settings.run_options = RunOptions(model_servers={"openai/gpt-4o-mini": (dead, server.base_url)})
        with qtbot.waitSignal(window.runs.finished, timeout=60_000) as finished:
            window.commands.start_run("answer", model="openai/gpt-4o-mini")
        assert finished.args[0].status == "completed" and finished.args[0].result == "served from the settings' server"
        assert server.requests and server.requests[0]["model"] == "gpt-4o-mini"
    finally:
        server.stop()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_cluster_that_cannot_be_reached_fails_the_run_with_the_reason_and_the_ide_goes_on(make_window, org_folder: Path,
                                                                                          qtbot, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("ray")
    for name in RAY_DRIVER_SETTINGS:  # whatever the run sets is taken back after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"ceo": [{"finish": {"result": "done locally"}}]}))
    window = make_window(org_folder)
    console = window.run_wiring.console
    console.model.setCurrentText(f"scripted/{script}")
    picker = console.executor_picker
    picker.executor_choice.setCurrentIndex(picker.executor_choice.findData("ray"))
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    qtbot.keyClicks(picker.address, address)
    failed = run_from_the_console(window, qtbot, "go", 120_000)
    assert failed.status == "failed" and "ray" in failed.error and address in failed.error
    assert console.status.text().startswith("Finished: failed") and address in console.status.text()
    assert not console.placement_label.isVisible()
    assert window.run_wiring.console.history.tree.topLevelItemCount() == 1
    assert {name: os.environ.get(name) for name in RAY_DRIVER_SETTINGS} == RAY_DRIVER_SETTINGS  # never ended by Ray

    picker.executor_choice.setCurrentIndex(picker.executor_choice.findData("local"))
    done = run_from_the_console(window, qtbot, "go", 60_000)
    assert done.status == "completed" and done.result == "done locally"


# --- one run on a local Ray instance, picked in the UI ---
def my_ray_processes() -> set[int]:
    return ray_processes_of(os.getpid())


def ray_processes_of(pid: int) -> set[int]:
    """Processes of a Ray instance that process `pid` started (its session is named after the starting pid)."""
    pattern = re.compile(rf"session_[0-9_-]+_{pid}\b".encode())
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if pattern.search((entry / "cmdline").read_bytes()):
                    found.add(int(entry.name))
            except OSError:
                pass
    return found


def run_from_the_console(window, qtbot, task: str, timeout_ms: int) -> RunFinished:
    console = window.run_wiring.console
    console.task.clear()
    qtbot.keyClicks(console.task, task)
    with qtbot.waitSignal(window.runs.finished, timeout=timeout_ms) as finished:
        qtbot.mouseClick(console.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not console.running)
    return finished.args[0]


def transcript(folder: Path, run_id: str) -> str:
    return "\n".join(render_transcript(load_events(folder / ".orgide" / "runs" / run_id).events)) + "\n"


@pytest.mark.timeout(CHILD_TIMEOUT_S + 60)
def test_picking_ray_in_the_console_runs_the_org_on_local_ray_with_the_asyncio_transcript() -> None:
    """The journey runs in a child pytest: the IDE's process is the Ray driver, and Ray's core ends a driver
    whose cluster vanished (after 60 s without its GCS); that must fail this test, not end the test session."""
    pytest.importorskip("ray")
    child = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:randomly",
                              f"{__file__}::test_ray_journey_in_a_child_process"], cwd=ROOT, text=True,
                             env={**os.environ, CHILD_ENV: "1", "QT_QPA_PLATFORM": "offscreen"},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = child.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0 and re.search(r"^1 passed", output, re.MULTILINE), output[-6000:]
    assert not ray_processes_of(child.pid), "the child's Ray instance outlived it"
    print(next(line for line in output.splitlines() if line.startswith("Ray run in the IDE")))


@pytest.mark.skipif(os.environ.get(CHILD_ENV) != "1", reason="run by the test above, in a child process")
@pytest.mark.timeout(CHILD_TIMEOUT_S)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_ray_journey_in_a_child_process(make_window, org_folder: Path, qtbot) -> None:
    assert not my_ray_processes()
    window = make_window(org_folder)
    console = window.run_wiring.console
    console.model.setCurrentText(f"scripted/{GOLDEN / 'script.yaml'}")
    task = (GOLDEN / "task.txt").read_text().strip()

    local = run_from_the_console(window, qtbot, task, 60_000)
    assert local.status == "completed" and not console.placement_label.isVisible()

    picker = console.executor_picker
    picker.executor_choice.setCurrentIndex(picker.executor_choice.findData("ray"))
    assert picker.address.isVisible() and picker.address.text() == ""  # empty: a local Ray instance
    assert window.settings.run_options.executor == "ray"
    seen: dict[str, object] = {}

    def watch(event) -> None:
        if type(event).__name__ == "AgentPlaced" and "processes" not in seen:
            seen["processes"] = my_ray_processes()
            seen["label"] = console.placement_label.text()

    window.runs.event.connect(watch)
    window.lag.reset()
    on_ray = run_from_the_console(window, qtbot, task, RAY_RUN_TIMEOUT_MS)
    lag = window.lag.summary()
    window.runs.event.disconnect(watch)
    assert on_ray.status == "completed", on_ray.error
    assert transcript(org_folder, on_ray.run_id) == transcript(org_folder, local.run_id) == (GOLDEN / "expected.txt").read_text()
    info = read_info(org_folder / ".orgide" / "runs" / on_ray.run_id)
    assert info["executor"] == "ray" and set(info["placement"]) == {"ceo", "engineer", "reviewer"}

    assert seen["processes"], "the run started a local Ray instance of this process"
    assert str(seen["label"]).startswith("On Ray: ")
    text = console.placement_label.text()
    assert console.placement_label.isVisible() and text.startswith("On Ray: ")
    for agent, where in info["placement"].items():
        assert where and where in text and f"{agent}: {where}" in console.placement_label.toolTip()
    history = console.history.tree
    column = [history.headerItem().text(i) for i in range(history.columnCount())].index("executor")
    assert [history.topLevelItem(i).text(column) for i in range(2)] == ["ray", ""]  # newest first
    qtbot.waitUntil(lambda: not my_ray_processes(), timeout=30_000)  # the executor's close shut Ray down
    print(f"Ray run in the IDE: {on_ray.elapsed_s:.1f} s; {lag}")
