"""Org-defined tools (tools/<name>.py): read without running, offered and run only in trusted runs,
in a subprocess with limits and no API keys; validation knows them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from orgruntime import check_org
from orgruntime._model import Agent, ModelDefaults, Org
from orgruntime.run import PythonLimits, RunConfig, Runner, ToolError, ToolReturned, discover_org_tools, read_org_tool
from orgruntime.run._brief import offered_tools
from orgruntime.run._org_tools import call_org_tool
from tests.orgruntime.run.orgs import write_script

STAMP = '''"""Stamp a text into stamped.txt in the workspace and say so."""
import os
from pathlib import Path

Path("imported-marker").write_text("the module body ran")

PARAMETERS = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
}


def run(text: str) -> str:
    Path("stamped.txt").write_text(text)
    print("printed, not returned")
    return "stamped " + text + " keys=" + ",".join(sorted(k for k in os.environ if "KEY" in k))
'''


def write_tool(org_dir: Path, name: str, source: str) -> Path:
    folder = org_dir / "tools"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return path


def test_discovery_parses_without_running_anything(tmp_path: Path) -> None:
    write_tool(tmp_path, "stamp", STAMP)
    write_tool(tmp_path, "_helpers", "raise SystemExit('helpers are not tools')")
    tools = discover_org_tools(tmp_path)
    assert list(tools) == ["stamp"]
    spec = tools["stamp"].spec
    assert spec is not None and spec.description == "Stamp a text into stamped.txt in the workspace and say so."
    assert spec.parameters["required"] == ["text"]
    assert not (tmp_path / "imported-marker").exists() and not Path("imported-marker").exists()


@pytest.mark.parametrize(
    ("name", "source", "problem"),
    [
        ("nodoc", "def run():\n    return 'x'\n", "no module docstring"),
        ("norun", '"""Does things."""\nx = 1\n', "no top-level `def run"),
        ("syntax", '"""Broken."""\ndef run(:\n', "not valid Python (line 2)"),
        ("computed", '"""Computed."""\nPARAMETERS = dict(type="object")\ndef run(): pass\n', "plain literal"),
        ("notobject", '"""List."""\nPARAMETERS = {"type": "array"}\ndef run(): pass\n', "schema of an object"),
        ("badschema", '"""Bad."""\nPARAMETERS = {"type": "object", "properties": 5}\ndef run(): pass\n', "not a valid JSON schema"),
        ("read_file", '"""Shadow."""\ndef run(): pass\n', "built-in tool"),
        ("Bad-Name", '"""Bad name."""\ndef run(): pass\n', "not a tool name"),
        ("deep", '"""Deep."""\nx = ' + "(" * 5000 + ")" * 5000 + "\ndef run(): pass\n", "not valid Python"),
    ],
)
def test_unusable_tool_files_report_why(tmp_path: Path, name: str, source: str, problem: str) -> None:
    tool = read_org_tool(write_tool(tmp_path, name, source))
    assert tool.spec is None and tool.problem is not None and problem in tool.problem, tool.problem


def test_non_utf8_and_oversized_tool_files_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "tools"
    folder.mkdir()
    (folder / "latin.py").write_bytes(b'"""Caf\xe9."""\ndef run(): pass\n')
    (folder / "huge.py").write_text('"""Huge."""\n' + "#" * (600 * 1024) + "\ndef run(): pass\n")
    tools = discover_org_tools(tmp_path)
    assert "UTF-8" in (tools["latin"].problem or "") and "larger than" in (tools["huge"].problem or "")


def solo_org(model: str, tools: tuple[str, ...]) -> Org:
    return Org(name="Solo", entry="ceo", defaults=ModelDefaults(model=model), agents=(Agent(id="ceo", prompt="Work.", tools=tools),))


def run_solo(tmp_path: Path, script: dict, *, trusted: bool, tools: tuple[str, ...] = ("stamp",)) -> tuple[list, Path]:
    org_dir = tmp_path / "org"
    write_tool(org_dir, "stamp", STAMP)
    org = solo_org(write_script(tmp_path, script), tools)

    async def main():
        stream = Runner(RunConfig(trusted=trusted)).stream(org, "stamp it", runs_dir=tmp_path / "runs", org_dir=org_dir)
        return stream, [event async for event in stream]

    stream, events = asyncio.run(main())
    return events, tmp_path / "runs" / stream.run_id / "workspace"


STAMP_SCRIPT = {"ceo": [{"stamp": {"text": "hello"}}, {"finish": {"result": "done"}}]}


def test_a_trusted_run_offers_and_runs_the_tool_in_a_bare_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    events, workspace = run_solo(tmp_path, STAMP_SCRIPT, trusted=True)
    returned = next(e for e in events if isinstance(e, ToolReturned) and e.name == "stamp")
    assert returned.ok and returned.result == "stamped hello keys=", returned.result  # no API key reached it
    assert (workspace / "stamped.txt").read_text() == "hello"
    assert (workspace / "imported-marker").exists()  # its module ran, in the workspace, in the subprocess
    assert events[-1].status == "completed"


def test_an_untrusted_run_neither_offers_nor_runs_the_tool(tmp_path: Path) -> None:
    events, workspace = run_solo(tmp_path, STAMP_SCRIPT, trusted=False)
    returned = next(e for e in events if isinstance(e, ToolReturned) and e.name == "stamp")
    assert not returned.ok and "only runs in a trusted org" in returned.result and "nothing was run" in returned.result
    assert not (workspace / "stamped.txt").exists() and not (workspace / "imported-marker").exists()
    assert not (tmp_path / "org" / "imported-marker").exists()
    org = solo_org("scripted/x.yaml", ("stamp", "read_file"))
    tools = discover_org_tools(tmp_path / "org")
    assert [spec.name for spec in offered_tools(org, org.agent("ceo"), trusted=False, org_tools=tools)] == ["send_message", "finish", "read_file"]
    assert [spec.name for spec in offered_tools(org, org.agent("ceo"), trusted=True, org_tools=tools)] == ["send_message", "finish", "stamp", "read_file"]


def test_a_listed_tool_without_a_file_is_refused_in_a_trusted_run(tmp_path: Path) -> None:
    script = {"ceo": [{"ghost": {}}, {"finish": {"result": "done"}}]}
    events, _ = run_solo(tmp_path, script, trusted=True, tools=("ghost",))
    returned = next(e for e in events if isinstance(e, ToolReturned) and e.name == "ghost")
    assert not returned.ok and "no tool file tools/ghost.py" in returned.result


def call(tmp_path: Path, source: str, arguments: dict, limits: PythonLimits = PythonLimits(seconds=5)) -> str:
    tool = read_org_tool(write_tool(tmp_path / "org", "probe", source))
    assert tool.spec is not None, tool.problem
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    return asyncio.run(call_org_tool(tool, arguments, workspace, limits))


def test_tool_failures_come_back_as_tool_errors(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="bad arguments for stamp|'text' is a required property"):
        call(tmp_path, STAMP.replace("stamp", "probe"), {})
    with pytest.raises(ToolError, match="ZeroDivisionError"):
        call(tmp_path, '"""Divide."""\ndef run():\n    print("about to fail")\n    return 1 / 0\n', {})
    with pytest.raises(ToolError, match="longer than 1 s"):
        call(tmp_path, '"""Sleep."""\nimport time\ndef run():\n    time.sleep(30)\n', {}, PythonLimits(seconds=1))
    with pytest.raises(ToolError, match="MemoryError"):
        call(tmp_path, '"""Hog."""\ndef run():\n    return len(bytearray(2 * 1024**3))\n', {}, PythonLimits(seconds=5, memory_bytes=256 * 1024**2))
    with pytest.raises(ToolError, match="without a result"):
        call(tmp_path, '"""Exit."""\nimport os\ndef run():\n    os._exit(3)\n', {})


def test_results_other_than_text_are_sent_as_json(tmp_path: Path) -> None:
    assert json.loads(call(tmp_path, '"""Numbers."""\ndef run(n=2):\n    return {"n": n, "squares": [i * i for i in range(n)]}\n', {"n": 3})) == {"n": 3, "squares": [0, 1, 4]}
    assert call(tmp_path, '"""Nothing."""\ndef run():\n    pass\n', {}) == "(no result)"


def test_validation_knows_the_orgs_tool_files(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "org.yaml").write_text("name: Solo\nentry: ceo\n", encoding="utf-8")
    (tmp_path / "agents" / "ceo.md").write_text("---\nname: CEO\ntools: [stamp, nothere]\n---\nWork.\n", encoding="utf-8")
    write_tool(tmp_path, "stamp", STAMP)
    _, problems = check_org(tmp_path)
    messages = [problem.message for problem in problems]
    assert not any("'stamp'" in message for message in messages), messages
    assert any("unknown tool 'nothere'" in message and "stamp" in message for message in messages), messages
