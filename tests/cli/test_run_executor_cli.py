"""`orgide run` and `orgide resume` with --ray-address and --model-server, as a user types them: subprocesses on
real org folders, real HTTP model servers on 127.0.0.1 (the run engine tests' fake OpenAI server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.orgruntime.llm.fake_openai import Answer, FakeOpenAI, Status  # noqa: E402

pytestmark = pytest.mark.slow  # each command starts a Python process that imports litellm
BOSS_MODEL, WORKER_MODEL = "openai/gpt-4o", "openai/gpt-4o-mini"


def orgide(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ORGIDE_BLOCK_NETWORK_MODELS": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True", "OPENAI_API_KEY": "sk-fake"}
    return subprocess.run([sys.executable, "-m", "ide", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def remote_org(folder: Path) -> Path:
    (folder / "agents").mkdir(parents=True)
    (folder / "org.yaml").write_text(
        f"name: Remote\nentry: boss\ndefaults:\n  model: {BOSS_MODEL}\nchannels:\n  - {{from: boss, to: worker, kind: delegates}}\n", encoding="utf-8"
    )
    (folder / "agents" / "boss.md").write_text("---\nname: Boss\n---\nYou lead.\n", encoding="utf-8")
    (folder / "agents" / "worker.md").write_text(f"---\nname: Worker\nmodel: {WORKER_MODEL}\n---\nYou work.\n", encoding="utf-8")
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def no_runs(org: Path) -> bool:
    runs = org / ".orgide" / "runs"
    return not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("openai/gpt-4o", "is not MODEL=URL"),
        ("=http://127.0.0.1:8000/v1", "names no model"),
        ("openai/gpt-4o=ftp://127.0.0.1/v1", "is not an http(s) URL"),
        ("openai/gpt-4o=http://127.0.0.1:99999/v1", "bad port"),
    ],
)
def test_a_bad_model_server_is_a_usage_error_before_any_run(tmp_path: Path, value: str, complaint: str) -> None:
    org = remote_org(tmp_path / "org")
    result = orgide("run", str(org), "--task", "t", "--model-server", value)
    assert result.returncode == 2, result.stderr
    assert "--model-server" in result.stderr and complaint in result.stderr
    assert no_runs(org)


def test_model_servers_from_the_command_line_reach_their_models_and_skip_a_dead_server(tmp_path: Path) -> None:
    org = remote_org(tmp_path / "org")
    boss, worker = FakeOpenAI().start(), FakeOpenAI().start()
    try:
        boss.script(Answer(tool_calls=(("send_message", {"to": "worker", "content": "count"}),)), Answer(tool_calls=(("finish", {"result": "1 2 3"}),)))
        worker.script(Answer(text="1 2 3"))
        dead = f"http://127.0.0.1:{free_port()}/v1"
        result = orgide(
            "run", str(org), "--task", "count to three", "--json",
            "--model-server", f"{BOSS_MODEL}={dead}", "--model-server", f"{BOSS_MODEL}={boss.base_url}",
            "--model-server", f"{WORKER_MODEL}={worker.base_url}",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        events = [json.loads(line) for line in result.stdout.splitlines()]
        assert events[-1]["kind"] == "RunFinished" and events[-1]["status"] == "completed" and events[-1]["result"] == "1 2 3"
        assert [request["model"] for request in boss.requests] == ["gpt-4o", "gpt-4o"]  # the dead one was skipped, nothing asked twice
        assert [request["model"] for request in worker.requests] == ["gpt-4o-mini"]
    finally:
        boss.stop()
        worker.stop()


def test_resume_takes_model_servers_too(tmp_path: Path) -> None:
    """A run cut short (here: the worker's server refused its call) goes on with --model-server."""
    org = remote_org(tmp_path / "org")
    server, refusing = FakeOpenAI().start(), FakeOpenAI().start()
    refusing.script(Status(400))
    try:
        server.script(Answer(tool_calls=(("send_message", {"to": "worker", "content": "count"}),)), Answer(text="1 2 3"), Answer(tool_calls=(("finish", {"result": "1 2 3"}),)))
        first = orgide("run", str(org), "--task", "count to three", "--json", "--model-server", f"{BOSS_MODEL}={server.base_url}", "--model-server", f"{WORKER_MODEL}={refusing.base_url}")
        assert first.returncode == 1, first.stderr[-2000:]
        assert len(server.requests) == 1
        [run_dir] = (org / ".orgide" / "runs").iterdir()
        log = run_dir / "events.jsonl"
        lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
        log.write_text("".join(line for line in lines if '"kind":"RunFinished"' not in line and '"kind":"AgentFailed"' not in line), encoding="utf-8")
        resumed = orgide("resume", str(org), run_dir.name, "--json", "--model-server", f"{BOSS_MODEL}={server.base_url}", "--model-server", f"{WORKER_MODEL}={server.base_url}")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert json.loads(resumed.stdout.splitlines()[-1])["result"] == "1 2 3"
        assert len(server.requests) == 3  # the answer given before the cut was not asked for again
        bad = orgide("resume", str(org), run_dir.name, "--model-server", "no-equals-sign")
        assert bad.returncode == 2 and "is not MODEL=URL" in bad.stderr
    finally:
        server.stop()
        refusing.stop()


@pytest.mark.parametrize("address", ["headnode", "http://10.0.0.5:6379"])  # the other malformed ones: test_ray_connect
def test_a_malformed_ray_address_is_a_usage_error_before_any_run(tmp_path: Path, address: str) -> None:
    org = remote_org(tmp_path / "org")
    result = orgide("run", str(org), "--task", "t", "--ray-address", address)
    assert result.returncode == 2, result.stderr
    assert "--ray-address" in result.stderr and "is not a Ray address" in result.stderr
    assert no_runs(org)


def test_a_ray_address_where_nothing_listens_fails_the_run_with_the_address_in_bounded_time(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    org = remote_org(tmp_path / "org")
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = orgide("run", str(org), "--task", "t", "--ray-address", address, "--json", timeout=90)
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr[-2000:]
    finished = json.loads(result.stdout.splitlines()[-1])
    assert finished["kind"] == "RunFinished" and finished["status"] == "failed"
    assert f"no Ray cluster answers at {address}" in finished["error"]
    assert took < 60  # the process starts, imports litellm and ray, probes, fails and exits
