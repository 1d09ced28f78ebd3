"""`orgide run --executor ray` with no address, as a user types it: the command starts its own local Ray instance,
runs the template's scripted org on it and gives the golden transcript (the instance must outlive the thread
that started it: Ray's processes die with their parent thread)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orgruntime import create_org
from tests.orgruntime.run.test_run_cli import GOLDEN, orgide

pytestmark = pytest.mark.slow


def test_a_run_on_a_local_ray_instance_started_by_the_command_gives_the_golden_transcript(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    org = create_org(tmp_path / "startup", "startup", git=True)
    model = f"scripted/{GOLDEN / 'startup' / 'script.yaml'}"
    task = (GOLDEN / "startup" / "task.txt").read_text().strip()
    done = orgide("run", str(org), "--task", task, "--model", model, "--executor", "ray", "--json", timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["kind"] == "RunFinished" and events[-1]["status"] == "completed"
    placed = {event["agent_id"]: event["where"] for event in events if event["kind"] == "AgentPlaced"}
    assert placed and all(where for where in placed.values())
    run_id = events[0]["run_id"]
    info = json.loads((org / ".orgide" / "runs" / run_id / "run.json").read_text())
    assert info["executor"] == "ray" and info["placement"] == {agent: placed[agent] for agent in info["placement"]}
    replay = orgide("replay", str(org), run_id)
    assert replay.returncode == 0 and replay.stdout == (GOLDEN / "startup" / "expected.txt").read_text()
