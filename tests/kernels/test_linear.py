"""The fast linear layers against the plain dequantisation: the group kernel for group-affine formats, int8 for Q6_K."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as Q

from kernels._linear import (
    PACK_ROWS,
    DenseLinear,
    DequantLinear,
    GroupLinear,
    Int8Linear,
    agreement,
    concat_affine,
    requantize_int8,
    slice_affine,
)
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
    blocks = [slice_affine(affine, row, row + PACK_ROWS) for row in range(0, rows, PACK_ROWS)]
    layer = GroupLinear.from_row_blocks(iter(blocks), rows, cols, affine.bits)
    fused = layer(x)
    assert fused.shape == (tokens, rows) and fused.dtype == torch.float32
    exact_scales = qtype in (Q.Q8_0, Q.Q4_0, Q.Q4_1)  # GGUF's own float16 scales: the reference's weights exactly
    error = (fused.double() - exact).abs().max() / exact.abs().max()  # else scales rounded to float16 (2^-11)
    assert error <= (1e-6 if exact_scales else 2**-10), error
    weights = torch.from_numpy(dequantize(raw, qtype, (rows, cols)))
    if exact_scales:
        assert torch.equal(layer.dequantized(), weights)
    else:
        assert (layer.dequantized() - weights).abs().max() <= 2**-10 * weights.abs().max()


def test_weights_of_different_widths_are_not_concatenated() -> None:
    four = group_affine(sane_blocks(Q.Q4_1, 16, 64, 0), Q.Q4_1, (16, 64))
    eight = group_affine(sane_blocks(Q.Q8_0, 16, 64, 0), Q.Q8_0, (16, 64))
    assert four is not None and eight is not None
    assert concat_affine([four, eight]) is None
    both = concat_affine([four, four])
    assert both is not None and both.codes.shape == (32, 64)


def random_q6k(rows: int, cols: int, seed: int) -> np.ndarray:
    """Random Q6_K blocks: any codes and sub-block scales, a small finite float16 super-scale."""
    block, size = GGML_QUANT_SIZES[Q.Q6_K]
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(rows * cols // block, size), dtype=np.uint8)
    raw[:, 208:210] = rng.uniform(0.0005, 0.005, len(raw)).astype(np.float16).view(np.uint8).reshape(-1, 2)
    return raw.reshape(-1)


@pytest.mark.parametrize("rows", [3, 40, 300])
def test_q6k_as_per_row_int8_stays_within_its_rounding_bound(rows: int) -> None:
    exact = dequantize(random_q6k(rows, 512, rows), Q.Q6_K, (rows, 512))  # float32 [N, K]
    codes, scale = requantize_int8(exact)
    layer = Int8Linear(torch.from_numpy(codes), torch.from_numpy(scale))
    largest = np.abs(exact).max(axis=1, keepdims=True)
    # half an int8 step, plus the bfloat16 rounding of each row's scale (the op takes bf16 scales)
    assert np.all(np.abs(layer.dequantized().numpy() - exact) <= largest * (0.5 / 127 + 2**-8) + 1e-9)
    x = torch.randn(4, 512, generator=torch.Generator().manual_seed(2))
    assert agreement(layer(x), x.double() @ torch.from_numpy(exact).double().T) >= 0.999


@pytest.mark.parametrize("qtype", [Q.Q8_0, Q.Q4_1], ids=lambda t: t.name)
def test_group_layout_in_row_blocks_equals_the_whole_matrix_and_refuses_what_float16_cannot_hold(qtype: Q) -> None:
    rows = 1024 + 40
    affine = group_affine(sane_blocks(qtype, rows, 128, 5), qtype, (rows, 128))
    assert affine is not None
    blocks = [slice_affine(affine, row, row + PACK_ROWS) for row in range(0, rows, PACK_ROWS)]
    layer = GroupLinear.from_row_blocks(iter(blocks), rows, 128, affine.bits)
    assert layer.codes.shape == (-(-rows // 16), 4, 512 if affine.bits > 4 else 256)
    weights = affine.codes * np.repeat(affine.scale, 32, axis=1) + np.repeat(affine.offset, 32, axis=1)
    assert torch.equal(layer.dequantized(), torch.from_numpy(weights))
    again = GroupLinear(layer.codes, layer.scales, rows, 128, affine.bits)
    x = torch.randn(5, 128)
    assert torch.equal(again(x), layer(x))
    with pytest.raises(ValueError, match="row block"):
        GroupLinear.from_row_blocks(iter(blocks[1:]), rows, 128, affine.bits)
    with pytest.raises(ValueError, match="expected"):
        GroupLinear(layer.codes, layer.scales, rows + 16, 128, affine.bits)
    with pytest.raises(ValueError, match="expected"):
        GroupLinear(layer.codes, layer.scales, rows, 128, 12 - affine.bits)  # the other width's layout
    huge = slice_affine(affine, 0, 16)
    huge.scale[3, 1] = 1e6  # past float16's range
    with pytest.raises(ValueError, match="float16"):
        GroupLinear.from_row_blocks(iter([huge]), 16, 128, affine.bits)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dense_layers_compute_in_their_weights_width(dtype: torch.dtype) -> None:
    weight = torch.randn(24, 64, generator=torch.Generator().manual_seed(4)).to(dtype)
    bias = torch.randn(24)
    x = torch.randn(3, 64)
    y = DenseLinear(weight, bias)(x)
    assert y.dtype == torch.float32 and agreement(y, x.double() @ weight.double().T + bias.double()) >= 0.9999
