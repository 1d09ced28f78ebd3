"""The fused int4 matmul against the plain dequantising fallback, for every group-affine format."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as Q

from kernels._linear import DequantLinear, Int4PackedLinear, agreement, concat_affine
from kernels._quants import dequantize, group_affine


def sane_blocks(qtype: Q, rows: int, cols: int, seed: int) -> np.ndarray:
    """Random blocks whose float16 scale fields hold small finite numbers."""
    block, size = GGML_QUANT_SIZES[qtype]
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(rows * cols // block, size), dtype=np.uint8)
    scale_bytes = {Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2]}[qtype]
    for at in scale_bytes:
        raw[:, at : at + 2] = (rng.uniform(0.001, 0.02, len(raw)) * rng.choice([-1, 1], len(raw))).astype(np.float16).view(np.uint8).reshape(-1, 2)
    return raw.reshape(-1)


@pytest.mark.parametrize("qtype", [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q4_K, Q.Q5_K], ids=lambda t: t.name)
@pytest.mark.parametrize("rows", [16, 40, 7, 1024 + 40])
@pytest.mark.parametrize("tokens", [1, 5])
def test_fused_matmul_matches_dequantised_weights(qtype: Q, rows: int, tokens: int) -> None:
    cols = 256 if qtype in (Q.Q4_K, Q.Q5_K) else 96
    raw = sane_blocks(qtype, rows, cols, seed=rows + tokens)
    affine = group_affine(raw, qtype, (rows, cols))
    assert affine is not None
    x = torch.randn(tokens, cols, generator=torch.Generator().manual_seed(1))
    exact = x.double() @ torch.from_numpy(dequantize(raw, qtype, (rows, cols))).double().T  # [T, N]
    fallback = DequantLinear(affine)(x)
    assert torch.allclose(fallback.double(), exact, rtol=1e-4, atol=1e-4)
    fused = Int4PackedLinear(affine)(x)
    assert fused.shape == (tokens, rows)
    assert agreement(fused, exact.float()) >= 0.999
    exact_fp32 = Int4PackedLinear(affine, dtype=torch.float32)(x)
    assert torch.allclose(exact_fp32.double(), exact, rtol=1e-3, atol=1e-3)


def test_weights_of_different_widths_are_not_concatenated() -> None:
    four = group_affine(sane_blocks(Q.Q4_1, 16, 64, 0), Q.Q4_1, (16, 64))
    eight = group_affine(sane_blocks(Q.Q8_0, 16, 64, 0), Q.Q8_0, (16, 64))
    assert four is not None and eight is not None
    assert concat_affine([four, eight]) is None
    both = concat_affine([four, four])
    assert both is not None and both.codes.shape == (32, 64)
