"""The fused CPU kernels against plain torch: float32 results close, bfloat16 rounding exact, and
each row's numbers independent of the rows beside it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from kernels import _fused_cpu as fused
from kernels._config import ModelConfig
from kernels._model import Rope

ALL_BFLOAT16_BITS = np.arange(2**16, dtype=np.uint32).astype(np.uint16)
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38,
                    -3.4028235e38, 3.3961776e38, 1.0 + 2**-8, 1.0 + 3 * 2**-8, 1.0 + 2**-8 + 2**-23], dtype=np.float32)  # fmt: skip


@njit
def _round_all(values, out):  # type: ignore[no-untyped-def]
    for i in range(values.shape[0]):
        out[i] = fused.narrow(values[i])


@njit
def _widen_all(bits, out):  # type: ignore[no-untyped-def]
    for i in range(bits.shape[0]):
        out[i] = fused.widen(bits[i])


def rounded_bits(values: np.ndarray) -> np.ndarray:
    out = np.empty(values.shape, dtype=np.uint16)
    _round_all(values, out)
    return out


def assert_rounds_as_torch(values: np.ndarray) -> None:
    got = rounded_bits(values)
    expected = torch.from_numpy(values).bfloat16().view(torch.int16).numpy().view(np.uint16)
    nan = np.isnan(values)
    np.testing.assert_array_equal(got[~nan], expected[~nan])
    assert np.isnan(torch.from_numpy(got.view(np.int16)).view(torch.bfloat16).float().numpy()[nan]).all()


def test_float32_to_bfloat16_rounds_special_values_as_torch() -> None:
    assert_rounds_as_torch(SPECIAL)
    halfway = (np.arange(0, 2**16, dtype=np.uint32) << 16 | 0x8000).view(np.float32)  # every tie
    assert_rounds_as_torch(halfway)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=300))
def test_float32_to_bfloat16_rounds_any_bits_as_torch(bits: list[int]) -> None:
    assert_rounds_as_torch(np.array(bits, dtype=np.uint32).view(np.float32))


def test_bfloat16_to_float32_is_exact_for_every_bit_pattern() -> None:
    out = np.empty(ALL_BFLOAT16_BITS.shape, dtype=np.float32)
    _widen_all(ALL_BFLOAT16_BITS, out)
    expected = torch.from_numpy(ALL_BFLOAT16_BITS.view(np.int16)).view(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(out.view(np.uint32), expected.view(np.uint32))


def reference_rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    x = x.double()
    return (x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps) * weight.double()).float()


@pytest.mark.parametrize("residual_dtype", [None, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_adds_the_residual_and_normalises(residual_dtype: torch.dtype | None, dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    x, weight = torch.randn(5, 96, generator=g) * 3, torch.randn(96, generator=g)
    residual = None if residual_dtype is None else torch.randn(5, 96, generator=g).to(residual_dtype)
    stream = x.clone()
    out = fused.rms_norm(stream, residual, weight, 1e-5, dtype)
    expected_stream = x if residual is None else x + residual.float()
    torch.testing.assert_close(stream, expected_stream, rtol=0, atol=0)
    assert out.dtype == dtype and out.shape == x.shape
    expected = reference_rms_norm(expected_stream, weight, 1e-5)
    torch.testing.assert_close(out.float(), expected, rtol=1e-5 if dtype == torch.float32 else 2**-8, atol=1e-5)
    if dtype == torch.bfloat16:  # the same float32 numbers, rounded as torch rounds them
        exact = fused.rms_norm(expected_stream.clone(), None, weight, 1e-5, torch.float32)
        assert torch.equal(out, exact.bfloat16())


@pytest.mark.parametrize("width", [1, 7, 16, 17, 100, 576])  # the squares' 16 running sums, and the tail past them
def test_rms_norm_of_any_width_matches_the_float64_reference(width: int) -> None:
    g = torch.Generator().manual_seed(width)
    x, weight = torch.randn(3, width, generator=g) * 5, torch.randn(width, generator=g)
    out = fused.rms_norm(x.clone(), None, weight, 1e-5)
    torch.testing.assert_close(out, reference_rms_norm(x, weight, 1e-5), rtol=1e-5, atol=1e-6)


def test_rms_norm_accepts_a_strided_float16_residual_by_converting_it() -> None:
    x, residual = torch.randn(3, 16), torch.randn(16, 3).half().t()  # not contiguous, not float32
    out = fused.rms_norm(x.clone(), residual, torch.ones(16), 1e-6)
    torch.testing.assert_close(out, reference_rms_norm(x + residual.float(), torch.ones(16), 1e-6), rtol=1e-5, atol=1e-6)


def config(head_dim: int, rope_dim: int) -> ModelConfig:
    return ModelConfig(architecture="llama", hidden=64, layers=1, heads=4, kv_heads=2, head_dim=head_dim, ffn=32, vocab_size=10,
                       context_length=64, norm_eps=1e-6, rope_base=10000.0, rope_dim=rope_dim, rope_style="interleaved",
                       rope_linear_factor=1.0, qkv_bias=False, qk_norm=False)  # fmt: skip


@pytest.mark.parametrize("qkv_dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("qk_norm", [False, True])
def test_attention_inputs_norm_rotate_and_store_as_torch_does(qkv_dtype: torch.dtype, qk_norm: bool) -> None:
    nh, nkv, d, n, slots_count = 4, 2, 16, 5, 40
    g = torch.Generator().manual_seed(1)
    rope = Rope(config(d, 12), 64, None)
    qkv = torch.randn(n, (nh + 2 * nkv) * d, generator=g).to(qkv_dtype)
    q_norm, k_norm = (torch.randn(d, generator=g), torch.randn(d, generator=g)) if qk_norm else (None, None)
    positions = np.array([3, 0, 17, 17, 63], dtype=np.int64)
    slots = np.array([9, 31, 2, 20, 0], dtype=np.int64)
    keys, values = torch.full((nkv, slots_count, d), 7.0), torch.full((nkv, slots_count, d), 7.0)
    table = fused.rotary_table(rope.turns)
    query_table = fused.rotary_table(rope.turns * 0.25)
    queries = fused.attention_inputs(qkv, nh, q_norm, k_norm, 1e-6, positions, query_table, table, keys, values, slots)

    qk = qkv.float()[:, : (nh + nkv) * d].view(n, nh + nkv, d)
    if q_norm is not None and k_norm is not None:
        qk = torch.cat([reference_rms_norm(qk[:, :nh], q_norm, 1e-6), reference_rms_norm(qk[:, nh:], k_norm, 1e-6)], dim=1)
    turns = rope.turns[torch.from_numpy(positions)][:, None, :]  # [N, 1, D/2]
    torch.testing.assert_close(queries, Rope.apply(qk[:, :nh].contiguous(), turns * 0.25), rtol=1e-5, atol=1e-5)
    expected_keys, expected_values = torch.full_like(keys, 7.0), torch.full_like(values, 7.0)
    index = torch.from_numpy(slots)
    expected_keys[:, index] = Rope.apply(qk[:, nh:].contiguous(), turns).transpose(0, 1)
    expected_values[:, index] = qkv.float()[:, (nh + nkv) * d :].view(n, nkv, d).transpose(0, 1)
    torch.testing.assert_close(keys, expected_keys, rtol=1e-5, atol=1e-5)  # other slots untouched
    assert torch.equal(values, expected_values)
    assert not torch.equal(keys[:, index, :12], qk[:, nh:, :12].transpose(0, 1))  # something turned
    assert torch.equal(keys[:, index, 12:], qk[:, nh:, 12:].transpose(0, 1)) or qk_norm  # dims past rope_dim do not


@njit
def _exp_all(x):  # type: ignore[no-untyped-def]
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = fused.exp_float32(x[i])
    return out


def test_the_polynomial_exp_follows_exp_over_the_float32_range() -> None:
    x = np.concatenate([np.linspace(-87, 88, 200_001), [0.0, -1e-30, 1e-30]]).astype(np.float32)
    expected = np.exp(x.astype(np.float64))
    relative = np.abs(_exp_all(x) / expected - 1)
    assert relative[np.abs(x) <= 1].max() < 3e-7
    assert relative[(x >= -10) & (x <= -1)].max() < 1e-6  # softmax numerators a few e-folds below the top
    assert relative.max() < 5e-6
    assert _exp_all(np.array([0.0], dtype=np.float32))[0] == 1.0
    clamped = _exp_all(np.array([-200.0, -np.inf, 200.0, np.inf], dtype=np.float32))
    assert clamped[0] == clamped[1] == 2.0**-126 and clamped[2] == clamped[3] == 2.0**127


def test_swiglu_stays_finite_for_gates_far_out() -> None:
    gate_up = torch.tensor([[-1000.0, -100.0, 100.0, 1000.0, 2.0, 2.0, 2.0, 2.0]])
    out = fused.swiglu(gate_up)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 200.0, 2000.0]]), atol=1e-30, rtol=1e-6)


@pytest.mark.parametrize(("gate_up_dtype", "dtype"), [(torch.bfloat16, torch.bfloat16), (torch.float32, torch.float32), (torch.bfloat16, torch.float32)])
def test_swiglu_is_silu_of_gate_times_up(gate_up_dtype: torch.dtype, dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(2)
    gate_up = (torch.randn(4, 2 * 40, generator=g) * 4).to(gate_up_dtype)
    out = fused.swiglu(gate_up, dtype)
    gate, up = gate_up.double().split(40, dim=-1)
    assert out.dtype == dtype and out.shape == (4, 40)
    torch.testing.assert_close(out.float(), (F.silu(gate) * up).float(), rtol=1e-5 if dtype == torch.float32 else 2**-8, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 9), st.integers(0, 8), st.integers(0, 2**16))
def test_a_rows_numbers_do_not_depend_on_the_rows_beside_it(rows: int, row: int, seed: int) -> None:
    """The engine's batch invariance: row i of a batch equals the same row run alone, bit for bit."""
    row = row % rows
    g = torch.Generator().manual_seed(seed)
    nh, nkv, d = 4, 2, 8
    x, residual, weight = torch.randn(rows, 24, generator=g), torch.randn(rows, 24, generator=g).bfloat16(), torch.randn(24, generator=g)
    batched = fused.rms_norm(x.clone(), residual, weight, 1e-5, torch.bfloat16)
    alone = fused.rms_norm(x[row : row + 1].clone(), residual[row : row + 1], weight, 1e-5, torch.bfloat16)
    assert torch.equal(batched[row : row + 1], alone)

    gate_up = torch.randn(rows, 48, generator=g).bfloat16()
    assert torch.equal(fused.swiglu(gate_up, torch.bfloat16)[row : row + 1], fused.swiglu(gate_up[row : row + 1], torch.bfloat16))

    qkv = torch.randn(rows, (nh + 2 * nkv) * d, generator=g).bfloat16()
    table = fused.rotary_table(Rope(config(d, d), 16, None).turns)
    positions = torch.randint(0, 16, (rows,), generator=g).numpy()
    slots = np.arange(rows, dtype=np.int64)
    norm = torch.randn(d, generator=g)
    kv = [torch.zeros(nkv, rows, d) for _ in range(4)]
    queries = fused.attention_inputs(qkv, nh, norm, norm, 1e-5, positions, table, table, kv[0], kv[1], slots)
    one = fused.attention_inputs(qkv[row : row + 1], nh, norm, norm, 1e-5, positions[row : row + 1], table, table,
                                 kv[2], kv[3], slots[row : row + 1])  # fmt: skip
    assert torch.equal(queries[row : row + 1], one)
    assert torch.equal(kv[0][:, row], kv[2][:, row]) and torch.equal(kv[1][:, row], kv[3][:, row])


