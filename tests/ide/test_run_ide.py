"""The real start-up path: `run_ide` on asyncio.Runner with qasync's loop runs an org and exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_run_ide_runs_an_org_on_the_qt_loop_and_exits_cleanly(org_folder: Path, tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"ceo": [{"finish": {"result": "done on the Qt loop"}}]}))
    done = subprocess.run([sys.executable, "-m", "tests.ide.child_run", str(org_folder), f"scripted/{script}"], cwd=ROOT,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FINISHED completed done on the Qt loop" in done.stdout
    assert "QThread: Destroyed while thread" not in done.stderr
    assert len(list((org_folder / ".orgide" / "runs").iterdir())) == 1
