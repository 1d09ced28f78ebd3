"""Prompt rows as float32 GEMMs over blockwise-dequantised weights: the weights read back from the
int4 op's own packing, a row's bits independent of the rows computed with it, and the engine's
exactness (batched = alone, cached prefix = cold, preemption) with the path switched on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType as Q
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import LocalModel, SamplingParams
from kernels._dense_prefill import (
    MERGED_ROWS,
    RowSplit,
    block_width,
    pieces,
    tiles_are_row_invariant,
    tiles_merge_exactly,
)
from kernels._linear import DenseLinear, Int4PackedLinear, Int8Linear, requantize_int8
from kernels._quants import dequantize, group_affine
from kernels._weights import LinearGroup
from kernels.engine import EngineConfig
from tests.kernels.test_engine import prompts, sequential_greedy, together
from tests.kernels.test_linear import random_q6k, sane_blocks


def int4_reference(layer: Int4PackedLinear, codes: np.ndarray) -> torch.Tensor:
    """float64 [N, K]: `(q - 8) * s + z` from the layer's own bfloat16 scales and zeros (split codes summed)."""
    codes = codes.astype(np.int64)
    if layer.split:
        codes = np.concatenate([codes >> 4, codes & 0x0F], axis=1)
    n, width = codes.shape
    scale_zero = layer.scales_zeros[:, :n].double()  # [G', N, 2]
    scale, zero = (scale_zero[..., i].T.repeat_interleave(32, dim=1) for i in (0, 1))  # [N, K'] each
    weight = (torch.from_numpy(codes).double() - 8) * scale + zero
    return weight[:, : width // 2] + weight[:, width // 2 :] if layer.split else weight


@pytest.mark.parametrize("qtype", [Q.Q4_0, Q.Q4_1, Q.Q4_K, Q.Q8_0, Q.Q5_K], ids=lambda t: t.name)
@pytest.mark.parametrize("rows", [7, 40, 64, 1024 + 40])
def test_prefill_multiplies_by_the_weight_the_int4_op_holds(qtype: Q, rows: int) -> None:
    cols = 256 if qtype in (Q.Q4_K, Q.Q5_K) else 96
    affine = group_affine(sane_blocks(qtype, rows, cols, seed=rows), qtype, (rows, cols))
    assert affine is not None
    bias = torch.randn(rows)
    layer = Int4PackedLinear(affine, bias)
    x = torch.randn(21, cols, generator=torch.Generator().manual_seed(rows))
    exact = x.double() @ int4_reference(layer, affine.codes).T + bias.double()  # [21, N]
    got = layer.prefill(x)
    assert got.dtype == torch.float32 and got.shape == (21, rows)
    assert torch.allclose(got.double(), exact, rtol=1e-5, atol=1e-5 * float(exact.abs().max()))
    fused = layer(x).float()  # bfloat16 activations: visibly further from the float product
    assert (fused.double() - exact).abs().max() > 10 * (got.double() - exact).abs().max()


def test_prefill_of_int8_and_float_layers_is_their_float_product() -> None:
    exact = dequantize(random_q6k(300, 512, 1), Q.Q6_K, (300, 512))
    int8 = Int8Linear(*map(torch.from_numpy, requantize_int8(exact)))
    weight = torch.randn(72, 512, generator=torch.Generator().manual_seed(2))
    x = torch.randn(5, 512, generator=torch.Generator().manual_seed(3))
    for layer, dense_weight in [(int8, int8.dequantized()), (DenseLinear(weight), weight),
                                (DenseLinear(weight.to(torch.bfloat16)), weight.to(torch.bfloat16).float())]:  # fmt: skip
        expected = x.double() @ dense_weight.double().T
        assert torch.allclose(layer.prefill(x).double(), expected, rtol=1e-5, atol=1e-4)


def test_blocks_cover_a_weight_in_whole_column_blocks_then_its_last_rows() -> None:
    assert block_width(688, 2048) == 256
    assert pieces(688, 256) == [(0, 256), (256, 512), (512, 640), (640, 688)]
    assert pieces(128, 256) == [(0, 128)] and pieces(48, 256) == [(0, 48)]


@pytest.fixture(scope="module")
def wide_layer() -> Int4PackedLinear:
    """688 rows of K = 2048: three blocks and a short last one (48 rows), as a real FFN weight has."""
    affine = group_affine(sane_blocks(Q.Q4_1, 688, 2048, seed=5), Q.Q4_1, (688, 2048))
    assert affine is not None
    return Int4PackedLinear(affine)


def test_this_machine_gives_the_tiles_row_invariant_products(wide_layer: Int4PackedLinear) -> None:
    """Otherwise prefill quietly takes the fused op, and the tests below would not test the GEMMs."""
    assert tiles_are_row_invariant(2048, 688, block_width(688, 2048), torch.get_num_threads())


@settings(max_examples=12, deadline=None)
@given(count=st.integers(1, 70), at=st.integers(0, 69), seed=st.integers(0, 2**16))
def test_a_rows_output_is_the_same_bits_whatever_rows_it_is_computed_with(
    wide_layer: Int4PackedLinear, count: int, at: int, seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    row = torch.randn(1, 2048, generator=torch.Generator().manual_seed(7))
    others = torch.randn(count, 2048, generator=gen) * 3
    at = at % (count + 1)
    batch = torch.cat([others[:at], row, others[at:]])  # [count + 1, K], the row at `at`
    assert torch.equal(wide_layer.prefill(batch)[at], wide_layer.prefill(row)[0])


def test_a_row_among_hundreds_gets_the_bits_it_gets_alone(wide_layer: Int4PackedLinear) -> None:
    """Past MERGED_ROWS rows the GEMMs take many rows a call, where this machine gives them the tiles' bits."""
    threads = torch.get_num_threads()
    assert tiles_merge_exactly(2048, 4, 64, threads) and tiles_merge_exactly(2048, 1, 48, threads)
    x = torch.randn(MERGED_ROWS + 45, 2048, generator=torch.Generator().manual_seed(9))
    together = wide_layer.prefill(x)  # [301, N]: one merged call and tiles, per block
    for at in (0, 17, MERGED_ROWS - 1, MERGED_ROWS, MERGED_ROWS + 44):
        assert torch.equal(together[at], wide_layer.prefill(x[at : at + 1])[0]), at


def test_a_mixed_batch_gives_each_row_what_its_own_path_gives_it_alone(wide_layer: Int4PackedLinear) -> None:
    group = LinearGroup((wide_layer,), (688,))
    x = torch.randn(9, 2048, generator=torch.Generator().manual_seed(8))
    is_dense = torch.tensor([True, False, False, True, True, False, True, False, True])
    split = RowSplit.of(is_dense)
    assert isinstance(split, RowSplit)
    mixed = group.whole(x, split)  # [9, N] float32
    for i in range(9):
        alone = wide_layer.prefill(x[i : i + 1]) if is_dense[i] else wide_layer(x[i : i + 1]).float()
        assert torch.equal(mixed[i], alone[0]), i
    assert RowSplit.of(torch.ones(3, dtype=torch.bool)) is True
    assert RowSplit.of(torch.zeros(3, dtype=torch.bool)) is False


@pytest.fixture
def dense_model(tiny_gguf: Path) -> Iterator[LocalModel]:
    model = LocalModel.load(tiny_gguf)
    model.model.dense_prefill = True
    yield model
    model.close()


def test_with_dense_prefill_batched_equals_alone_and_the_single_sequence_path(dense_model: LocalModel) -> None:
    texts = prompts(8, 12, seed=11)
    params = [SamplingParams(max_tokens=10, ignore_eos=True)] * 8
    alone = [dense_model.generate(t, p) for t, p in zip(texts, params, strict=True)]
    batched = together(dense_model, texts, params)
    assert [r.token_ids for r in batched] == [r.token_ids for r in alone]
    ids = dense_model.tokenizer.encode(texts[0])
    assert list(alone[0].token_ids) == sequential_greedy(dense_model, ids, 10)
    model = dense_model.model  # the switch changes the prompt's numbers (float32 instead of bfloat16 inputs)
    dense = model.forward(ids, model.new_cache(64), all_logits=True)
    model.dense_prefill = False
    fused = model.forward(ids, model.new_cache(64), all_logits=True)
    assert not torch.equal(dense, fused)
    assert float(torch.nn.functional.cosine_similarity(dense.flatten(), fused.flatten(), dim=0)) > 0.999


def test_with_dense_prefill_a_cached_prefix_changes_nothing(tiny_gguf: Path, dense_model: LocalModel) -> None:
    prefix = dense_model.tokenizer.encode(prompts(1, 150, seed=12)[0])[:150]
    params = SamplingParams(max_tokens=8, ignore_eos=True)
    dense_model.generate(prefix + [40, 41, 42], params)
    warm = dense_model.generate(prefix + [43, 44, 45, 46, 47], params)
    assert warm.cached_tokens == 150
    cold_model = LocalModel.load(tiny_gguf, engine=EngineConfig(max_batch_tokens=64))  # other chunks
    cold_model.model.dense_prefill = True
    try:
        cold = cold_model.generate(prefix + [43, 44, 45, 46, 47], params)
        assert cold.cached_tokens == 0 and cold.token_ids == warm.token_ids
    finally:
        cold_model.close()


def test_with_dense_prefill_preemption_still_gives_the_right_output(tiny_gguf: Path, dense_model: LocalModel) -> None:
    texts = prompts(6, 20, seed=13)
    params = [SamplingParams(max_tokens=24, temperature=0.9, seed=i, ignore_eos=True) for i in range(6)]
    expected = [dense_model.generate(t, p).token_ids for t, p in zip(texts, params, strict=True)]
    small = LocalModel.load(tiny_gguf, engine=EngineConfig(page_size=4, kv_tokens=96, max_batch_tokens=32))
    small.model.dense_prefill = True
    try:
        assert [r.token_ids for r in together(small, texts, params)] == expected
        assert small.stats().preemptions > 0
    finally:
        small.close()
