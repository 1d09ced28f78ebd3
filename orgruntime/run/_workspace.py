"""Paths inside a run's workspace folder: never outside it, never through a symlink that leaves it, never .git."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from orgruntime.run._errors import ToolError

FORBIDDEN_PARTS = {".git"}
MAX_PATH_CHARS = 1024


def confined_path(workspace: Path, relative: object, *, allow_root: bool = False) -> Path:
    """The real path of `relative` inside `workspace`; ToolError for anything that could leave it."""
    if not isinstance(relative, str):
        raise ToolError("the path must be a string")
    text = relative.strip()
    if "\x00" in text:
        raise ToolError("the path contains a NUL byte")
    if len(text) > MAX_PATH_CHARS:
        raise ToolError("the path is too long")
    if text in ("", ".", "./"):
        if allow_root:
            return workspace.resolve()
        raise ToolError("the path names the workspace itself, not a file in it")
    if "\\" in text or ":" in text:
        raise ToolError("use forward slashes and no drive letters or colons in paths")
    if text.startswith(("/", "~")):
        raise ToolError("absolute paths are not allowed; give a path relative to the workspace")
    parts = PurePosixPath(text).parts
    if any(part == ".." for part in parts):
        raise ToolError("'..' is not allowed in paths")
    if any(part.lower() in FORBIDDEN_PARTS for part in parts):
        raise ToolError(".git is off limits")
    root = workspace.resolve()
    real = (root / text).resolve()
    if real != root and root not in real.parents:
        raise ToolError("the path leads outside the workspace (through a symlink)")
    inner = real.relative_to(root).parts
    if any(part.lower() in FORBIDDEN_PARTS for part in inner):
        raise ToolError(".git is off limits")
    return real


def display(workspace: Path, path: Path) -> str:
    relative = path.relative_to(workspace.resolve())
    return relative.as_posix() if relative.parts else "."


def open_no_follow(path: Path, flags: int) -> int:
    """Open `path` refusing a symlink in its last part (one swapped in after the check)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as error:
        raise ToolError(f"cannot open {path.name}: {error.strerror}") from None
