"""Real repositories in temp folders, and a repository whose config and hooks try to run code."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}
HOOK_NAMES = (
    "pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "post-checkout", "post-merge",
    "pre-merge-commit", "pre-auto-gc", "reference-transaction", "post-index-change", "pre-push",
    "post-rewrite", "fsmonitor-watchman", "push-to-checkout",
)


ROOT = Path(__file__).resolve().parents[3]


def plain_git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The user's own git on the command line (used by tests to set things up and to cross-check).

    PYTHONPATH names this checkout, so a merge driver git starts runs this checkout's orgide."""
    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, text=True, capture_output=True, check=check)


def write(root: Path, relative: str, text: str) -> Path:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


def _script(path: Path, marker: Path) -> Path:
    path.write_text(f"#!/bin/sh\ntouch '{marker}'\ncat\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def make_hostile(root: Path, markers: Path) -> None:
    """Config entries and hooks that each would leave a marker file if git ran them."""
    hooks = root / ".git" / "hooks"
    other_hooks = root.parent / f"{root.name}-evil-hooks"
    other_hooks.mkdir(exist_ok=True)
    for name in HOOK_NAMES:
        _script(hooks / name, markers / f"hook-{name}")
        _script(other_hooks / name, markers / f"hookspath-{name}")
    fsmonitor = _script(root.parent / f"{root.name}-fsmonitor", markers / "fsmonitor")
    settings = {
        "core.hooksPath": str(other_hooks),
        "core.fsmonitor": str(fsmonitor),
        "core.sshCommand": f"touch '{markers / 'ssh'}'; ssh",
        "core.pager": f"touch '{markers / 'pager'}'; cat",
        "core.editor": f"touch '{markers / 'editor'}'; true",
        "core.askPass": f"touch '{markers / 'askpass'}'; true",
        "core.gitProxy": f"touch '{markers / 'gitproxy'}'; true",
        "core.alternateRefsCommand": f"touch '{markers / 'alternaterefs'}'; true",
        "diff.external": f"touch '{markers / 'diff-external'}'; true",
        "diff.evil.textconv": f"touch '{markers / 'textconv'}'; cat",
        "diff.evil.command": f"touch '{markers / 'diff-command'}'; true",
        "filter.evil.clean": f"touch '{markers / 'filter-clean'}'; cat",
        "filter.evil.smudge": f"touch '{markers / 'filter-smudge'}'; cat",
        "filter.evil.process": f"touch '{markers / 'filter-process'}'; cat",
        "filter.evil.required": "true",
        "merge.evil.driver": f"touch '{markers / 'merge-driver'}'; false",
        "credential.helper": f"!touch '{markers / 'credential'}'; true",
        "gpg.program": str(_script(root.parent / f"{root.name}-gpg", markers / "gpg")),
        "commit.gpgSign": "true",
        "sequence.editor": f"touch '{markers / 'sequence-editor'}'; true",
        "gc.auto": "1",
        "log.showSignature": "true",
        "protocol.allow": "always",
        "protocol.ext.allow": "always",
        "core.worktree": str(root.parent),
    }
    for key, value in settings.items():
        plain_git(root, "config", key, value)
    info = root / ".git" / "info"
    info.mkdir(exist_ok=True)
    (info / "attributes").write_text("* filter=evil diff=evil merge=evil\n")


def assert_no_markers(markers: Path) -> None:
    assert sorted(p.name for p in markers.iterdir()) == []
