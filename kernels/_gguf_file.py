"""Reading GGUF files: a bounds-checked parse of the header, tensors as views of a memory map.

Every count and length in the header is checked against the bytes that remain before anything is
allocated for it, so a truncated or hostile file fails fast with `ModelFileError` instead of
allocating gigabytes or looping for hours.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType

from kernels._errors import ModelFileError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_DIMS = 4
MAX_ELEMENTS = 1 << 40
MAX_ARRAY_NESTING = 2
DEFAULT_ALIGNMENT = 32

SUPPORTED_TYPES = frozenset(
    GGMLQuantizationType[name]
    for name in ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K")
)

_SCALARS: dict[GGUFValueType, tuple[str, str]] = {  # value type -> (struct code, numpy dtype)
    GGUFValueType.UINT8: ("<B", "<u1"),
    GGUFValueType.INT8: ("<b", "<i1"),
    GGUFValueType.UINT16: ("<H", "<u2"),
    GGUFValueType.INT16: ("<h", "<i2"),
    GGUFValueType.UINT32: ("<I", "<u4"),
    GGUFValueType.INT32: ("<i", "<i4"),
    GGUFValueType.FLOAT32: ("<f", "<f4"),
    GGUFValueType.BOOL: ("<?", "<u1"),
    GGUFValueType.UINT64: ("<Q", "<u8"),
    GGUFValueType.INT64: ("<q", "<i8"),
    GGUFValueType.FLOAT64: ("<d", "<f8"),
}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a GGUF file. `shape` is in torch order (outermost first), e.g. (out, in)."""

    name: str
    shape: tuple[int, ...]
    qtype: GGMLQuantizationType
    offset: int  # from the start of the file
    nbytes: int

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class GGUFFile:
    """An open GGUF file: `metadata` (key -> value), `tensors` (name -> TensorInfo) and raw bytes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as handle:
                size = self.path.stat().st_size
                if size == 0:
                    raise ModelFileError(self.path, "the file is empty, not a GGUF model")
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as error:
            raise ModelFileError(self.path, f"cannot open: {error.strerror or error}") from None
        self.size = size
        try:
            self.metadata, self.tensors, self.data_offset = _Parser(self.path, self._map).parse()
        except BaseException:
            self._map.close()
            raise

    def tensor_bytes(self, name: str) -> np.ndarray:
        """The raw bytes of tensor `name` as a read-only uint8 view of the map (no copy)."""
        info = self.tensors[name]
        return np.frombuffer(self._map, dtype=np.uint8, count=info.nbytes, offset=info.offset)

    def forget(self, keys: Iterable[str]) -> None:
        """Drop metadata values that are no longer needed (a vocabulary read into a tokenizer), freeing them."""
        for key in keys:
            self.metadata.pop(key, None)

    def release_pages(self, name: str | None = None, rows: tuple[int, int] | None = None) -> None:
        """Drop mapped pages from resident memory: of all, of tensor `name`, or of its rows [start, stop).

        Pages reload from the file on the next access, so this is only ever a saving.
        """
        if not hasattr(mmap, "MADV_DONTNEED"):
            return
        if name is None:
            self._map.madvise(mmap.MADV_DONTNEED)
            return
        info = self.tensors[name]
        begin, end = info.offset, info.offset + info.nbytes
        if rows is not None:
            row_bytes = info.nbytes // info.shape[0]
            begin, end = info.offset + rows[0] * row_bytes, info.offset + rows[1] * row_bytes
        start = begin - begin % mmap.PAGESIZE
        if end > start:
            self._map.madvise(mmap.MADV_DONTNEED, start, end - start)

    def close(self) -> None:
        try:
            self._map.close()
        except BufferError:  # views still alive; the map closes when they go
            pass

    def __enter__(self) -> GGUFFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Parser:
    def __init__(self, path: Path, data: mmap.mmap) -> None:
        self.path = path
        self.data = data
        self.pos = 0
        self.end = len(data)

    def fail(self, problem: str) -> ModelFileError:
        return ModelFileError(self.path, problem)

    def take(self, count: int, what: str) -> bytes:
        if count < 0 or count > self.end - self.pos:
            raise self.fail(f"truncated: {what} needs {count} bytes at offset {self.pos}, file has {self.end}")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def scalar(self, code: str, what: str) -> Any:
        return struct.unpack(code, self.take(struct.calcsize(code), what))[0]

    def string(self, what: str) -> str:
        length = self.scalar("<Q", f"length of {what}")
        raw = self.take(length, what) if length <= self.end - self.pos else None
        if raw is None:
            raise self.fail(f"{what} claims {length} bytes but only {self.end - self.pos} remain")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not valid UTF-8") from None

    def value_type(self, what: str) -> GGUFValueType:
        raw = self.scalar("<I", f"type of {what}")
        try:
            return GGUFValueType(raw)
        except ValueError:
            raise self.fail(f"{what} has unknown value type {raw}") from None

    def value(self, kind: GGUFValueType, what: str, depth: int = 0) -> Any:
        if kind in _SCALARS:
            value = self.scalar(_SCALARS[kind][0], what)
            return bool(value) if kind is GGUFValueType.BOOL else value
        if kind is GGUFValueType.STRING:
            return self.string(what)
        if depth >= MAX_ARRAY_NESTING:
            raise self.fail(f"{what} nests arrays too deeply")
        item_kind = self.value_type(f"items of {what}")
        count = self.scalar("<Q", f"length of {what}")
        smallest = struct.calcsize(_SCALARS[item_kind][0]) if item_kind in _SCALARS else 8
        if count > (self.end - self.pos) // smallest:
            raise self.fail(f"{what} claims {count} items, more than the {self.end - self.pos} bytes left can hold")
        if item_kind in _SCALARS:
            width = struct.calcsize(_SCALARS[item_kind][0])
            raw = self.take(count * width, what)
            array = np.frombuffer(raw, dtype=_SCALARS[item_kind][1]).copy()
            return array.astype(bool) if item_kind is GGUFValueType.BOOL else array
        if item_kind is GGUFValueType.STRING:
            return self.string_array(count, what)
        return [self.value(item_kind, f"{what}[{index}]", depth + 1) for index in range(count)]

    def string_array(self, count: int, what: str) -> list[str]:
        """`count` strings, read in one tight loop (vocabularies hold 100k+ of them)."""
        data, pos, end, unpack = self.data, self.pos, self.end, struct.Struct("<Q").unpack_from
        items: list[str] = []
        append = items.append
        try:
            for _ in range(count):
                if end - pos < 8:
                    raise self.fail(f"truncated: {what} ends early at offset {pos}")
                (length,) = unpack(data, pos)
                pos += 8
                if length > end - pos:
                    raise self.fail(f"{what} holds a string of {length} bytes but only {end - pos} remain")
                append(data[pos : pos + length].decode("utf-8"))
                pos += length
        except UnicodeDecodeError:
            raise self.fail(f"{what} holds a string that is not valid UTF-8") from None
        self.pos = pos
        return items

    def parse(self) -> tuple[dict[str, Any], dict[str, TensorInfo], int]:
        if self.take(min(4, self.end), "magic") != GGUF_MAGIC:
            raise self.fail("not a GGUF file (bad magic)")
        version = self.scalar("<I", "version")
        if version not in SUPPORTED_VERSIONS:
            raise self.fail(f"unsupported GGUF version {version} (supported: 2, 3)")
        tensor_count = self.scalar("<Q", "tensor count")
        kv_count = self.scalar("<Q", "metadata count")
        if kv_count > (self.end - self.pos) // 13:  # key length 8 + 1 byte + type 4
            raise self.fail(f"metadata count {kv_count} is impossible for a file of {self.end} bytes")
        if tensor_count > (self.end - self.pos) // 24:  # name length 8 + n_dims 4 + type 4 + offset 8
            raise self.fail(f"tensor count {tensor_count} is impossible for a file of {self.end} bytes")
        metadata: dict[str, Any] = {}
        for _ in range(kv_count):
            key = self.string("a metadata key")
            if key in metadata:
                raise self.fail(f"metadata key {key!r} appears twice")
            metadata[key] = self.value(self.value_type(key), key)
        alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1) or alignment > 1 << 20:
            raise self.fail(f"general.alignment {alignment!r} is not a power of two")
        infos = [self.tensor_info() for _ in range(tensor_count)]
        data_offset = -(-self.pos // alignment) * alignment
        tensors: dict[str, TensorInfo] = {}
        for name, shape, qtype, relative in infos:
            if name in tensors:
                raise self.fail(f"tensor {name!r} appears twice")
            if relative % alignment:
                raise self.fail(f"tensor {name!r} is not aligned to {alignment} bytes")
            block, type_size = GGML_QUANT_SIZES[qtype]
            if shape[-1] % block:
                raise self.fail(f"tensor {name!r} row of {shape[-1]} is not a multiple of {qtype.name} blocks of {block}")
            nbytes = int(np.prod(shape, dtype=np.int64)) // block * type_size
            start = data_offset + relative
            if start + nbytes > self.end:
                raise self.fail(f"truncated: tensor {name!r} ends at byte {start + nbytes}, file has {self.end}")
            tensors[name] = TensorInfo(name, shape, qtype, start, nbytes)
        return metadata, tensors, data_offset

    def tensor_info(self) -> tuple[str, tuple[int, ...], GGMLQuantizationType, int]:
        name = self.string("a tensor name")
        n_dims = self.scalar("<I", f"dimensions of {name!r}")
        if not 1 <= n_dims <= MAX_DIMS:
            raise self.fail(f"tensor {name!r} has {n_dims} dimensions (1 to {MAX_DIMS} allowed)")
        dims = [self.scalar("<Q", f"dimensions of {name!r}") for _ in range(n_dims)]
        total = 1
        for dim in dims:
            if dim == 0 or dim > MAX_ELEMENTS:
                raise self.fail(f"tensor {name!r} has a bad dimension {dim}")
            total *= dim
            if total > MAX_ELEMENTS:
                raise self.fail(f"tensor {name!r} has too many elements ({dims})")
        raw_type = self.scalar("<I", f"type of {name!r}")
        try:
            qtype = GGMLQuantizationType(raw_type)
        except ValueError:
            raise self.fail(f"tensor {name!r} has unknown type {raw_type}") from None
        if qtype not in SUPPORTED_TYPES:
            supported = ", ".join(sorted(t.name for t in SUPPORTED_TYPES))
            raise self.fail(f"tensor {name!r} has type {qtype.name}, not supported (supported: {supported})")
        offset = self.scalar("<Q", f"offset of {name!r}")
        return name, tuple(reversed(dims)), qtype, offset
