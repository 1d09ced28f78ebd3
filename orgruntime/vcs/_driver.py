"""The git merge driver: plain `git merge` merges org.yaml and agents/*.md semantically.

Routed here: org.yaml, agents/*.md and .orgide/layout.json (a union, ours winning: never a conflict).
Git runs `DRIVER %O %A %B %P` (base, ours, theirs, path) and expects the result in %A: exit 0 when
clean, non-zero with conflict markers in %A otherwise. A file that is not valid org code, or a merge
with true conflicts, falls back to a line merge with git's usual markers, so nothing is lost.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from orgruntime._errors import OrgLoadError
from orgruntime._load import load_org
from orgruntime._model import Org, is_agent_id
from orgruntime._read import AGENTS_DIR, LAYOUT_FILE, ORG_FILE
from orgruntime._save import save_org
from orgruntime.vcs import _git
from orgruntime.vcs._merge import merge_orgs
from orgruntime.vcs._repo import git_path, repo_root
from orgruntime.vcs._text_merge import merge_text
from orgruntime.vcs._worktree import write_file

DRIVER_NAME = "orgide"
ATTRIBUTE_LINES = (f"/{ORG_FILE} merge={DRIVER_NAME}", f"/{AGENTS_DIR}/*.md merge={DRIVER_NAME}",
                   f"/{LAYOUT_FILE} merge={DRIVER_NAME}")


def install_merge_driver(path: str | os.PathLike[str], command: Sequence[str], *, write_gitattributes: bool = True) -> None:
    """Route org files to `COMMAND %O %A %B %P` in this repository's local config.

    With `write_gitattributes` the routing goes into `.gitattributes` (to be committed, as `orgide new`
    does); without, into `.git/info/attributes`, which leaves the work tree clean (as a fork wants).
    """
    root = repo_root(path)
    if not command:
        raise ValueError("the merge driver needs a command")
    cmdline = " ".join(shlex.quote(str(part)) for part in command) + " %O %A %B %P"
    _git.run(root, "config", "--local", f"merge.{DRIVER_NAME}.name", "orgide semantic merge of org code")
    _git.run(root, "config", "--local", f"merge.{DRIVER_NAME}.driver", cmdline)
    committed = root / ".gitattributes"
    if _has_lines(committed):
        return
    target = committed if write_gitattributes else git_path(root, "info/attributes")
    existing = target.read_text(encoding="utf-8") if target.is_file() else ""
    missing = [line for line in ATTRIBUTE_LINES if line not in existing.splitlines()]
    if missing:
        text = existing + ("" if not existing or existing.endswith("\n") else "\n") + "".join(f"{line}\n" for line in missing)
        if write_gitattributes:
            write_file(root, ".gitattributes", text.encode("utf-8"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def _has_lines(file: Path) -> bool:
    if not file.is_file() or file.is_symlink():
        return False
    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    return all(line in lines for line in ATTRIBUTE_LINES)


def merge_file(base: Path, ours: Path, theirs: Path, pathname: str) -> bool:
    """Merge one org file as git's merge driver; the result replaces `ours`. True when clean."""
    data = [side.read_bytes() for side in (base, ours, theirs)]
    try:
        texts = [item.decode("utf-8") for item in data]
    except UnicodeDecodeError:
        return False  # not text: leave ours in place, git reports the conflict
    merged = _semantic(texts, pathname)
    if merged is not None:
        ours.write_text(merged, encoding="utf-8", newline="")
        return True
    text = merge_text(*texts, labels=("ours", "theirs"))
    ours.write_text(text.marked if not text.clean else text.ours, encoding="utf-8", newline="")
    return text.clean


def _agent_id(pathname: str) -> str | None:
    folder, _, name = pathname.replace("\\", "/").lstrip("/").partition("/")
    if folder == AGENTS_DIR and name.endswith(".md") and "/" not in name and is_agent_id(name[:-3]):
        return name[:-3]
    return None


def _semantic(texts: list[str], pathname: str) -> str | None:
    """The merged file's text, or None when it must be merged as lines (not org code, or a true conflict)."""
    relative = pathname.replace("\\", "/").lstrip("/")
    agent_id = _agent_id(relative)
    if relative not in (ORG_FILE, LAYOUT_FILE) and agent_id is None:
        return None
    with tempfile.TemporaryDirectory(prefix="orgide-driver-") as folder:
        work = Path(folder)
        try:
            orgs = [_load_one(work / side, relative, agent_id, text) for side, text in zip(("base", "ours", "theirs"), texts)]
        except OrgLoadError:
            return None
        result = merge_orgs(*orgs)
        if result.conflicts:
            return None
        out = work / "out"
        shutil.copytree(work / "ours", out)
        save_org(result.org, out)
        return (out / relative).read_text(encoding="utf-8")


def _load_one(folder: Path, relative: str, agent_id: str | None, text: str) -> Org:
    """The one file as an org: an agent file or the layout gets a stand-in org.yaml."""
    (folder / AGENTS_DIR).mkdir(parents=True)
    if relative != ORG_FILE:
        (folder / ORG_FILE).write_text(f"name: merge\nentry: {agent_id or 'merge'}\nchannels: []\n", encoding="utf-8")
    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    (folder / relative).write_text(text, encoding="utf-8", newline="")
    return load_org(folder)
