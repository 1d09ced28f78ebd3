"""Writing merge results into the work tree: atomic, never through a symbolic link, never outside the repo."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from orgruntime.vcs._errors import UnsafeNameError
from orgruntime.vcs._names import check_repo_path

EXECUTABLE_MODE = "100755"
SYMLINK_MODE = "120000"


def target_path(root: Path, relative: str) -> Path:
    """`root/relative`, refused if any folder on the way is a symbolic link or leaves the repository."""
    check_repo_path(relative)
    target = root / relative
    folder = root
    for part in relative.split("/")[:-1]:
        folder = folder / part
        if folder.is_symlink():
            raise UnsafeNameError(f"{relative}: the folder {folder.relative_to(root)} is a symbolic link; refusing to write through it")
    return target


def write_file(root: Path, relative: str, data: bytes, mode: str = "100644") -> None:
    target = target_path(root, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == SYMLINK_MODE:
        remove_file(root, relative)
        os.symlink(data.decode("utf-8", "surrogateescape"), target)
        return
    if target.is_symlink() or target.is_dir():
        remove_file(root, relative)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".orgide-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o777 & ~_umask() if mode == EXECUTABLE_MODE else 0o666 & ~_umask())
        os.replace(temp_name, target)
    except BaseException:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        raise


def remove_file(root: Path, relative: str) -> None:
    target = target_path(root, relative)
    if target.is_symlink() or target.is_file():
        target.unlink()
    folder = target.parent
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def read_file(root: Path, relative: str) -> bytes | None:
    target = target_path(root, relative)
    if target.is_symlink():
        return os.readlink(target).encode("utf-8", "surrogateescape")
    return target.read_bytes() if target.is_file() else None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
