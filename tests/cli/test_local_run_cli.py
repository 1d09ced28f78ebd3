"""End to end: `orgide run` of the startup template on the real default model (SmolLM2-135M).

The model has no native tool calling, so every answer goes through JSON mode with the actions
schema as `response_format`; the local engine's constrained decoding must make each answer a valid
action. Runs when the model is cached (`orgide models pull smollm2-135m-instruct`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.default_model import MODEL_PATH, needs_default_model  # noqa: E402

pytestmark = [pytest.mark.slow, needs_default_model]


def orgide(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run([sys.executable, "-m", "ide", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)


def test_every_step_of_a_local_run_is_a_valid_action(tmp_path: Path) -> None:
    org = tmp_path / "startup"
    made = orgide("new", str(org), "--template", "startup")
    assert made.returncode == 0, made.stderr
    org_yaml = org / "org.yaml"  # shorter answers keep the test quick on two cores
    org_yaml.write_text(org_yaml.read_text().replace("max_tokens: 512", "max_tokens: 160"))
    run = orgide("run", str(org), "--task", "Plan a one-page website for a bakery and have it reviewed.",
                 "--model", "local/smollm2-135m-instruct", "--max-steps", "3", "--json")  # fmt: skip
    events = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert events and events[-1]["kind"] == "RunFinished", run.stderr[-2000:]
    calls = [e for e in events if e["kind"] == "LLMCallFinished"]
    assert calls, "the run made no model call"
    for call in calls:
        assert call["parse_error"] is None, f"{call['agent']} answered {call['text']!r}: {call['parse_error']}"
        assert call["attempts"] == 1
    assert not [e for e in events if e["kind"] == "AgentFailed"]
    assert events[-1]["status"] in ("completed", "budget_exceeded", "stalled"), events[-1]
