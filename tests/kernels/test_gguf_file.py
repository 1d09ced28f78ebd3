"""GGUF reading: good files parse; truncated, corrupt and hostile files fail with ModelFileError."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernels import GGUFFile, ModelFileError

STRING, ARRAY, UINT32 = 8, 9, 4


def gguf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def header(tensors: int, kvs: int, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensors, kvs)


def open_bytes(tmp_path: Path, data: bytes) -> GGUFFile:
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    return GGUFFile(path)


def test_a_tiny_model_parses(tiny_gguf: Path) -> None:
    with GGUFFile(tiny_gguf) as model:
        assert model.metadata["general.architecture"] == "llama"
        assert model.metadata["llama.embedding_length"] == 64
        assert model.tensors["blk.0.ffn_gate.weight"].shape == (128, 64)
        assert model.tensors["blk.0.ffn_gate.weight"].qtype.name == "Q4_1"
        assert model.tensors["token_embd.weight"].qtype.name == "Q8_0"
        assert model.tensor_bytes("blk.0.attn_norm.weight").view(np.float32).shape == (64,)
        assert len(model.metadata["tokenizer.ggml.tokens"]) == model.tensors["token_embd.weight"].shape[0]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"GGML" + b"\0" * 40, "bad magic"),
        (header(0, 0, version=1), "unsupported GGUF version 1"),
        (header(0, 1 << 60), "metadata count"),
        (header(1 << 60, 0), "tensor count"),
        (header(0, 1) + struct.pack("<Q", 1 << 62) + b"\0" * 64, "claims"),
        (header(0, 1) + gguf_string("k") + struct.pack("<IIQ", ARRAY, UINT32, 1 << 61), "claims"),
        (header(0, 1) + gguf_string("k") + struct.pack("<IIQ", ARRAY, STRING, 1 << 40), "claims"),
        (header(0, 1) + gguf_string("k") + struct.pack("<I", 99), "unknown value type 99"),
        (header(0, 1) + gguf_string("general.alignment") + struct.pack("<II", UINT32, 24), "power of two"),
        (header(0, 2) + (gguf_string("k") + struct.pack("<II", UINT32, 1)) * 2, "appears twice"),
        (header(1, 0) + gguf_string("t") + struct.pack("<IQII", 1, 32, 77, 0), "unknown type 77"),
        (header(1, 0) + gguf_string("t") + struct.pack("<IQII", 1, 32, 6, 0), "not supported"),
        (header(1, 0) + gguf_string("t") + struct.pack("<IQQQI", 3, 1 << 30, 1 << 30, 1 << 30, 0), "too many elements"),
        (header(1, 0) + gguf_string("t") + struct.pack("<IQ", 1, 0) + struct.pack("<IQ", 0, 0), "bad dimension 0"),
        (header(1, 0) + gguf_string("t") + struct.pack("<I", 9) + b"\0" * 64, "dimensions"),
        (header(1, 0) + gguf_string("t") + struct.pack("<IQIQ", 1, 30, 8, 0), "not a multiple"),
        (header(1, 0) + gguf_string("t") + struct.pack("<IQIQ", 1, 32, 0, 0), "truncated"),
        (header(1, 0) + gguf_string("t") + struct.pack("<IQIQ", 1, 32, 0, 3) + b"\0" * 200, "not aligned"),
        (header(0, 1) + struct.pack("<Q", 2) + b"\xff\xfe" + struct.pack("<II", UINT32, 1), "UTF-8"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_hostile_headers_fail_clearly(tmp_path: Path, data: bytes, problem: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ModelFileError) as caught:
        open_bytes(tmp_path, data)
    assert problem in str(caught.value)
    assert str(tmp_path / "model.gguf") in str(caught.value)
    assert time.perf_counter() - started < 1.0


def test_a_missing_file_and_a_folder_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot open"):
        GGUFFile(tmp_path / "absent.gguf")
    with pytest.raises(ModelFileError):
        GGUFFile(tmp_path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.0, 0.999))
def test_every_truncation_fails_clearly(tmp_path: Path, tiny_gguf: Path, cut: float) -> None:
    data = tiny_gguf.read_bytes()
    with pytest.raises(ModelFileError):
        open_bytes(tmp_path, data[: int(len(data) * cut)])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 6000), value=st.integers(0, 255))
def test_a_corrupt_header_byte_parses_or_fails_clearly(tmp_path: Path, tiny_gguf: Path, position: int, value: int) -> None:
    data = bytearray(tiny_gguf.read_bytes())
    data[position % len(data)] = value
    started = time.perf_counter()
    try:
        open_bytes(tmp_path, bytes(data)).close()
    except ModelFileError:
        pass
    assert time.perf_counter() - started < 2.0
