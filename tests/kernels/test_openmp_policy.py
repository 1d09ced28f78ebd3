"""The `orgide` command makes torch's idle OpenMP threads sleep (set before torch loads), unless the user chose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import sys\n"
    "from ide.cli import main\n"
    "assert 'torch' not in sys.modules\n"
    "main(['--help'])\n"
    "import os\n"
    "print('policy', os.environ.get('OMP_WAIT_POLICY'))\n"
)


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_cli_sets_a_passive_openmp_wait_policy_unless_given_one(tmp_path: Path, given: str | None, expected: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    env.update(PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "config"), ORGIDE_MODEL_DIRS="")
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"policy {expected}"
