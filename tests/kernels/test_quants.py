"""The reference dequantisation equals gguf-py's bit for bit; the group-affine form equals it too."""

from __future__ import annotations

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf import quants as gguf_quants
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels._quants import dequantize, group_affine

Q = GGMLQuantizationType
ALL_TYPES = [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q4_K, Q.Q5_K, Q.Q6_K]
AFFINE_TYPES = [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q4_K, Q.Q5_K]


def random_tensor_bytes(qtype: Q, rows: int, blocks_per_row: int, seed: int) -> tuple[np.ndarray, tuple[int, int]]:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=rows * blocks_per_row * type_size, dtype=np.uint8)
    return raw, (rows, blocks_per_row * block_size)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.astype(np.float32).view(np.uint32), b.astype(np.float32).view(np.uint32))


@pytest.mark.parametrize("qtype", ALL_TYPES, ids=lambda t: t.name)
@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 5), blocks=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_dequantize_is_bit_exact_against_gguf_py(qtype: Q, rows: int, blocks: int, seed: int) -> None:
    raw, shape = random_tensor_bytes(qtype, rows, blocks, seed)
    with np.errstate(all="ignore"):
        ours = dequantize(raw, qtype, shape)
        theirs = gguf_quants.dequantize(raw.reshape(rows, -1), qtype)
    assert same_bits(ours, theirs)


@pytest.mark.parametrize("qtype", AFFINE_TYPES, ids=lambda t: t.name)
@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_group_affine_form_reproduces_the_values(qtype: Q, rows: int, seed: int) -> None:
    raw, shape = random_tensor_bytes(qtype, rows, 1, seed)
    with np.errstate(all="ignore"):  # random bytes can spell inf/nan in the float16 fields
        reference = dequantize(raw, qtype, shape)
        affine = group_affine(raw, qtype, shape)
        assert affine is not None
        values = np.repeat(affine.scale, 32, axis=1) * affine.codes + np.repeat(affine.offset, 32, axis=1)
    assert affine.codes.max() < 2**affine.bits
    finite = np.isfinite(reference)
    assert np.array_equal(values[finite], reference[finite])  # exact: every product fits float32


@pytest.mark.parametrize("qtype", [Q.Q6_K, Q.F16, Q.F32, Q.BF16], ids=lambda t: t.name)
def test_formats_without_groups_of_32_have_no_affine_form(qtype: Q) -> None:
    raw, shape = random_tensor_bytes(qtype, 2, 1, 0)
    assert group_affine(raw, qtype, shape) is None


def test_quantized_real_values_roundtrip_through_gguf_py_quantize() -> None:
    rng = np.random.default_rng(7)
    values = rng.standard_normal((8, 64)).astype(np.float32)
    for qtype in (Q.Q8_0, Q.Q4_0, Q.Q4_1):
        raw = gguf_quants.quantize(values, qtype).reshape(-1)
        ours = dequantize(raw, qtype, values.shape)
        assert same_bits(ours, gguf_quants.dequantize(raw.reshape(8, -1), qtype))
        assert np.abs(ours - values).max() < (0.02 if qtype == Q.Q8_0 else 0.5)
