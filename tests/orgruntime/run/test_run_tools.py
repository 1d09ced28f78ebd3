"""The built-in tools: workspace confinement against hostile paths, and run_python's limits."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from orgruntime.run import PythonLimits, ToolError, confined_path
from orgruntime.run._tools import ToolContext, call_tool

HOSTILE_PATHS = [
    "../secret.txt",
    "../../etc/passwd",
    "..",
    "a/../../b",
    "a/../..",
    "./../x",
    "sub/../../../x",
    "/etc/passwd",
    "/tmp/x",
    "//server/share",
    "~/.ssh/id_rsa",
    "~root/.bashrc",
    "C:\\Windows\\system.ini",
    "C:/Windows/system.ini",
    "..\\secret.txt",
    "a\\..\\..\\b",
    ".git/config",
    ".git",
    ".GIT/HEAD",
    "sub/.git/hooks/pre-commit",
    "x/.Git/config",
    "name\x00.txt",
    "\x00",
    "a/\x00/b",
    "",
    "   ",
    "link-out/secret.txt",
    "link-out",
    "link-up/x",
    "link-git/config",
    "deep/link-root/etc",
    "file:///etc/passwd",
    "a" * 2000,
    "sub/../.git/config",
]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "sub").mkdir(parents=True)
    (root / "deep").mkdir()
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(outside, root / "link-out")
    os.symlink("..", root / "link-up")
    os.symlink(root / ".git", root / "link-git")
    os.symlink("/", root / "deep" / "link-root")
    return root


def test_there_are_at_least_thirty_hostile_paths() -> None:
    assert len(set(HOSTILE_PATHS)) >= 30


@pytest.mark.parametrize("path", HOSTILE_PATHS, ids=lambda p: repr(p)[:40])
def test_hostile_paths_are_refused_by_every_file_tool(workspace: Path, path: str) -> None:
    with pytest.raises(ToolError):
        confined_path(workspace, path)
    context = ToolContext(workspace=workspace)
    for name, arguments in (("read_file", {"path": path}), ("write_file", {"path": path, "content": "pwned"}), ("list_files", {"path": path})):
        if name == "list_files" and path.strip() in ("",):
            continue  # an empty folder path lists the workspace itself
        with pytest.raises(ToolError):
            asyncio.run(call_tool(context, name, arguments))
    assert (workspace.parent / "outside" / "secret.txt").read_text() == "secret"
    assert (workspace / ".git" / "config").read_text() == "[core]\n"
    assert not list(workspace.parent.rglob("*pwned*"))


def test_non_string_paths_are_refused(workspace: Path) -> None:
    for value in (None, 3, ["a"], {"p": 1}):
        with pytest.raises(ToolError):
            confined_path(workspace, value)


def test_files_inside_the_workspace_work(workspace: Path) -> None:
    context = ToolContext(workspace=workspace)
    assert asyncio.run(call_tool(context, "write_file", {"path": "sub/new/a.txt", "content": "héllo"})) == "wrote 6 bytes to sub/new/a.txt"
    assert asyncio.run(call_tool(context, "read_file", {"path": "sub/new/a.txt"})) == "héllo"
    assert asyncio.run(call_tool(context, "read_file", {"path": "./sub//new/a.txt"})) == "héllo"
    listing = asyncio.run(call_tool(context, "list_files", {})).splitlines()
    assert "sub/new/a.txt" in listing and not any(".git" in line or "secret" in line for line in listing)
    with pytest.raises(ToolError, match="not a file"):
        asyncio.run(call_tool(context, "read_file", {"path": "missing.txt"}))
    with pytest.raises(ToolError, match="is a folder"):
        asyncio.run(call_tool(context, "write_file", {"path": "sub", "content": "x"}))


def test_a_symlink_swapped_in_as_the_last_part_is_not_followed(workspace: Path) -> None:
    os.symlink(workspace.parent / "outside" / "secret.txt", workspace / "innocent.txt")
    with pytest.raises(ToolError):
        asyncio.run(call_tool(ToolContext(workspace=workspace), "write_file", {"path": "innocent.txt", "content": "pwned"}))
    assert (workspace.parent / "outside" / "secret.txt").read_text() == "secret"


def python(workspace: Path, code: str, limits: PythonLimits = PythonLimits(seconds=5)) -> str:
    return asyncio.run(call_tool(ToolContext(workspace=workspace, python=limits), "run_python", {"code": code}))


def test_run_python_runs_in_the_workspace_with_a_bare_environment(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    output = python(workspace, "import os; print(os.getcwd()); print(sorted(k for k in os.environ if 'KEY' in k)); open('made.txt','w').write('x')")
    cwd, keys = output.splitlines()
    assert Path(cwd).resolve() == workspace.resolve() and keys == "[]"
    assert (workspace / "made.txt").exists()
    assert python(workspace, "import sys; sys.exit(3)").startswith("exit status 3")


def test_run_python_limits_time_memory_and_output(workspace: Path) -> None:
    with pytest.raises(ToolError, match="longer than"):
        python(workspace, "while True: pass", PythonLimits(seconds=1))
    with pytest.raises(ToolError, match="longer than"):
        python(workspace, "import time; time.sleep(30)", PythonLimits(seconds=0.5))
    assert "MemoryError" in python(workspace, "x = bytearray(2 * 1024**3)", PythonLimits(seconds=5, memory_bytes=256 * 1024**2))
    output = python(workspace, "print('y' * 10**6)", PythonLimits(seconds=5, output_bytes=1000))
    assert output.endswith("[... output truncated]") and len(output) < 1100
