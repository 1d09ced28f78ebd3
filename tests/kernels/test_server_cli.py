"""`orgide serve` run as a user runs it: a child process that prints its address and token, then answers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {
        **os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config"), "ORGIDE_MODEL_DIRS": "",
    }  # fmt: skip
    environment.pop("ORGIDE_API_TOKEN", None)
    return environment


class Served:
    def __init__(self, process: subprocess.Popen[str], lines: list[str]) -> None:
        self.process = process
        self.lines = lines
        self.base_url = next(re.search(r"listening on (\S+)", line).group(1) for line in lines if "listening on" in line)  # type: ignore[union-attr]
        tokens = [line.split("token ", 1)[1].strip() for line in lines if line.startswith("orgide serve: token ")]
        self.token_line = tokens[0] if tokens else ""


@pytest.fixture
def serve(env: dict[str, str]) -> Iterator:  # noqa: ANN201
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, extra_env: dict[str, str] | None = None) -> Served:
        process = subprocess.Popen([sys.executable, "-m", "ide", "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env={**env, **(extra_env or {})}, cwd=ROOT)  # fmt: skip
        started.append(process)
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line:
                raise AssertionError(f"orgide serve ended early: {process.stderr.read()}")  # type: ignore[union-attr]
            lines.append(line)
            if "listening on" in line:
                return Served(process, lines)
        raise AssertionError(f"orgide serve printed no address: {lines}")

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def get(url: str, token: str | None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def test_serve_prints_its_address_and_a_new_token_answers_and_stops_on_sigterm(serve, env: dict[str, str], tiny_gguf: Path) -> None:  # noqa: ANN001
    served = serve("--model", str(tiny_gguf))
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", served.base_url) and not served.base_url.endswith(":0/v1")
    token = served.token_line
    assert len(token) >= 32
    status, models = get(served.base_url + "/models", token)
    assert status == 200 and [m["id"] for m in models["data"]] == ["tiny"]
    assert get(served.base_url + "/models", None)[0] == 401
    status, answer = post(served.base_url + "/chat/completions", token, {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
    assert status == 200 and answer["usage"]["completion_tokens"] <= 3
    port = served.base_url.rsplit(":", 1)[1].split("/")[0]
    taken = subprocess.run([sys.executable, "-m", "ide", "serve", "--port", port, "--model", str(tiny_gguf)],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)  # fmt: skip
    assert taken.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in taken.stderr
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=30) == 0
    assert "stopped" in served.process.stdout.read()


def test_serve_takes_the_token_from_the_environment_or_the_flag(serve, tiny_gguf: Path) -> None:  # noqa: ANN001
    served = serve("--model", str(tiny_gguf), extra_env={"ORGIDE_API_TOKEN": "from-the-environment"})
    assert served.token_line == "from $ORGIDE_API_TOKEN" and "from-the-environment" not in "".join(served.lines)
    assert get(served.base_url + "/models", "from-the-environment")[0] == 200
    served = serve("--model", str(tiny_gguf), "--token", "from-the-flag", extra_env={"ORGIDE_API_TOKEN": "from-the-environment"})
    assert get(served.base_url + "/models", "from-the-flag")[0] == 200
    assert get(served.base_url + "/models", "from-the-environment")[0] == 401


def test_serve_beyond_loopback_needs_allow_remote_and_warns(env: dict[str, str], tiny_gguf: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ide", "serve", "--port", "0", "--model", str(tiny_gguf), *args],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)  # fmt: skip

    refused = run("--host", "0.0.0.0")
    assert refused.returncode == 2 and "--allow-remote" in refused.stderr and "listening" not in refused.stdout
    # 192.0.2.1 (TEST-NET-1) is on no interface here: consent given, the warning shows, and binding fails cleanly
    allowed = run("--host", "192.0.2.1", "--allow-remote")
    assert "WARNING" in allowed.stderr and "beyond this machine" in allowed.stderr
    assert allowed.returncode == 1 and "cannot listen on 192.0.2.1:0" in allowed.stderr and "listening" not in allowed.stdout
