"""`orgide models` and `orgide generate`, run as a user runs them (offline, on a tiny model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config"), "ORGIDE_MODEL_DIRS": "",
    }  # fmt: skip


def orgide(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ide", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_generate_json_reports_text_tokens_and_timings(env: dict[str, str], tiny_gguf: Path) -> None:
    done = orgide(env, "generate", "--model", str(tiny_gguf), "--prompt", "hello", "--max-tokens", "5", "--seed", "1", "--temperature", "0.9", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["completion_tokens"] <= 5 and report["prompt_tokens"] > 5  # the chat template wraps the prompt
    assert {"text", "prefill_seconds", "decode_seconds"} <= report.keys()
    raw = json.loads(orgide(env, "generate", "--model", str(tiny_gguf), "--prompt", "hello", "--raw", "--max-tokens", "2", "--json").stdout)
    assert raw["prompt_tokens"] == 1  # "hello" is one token of the tiny vocabulary
    again = json.loads(orgide(env, "generate", "--model", str(tiny_gguf), "--prompt", "hello", "--max-tokens", "5", "--seed", "1", "--temperature", "0.9", "--json").stdout)
    assert again["text"] == report["text"]


def test_models_list_shows_user_folders(env: dict[str, str], tiny_gguf: Path, tmp_path: Path) -> None:
    assert "no models yet" in orgide(env, "models", "list").stdout
    assert orgide(env, "models", "add-folder", str(tiny_gguf.parent)).returncode == 0
    listed = json.loads(orgide(env, "models", "list", "--json").stdout)
    assert [m["name"] for m in listed["models"]] == ["tiny"]
    assert listed["cache"] == str(tmp_path / "cache" / "orgide" / "models")
    assert orgide(env, "generate", "--model", "tiny", "--prompt", "hi", "--max-tokens", "1").returncode == 0


def test_errors_have_exit_codes(env: dict[str, str]) -> None:
    missing = orgide(env, "generate", "--model", "no-such-model", "--prompt", "hi")
    assert missing.returncode == 2 and "no-such-model" in missing.stderr
    unknown = orgide(env, "models", "pull", "no-such-model")
    assert unknown.returncode == 1 and "unknown model" in unknown.stderr
    assert orgide(env, "generate", "--prompt", "hi", "--max-tokens", "0").returncode == 2
