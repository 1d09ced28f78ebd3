"""The CLI verbs new, validate and show, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def orgide(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run([sys.executable, "-m", "ide", *args], capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=120)


def test_help_lists_only_working_verbs():
    result = orgide("--help")
    assert result.returncode == 0
    for verb in ("new", "validate", "show", "edit"):
        assert f"    {verb}" in result.stdout


def test_no_verb_is_bad_usage():
    assert orgide().returncode == 2
    assert orgide("frobnicate").returncode == 2


def test_new_validate_show(tmp_path):
    made = orgide("new", str(tmp_path / "lab"), "--template", "research-lab")
    assert made.returncode == 0, made.stderr
    assert "Research Lab, 4 agents, 4 channels" in made.stdout
    assert "/org.yaml merge=orgide" in (tmp_path / "lab" / ".gitattributes").read_text()
    driver = subprocess.run(["git", "-C", str(tmp_path / "lab"), "config", "merge.orgide.driver"], capture_output=True, text=True)
    assert driver.stdout.strip().endswith("-m ide merge-driver %O %A %B %P")
    status = subprocess.run(["git", "-C", str(tmp_path / "lab"), "status", "--porcelain"], capture_output=True, text=True)
    assert status.stdout == ""
    checked = orgide("validate", str(tmp_path / "lab"))
    assert (checked.returncode, checked.stdout) == (0, "")
    assert "0 errors, 0 warnings" in checked.stderr
    shown = orgide("show", str(tmp_path / "lab"), "--json")
    data = json.loads(shown.stdout)
    assert data["entry"] == "lead"
    assert {"from": "proponent", "to": "skeptic", "kind": "peers"} in data["channels"]
    chart = orgide("show", str(tmp_path / "lab"))
    assert chart.returncode == 0 and "proponent <-> skeptic" in chart.stdout


def test_new_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep").write_text("1")
    result = orgide("new", str(tmp_path / "x"))
    assert result.returncode == 2 and "not an empty folder" in result.stderr


def test_validate_exit_codes_and_lines(tmp_path):
    orgide("new", str(tmp_path / "org"), "--no-git")
    org_yaml = tmp_path / "org" / "org.yaml"
    org_yaml.write_text(org_yaml.read_text().replace("entry: ceo", "entry: boss"))
    result = orgide("validate", str(tmp_path / "org"))
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["org.yaml:5:8: error: entry: unknown agent 'boss'"]
    as_json = json.loads(orgide("validate", str(tmp_path / "org"), "--json").stdout)
    assert as_json["errors"] == 1 and as_json["problems"][0]["line"] == 5
    assert orgide("validate", str(tmp_path / "missing")).returncode == 2


def test_warnings_alone_exit_zero(tmp_path):
    orgide("new", str(tmp_path / "org"), "--no-git")
    (tmp_path / "org" / "agents" / "intern.md").write_text("---\nname: Intern\n---\nHelp.\n")
    result = orgide("validate", str(tmp_path / "org"))
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["agents/intern.md:2:1: warning: agent 'intern' cannot be reached from the entry agent 'ceo' along any channel"]


def test_show_of_a_broken_org_says_why(tmp_path):
    orgide("new", str(tmp_path / "org"), "--no-git")
    (tmp_path / "org" / "org.yaml").write_text("name: [\n")
    result = orgide("show", str(tmp_path / "org"))
    assert result.returncode == 1 and "org.yaml:2:1: error: YAML syntax" in result.stderr


def test_edit_refuses_a_folder_that_is_not_an_org(tmp_path):
    result = orgide("edit", str(tmp_path))
    assert result.returncode == 2 and "is not an org folder" in result.stderr


def test_edit_without_a_display_says_so(tmp_path):
    orgide("new", str(tmp_path / "org"), "--no-git")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update({"PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    result = subprocess.run([sys.executable, "-m", "ide", "edit", str(tmp_path / "org")], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and "no display" in result.stderr
