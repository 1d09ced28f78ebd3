"""Restricted mode: a fork from elsewhere shows the banner and none of its code runs until the user trusts it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from orgruntime import TrustStore, create_org, load_org, save_org
from orgruntime.run import ToolReturned
from orgruntime.vcs import commit_all, fork
from tests.ide.helpers import button

MARKER_CODE = "open('ran.txt', 'w').write('the org ran code')\nprint('wrote ran.txt')"
STAMP_TOOL = '''"""Stamp a file in the workspace."""

PARAMETERS = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def run(text: str) -> str:
    from pathlib import Path

    Path("stamped.txt").write_text(text)
    return "stamped"
'''


def org_with_python(tmp_path: Path) -> Path:
    source = create_org(tmp_path / "source", "startup")
    org = load_org(source)
    ceo = org.agent("ceo")
    org = dataclasses.replace(org, agents=tuple(dataclasses.replace(a, tools=(*a.tools, "run_python", "stamp"))
                                               if a.id == "ceo" else a for a in org.agents))
    assert ceo is not None
    save_org(org, source)
    (source / "tools").mkdir()
    (source / "tools" / "stamp.py").write_text(STAMP_TOOL)
    commit_all(source, "The CEO may run Python and stamp files")
    return source


def script(tmp_path: Path) -> str:
    path = tmp_path / "script.yaml"
    path.write_text(yaml.safe_dump({"ceo": [{"run_python": {"code": MARKER_CODE}}, {"stamp": {"text": "org tool ran"}},
                                            {"finish": {"result": "done"}}]}))
    return f"scripted/{path}"


def run_and_wait(window, qtbot, model: str) -> list:
    events: list = []
    window.runs.event.connect(events.append)
    with qtbot.waitSignal(window.runs.finished, timeout=30000):
        window.commands.start_run("Run the numbers", model=model)
    window.runs.event.disconnect(events.append)
    return events


def test_a_fork_from_elsewhere_is_restricted_and_its_code_does_not_run(make_window, tmp_path: Path, qtbot) -> None:
    source = org_with_python(tmp_path)
    TrustStore().trust(source)
    forked = fork(source, tmp_path / "fork")
    window = make_window(forked.path)
    assert window.trust_banner.isVisible()
    text = window.trust_banner.label.text()
    assert "Restricted mode" in text and str(source) in text
    assert not window.trust.trusted and window.commands.registry["trust"].isEnabled()

    events = run_and_wait(window, qtbot, script(tmp_path))
    returned = [e for e in events if isinstance(e, ToolReturned) and e.name == "run_python"]
    assert returned and not returned[0].ok, "run_python was refused"
    stamped = [e for e in events if isinstance(e, ToolReturned) and e.name == "stamp"]
    assert stamped and not stamped[0].ok, "the org's own tool was refused"
    assert not list(forked.path.glob(".orgide/runs/*/workspace/ran.txt")), "the fork's code did not run"
    assert not list(forked.path.glob(".orgide/runs/*/workspace/stamped.txt")), "the fork's tool did not run"
    assert "$" in window.status.cost.text()

    QTest.mouseClick(button(window.trust_banner, "trustButton"), Qt.MouseButton.LeftButton)
    assert window.trust.trusted and not window.trust_banner.isVisible()
    assert TrustStore().is_trusted(forked.path)
    events = run_and_wait(window, qtbot, script(tmp_path))
    assert list(forked.path.glob(".orgide/runs/*/workspace/ran.txt")), "trusted: the code ran"
    stamped = list(forked.path.glob(".orgide/runs/*/workspace/stamped.txt"))
    assert len(stamped) == 1 and stamped[0].read_text() == "org tool ran", [e for e in events if isinstance(e, ToolReturned)]


def test_an_org_of_ones_own_opens_without_a_banner_once_trusted(make_window, tmp_path: Path) -> None:
    source = create_org(tmp_path / "mine", "startup")
    TrustStore().trust(source)
    window = make_window(source)
    assert window.trust.trusted and not window.trust_banner.isVisible()
    window.commands.registry["distrust"].trigger()
    assert not TrustStore().is_trusted(source) and window.trust_banner.isVisible()
