"""Reading org files defensively and writing them atomically.

A file in an org folder may come from a stranger's fork: it may be huge, binary, not UTF-8,
a symbolic link out of the folder, a FIFO that would block a read forever. Reading refuses all
of that with a message; writing never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import stat
import tempfile
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


def write_atomic(path: Path, text: str, *, sync: bool = True) -> None:
    """Replace `path` with `text` all at once: temp file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        raise OrgSaveError(f"{path}: refusing to write through a symbolic link")
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            if sync:
                os.fsync(stream.fileno())
        _keep_mode(path, temp_name)
        os.replace(temp_name, path)
    except BaseException as problem:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        if isinstance(problem, OSError):
            raise OrgSaveError(f"{path}: cannot write: {problem.strerror or problem}") from problem
        raise


def write_files_atomic(root: Path, texts: dict[str, str]) -> None:
    """Replace many files under `root`, each atomically (temp file, fsync, rename).

    The temp files are flushed to disk in parallel, which is what makes saving a large org fast;
    no file is renamed into place before its content is durable.
    """
    if len(texts) <= 2:
        for relative, text in texts.items():
            write_atomic(root / relative, text)
        return
    staged: list[tuple[str, Path]] = []
    try:
        for relative, text in texts.items():
            target = root / relative
            if target.is_symlink():
                raise OrgSaveError(f"{target}: refusing to write through a symbolic link")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((temp_name, target))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
            _keep_mode(target, temp_name)
        with ThreadPoolExecutor(max_workers=min(32, len(staged))) as pool:
            list(pool.map(_fsync_path, (temp for temp, _ in staged)))
        for temp_name, target in staged:
            os.replace(temp_name, target)
    except OSError as problem:
        raise OrgSaveError(f"cannot write the org: {problem.strerror or problem}") from problem
    finally:
        for temp_name, _ in staged:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
    for folder in {target.parent for _, target in staged}:
        sync_folder(folder)


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def _keep_mode(path: Path, temp_name: str) -> None:
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    os.chmod(temp_name, mode)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
