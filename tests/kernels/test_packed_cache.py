"""The packed-weight cache: what it stores is what a later load reads; anything else is a miss."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from kernels import LocalModel
from kernels._packed_cache import KEEP_ENTRIES, PackedCache
from tests.default_model import MODEL_PATH, needs_default_model

SHAPES = {"packed": ((32, 64), torch.uint8), "scales_zeros": ((4, 32, 2), torch.bfloat16)}


def tensors() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {"packed": torch.randint(0, 255, (32, 64), dtype=torch.uint8, generator=gen),
            "scales_zeros": torch.randn(4, 32, 2, generator=gen).to(torch.bfloat16)}  # fmt: skip


def a_gguf(folder: Path, size: int = 4096) -> Path:
    path = folder / "model.gguf"
    path.write_bytes(b"GGUF" + bytes(size - 4))
    return path


@pytest.fixture
def cache(tmp_path: Path) -> PackedCache:
    entry = PackedCache.for_file(a_gguf(tmp_path), root=tmp_path / "packed", min_bytes=0)
    assert entry is not None
    return entry


def test_what_is_stored_is_read_back_equal_and_memory_mapped(cache: PackedCache) -> None:
    cache.store("blk.0.attn_q.weight|int4", tensors())
    got = cache.load("blk.0.attn_q.weight|int4", SHAPES)
    assert got is not None and all(torch.equal(got[name], tensors()[name]) for name in SHAPES)
    assert cache.hits == 1 and cache.misses == 0
    assert cache.load("blk.1.attn_q.weight|int4", SHAPES) is None and cache.misses == 1


def test_other_shapes_dtypes_or_missing_tensors_are_misses(cache: PackedCache) -> None:
    cache.store("key", tensors())
    assert cache.load("key", {**SHAPES, "packed": ((16, 64), torch.uint8)}) is None
    assert cache.load("key", {**SHAPES, "scales_zeros": ((4, 32, 2), torch.float32)}) is None
    assert cache.load("key", {**SHAPES, "bias": ((32,), torch.float32)}) is None
    assert cache.load("key", SHAPES) is not None


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other key", "pickle with code"])
def test_a_damaged_or_foreign_file_is_a_miss_and_runs_nothing(cache: PackedCache, tmp_path: Path, damage: str) -> None:
    cache.store("key", tensors())
    (file,) = cache.folder.glob("*.pt")
    if damage == "truncate":
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    elif damage == "garbage":
        file.write_bytes(os.urandom(2000))
    elif damage == "other key":
        cache.store("another", tensors())
        other = next(f for f in cache.folder.glob("*.pt") if f != file)
        file.write_bytes(other.read_bytes())
    else:
        marker = tmp_path / "ran"
        file.write_bytes(pickle.dumps(_Payload(str(marker))))
    assert cache.load("key", SHAPES) is None
    assert not (tmp_path / "ran").exists()


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))  # what an unsafe unpickler would run: it creates the marker


def test_a_folder_it_cannot_write_only_means_packing_again(cache: PackedCache) -> None:
    shutil.rmtree(cache.folder)
    cache.folder.write_text("")  # a file where the entry's folder was: every write fails, even as root
    cache.store("key", tensors())  # no error
    assert cache.load("key", SHAPES) is None
    assert [p.name for p in cache.folder.parent.iterdir()] == [cache.folder.name]


def test_small_files_are_not_cached(tmp_path: Path) -> None:
    assert PackedCache.for_file(a_gguf(tmp_path), root=tmp_path / "packed") is None


def test_a_changed_file_gets_a_new_entry_and_the_old_one_goes(tmp_path: Path) -> None:
    path, root = a_gguf(tmp_path), tmp_path / "packed"
    first = PackedCache.for_file(path, root=root, min_bytes=0)
    assert first is not None
    first.store("key", tensors())
    os.utime(path, ns=(1, 1))
    second = PackedCache.for_file(path, root=root, min_bytes=0)
    assert second is not None and second.folder != first.folder
    assert not first.folder.exists() and second.load("key", SHAPES) is None


def test_the_least_recently_used_entries_beyond_the_limit_go(tmp_path: Path) -> None:
    root = tmp_path / "packed"
    folders = []
    for index in range(KEEP_ENTRIES + 2):
        model = tmp_path / f"m{index}"
        model.mkdir()
        entry = PackedCache.for_file(a_gguf(model), root=root, min_bytes=0)
        assert entry is not None
        os.utime(entry.folder, (1000 + index, 1000 + index))
        folders.append(entry.folder)
    assert sorted(p for p in root.iterdir()) == sorted(folders[-KEEP_ENTRIES:])


@pytest.mark.slow
@needs_default_model
def test_the_default_model_loads_from_its_packed_weights_with_the_same_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ids = list(range(1, 40))

    def logits() -> torch.Tensor:
        model = LocalModel.load(MODEL_PATH)
        try:
            assert model.model.linear_mode == "fused"
            return model.model.forward(ids, model.model.new_cache(64), all_logits=True)
        finally:
            model.close()

    cold = logits()
    files = sorted((tmp_path / "orgide" / "packed").glob("*/*.pt"))
    assert len(files) > 30  # the layers' packed weights were written
    written = {f: f.stat().st_mtime_ns for f in files}
    damaged = files[0]
    damaged.write_bytes(b"not a tensor file")
    warm = logits()
    assert torch.equal(cold, warm)
    assert damaged.stat().st_size > 1000  # packed again and replaced
    assert all(f.stat().st_mtime_ns == t for f, t in written.items() if f != damaged)  # the rest were read, not rewritten
