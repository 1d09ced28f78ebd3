#!/usr/bin/env python3
"""Set up orgide and run its main job or its tests, on a machine with only Python 3.11+ and git.

    python3 dev.py run     set everything up, then run the main job
    python3 dev.py test    set everything up, then run every test (headless job, then desktop job)
    python3 dev.py setup   set everything up and stop
    python3 dev.py lock    recompile requirements/all.lock from requirements/all.in (needs pip-tools)

Setup is idempotent: the virtual environments are rebuilt only when the lock file changes.
Two environments are made: `.venv` with everything, and `.venv-headless` without Qt. The core's
tests run in the headless one (proving the core never needs PySide6), the Qt tests in `.venv`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements" / "all.lock"
TORCH_PIN = "torch==2.13.0"  # a CPU or GPU build per machine, so it carries no hash
DESKTOP_ONLY = {"pyside6-essentials", "shiboken6", "qasync", "pytest-qt"}
INSTALLED_SEPARATELY = {"torch"}  # locked for its requirements; the build itself comes from TORCH_PIN
VENV = ROOT / ".venv"
HEADLESS_VENV = ROOT / ".venv-headless"
HEADLESS_TESTS = ["tests/orgruntime", "tests/kernels", "tests/cli", "tests/test_layers.py"]
DEMO_ORG = ROOT / "build" / "demo-org"
SETUP_VERSION = "2"  # bump when the setup steps change, so existing environments are rebuilt
NO_TESTS_COLLECTED = 5  # pytest's exit code when a selection is empty


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        print(f"orgide needs Python 3.11 or newer; this is {sys.version.split()[0]}", file=sys.stderr)
        return 2
    verb = argv[0] if argv else "run"
    if verb == "setup":
        setup(VENV, desktop=True)
        return 0
    if verb == "run":
        return run_main_job(setup(VENV, desktop=True))
    if verb == "test":
        return run_all_tests(argv[1:])
    if verb == "lock":
        return compile_lock()
    print(__doc__, file=sys.stderr)
    return 2


def setup(venv: Path, *, desktop: bool) -> Path:
    """Make `venv` match the lock file; return its Python."""
    python = venv / "bin" / "python"
    wanted = _fingerprint(desktop)
    stamp = venv / ".orgide-setup"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if Path(sys.prefix).resolve() == venv.resolve():
        sys.exit(f"dev.py runs from {venv.name}, which must be rebuilt: run it with the system Python (python3 dev.py ...)")
    print(f"setting up {venv.name} ...", flush=True)
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-qq"]
    with tempfile.TemporaryDirectory() as tmp:
        lock = Path(tmp) / "lock.txt"
        lock.write_text(_lock_text(desktop))
        subprocess.run([*pip, "install", "--require-hashes", "--no-deps", "-r", str(lock)], check=True)
    subprocess.run([*pip, "install", os.environ.get("ORGIDE_TORCH", TORCH_PIN)], check=True)
    # "compat" puts the checkout itself on sys.path, so packages added later need no reinstall.
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", "--config-settings", "editable_mode=compat", "-e", str(ROOT)], check=True)
    stamp.write_text(wanted)
    return python


def run_main_job(python: Path) -> int:
    """Today's main job: make the demo org from the startup template, check it, pull the default local model,
    then open the IDE on the org where there is a display, or run the org on the local model in the terminal,
    printing the live transcript. Exit 0 when the run reached an outcome (a small model fumbling the task,
    `failed` or `stalled`, is a result); non-zero when something could not be set up or the run never finished."""

    def print_transcript(lines) -> dict | None:
        """Print `orgide run --json` events as a readable live transcript; the RunFinished event, if one came."""
        import json

        finished = None
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                print(line, end="", flush=True)
                continue
            kind = event.get("kind")
            if kind == "AgentActivated":
                print(f"  [{event['agent']} is thinking]", flush=True)
            elif kind == "MessageSent":
                print(f"{event['sender']} -> {event['recipient']}: {event['content']}", flush=True)
            elif kind == "ToolCalled":
                print(f"  {event['agent']} calls {event['name']}({json.dumps(event.get('arguments'))[:200]})", flush=True)
            elif kind == "ToolReturned":
                print(f"  {event['name']} {'returned' if event['ok'] else 'refused/failed'}: {event['result'][:200]}", flush=True)
            elif kind in ("AgentFailed", "BudgetExceeded"):
                print(f"  {kind}: {event.get('error') or event.get('limit')}", flush=True)
            elif kind == "RunFinished":
                finished = event
                if event.get("result"):
                    print(f"result: {event['result']}", flush=True)
        return finished

    env = _env()
    if not (DEMO_ORG / "org.yaml").exists():
        DEMO_ORG.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(python), "-m", "ide", "new", str(DEMO_ORG), "--template", "startup"], check=True, env=env)
    checked = subprocess.run([str(python), "-m", "ide", "validate", str(DEMO_ORG)], env=env)
    if checked.returncode != 0:
        return checked.returncode
    pulled = subprocess.run([str(python), "-m", "ide", "models", "pull", "smollm2-135m-instruct"], env=env).returncode
    if pulled != 0:
        print("the default local model could not be fetched (`orgide models pull smollm2-135m-instruct`)", file=sys.stderr)
        return pulled
    display = (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")) and env.get("QT_QPA_PLATFORM") != "offscreen"
    if display:
        print(f"opening the IDE on {DEMO_ORG}", flush=True)
        return subprocess.run([str(python), "-m", "ide", "open", str(DEMO_ORG), "--trust"], env=env).returncode
    subprocess.run([str(python), "-m", "ide", "show", str(DEMO_ORG)], env=env)
    task = "Write a Python function that checks whether a word is a palindrome, and have it reviewed."
    print(f"no display: running {DEMO_ORG.name} on local/smollm2-135m-instruct in the terminal\ntask: {task}", flush=True)
    command = [str(python), "-m", "ide", "run", str(DEMO_ORG), "--task", task, "--model", "local/smollm2-135m-instruct",
               "--max-steps", "12", "--max-seconds", "600", "--human", "deny", "--json"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as run:
        finished = print_transcript(run.stdout)
    if finished is None:
        print(f"the run did not finish (orgide run exited with {run.returncode})", file=sys.stderr)
        return run.returncode or 1
    print(f"run finished: {finished.get('status')} after {finished.get('steps')} model calls, {finished.get('tokens')} tokens, "
          f"{finished.get('elapsed_s', 0.0):.0f} s" + (f" ({finished['error']})" if finished.get("error") else ""), flush=True)
    return 0


def run_all_tests(pytest_args: list[str]) -> int:
    """Each test runs once: the core's tests in the environment without Qt, the rest with Qt."""
    env = _env()
    env["QT_QPA_PLATFORM"] = "offscreen"
    headless_python = setup(HEADLESS_VENV, desktop=False)
    # The real-model tests run when the default model is cached; fetching it once is best effort.
    subprocess.run([str(headless_python), "-m", "ide", "models", "pull", "smollm2-135m-instruct"], cwd=ROOT, env=env)
    print("== headless job: the core's tests, without PySide6 installed", flush=True)
    present = [t for t in HEADLESS_TESTS if (ROOT / t).exists()]
    headless = subprocess.run([str(headless_python), "-m", "pytest", "--durations=10", *present, *pytest_args], cwd=ROOT, env=env).returncode
    python = setup(VENV, desktop=True)
    print("== desktop job: every other test, with Qt (offscreen)", flush=True)
    ignored = [f"--ignore={t}" for t in present]
    desktop = subprocess.run([str(python), "-m", "pytest", "--durations=10", *ignored, *pytest_args], cwd=ROOT, env=env).returncode
    if desktop == NO_TESTS_COLLECTED:
        desktop = 0
    return headless or desktop


def compile_lock() -> int:
    command = [
        "pip-compile", "--generate-hashes", "--allow-unsafe", "--strip-extras",
        "--no-emit-index-url", "--no-emit-find-links", "-o", str(LOCK), str(LOCK.with_suffix(".in")),
    ]
    return subprocess.run(command).returncode


def _lock_text(desktop: bool) -> str:
    """The lock file, less torch (installed per machine) and the desktop-only packages when `desktop` is false."""
    blocks: list[list[str]] = []
    for line in LOCK.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    left_out = INSTALLED_SEPARATELY | (set() if desktop else DESKTOP_ONLY)
    keep = [b for b in blocks if b[0].split("==")[0].strip().lower() not in left_out]
    return "\n".join(line for block in keep for line in block) + "\n"


def _fingerprint(desktop: bool) -> str:
    digest = hashlib.sha256(SETUP_VERSION.encode())
    digest.update(_lock_text(desktop).encode())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    digest.update(os.environ.get("ORGIDE_TORCH", TORCH_PIN).encode())
    return digest.hexdigest()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env["QT_API"] = "pyside6"
    env.setdefault("PYTHONUTF8", "1")
    return env


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
