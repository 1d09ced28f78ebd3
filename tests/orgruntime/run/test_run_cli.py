"""`orgide run`, `runs`, `replay` and `resume` as a user runs them: subprocesses on real org folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orgruntime import create_org

pytestmark = pytest.mark.slow  # each run starts a Python process that imports litellm

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden" / "runs"


def orgide(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORGIDE_BLOCK_NETWORK_MODELS": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run([sys.executable, "-m", "ide", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def startup(tmp_path_factory) -> Path:
    return create_org(tmp_path_factory.mktemp("orgs") / "startup", "startup", git=True)


def test_run_json_then_runs_and_replay(startup: Path) -> None:
    model = f"scripted/{GOLDEN / 'startup' / 'script.yaml'}"
    task = (GOLDEN / "startup" / "task.txt").read_text().strip()
    done = orgide("run", str(startup), "--task", task, "--model", model, "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["kind"] == "RunStarted" and events[-1]["kind"] == "RunFinished" and events[-1]["status"] == "completed"
    assert sum(event["kind"] == "LLMCallFinished" for event in events) == 7
    run_id = events[0]["run_id"]

    listed = orgide("runs", str(startup), "--json")
    assert listed.returncode == 0
    (info,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert info["run_id"] == run_id and info["status"] == "completed" and len(info["commit"]) == 40 and info["dirty"] is False

    replay = orgide("replay", str(startup), run_id)
    assert replay.returncode == 0 and replay.stdout == (GOLDEN / "startup" / "expected.txt").read_text()
    table = orgide("runs", str(startup))
    assert table.returncode == 0 and "completed" in table.stdout

    assert orgide("replay", str(startup), "no-such-run").returncode == 1
    assert orgide("replay", str(startup), "../../etc").returncode == 2
    again = orgide("resume", str(startup), run_id, "--json")
    assert again.returncode == 1 and "already finished" in again.stderr


def test_failed_run_exits_1_and_bad_usage_exits_2(startup: Path, tmp_path: Path) -> None:
    script = tmp_path / "empty.yaml"
    script.write_text("ceo: []\n")
    failed = orgide("run", str(startup), "--task", "x", "--model", f"scripted/{script}")
    assert failed.returncode == 1 and "exhausted" in failed.stdout
    assert orgide("run", str(tmp_path / "missing"), "--task", "x").returncode == 2
    assert orgide("run", str(startup), "--task", "x", "--max-steps", "0").returncode == 2
    assert orgide("run", str(startup)).returncode == 2


def test_a_run_killed_while_a_person_thinks_resumes_and_reads_the_answer_from_stdin(tmp_path: Path) -> None:
    desk = create_org(tmp_path / "desk", "support-desk", git=False)
    model = f"scripted/{GOLDEN / 'support-desk' / 'script.yaml'}"
    env = {**os.environ, "ORGIDE_BLOCK_NETWORK_MODELS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ide", "run", str(desk), "--task", "refund", "--model", model, "--json"],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    run_id = None
    for line in process.stdout:
        event = json.loads(line)
        run_id = event["run_id"]
        if event["kind"] == "HumanInputRequested":
            process.kill()  # SIGKILL while the person is thinking
            break
    process.wait(timeout=30)
    assert run_id is not None
    resumed = orgide("resume", str(desk), run_id, "--json", stdin="Approved by a real person\n")
    assert resumed.returncode == 0, resumed.stderr
    assert "supervisor" in resumed.stderr  # the question was shown to the person
    tail = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert tail[0]["kind"] == "RunStarted" and tail[0]["resumed"] is True
    assert any(e["kind"] == "MessageSent" and e["sender"] == "supervisor" and e["content"] == "Approved by a real person" for e in tail)
    assert tail[-1]["status"] == "completed"
    replay = orgide("replay", str(desk), run_id)
    assert replay.stdout.count("user -> triage") == 1 and "finished: completed" in replay.stdout


def test_the_live_view_folds_every_event_kind(tmp_path: Path) -> None:
    import asyncio

    from rich.console import Console

    from ide.cli._run_view import RunView
    from orgruntime.run import FixedAnswers, RunConfig, Runner

    desk = create_org(tmp_path / "desk", "support-desk", git=False)
    from orgruntime import load_org

    config = RunConfig(model=f"scripted/{GOLDEN / 'support-desk' / 'script.yaml'}", human=FixedAnswers(["yes"]))

    async def main():
        return [event async for event in Runner(config).stream(load_org(desk), "refund")]

    events = asyncio.run(main())
    view = RunView(budget={"max_steps": 30, "max_cost_usd": None})
    lines = [line for event in events for line in view.update(event)]
    assert lines[0] == "task: refund" and lines[-1].startswith("finished: completed")
    assert "supervisor → specialist: yes" in lines
    assert view.steps == sum(1 for e in events if e.kind == "LLMCallFinished")
    assert view.agents["supervisor"].state == "done"
    console = Console(record=True, width=120)
    console.print(view.render())
    screen = console.export_text()
    assert "triage" in screen and "steps" in screen and f"{view.steps} / 30" in screen


def test_the_orgs_own_tool_runs_only_with_trust(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    org = tmp_path / "solo"
    (org / "agents").mkdir(parents=True)
    (org / "tools").mkdir()
    (org / "org.yaml").write_text("name: Solo\nentry: ceo\n", encoding="utf-8")
    (org / "agents" / "ceo.md").write_text("---\nname: CEO\ntools: [stamp]\n---\nWork.\n", encoding="utf-8")
    (org / "tools" / "stamp.py").write_text(
        '"""Write a marker file."""\nfrom pathlib import Path\nPARAMETERS = {"type": "object", "properties": {}}\n'
        'def run():\n    Path("marker.txt").write_text("ran")\n    return "stamped"\n',
        encoding="utf-8",
    )
    script = tmp_path / "script.yaml"
    script.write_text("ceo:\n  - stamp: {}\n  - finish: {result: done}\n", encoding="utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # an empty trust store: the folder is not trusted
    results = {}
    for trusted in (False, True):
        done = orgide("run", str(org), "--task", "stamp", "--model", f"scripted/{script}", "--json", *(["--trusted"] if trusted else []))
        assert done.returncode == 0, done.stderr
        events = [json.loads(line) for line in done.stdout.splitlines()]
        (returned,) = [event for event in events if event["kind"] == "ToolReturned"]
        workspace = org / ".orgide" / "runs" / events[0]["run_id"] / "workspace"
        results[trusted] = (returned["ok"], returned["result"], (workspace / "marker.txt").exists())
    assert results[False][0] is False and "only runs in a trusted org" in results[False][1] and results[False][2] is False
    assert results[True] == (True, "stamped", True)
