"""The plain-torch references against the CPU path they stand for (no triton needed).

The kernels are tested against these references; these tests tie the references to the engine's
own definitions: gguf-exact dequantisation, the model's rotary embedding, torch's RMSNorm and SDPA.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gguf import GGMLQuantizationType
from hypothesis import given
from hypothesis import strategies as st

from kernels._config import ModelConfig
from kernels._model import Rope
from kernels._quants import dequantize as gguf_dequantize
from kernels.triton import KernelInputError, concat_quant_weights, pack_quant_weight, reference
from kernels.triton._quant_weight import BLOCK_BYTES
from tests.kernels.triton.support import gguf_blocks


@given(qtype=st.sampled_from(["Q4_0", "Q4_1", "Q8_0"]), rows=st.integers(1, 5), blocks=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_repacked_weights_dequantise_exactly_as_ggml(qtype: str, rows: int, blocks: int, seed: int) -> None:
    cols = 32 * blocks
    raw = np.random.default_rng(seed).integers(0, 256, size=rows * blocks * BLOCK_BYTES[qtype], dtype=np.uint8)
    with np.errstate(invalid="ignore", over="ignore"):  # random scale bytes include NaN and infinity
        expected = gguf_dequantize(raw, GGMLQuantizationType[qtype], (rows, cols))
    weight = pack_quant_weight(raw, qtype, (rows, cols))
    assert (weight.out_features, weight.in_features) == (rows, cols)
    np.testing.assert_array_equal(reference.dequantize(weight).numpy(), expected)
    from_tensor = pack_quant_weight(torch.from_numpy(raw), GGMLQuantizationType[qtype], (rows, cols))
    np.testing.assert_array_equal(reference.dequantize(from_tensor).numpy(), expected)


def test_quant_matmul_reference_is_x_times_dequantised_weights() -> None:
    weight = pack_quant_weight(gguf_blocks("Q4_1", 6, 64, 3), "Q4_1", (6, 64))
    x, bias = torch.randn(3, 64, dtype=torch.float64), torch.randn(6)
    expected = x @ reference.dequantize(weight).double().T + bias.double()
    assert torch.allclose(reference.quant_matmul(x.float(), weight, bias).double(), expected, atol=1e-5)
    assert reference.quant_matmul(x.half(), weight).dtype == torch.float16


def test_stacked_weights_dequantise_to_the_stacked_matrices() -> None:
    parts = [pack_quant_weight(gguf_blocks("Q4_1", rows, 64, rows), "Q4_1", (rows, 64)) for rows in (3, 5)]
    stacked = concat_quant_weights(parts)
    assert torch.equal(reference.dequantize(stacked), torch.cat([reference.dequantize(p) for p in parts]))
    q8 = pack_quant_weight(gguf_blocks("Q8_0", 2, 64, 0), "Q8_0", (2, 64))
    with pytest.raises(KernelInputError, match="one quant type"):
        concat_quant_weights([parts[0], q8])


@pytest.mark.parametrize(
    ("qtype", "shape", "size", "problem"),
    [("Q4_K", (2, 256), 288, "has no fused kernel"), ("Q4_0", (2, 48), 36, "multiple of 32"), ("Q8_0", (2, 64), 100, "expected 136 bytes")],
)
def test_bad_weights_are_refused_clearly(qtype: str, shape: tuple[int, int], size: int, problem: str) -> None:
    with pytest.raises(KernelInputError, match=problem):
        pack_quant_weight(np.zeros(size, dtype=np.uint8), qtype, shape)


def _config(rope_dim: int, style: str, head_dim: int = 16) -> ModelConfig:
    return ModelConfig(
        architecture="llama" if style == "interleaved" else "qwen2", hidden=head_dim * 2, layers=1, heads=2, kv_heads=1,
        head_dim=head_dim, ffn=8, vocab_size=10, context_length=64, norm_eps=1e-6, rope_base=10000.0, rope_dim=rope_dim,
        rope_style=style, rope_linear_factor=1.0, qkv_bias=False, qk_norm=False,
    )  # fmt: skip


def _model_rope(config: ModelConfig, x: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """The model's rotation of x at positions start.., and the (cos, sin, style) that express it.

    `kernels._model.Rope` is being reworked by the CPU path; this accepts each form it has had:
    complex `turns` [P, D/2] on dims in pair order (applied by `apply(x, table(start, T))` or by
    `rope(x, start)`), and the first form, full-width cos/sin tables with a partner index.
    """
    rope = Rope(config, 64, None)
    if hasattr(rope, "turns"):
        tables = torch.view_as_real(rope.turns)  # [P, D/2, 2]
        rotated = rope.apply(x, rope.table(start, x.shape[0])) if hasattr(rope, "apply") else rope(x, start)
        return rotated, tables[..., 0], tables[..., 1], "interleaved"
    r = config.rope_dim
    if config.rope_style == "interleaved":
        cos, sin = rope.cos[:, 0:r:2], rope.sin[:, 1:r:2]
    else:
        cos, sin = rope.cos[:, : r // 2], rope.sin[:, r // 2 : r]
    return rope(x, *rope.tables(start, x.shape[0])), cos, sin, config.rope_style


@pytest.mark.parametrize(("rope_dim", "style"), [(16, "interleaved"), (8, "interleaved"), (16, "neox"), (12, "neox")])
def test_rope_reference_equals_the_model(rope_dim: int, style: str) -> None:
    config = _config(rope_dim, style)
    x = torch.randn(5, 3, 16)
    expected, cos, sin, model_style = _model_rope(config, x, start=7)
    positions = torch.arange(7, 12, dtype=torch.int32)
    actual = reference.rope(x, positions, cos, sin, style=model_style, rope_dim=rope_dim)
    torch.testing.assert_close(actual, expected, rtol=0, atol=2e-6)


def test_neox_rotation_is_the_interleaved_one_on_dims_in_pair_order() -> None:
    x, angles = torch.randn(4, 2, 12), torch.rand(9, 5) * 6
    positions = torch.tensor([8, 0, 3, 3])
    order = torch.tensor([0, 5, 1, 6, 2, 7, 3, 8, 4, 9, 10, 11])  # rope_dim 10: pairs (i, i + 5) side by side
    neox = reference.rope(x, positions, angles.cos(), angles.sin(), style="neox", rope_dim=10)
    interleaved = reference.rope(x[..., order], positions, angles.cos(), angles.sin(), style="interleaved", rope_dim=10)
    torch.testing.assert_close(neox[..., order], interleaved, rtol=0, atol=0)
    assert not torch.equal(neox, x)


def test_rms_norm_and_swiglu_references_equal_torch() -> None:
    x, weight = torch.randn(3, 4, 40), torch.randn(40)
    torch.testing.assert_close(reference.rms_norm(x, weight, 1e-5), F.rms_norm(x, (40,), weight, 1e-5))
    gate, up = torch.randn(3, 40), torch.randn(3, 40)
    torch.testing.assert_close(reference.swiglu(gate.half(), up.half()), (F.silu(gate.half().float()) * up.half().float()).half())


def test_paged_attention_reference_equals_sdpa_on_gathered_keys() -> None:
    pages, page_size, kv_heads, q_heads, head_dim = 9, 4, 2, 6, 8
    k_cache, v_cache = torch.randn(pages, page_size, kv_heads, head_dim), torch.randn(pages, page_size, kv_heads, head_dim)
    q = torch.randn(2, q_heads, head_dim)
    block_table = torch.tensor([[7, 2, 5], [0, 8, 0]], dtype=torch.int32)
    seq_lens = torch.tensor([11, 5], dtype=torch.int32)
    out = reference.paged_decode_attention(q, k_cache, v_cache, block_table, seq_lens, scale=head_dim**-0.5)
    for b in range(2):
        slots = (block_table[b].long()[:, None] * page_size + torch.arange(page_size)).flatten()[: seq_lens[b]]  # [L]
        k = k_cache.view(-1, kv_heads, head_dim)[slots].transpose(0, 1)[None]  # [1, KVH, L, D]
        v = v_cache.view(-1, kv_heads, head_dim)[slots].transpose(0, 1)[None]
        expected = F.scaled_dot_product_attention(q[b][None, :, None, :], k, v, enable_gqa=True)[0, :, 0]  # [QH, D]
        torch.testing.assert_close(out[b], expected, rtol=1e-5, atol=1e-5)
    empty = reference.paged_decode_attention(q, k_cache, v_cache, block_table, torch.tensor([0, 1], dtype=torch.int32), 1.0)
    assert torch.equal(empty[0], torch.zeros(q_heads, head_dim))
