"""Packed weights kept on disk, so that a model loads without packing its weights again.

Packing a GGUF's quantised weights for the CPU ops (kernels/_linear.py) takes seconds; the result is
the same every time for the same file, torch build and CPU. Each layer's packed tensors are written
(atomically) the first time they are built, under `<user cache>/orgide/packed/<entry>/`, and are
memory-mapped on later loads. An entry is keyed by the GGUF's resolved path, size and modification
time, torch's version, the CPU capability torch dispatches to (packing layouts differ per
instruction set) and FORMAT. A file that cannot be read, or holds other shapes or dtypes than the
layer needs, is a miss: the layer is packed again and the file replaced. Entries of the same GGUF
with another key, and the least recently used beyond KEEP_ENTRIES, are removed. Small files are not
cached: packing them costs less than reading an entry. Writing never fails a load: a full disk or a
read-only cache folder only means packing next time too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import platformdirs
import torch

FORMAT = 2  # 2: the group layout of kernels/_group_matmul.py
KEEP_ENTRIES = 8
MIN_FILE_BYTES = 16 * 2**20
SOURCE_FILE = "source.json"
Expected = dict[str, tuple[tuple[int, ...], torch.dtype]]


def cache_root() -> Path:
    return platformdirs.user_cache_path("orgide") / "packed"


class PackedCache:
    """One GGUF's entry: packed tensors by layer key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_file(cls, path: Path, root: Path | None = None, min_bytes: int = MIN_FILE_BYTES) -> PackedCache | None:
        """The entry for the GGUF at `path` (None for a small file, or where no cache folder can be made)."""
        try:
            path = path.resolve()
            stat = path.stat()
            if stat.st_size < min_bytes:
                return None
            root = root or cache_root()
            source = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "torch": torch.__version__,
                      "cpu": torch.backends.cpu.get_cpu_capability(), "format": FORMAT}  # fmt: skip
            digest = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:32]
            folder = root / digest
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                _write_atomic(folder / SOURCE_FILE, json.dumps(source).encode())
                _prune(root, keep=folder, path=str(path))
            os.utime(folder)  # its last use, for pruning
            return cls(folder)
        except OSError:
            return None

    def _file(self, key: str) -> Path:
        return self.folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".pt")

    def load(self, key: str, expected: Expected) -> dict[str, torch.Tensor] | None:
        """The tensors stored for `key`, memory-mapped, if they have exactly the `expected` shapes and dtypes."""
        file = self._file(key)
        try:
            stored = torch.load(file, mmap=True, weights_only=True, map_location="cpu")
        except Exception:  # noqa: BLE001  missing, truncated or foreign: any failure to read it is a miss
            self.misses += 1
            return None
        if not isinstance(stored, dict) or stored.get("key") != key or not _matches(stored, expected):
            self.misses += 1
            return None
        self.hits += 1
        return {name: stored[name] for name in expected}

    def store(self, key: str, tensors: dict[str, torch.Tensor]) -> None:
        temporary: Path | None = None
        try:
            with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tmp", delete=False) as handle:
                temporary = Path(handle.name)
                torch.save({"key": key, **{name: t.contiguous() for name, t in tensors.items()}}, handle)
            os.replace(temporary, self._file(key))
        except OSError:
            if temporary is not None:
                temporary.unlink(missing_ok=True)


def _matches(stored: dict[str, object], expected: Expected) -> bool:
    for name, (shape, dtype) in expected.items():
        tensor = stored.get(name)
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape or tensor.dtype != dtype:
            return False
    return True


def _write_atomic(target: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, target)


def _prune(root: Path, keep: Path, path: str) -> None:
    """Remove the other entries of the same GGUF, and the least recently used beyond KEEP_ENTRIES."""
    entries = []
    for folder in root.iterdir():
        try:
            if folder == keep or not folder.is_dir():
                continue
            try:
                source = json.loads((folder / SOURCE_FILE).read_text())
            except (OSError, ValueError):
                source = {}
            if source.get("path") == path:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                entries.append((folder.stat().st_mtime, folder))
        except OSError:  # removed meanwhile by another process
            continue
    for _, folder in sorted(entries, reverse=True)[KEEP_ENTRIES - 1 :]:
        shutil.rmtree(folder, ignore_errors=True)
