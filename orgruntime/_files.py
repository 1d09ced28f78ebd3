"""Reading org files defensively and writing them atomically.

A file in an org folder may come from a stranger's fork: it may be huge, binary, not UTF-8,
a symbolic link out of the folder, a FIFO that would block a read forever. Reading refuses all
of that with a message; writing never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import stat
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from orgruntime._errors import OrgSaveError

MAX_ORG_FILE_BYTES = 4 * 1024 * 1024
MAX_AGENT_FILE_BYTES = 1024 * 1024
MAX_LAYOUT_FILE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class FileProblem:
    line: int
    col: int
    message: str


def read_org_text(path: Path, limit: int) -> str | FileProblem:
    """The text of a regular file inside the org, or the problem that prevents reading it."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return FileProblem(1, 1, "file not found")
    except OSError as problem:
        return FileProblem(1, 1, f"cannot read: {problem.strerror or problem}")
    if stat.S_ISLNK(info.st_mode):
        return FileProblem(1, 1, "is a symbolic link; org files must be regular files")
    if not stat.S_ISREG(info.st_mode):
        return FileProblem(1, 1, "is not a regular file")
    if info.st_size > limit:
        return FileProblem(1, 1, f"is too large ({_size(info.st_size)}; the limit is {_size(limit)})")
    try:
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as problem:
        return FileProblem(1, 1, f"cannot read: {problem.strerror or problem}")
    if len(data) > limit:
        return FileProblem(1, 1, f"is too large (over {_size(limit)})")
    return decode_utf8(data)


def decode_utf8(data: bytes) -> str | FileProblem:
    if b"\x00" in data:
        line, col = _position(data, data.index(b"\x00"))
        return FileProblem(line, col, "contains NUL bytes: this is a binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as problem:
        line, col = _position(data, problem.start)
        return FileProblem(line, col, f"is not valid UTF-8 (byte 0x{data[problem.start]:02x})")
    return text[1:] if text.startswith("\ufeff") else text


def _position(data: bytes, index: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, index) + 1
    return data.count(b"\n", 0, index) + 1, len(data[line_start:index].decode("utf-8", "replace")) + 1


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MB" if count >= 1024 * 1024 else f"{count / 1024:.0f} KB"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` all at once: temp file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _stage(path, text)
    try:
        os.replace(temp, path)
    except OSError as problem:
        _discard(temp)
        raise OrgSaveError(f"{path}: cannot write: {problem.strerror or problem}") from problem


def write_files_atomic(root: Path, texts: dict[str, str]) -> None:
    """Replace many files under `root`, each atomically (temp file, fsync, rename).

    The temp files are written and flushed to disk in parallel, which is what makes saving a large
    org fast; no file is renamed into place before its content is durable.
    """
    targets = {root / relative: text for relative, text in texts.items()}
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(targets)))) as pool:
        futures = [(pool.submit(_stage, target, text), target) for target, text in targets.items()]
        problems = []
        for future, target in futures:
            try:
                staged.append((future.result(), target))
            except OrgSaveError as problem:
                problems.append(problem)
    try:
        if problems:
            raise problems[0]
        for temp, target in staged:
            os.replace(temp, target)
    except OSError as problem:
        raise OrgSaveError(f"cannot write the org: {problem.strerror or problem}") from problem
    finally:
        for temp, _ in staged:
            _discard(temp)
    for folder in {target.parent for target in targets}:
        sync_folder(folder)


_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def _stage(target: Path, text: str) -> str:
    """A durable temp file beside `target` holding `text`, with `target`'s permissions."""
    if target.is_symlink():
        raise OrgSaveError(f"{target}: refusing to write through a symbolic link")
    data = text.encode("utf-8")
    temp = str(target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp"))
    try:
        fd = os.open(temp, _TEMP_FLAGS, 0o666)
    except OSError as problem:
        raise OrgSaveError(f"{target}: cannot write: {problem.strerror or problem}") from problem
    try:
        try:
            os.fchmod(fd, stat.S_IMODE(os.stat(target).st_mode))
        except FileNotFoundError:
            pass
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as problem:
        os.close(fd)
        _discard(temp)
        raise OrgSaveError(f"{target}: cannot write: {problem.strerror or problem}") from problem
    os.close(fd)
    return temp


def _discard(temp: str) -> None:
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass


def sync_folder(folder: Path) -> None:
    """Make renames in `folder` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