def test_bad_inputs_are_refused_before_any_memory_is_touched() -> None:
    keys, values = torch.zeros(2, 4, 8), torch.zeros(2, 4, 8)
    table = fused.rotary_table(Rope(config(8, 8), 16, None).turns)
    qkv = torch.randn(1, (4 + 4) * 8)
    with pytest.raises(ValueError, match="slot 4 is out of range"):
        fused.attention_inputs(qkv, 4, None, None, 1e-5, np.array([3]), table, table, keys, values, np.array([4]))
    with pytest.raises(ValueError, match="position 16 or slot 0"):
        fused.attention_inputs(qkv, 4, None, None, 1e-5, np.array([16]), table, table, keys, values, np.array([0]))
    assert not keys.any() and not values.any()
    with pytest.raises(ValueError, match="qkv: expected"):
        fused.attention_inputs(qkv[:, :-8], 4, None, None, 1e-5, np.array([3]), table, table, keys, values, np.array([0]))
    with pytest.raises(ValueError, match="x: expected a contiguous CPU tensor"):
        fused.rms_norm(torch.zeros(4, 3).t(), None, torch.ones(4), 1e-5)
    with pytest.raises(ValueError, match="weight"):
        fused.rms_norm(torch.zeros(3, 4), None, torch.ones(5), 1e-5)
    with pytest.raises(ValueError, match="gate_up"):
        fused.swiglu(torch.zeros(2, 7))
