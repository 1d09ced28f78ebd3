"""A two-node Ray cluster on this machine for the fault tests (a head and a worker node, each started with
`ray start --block` in a process group of its own, in a temp folder of their own), and a slow OpenAI-compatible
model server that answers each agent from a script and keeps a ledger of every request.

Every wait here has a deadline. A node is killed as a crash is: SIGKILL to `ray start` and every process under
it (not a `ray stop`); at the end, whatever is left of either node is found (under the nodes, or by the temp
folder in its command line) and killed by pid. `ray stop` is never used: it would stop every Ray on the
machine, other people's too."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

from tests.orgruntime.llm.fake_openai import Answer, sse_body

ROOT = Path(__file__).resolve().parents[3]
RAY = Path(sys.executable).with_name("ray")
# node deaths are noticed in seconds, not the default half minute; tokens are off on this loopback-only cluster
NODE_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "3000",
    "RAY_health_check_failure_threshold": "4",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "PYTHONPATH": str(ROOT),
}
MARKER = "ORGIDE_TEST_RAY_CLUSTER"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float, what: str, every: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:g} s")
        time.sleep(every)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _adopt_orphans() -> None:
    """Processes orphaned by a node's crash become children of this process (not of init, which in a container may
    never reap them), so that stop() leaves no zombies either. Linux only; elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_CHILD_SUBREAPER = 36
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@dataclass
class TwoNodeCluster:
    """`start()` returns once both nodes have started; `kill_worker()` is the crash; `stop()` always cleans up."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="orgray")))  # short: Ray's socket paths
    port: int = field(default_factory=free_port)
    head: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    _seen: list[psutil.Process] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start_node(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        command = [str(RAY), "start", *args, "--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats",
                   "--include-log-monitor", "false", "--temp-dir", str(self.folder), "--block"]  # fmt: skip
        with open(self.folder / f"{name}.out", "wb") as out:
            env = {**os.environ, **NODE_ENV, MARKER: str(self.folder)}  # inherited by every process of the node
            return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def _started(self, name: str) -> bool:
        process = self.head if name == "head" else self.worker
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the {name} node exited: {(self.folder / f'{name}.out').read_text(errors='replace')[-2000:]}")
        return b"Ray runtime started" in (self.folder / f"{name}.out").read_bytes()

    def start(self, timeout: float = 60) -> TwoNodeCluster:
        _adopt_orphans()
        deadline = time.monotonic() + timeout
        self.head = self._start_node("head", "--head", "--port", str(self.port), "--include-dashboard", "false")
        wait_until(lambda: self._started("head"), deadline - time.monotonic(), "the head node did not start")
        self.worker = self._start_node("worker", "--address", self.address)
        wait_until(lambda: self._started("worker"), deadline - time.monotonic(), "the worker node did not start")
        return self

    def _tree(self, process: subprocess.Popen[bytes] | None) -> list[psutil.Process]:
        """`ray start` and every process under it. Ray's workers run in process groups of their own, so a group
        kill misses them; they are found here, and remembered, while their parents live."""
        if process is None:
            return []
        try:
            root = psutil.Process(process.pid)
            found = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        self._seen.extend(found)
        return found

    def kill_worker(self) -> None:
        """The worker node crashes: `ray start`, its raylet, agents and workers are SIGKILLed at once."""
        for process in self._tree(self.worker):
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass

    def leftovers(self) -> list[psutil.Process]:
        """Processes of this cluster still running: ones seen under a node, and any that carry its marker in their
        environment (Ray renames its processes, so command lines do not tell)."""
        alive = {process.pid: process for process in self._seen if _running(process)}
        for process in psutil.process_iter(["pid"]):
            try:
                if process.pid != os.getpid() and process.environ().get(MARKER) == str(self.folder) and _running(process):
                    alive[process.pid] = process
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return list(alive.values())

    def stop(self) -> None:
        trees = self._tree(self.worker) + self._tree(self.head) + self.leftovers()
        for process in trees:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        for node in (self.worker, self.head):
            if node is not None:
                try:
                    node.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        psutil.wait_procs(self._seen, timeout=3)  # reaps those that are now this process's children
        deadline = time.monotonic() + 10
        while (left := self.leftovers()) and time.monotonic() < deadline:
            for process in left:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(left, timeout=1)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class Request:
    agent: str
    index: int  # answers the agent had given in this conversation: which answer it asks for
    started: float
    finished: float | None  # when the last byte went out; None: the connection broke first


class SlowModelServer:
    """OpenAI-compatible chat completions, streamed slowly (`piece_s` between pieces of text) so that a crash lands
    mid-answer. The agent is read from its system prompt ("AGENT=<id>"); its answer is `script[agent][index]`,
    the last one repeating."""

    def __init__(self, script: dict[str, list[Answer]], piece_s: float) -> None:
        self.script, self.piece_s = script, piece_s
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                messages = body.get("messages") or []
                found = re.search(r"AGENT=(\w+)", json.dumps(messages[:1]))
                agent = found.group(1) if found else "?"
                index = sum(1 for message in messages if message.get("role") == "assistant")
                answers = server.script.get(agent) or [Answer(text="nobody scripted this")]
                started, finished = time.time(), None
                try:
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    for piece in sse_body(answers[min(index, len(answers) - 1)]).split(b"\n\n"):
                        if piece:
                            self.wfile.write(piece + b"\n\n")
                            self.wfile.flush()
                            time.sleep(server.piece_s)
                    finished = time.time()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server._lock:
                        server.requests.append(Request(agent, index, started, finished))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
